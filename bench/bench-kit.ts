/** Pieces every benchmark here shares: argument checks, percentiles, machine facts, arrival timing. */
import { statfsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Upstream } from '../test/helpers/upstream.js';

export function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, not ${text}`);
  return value;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The store's file system: fsync cost, and so commit latency, depends on it. */
export function fileSystemOf(path: string): string {
  const names: Record<number, string> = { 0xef53: 'ext4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs' };
  const type = statfsSync(path).type;
  return names[type] ?? `type 0x${type.toString(16)}`;
}

export interface Arrivals {
  /** Per token, the time of each arrival (more than one means a duplicate). */
  arrivals: Map<number, number[]>;
  strays: () => number;
  settled: Promise<void>;
}

/**
 * Timestamps each upstream message as it is recorded, keyed by the number `token`
 * captures from its subject. waitForMessages wakes us in the same turn as the upstream's
 * 250, so the time is that of the 250 to within a microtask. After all are in, it keeps
 * listening `graceMs` for duplicates; it gives up after `stallMs` without an arrival.
 */
export function watchArrivals(upstream: Upstream, expected: number, token: RegExp, stallMs: number, graceMs: number): Arrivals {
  const arrivals = new Map<number, number[]>();
  let strays = 0;
  let seen = 0;
  const record = (at: number): void => {
    for (; seen < upstream.messages.length; seen += 1) {
      const match = token.exec(upstream.messages[seen]!.parsed.subject ?? '');
      if (!match) {
        strays += 1;
        continue;
      }
      const n = Number(match[1]);
      arrivals.set(n, [...(arrivals.get(n) ?? []), at]);
    }
  };
  const settled = (async () => {
    while (arrivals.size < expected) {
      try {
        await upstream.waitForMessages(seen + 1, stallMs);
      } catch {
        return; // stalled: verification reports what is missing
      }
      record(performance.now());
    }
    await new Promise((resolve) => setTimeout(resolve, graceMs));
    record(performance.now());
  })();
  return { arrivals, strays: () => strays, settled };
}

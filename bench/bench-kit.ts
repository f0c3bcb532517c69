/** Pieces every benchmark here shares: argument checks, percentiles, machine facts, arrival timing. */
import { statfsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Store } from '../src/store/store.js';
import type { Upstream } from '../test/helpers/upstream.js';
import type { DeviceTiming } from './smtp-device.js';

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

export const ms = (value: number): string => `${value.toFixed(1)} ms`;

const rate = (count: number, elapsedMs: number, unit: string): string => `${((count * 1000) / elapsedMs).toFixed(1)} ${unit}/s`;

/**
 * Device-to-upstream figures of a run where each device message is one upstream mail:
 * ingest rate, the commit latency the device saw, delivery rate and end-to-end latency.
 * `unit` names what was sent ("msg", "alarms"), `delivered` what arrived ("delivered", "notified").
 */
export function printDeviceToUpstream(startedAt: number, timings: readonly DeviceTiming[], arrivals: Map<number, number[]>, words: { unit: string; delivered: string }): void {
  const lastAccepted = timings.reduce((last, t) => Math.max(last, t.acceptedAt), startedAt);
  const commit = timings.map((t) => t.acceptedAt - t.dataEndAt).sort((a, b) => a - b);
  const endToEnd: number[] = [];
  let lastDelivered = startedAt;
  for (const t of timings) {
    const first = arrivals.get(t.token)?.[0];
    if (first === undefined) continue;
    endToEnd.push(first - t.dataEndAt);
    lastDelivered = Math.max(lastDelivered, first);
  }
  endToEnd.sort((a, b) => a - b);
  const p = (sorted: number[], q: number): string => ms(percentile(sorted, q));
  console.log(`ingest    ${timings.length} accepted, wall ${ms(lastAccepted - startedAt)}: ${rate(timings.length, lastAccepted - startedAt, words.unit)} (first connect to last 250 at a device)`);
  console.log(`commit    DATA->250 at the device: p50 ${p(commit, 50)}, p99 ${p(commit, 99)}`);
  console.log(`delivery  ${endToEnd.length} ${words.delivered}, total wall ${ms(lastDelivered - startedAt)}: ${rate(endToEnd.length, lastDelivered - startedAt, words.unit)} end to end (first connect to last upstream 250)`);
  console.log(`latency   device '.' -> upstream 250: p50 ${p(endToEnd, 50)}, p90 ${p(endToEnd, 90)}, p99 ${p(endToEnd, 99)}, max ${p(endToEnd, 100)}`);
}

export interface Verification {
  ok: boolean;
  missing: number[];
  duplicated: number[];
  strays: number;
  undelivered: number;
}

/** Every token arrived exactly once, nothing else arrived, and the gateway's outbox holds nothing unsent. */
export async function verifyExactlyOnce(tokens: Iterable<number>, arrivals: Map<number, number[]>, strays: number, store: Pick<Store, 'outbox'>): Promise<Verification> {
  const missing: number[] = [];
  const duplicated: number[] = [];
  for (const token of tokens) {
    const count = arrivals.get(token)?.length ?? 0;
    if (count === 0) missing.push(token);
    if (count > 1) duplicated.push(token);
  }
  const undelivered = (await store.outbox.list(['pending', 'sending', 'failed'])).length;
  return { ok: missing.length === 0 && duplicated.length === 0 && strays === 0 && undelivered === 0, missing, duplicated, strays, undelivered };
}

/** The verdict: `verified ...` when ok, else what is missing and duplicated (tokens shown by `label`). */
export function printVerification(v: Verification, words: { ok: string; missing: string; duplicated: string; label: (token: number) => string }): void {
  if (v.ok) {
    console.log(`verified  ${words.ok}`);
    return;
  }
  const some = (tokens: number[]): string => tokens.slice(0, 10).map(words.label).join(', ') + (tokens.length > 10 ? ', ...' : '');
  console.log(`FAILED    ${v.missing.length} ${words.missing}, ${v.duplicated.length} ${words.duplicated}, ${v.strays} unexpected, ${v.undelivered} not sent per the gateway outbox`);
  if (v.missing.length > 0) console.log(`          missing: ${some(v.missing)}`);
  if (v.duplicated.length > 0) console.log(`          duplicated: ${some(v.duplicated)}`);
}

/** from, from + 1, ..., to - 1: the tokens a run sent. */
export function tokenRange(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/**
 * Runs a benchmark's main: its result is the exit code; a failure prints its message and
 * exits 2 at once, since device workers, publishers and watchers may still hold sockets
 * and timers that would keep the process alive.
 */
export function runBench(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}

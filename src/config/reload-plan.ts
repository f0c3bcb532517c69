import { createHash } from 'node:crypto';
import { Secret } from './secret.js';
import type { GatewayConfig } from './types.js';

/**
 * Sections the running gateway reads once, at start: its sockets, threads and broker and
 * mailbox connections are built from them. A reload names their changes and leaves them
 * as they are until a restart; every other section takes effect at once.
 */
export const READ_AT_START = ['gateway', 'store', 'log', 'listeners', 'delivery', 'mqtt', 'replies', 'http'] as const;

/** Keys of a section read at start that a reload does apply: who may log in is read per request (src/api/auth/). */
const APPLIED_AT_ONCE: Partial<Record<(typeof READ_AT_START)[number], readonly string[]>> = { http: ['users', 'tokens', 'sessionLifetime'] };

export interface ReloadPlan {
  /** The configuration to run on: the file's, with the sections read at start as they were. */
  config: GatewayConfig;
  /** Key paths that changed and are in force now. */
  applied: string[];
  /** Key paths that changed in the file but take effect only after a restart. */
  needRestart: string[];
}

/** What a reload of `next` over `current` changes, and what it cannot change without a restart. */
export function planReload(current: GatewayConfig, next: GatewayConfig): ReloadPlan {
  const readAtStart = new Set<string>(READ_AT_START);
  const applied: string[] = [];
  const needRestart: string[] = [];
  const keys = new Set([...Object.keys(current), ...Object.keys(next)].filter((key) => key !== 'file'));
  for (const key of keys) {
    const before = (current as unknown as Record<string, unknown>)[key];
    const after = (next as unknown as Record<string, unknown>)[key];
    if (same(before, after)) continue;
    if (readAtStart.has(key)) {
      const atOnce = new Set((before !== undefined && after !== undefined ? APPLIED_AT_ONCE[key as (typeof READ_AT_START)[number]] : undefined)?.map((k) => `${key}.${k}`));
      for (const path of changedPaths(key, before, after)) (atOnce.has(path) ? applied : needRestart).push(path);
    }
    // Turning the alarm pipeline on or off changes what every door does with a message.
    else if (key === 'alarms' && (before === undefined) !== (after === undefined)) needRestart.push('alarms');
    else applied.push(...changedPaths(key, before, after));
  }
  const kept = Object.fromEntries(
    READ_AT_START.map((key) => {
      const was = (current as unknown as Record<string, unknown>)[key];
      const now = (next as unknown as Record<string, unknown>)[key];
      const atOnce = APPLIED_AT_ONCE[key];
      if (!atOnce || !isPlainObject(was) || !isPlainObject(now)) return [key, was];
      return [key, { ...was, ...Object.fromEntries(atOnce.filter((k) => k in now).map((k) => [k, now[k]])) }];
    }),
  );
  const config = { ...next, ...kept, file: current.file, ...(needRestart.includes('alarms') ? { alarms: current.alarms } : {}) } as GatewayConfig;
  if (config.alarms === undefined) delete (config as { alarms?: unknown }).alarms;
  return { config, applied, needRestart };
}

/** `key` or, for a section that is an object, its changed keys one level down (`delivery.accounts`). */
function changedPaths(key: string, before: unknown, after: unknown): string[] {
  if (!isPlainObject(before) || !isPlainObject(after)) return [key];
  const inner = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !same(before[k], after[k]));
  return inner.length === 0 ? [key] : inner.map((k) => `${key}.${k}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with RegExps as their source and keys in order: two loads of one file compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // A secret's toJSON hides it, so a changed password would look unchanged; its hash is compared (and never shown).
    const original = this[key];
    if (original instanceof Secret) return `secret:${createHash('sha256').update(original.reveal()).digest('hex')}`;
    if (v instanceof RegExp) return `/${v.source}/${v.flags}`;
    if (isPlainObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
    return v;
  }) ?? 'undefined';
}

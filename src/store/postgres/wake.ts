import type { Wake } from '../store.js';

/**
 * The channel the gateways of one store send their wake-ups on: one per schema, as the
 * leader lock (stores in different schemas of one database do not wake each other).
 * NOTIFY is delivered when the sending transaction commits, and not at all when it rolls
 * back: a wake-up never arrives before the row it announces is visible.
 */
export const WAKE_CHANNEL = `left('annunciator_' || current_schema(), 63)`;

/** A statement's text that sends `payload` (a parameter) on the channel when its transaction commits. */
export const NOTIFY = (payload: string) => `pg_notify(${WAKE_CHANNEL}, ${payload})`;

/** The payload: who sent it (a gateway ignores its own) and what. */
export function wakePayload(gateway: string, wake: Exclude<Wake, { kind: 'missed' }>): string {
  return JSON.stringify({ ...wake, from: gateway });
}

/** The wake-up in a payload and who sent it; undefined for one this version does not know. */
export function parseWake(payload: string): { from: string; wake: Wake } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { from, kind, dueAt, alarmId } = value as Record<string, unknown>;
  if (typeof from !== 'string') return undefined;
  if (kind === 'inbox' || kind === 'outbox') return { from, wake: { kind } };
  if (kind === 'timer' && typeof dueAt === 'number') return { from, wake: { kind, dueAt } };
  if (kind === 'alarm' && typeof alarmId === 'string') return { from, wake: { kind, alarmId } };
  return undefined;
}

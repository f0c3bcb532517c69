import type { Alarm } from './alarm.js';

/**
 * Flood control: when one device (or site) makes more than `limit` notifications due
 * within `window`, its further notifications are folded into a digest sent every
 * `digestInterval`, until its rate falls. Pure: (state, now, settings) in, state out; the
 * pipeline stores the state with the alarm in one transaction.
 */

export interface FloodSettings {
  per: 'device' | 'site';
  /** Notifications per window that still go out one by one. */
  limit: number;
  window: number;
  digestInterval: number;
}

export interface FloodState {
  /** "device:<id>" or "site:<name>". */
  scope: string;
  /** Start of the current counting window and the notifications due in it. */
  windowStart: number;
  count: number;
  /** Set while the scope's notifications go into digests: since when. */
  floodingSince?: number;
  /** The last notification folded into a digest. */
  lastHeldAt?: number;
}

/** The scope an alarm's notifications are counted under. */
export function floodScope(alarm: Pick<Alarm, 'device'>, per: FloodSettings['per']): string {
  const site = alarm.device.site?.trim();
  return per === 'site' && site ? `site:${site}` : `device:${alarm.device.id}`;
}

/** Human words for a scope: "device plc-4", "site Plant North". */
export function describeScope(scope: string): string {
  const colon = scope.indexOf(':');
  return colon < 0 ? scope : `${scope.slice(0, colon)} ${scope.slice(colon + 1)}`;
}

export interface FloodStep {
  state: FloodState;
  /** Fold this notification into the scope's digest instead of sending it. */
  hold: boolean;
  /** Why it is held (or why flooding ended), for the alarm's history. */
  reason?: string;
}

/** One notification of `scope` is due at `now`: count it, and say whether it goes into a digest. */
export function floodStep(previous: FloodState | undefined, scope: string, now: number, settings: FloodSettings): FloodStep {
  let state: FloodState = previous ?? { scope, windowStart: now, count: 0 };
  let ended: string | undefined;
  // Quiet for a whole digest interval: the flood is over, whatever the last digest saw.
  if (state.floodingSince !== undefined && (state.lastHeldAt === undefined || now - state.lastHeldAt >= settings.digestInterval)) {
    ended = `flood of ${describeScope(scope)} over: nothing for ${seconds(settings.digestInterval)}`;
    state = withoutFlood(state);
  }
  if (now - state.windowStart >= settings.window || now < state.windowStart) state = { ...state, windowStart: now, count: 0 };
  state = { ...state, count: state.count + 1 };
  if (state.floodingSince === undefined && state.count > settings.limit) {
    state = { ...state, floodingSince: now };
    const reason = `flood control: ${describeScope(scope)} made ${state.count} notifications due within ${seconds(settings.window)} (limit ${settings.limit}); folded into a digest sent every ${seconds(settings.digestInterval)}`;
    return { state: { ...state, lastHeldAt: now }, hold: true, reason };
  }
  if (state.floodingSince !== undefined) {
    return { state: { ...state, lastHeldAt: now }, hold: true, reason: `flood control: ${describeScope(scope)} is flooding since ${new Date(state.floodingSince).toISOString()}; folded into its digest` };
  }
  return { state, hold: false, ...(ended ? { reason: ended } : {}) };
}

/**
 * A digest of `scope` was sent: it folded `folded` notifications over `period` ms. The
 * flood ends when that rate, per window, is back at or below the limit; otherwise the
 * next notifications go into the next digest.
 */
export function afterDigest(state: FloodState, folded: number, period: number, now: number, settings: FloodSettings): { state: FloodState; ended: boolean; reason: string } {
  const perWindow = (folded * settings.window) / Math.max(period, settings.window);
  const rate = `${Math.round(perWindow * 10) / 10} per ${seconds(settings.window)}`;
  if (perWindow <= settings.limit) {
    // A fresh window: the notifications the digest already covered do not count again.
    return { state: { ...withoutFlood(state), windowStart: now, count: 0 }, ended: true, reason: `rate fell to ${rate} (limit ${settings.limit}): notifications go out one by one again` };
  }
  return { state, ended: false, reason: `rate still ${rate} (limit ${settings.limit}): the next notifications go into the next digest` };
}

function withoutFlood(state: FloodState): FloodState {
  const { floodingSince: _since, lastHeldAt: _last, ...rest } = state;
  return rest;
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`;
}

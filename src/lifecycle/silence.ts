import { formatWeekly, inWeeklyWindow, weeklyWindowEnd } from '../base/weekly-window.js';
import { formatZoned, type Weekday } from '../base/zoned-clock.js';
import { formatMatcher, type Matcher } from '../config/matcher.js';
import { matchesAll, type MatchableAlarm } from './alarm-matchers.js';

/**
 * A maintenance window: while it holds, alarms its matchers select are recorded but not
 * notified. Made with `annunciator silence add`, kept in the store, read by the gateway
 * for every decision.
 */
export interface Silence {
  id: string;
  /** All must hold; a silence always has at least one. */
  matchers: Matcher[];
  schedule: SilenceSchedule;
  createdBy: string;
  comment: string;
  createdAt: number;
  /** Set by `silence expire`: the silence ended early, at this time. */
  expiredAt?: number;
}

export type SilenceSchedule =
  /** From `start` up to (not including) `end`, epoch ms. */
  | { kind: 'window'; start: number; end: number }
  /** Every week on `days` from `from` to `to` in `timeZone` (see base/weekly-window.ts), from `start` on, up to `until` if given. */
  | { kind: 'weekly'; days: Weekday[]; from: string; to: string; timeZone: string; start: number; until?: number };

/** When the silence stops for good (window end, weekly until, early expiry); undefined for a weekly one without until. */
export function silenceEndsAt(s: Silence): number | undefined {
  const end = s.schedule.kind === 'window' ? s.schedule.end : s.schedule.until;
  if (s.expiredAt === undefined) return end;
  return end === undefined ? s.expiredAt : Math.min(end, s.expiredAt);
}

/** Whether the silence holds at `now`, whatever it matches. Pure. */
export function silenceHolds(s: Silence, now: number): boolean {
  const endsAt = silenceEndsAt(s);
  if (now < s.schedule.start || (endsAt !== undefined && now >= endsAt)) return false;
  return s.schedule.kind === 'window' || inWeeklyWindow(s.schedule, now);
}

/** When the stretch of silence that holds `now` ends (the window's end, this week's occurrence's end); undefined if it does not hold or never ends. */
export function silenceHoldsUntil(s: Silence, now: number): number | undefined {
  if (!silenceHolds(s, now)) return undefined;
  const endsAt = silenceEndsAt(s);
  if (s.schedule.kind === 'window') return endsAt;
  const occurrenceEnd = weeklyWindowEnd(s.schedule, now);
  if (occurrenceEnd === undefined) return endsAt;
  return endsAt === undefined ? occurrenceEnd : Math.min(occurrenceEnd, endsAt);
}

/** Over for good at `now`: ended, expired. A silence still to come, or between two weekly occurrences, is not. */
export function silenceIsOver(s: Silence, now: number): boolean {
  const endsAt = silenceEndsAt(s);
  return endsAt !== undefined && now >= endsAt;
}

/**
 * The silence that mutes this alarm at `now`, or undefined. Where several do, the one
 * that holds longest, so "muted until ..." names the time the alarm will actually be
 * heard of. Pure: a function of the alarm, the silences and the time.
 */
export function activeSilence(alarm: MatchableAlarm, silences: readonly Silence[], now: number): Silence | undefined {
  let best: { silence: Silence; until: number } | undefined;
  for (const silence of silences) {
    if (!silenceHolds(silence, now) || !matchesAll(alarm, silence.matchers)) continue;
    const until = silenceHoldsUntil(silence, now) ?? Number.POSITIVE_INFINITY;
    if (!best || until > best.until) best = { silence, until };
  }
  return best?.silence;
}

/** The earliest time after `now` at which one of these silences stops holding: when muted alarms may be due. */
export function nextSilenceEnd(silences: readonly Silence[], now: number): number | undefined {
  let next: number | undefined;
  for (const silence of silences) {
    const until = silenceHoldsUntil(silence, now);
    if (until !== undefined && until > now && (next === undefined || until < next)) next = until;
  }
  return next;
}

/** "device.id=ups-hall2 title~(?i)battery" */
export function describeMatchers(s: Silence): string {
  return s.matchers.map(formatMatcher).join(' ');
}

/**
 * "2026-11-24 22:00 CET - 2026-11-25 06:00 CET" or "weekly mon,tue 22:00-06:00 Europe/Berlin
 * until ...", times on the clocks of `timeZone`; without one, in UTC ISO 8601 (for logs).
 */
export function describeSchedule(s: Silence, timeZone?: string): string {
  const iso = (t: number) => (timeZone === undefined ? new Date(t).toISOString() : formatZoned(t, timeZone));
  if (s.schedule.kind === 'window') return `${iso(s.schedule.start)} - ${iso(s.schedule.end)}`;
  return `weekly ${formatWeekly(s.schedule)}${s.schedule.until !== undefined ? ` until ${iso(s.schedule.until)}` : ''}`;
}

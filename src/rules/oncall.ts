import { civilDateOf, civilDayNumber, formatZoned, instantOf, localDateTime, parseCivilDate, WEEKDAYS, type Weekday } from '../base/zoned-clock.js';
import type { ScheduleConfig } from '../config/types.js';

/**
 * Who is on call: pure given a schedule and a time. Routing asks it when a receiver list
 * names a schedule (rules/receivers.ts), `annunciator oncall` to show it.
 *
 * It lives in rules/ because it decides *who* is told, as the rules do, and because
 * receivers.ts must call it: rules/ may not import from lifecycle/, which comes after it.
 */

export type OnCallSource = 'override' | 'window' | 'rotation' | 'fallback' | 'none';

export interface OnCall {
  /** Receiver names (people or groups), in the order the schedule gives them. */
  receivers: string[];
  /** Why these: "override 'Anna covers Tom' until 2026-12-24 18:00 CET", "window weeknights 18:00-07:00", "rotation week 3: tom". */
  because: string;
  source: OnCallSource;
}

export interface RotationShift {
  /** 0 for the first member's first shift. */
  index: number;
  member: string;
  /** When the shift began and when it ends (the next handoff), epoch ms. */
  start: number;
  end: number;
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/**
 * Who is on call at `at` (epoch ms): an override covering it (the first listed, if several
 * do), else the first window that holds it on the schedule's clocks, else the rotation's
 * member, else the fallback. `receivers` is empty when none of them applies.
 */
export function whoIsOnCall(schedule: ScheduleConfig, at: number): OnCall {
  const override = schedule.overrides.find((o) => o.from <= at && at < o.to);
  if (override) {
    const label = override.reason !== undefined ? `'${override.reason}'` : `for ${override.receivers.join(', ')}`;
    return { receivers: [...override.receivers], because: `override ${label} until ${formatZoned(override.to, schedule.timeZone)}`, source: 'override' };
  }

  const local = localDateTime(at, schedule.timeZone);
  const time = `${pad(local.hour)}:${pad(local.minute)}`;
  const window = schedule.windows.find((w) => windowHolds(w, local.weekday, time));
  if (window) {
    return { receivers: [...window.receivers], because: `window ${window.name ?? window.days.join(',')} ${window.from}-${window.to}`, source: 'window' };
  }

  const shift = schedule.rotation ? rotationShift(schedule, at) : undefined;
  if (shift && schedule.rotation) {
    const unit = schedule.rotation.every === WEEK_MS ? 'week' : 'shift';
    return { receivers: [shift.member], because: `rotation ${unit} ${shift.index + 1}: ${shift.member}`, source: 'rotation' };
  }

  if (schedule.fallback.length > 0) {
    const before = shift === undefined && schedule.rotation ? ' (the rotation has not begun)' : '';
    return { receivers: [...schedule.fallback], because: `fallback${before}`, source: 'fallback' };
  }
  return { receivers: [], because: 'nobody: no override, window, rotation or fallback covers this time', source: 'none' };
}

/**
 * Whether a window holds a wall-clock weekday and time. A window begins on each of its
 * days at `from`; one whose `to` is not after `from` wraps midnight and ends on the next
 * day (`fri 18:00-07:00` holds Saturday 06:59), and `from` equal to `to` is a whole day.
 * Read on the zone's clocks, a window keeps its local hours across a daylight-saving
 * change, so that night it is an hour shorter or longer.
 */
export function windowHolds(window: { days: readonly Weekday[]; from: string; to: string }, weekday: Weekday, time: string): boolean {
  if (window.from < window.to) return window.days.includes(weekday) && time >= window.from && time < window.to;
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(weekday) + 6) % 7] ?? weekday;
  return (window.days.includes(weekday) && time >= window.from) || (window.days.includes(yesterday) && time < window.to);
}

/**
 * The rotation's shift at `at`, or undefined before the first one begins (or without a
 * rotation). Shifts begin every `every` days at the handoff time on the zone's clocks, so
 * a 09:00 handoff stays at 09:00 local across daylight-saving changes and a week is then
 * an hour shorter or longer.
 */
export function rotationShift(schedule: ScheduleConfig, at: number): RotationShift | undefined {
  const rotation = schedule.rotation;
  const startDate = rotation ? parseCivilDate(rotation.start) : undefined;
  if (!rotation || !startDate || rotation.members.length === 0) return undefined;
  const everyDays = Math.max(1, Math.round(rotation.every / DAY_MS));
  const firstDay = civilDayNumber(startDate);
  const [hour = 0, minute = 0] = rotation.handoff.time.split(':').map(Number);
  const shiftStart = (index: number): number => instantOf({ ...civilDateOf(firstDay + index * everyDays), hour, minute }, schedule.timeZone);

  if (at < shiftStart(0)) return undefined;
  const today = civilDayNumber(localDateTime(at, schedule.timeZone));
  let index = Math.max(0, Math.floor((today - firstDay) / everyDays));
  // The local date gives the shift to within one; the instants settle the boundary.
  while (index > 0 && at < shiftStart(index)) index -= 1;
  while (at >= shiftStart(index + 1)) index += 1;
  return { index, member: rotation.members[index % rotation.members.length] ?? '', start: shiftStart(index), end: shiftStart(index + 1) };
}

/** The next rotation handoff after `at`: when, and to whom. Undefined without a rotation. */
export function nextHandoff(schedule: ScheduleConfig, at: number): { at: number; member: string } | undefined {
  const rotation = schedule.rotation;
  if (!rotation || rotation.members.length === 0) return undefined;
  const shift = rotationShift(schedule, at);
  if (shift) return { at: shift.end, member: rotation.members[(shift.index + 1) % rotation.members.length] ?? '' };
  const startDate = parseCivilDate(rotation.start);
  if (!startDate) return undefined;
  const [hour = 0, minute = 0] = rotation.handoff.time.split(':').map(Number);
  return { at: instantOf({ ...startDate, hour, minute }, schedule.timeZone), member: rotation.members[0] ?? '' };
}

/** A change of who is on call: from `at` on, `receivers` (empty: nobody), for the reason given. */
export interface OnCallChange extends OnCall {
  at: number;
}

/**
 * The next instant after `at` (within `horizon` ms) at which a different set of receivers is
 * on call, and who they are then: the real next handoff, taking overrides, windows, the
 * rotation and the fallback together. Who is on call changes only where one of them begins
 * or ends, so those instants are the candidates; an instant where the same people carry on
 * (an override for the person whose rotation week it is anyway) is no change. Undefined
 * when nothing changes within the horizon (a schedule with only a fallback).
 */
export function nextChange(schedule: ScheduleConfig, at: number, horizon = 366 * DAY_MS): OnCallChange | undefined {
  const end = at + horizon;
  const candidates = new Set<number>();
  const consider = (t: number): void => {
    if (t > at && t <= end) candidates.add(t);
  };
  for (const override of schedule.overrides) {
    consider(override.from);
    consider(override.to);
  }
  if (schedule.windows.length > 0) {
    // Local days from the one before `at` (a window that began yesterday evening ends
    // today) to the one after the horizon; each window begins and ends once on each of its days.
    const first = civilDayNumber(localDateTime(at, schedule.timeZone)) - 1;
    const last = civilDayNumber(localDateTime(end, schedule.timeZone)) + 1;
    for (let day = first; day <= last; day += 1) {
      const date = civilDateOf(day);
      for (const window of schedule.windows) {
        if (!window.days.includes(date.weekday)) continue;
        const [fromHour = 0, fromMinute = 0] = window.from.split(':').map(Number);
        const [toHour = 0, toMinute = 0] = window.to.split(':').map(Number);
        consider(instantOf({ ...date, hour: fromHour, minute: fromMinute }, schedule.timeZone));
        const endDate = window.from < window.to ? date : civilDateOf(day + 1);
        consider(instantOf({ ...endDate, hour: toHour, minute: toMinute }, schedule.timeZone));
      }
    }
  }
  for (let handoff = nextHandoff(schedule, at); handoff && handoff.at <= end; handoff = nextHandoff(schedule, handoff.at)) consider(handoff.at);

  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
  const now = whoIsOnCall(schedule, at).receivers;
  for (const t of [...candidates].sort((x, y) => x - y)) {
    const then = whoIsOnCall(schedule, t);
    if (!same(then.receivers, now)) return { at: t, ...then };
  }
  return undefined;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

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

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

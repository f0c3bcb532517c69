import { civilDateOf, civilDayNumber, instantOf, isTimeOfDay, localDateTime, wallClock, WEEKDAYS, type Weekday } from './zoned-clock.js';

/**
 * A time window that recurs every week in the plant's wall-clock time, e.g. "mon,tue
 * 22:00-06:00" in Europe/Berlin. The days are the days a window *starts* on: one that
 * wraps midnight runs into the next day (Monday 22:00 to Tuesday 06:00). from == to is a
 * whole day (24 hours from `from`). Across a daylight-saving change the window keeps its
 * wall-clock times, so it is an hour shorter or longer that night.
 */
export interface WeeklyWindow {
  days: Weekday[];
  /** "HH:MM" */
  from: string;
  to: string;
  timeZone: string;
}

export type ParsedWeekly = { ok: true; window: Omit<WeeklyWindow, 'timeZone'> } | { ok: false; problem: string };

const SPEC_FORM = 'write days and times, e.g. "mon,tue 22:00-06:00", "mon-fri 07:00-16:00" or "daily 02:00-03:00"';

/** "mon,tue 22:00-06:00", "mon-fri 07:00-16:00", "sat,sun 00:00-00:00" (whole days), "daily 02:00-03:00". */
export function parseWeeklySpec(spec: string): ParsedWeekly {
  const match = /^\s*(\S+)\s+(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})\s*$/.exec(spec);
  if (!match) return { ok: false, problem: `"${spec}": ${SPEC_FORM}` };
  const [, dayText = '', from = '', to = ''] = match;
  for (const time of [from, to]) {
    if (!isTimeOfDay(time)) return { ok: false, problem: `"${spec}": ${time} is not a time of day (00:00 to 23:59)` };
  }
  const days = new Set<Weekday>();
  for (const part of dayText.toLowerCase().split(',')) {
    if (part === 'daily') {
      WEEKDAYS.forEach((d) => days.add(d));
      continue;
    }
    const [first, last, ...rest] = part.split('-');
    const start = WEEKDAYS.indexOf(first as Weekday);
    const end = last === undefined ? start : WEEKDAYS.indexOf(last as Weekday);
    if (rest.length > 0 || start < 0 || end < 0) return { ok: false, problem: `"${spec}": "${part}" is not a day or a range of days (mon, tue, ... sun; mon-fri; daily)` };
    // A range may wrap the week: fri-mon is fri, sat, sun, mon.
    for (let i = start; ; i = (i + 1) % 7) {
      days.add(WEEKDAYS[i]!);
      if (i === end) break;
    }
  }
  return { ok: true, window: { days: WEEKDAYS.filter((d) => days.has(d)), from, to } };
}

export function formatWeekly(w: Omit<WeeklyWindow, 'timeZone'> & { timeZone?: string }): string {
  return `${w.days.length === 7 ? 'daily' : w.days.join(',')} ${w.from}-${w.to}${w.timeZone ? ` ${w.timeZone}` : ''}`;
}

function previousDay(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;
}

/** Whether the window holds `now`. Pure. */
export function inWeeklyWindow(w: WeeklyWindow, now: number): boolean {
  const { weekday, timeOfDay } = wallClock(now, w.timeZone);
  if (w.from < w.to) return w.days.includes(weekday) && timeOfDay >= w.from && timeOfDay < w.to;
  // Wraps midnight (or from == to: a whole day): started today, or started yesterday and not over yet.
  return (w.days.includes(weekday) && timeOfDay >= w.from) || (w.days.includes(previousDay(weekday)) && timeOfDay < w.to);
}

const MINUTE = 60_000;

/**
 * When the window that holds `now` ends: the first instant after `now` it no longer
 * holds. Windows that follow each other without a gap (whole days on consecutive days)
 * count as one. Undefined when the window does not hold `now`, or never ends (daily
 * 00:00-00:00).
 */
export function weeklyWindowEnd(w: WeeklyWindow, now: number): number | undefined {
  if (!inWeeklyWindow(w, now)) return undefined;
  const local = localDateTime(now, w.timeZone);
  const timeOfDay = `${String(local.hour).padStart(2, '0')}:${String(local.minute).padStart(2, '0')}`;
  const today = civilDayNumber(local);
  let endDay = w.from < w.to || timeOfDay < w.to ? today : today + 1;
  for (let joined = 0; w.from === w.to && w.days.includes(civilDateOf(endDay).weekday); joined += 1) {
    if (joined >= 7) return undefined;
    endDay += 1;
  }
  const [hour = 0, minute = 0] = w.to.split(':').map(Number);
  let end = instantOf({ ...civilDateOf(endDay), hour, minute }, w.timeZone);
  // A `to` the clocks skip (02:30 on a spring-forward night) lands past the skip: the
  // window ended when the clocks jumped over it. Step back to that minute, and forward
  // should the instant still be inside. Both loops are bounded by the size of a DST shift.
  for (let i = 0; i < 180 && end - MINUTE > now && !inWeeklyWindow(w, end - MINUTE); i += 1) end -= MINUTE;
  for (let i = 0; i < 180 && inWeeklyWindow(w, end); i += 1) end += MINUTE;
  return end;
}

/**
 * The wall clock of the plant: time of day and weekday of an instant in an IANA zone.
 * Rules say "22:00 to 06:00" in local time, so the zone comes from the configuration,
 * never from the machine the gateway happens to run on.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface WallClock {
  /** "HH:MM", 00:00 to 23:59. */
  timeOfDay: string;
  weekday: Weekday;
}

// Building a DateTimeFormat costs far more than using one; zones are few.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // hourCycle h23: with hour12: false some ICU versions print midnight as "24".
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', weekday: 'short' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

// Every alarm asks for the wall clock (rule facts, schedules), and within one minute the
// answer is the same: zones change their offset on whole minutes. The last answer per zone.
const lastByZone = new Map<string, { minute: number; clock: WallClock }>();

/** Throws RangeError for an unknown zone (the configuration check catches that first). */
export function wallClock(now: number, timeZone: string): WallClock {
  const minute = Math.floor(now / 60_000);
  const last = lastByZone.get(timeZone);
  if (last?.minute === minute) return { ...last.clock };
  const clock = readWallClock(now, timeZone);
  lastByZone.set(timeZone, { minute, clock });
  return { ...clock };
}

function readWallClock(now: number, timeZone: string): WallClock {
  let hour = '00';
  let minute = '00';
  let weekday = '';
  for (const part of formatterFor(timeZone).formatToParts(now)) {
    if (part.type === 'hour') hour = part.value.padStart(2, '0');
    else if (part.type === 'minute') minute = part.value.padStart(2, '0');
    else if (part.type === 'weekday') weekday = part.value.slice(0, 3).toLowerCase();
  }
  const day = WEEKDAYS.find((d) => d === weekday);
  if (!day) throw new Error(`cannot read the weekday of ${new Date(now).toISOString()} in ${timeZone} (got "${weekday}")`);
  return { timeOfDay: `${hour}:${minute}`, weekday: day };
}

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

export function isTimeOfDay(value: unknown): value is string {
  return typeof value === 'string' && HH_MM.test(value);
}

/**
 * Whether `time` lies in [start, end). A range whose start is later than its end wraps
 * midnight: 22:00-06:00 holds 23:30 and 05:59 but not 06:00. Zero-padded "HH:MM"
 * strings order like the times they name, so plain string comparison is enough.
 */
export function isBetween(time: string, start: string, end: string): boolean {
  if (start <= end) return time >= start && time < end;
  return time >= start || time < end;
}

/** A date as a calendar shows it, with no zone: month 1-12. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** A wall-clock date and time in some zone, as its clocks show it. */
export interface LocalDateTime extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  weekday: Weekday;
}

const DAY_MS = 86_400_000;
const dateTimeFormatters = new Map<string, Intl.DateTimeFormat>();

function dateTimeFormatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = dateTimeFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    dateTimeFormatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The date and time the clocks in `timeZone` show at `now`. Throws RangeError for an unknown zone. */
export function localDateTime(now: number, timeZone: string): LocalDateTime {
  const numbers: Record<string, number> = {};
  let weekday = '';
  for (const part of dateTimeFormatterFor(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') weekday = part.value.slice(0, 3).toLowerCase();
    else if (part.type !== 'literal') numbers[part.type] = Number(part.value);
  }
  const day = WEEKDAYS.find((d) => d === weekday);
  if (!day) throw new Error(`cannot read the weekday of ${new Date(now).toISOString()} in ${timeZone} (got "${weekday}")`);
  return { year: numbers.year ?? 1970, month: numbers.month ?? 1, day: numbers.day ?? 1, hour: (numbers.hour ?? 0) % 24, minute: numbers.minute ?? 0, second: numbers.second ?? 0, weekday: day };
}

/** How far the zone's clocks are ahead of UTC at `now`, in ms (Berlin in winter: 3,600,000). */
export function zoneOffset(now: number, timeZone: string): number {
  const l = localDateTime(now, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - Math.floor(now / 1000) * 1000;
}

/**
 * The instant at which the clocks in `timeZone` show the given date and time. Across a
 * daylight-saving change: a time the clocks skip (02:30 on a spring-forward night) is
 * read with the offset in force before the change, so it lands as far past the skip as
 * it was into it (03:30); a time the clocks show twice (fall-back) is the first of the two.
 */
export function instantOf(local: CivilDate & { hour: number; minute: number; second?: number }, timeZone: string): number {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second ?? 0);
  // The offsets a day either side: a zone changes its offset at most once in between.
  const before = wall - zoneOffset(wall - DAY_MS, timeZone);
  const after = wall - zoneOffset(wall + DAY_MS, timeZone);
  const shows = (instant: number): boolean => instant + zoneOffset(instant, timeZone) === wall;
  const valid = [before, after].filter(shows);
  return valid.length > 0 ? Math.min(...valid) : before;
}

/** Days since 1970-01-01 of a calendar date: consecutive dates differ by exactly one. */
export function civilDayNumber(date: CivilDate): number {
  return Math.round(Date.UTC(date.year, date.month - 1, date.day) / DAY_MS);
}

export function civilDateOf(dayNumber: number): CivilDate & { weekday: Weekday } {
  const d = new Date(dayNumber * DAY_MS);
  // 1970-01-01 was a Thursday; WEEKDAYS starts on Monday.
  const weekday = WEEKDAYS[(((dayNumber + 3) % 7) + 7) % 7] ?? 'mon';
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday };
}

/** "YYYY-MM-DD" to a date, or undefined unless it names a real calendar day. */
export function parseCivilDate(text: string): CivilDate | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const date = { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
  const back = civilDateOf(civilDayNumber(date));
  return back.year === date.year && back.month === date.month && back.day === date.day ? date : undefined;
}

/**
 * An ISO 8601 date-time, e.g. `2026-12-24T18:00:00+01:00` or `2026-12-24T18:00Z`. One
 * without an offset (`2026-12-24 18:00`, or a bare date for its midnight) is a wall-clock
 * time in `timeZone`. Undefined when it is not such a time.
 */
export function parseZonedDateTime(text: string, timeZone: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (!match) return undefined;
  const [, dateText = '', hh = '00', mm = '00', ss = '00', fraction = '', offset] = match;
  const date = parseCivilDate(dateText);
  const hour = Number(hh);
  const minute = Number(mm);
  const second = Number(ss);
  if (!date || hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = fraction ? Math.round(Number(fraction) * 1000) : 0;
  if (offset === undefined) return instantOf({ ...date, hour, minute, second }, timeZone) + millis;
  let offsetMs = 0;
  if (offset.toUpperCase() !== 'Z') {
    const digits = offset.replace(':', '');
    const offHours = Number(digits.slice(1, 3));
    const offMinutes = Number(digits.slice(3, 5));
    if (offHours > 23 || offMinutes > 59) return undefined;
    offsetMs = (digits.startsWith('-') ? -1 : 1) * (offHours * 60 + offMinutes) * 60_000;
  }
  return Date.UTC(date.year, date.month - 1, date.day, hour, minute, second) + millis - offsetMs;
}

const zoneNameFormatters = new Map<string, Intl.DateTimeFormat[]>();

/**
 * "2026-12-24 18:00 CET" (with `seconds`, "2026-12-24 18:00:05 CET"): a time as the zone's
 * clocks show it, with the zone's short name (or offset).
 */
export function formatZoned(now: number, timeZone: string, options: { seconds?: boolean } = {}): string {
  const l = localDateTime(now, timeZone);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${l.year}-${pad(l.month)}-${pad(l.day)} ${pad(l.hour)}:${pad(l.minute)}${options.seconds ? `:${pad(l.second)}` : ''} ${zoneName(now, timeZone)}`;
}

function zoneName(now: number, timeZone: string): string {
  let formatters = zoneNameFormatters.get(timeZone);
  if (!formatters) {
    // en-US knows EST/PST but says GMT+1 for Berlin; en-GB knows CET/CEST.
    formatters = ['en-US', 'en-GB'].map((locale) => new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'short' }));
    zoneNameFormatters.set(timeZone, formatters);
  }
  let name = '';
  for (const formatter of formatters) {
    name = formatter.formatToParts(now).find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (!/^GMT[+-]/.test(name)) return name;
  }
  return name;
}

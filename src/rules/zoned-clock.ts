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

/** Throws RangeError for an unknown zone (the configuration check catches that first). */
export function wallClock(now: number, timeZone: string): WallClock {
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

/**
 * Dates and durations as people on call read them. The zone and locale are arguments,
 * never the process's own, because one gateway may render for several configurations.
 */

export interface TimeSettings {
  /** IANA zone, e.g. Europe/Berlin. */
  timeZone: string;
  /** BCP 47 locale for names of days and months, e.g. en-GB. */
  locale: string;
}

/** `long`: "Tue 24 Nov 2026 03:14:07 CET"; `iso`: "2026-11-24T03:14:07+01:00"; `time`: "03:14 CET". */
export const DATE_FORMATS = ['long', 'iso', 'time'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

export function isDateFormat(value: unknown): value is DateFormat {
  return typeof value === 'string' && (DATE_FORMATS as readonly string[]).includes(value);
}

// Building a DateTimeFormat costs far more than using one; a notification formats
// several dates with the same settings.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(settings: TimeSettings, format: DateFormat): Intl.DateTimeFormat {
  const key = `${settings.locale}\u0000${settings.timeZone}\u0000${format}`;
  let found = formatters.get(key);
  if (!found) {
    const numeric = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } as const;
    const options: Intl.DateTimeFormatOptions =
      format === 'iso'
        ? { ...numeric, year: 'numeric', month: '2-digit', day: '2-digit' }
        : format === 'time'
          ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' }
          : { ...numeric, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZoneName: 'short' };
    // ISO digits must be Latin whatever the locale, so that format ignores it.
    found = new Intl.DateTimeFormat(format === 'iso' ? 'en-GB' : settings.locale, { ...options, timeZone: settings.timeZone });
    formatters.set(key, found);
  }
  return found;
}

/**
 * An instant in the configured zone. Parts are assembled in a fixed order (weekday, day,
 * month, year, time, zone) rather than the locale's, so a date with a month name is never
 * ambiguous to a team that spans countries; the names are still the locale's.
 */
export function formatDate(epochMs: number, settings: TimeSettings, format: DateFormat = 'long'): string {
  // A notification shows the same few instants (first seen, last seen, now) in several
  // places, and formatToParts is the costly part: the last answers, keyed by the second.
  const key = `${Math.floor(epochMs / 1000)}\u0000${settings.locale}\u0000${settings.timeZone}\u0000${format}`;
  let text = formatted.get(key);
  if (text === undefined) {
    if (formatted.size >= 256) formatted.clear();
    text = formatUncached(epochMs, settings, format);
    formatted.set(key, text);
  }
  return text;
}

const formatted = new Map<string, string>();

function formatUncached(epochMs: number, settings: TimeSettings, format: DateFormat): string {
  const date = new Date(epochMs);
  const parts = Object.fromEntries(formatter(settings, format).formatToParts(date).map((p) => [p.type, p.value])) as Partial<Record<Intl.DateTimeFormatPartTypes, string>>;
  const time = `${parts.hour}:${parts.minute}`;
  switch (format) {
    case 'time':
      return `${time} ${parts.timeZoneName}`;
    case 'iso': {
      const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
      const offsetMinutes = Math.round((wall - Math.floor(epochMs / 1000) * 1000) / 60_000);
      const sign = offsetMinutes < 0 ? '-' : '+';
      const abs = Math.abs(offsetMinutes);
      const offset = `${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
      return `${parts.year}-${parts.month}-${parts.day}T${time}:${parts.second}${offset}`;
    }
    case 'long':
      return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year} ${time}:${parts.second} ${parts.timeZoneName}`;
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

const UNITS = [
  { name: 'd', seconds: 86_400 },
  { name: 'h', seconds: 3_600 },
  { name: 'min', seconds: 60 },
  { name: 's', seconds: 1 },
] as const;

/**
 * A span in its two largest units, the smaller left out when zero: "45 s", "7 min 33 s",
 * "2 h 5 min", "3 d 4 h", "7 min". Seconds are floored; negative spans count as zero.
 */
export function formatDuration(ms: number): string {
  let rest = Math.floor(Math.max(0, ms) / 1000);
  const index = UNITS.findIndex((u) => rest >= u.seconds);
  if (index === -1) return '0 s';
  const words: string[] = [];
  for (const unit of UNITS.slice(index, index + 2)) {
    const amount = Math.floor(rest / unit.seconds);
    rest -= amount * unit.seconds;
    if (amount > 0) words.push(`${amount} ${unit.name}`);
  }
  return words.join(' ');
}

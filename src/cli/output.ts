import { formatZoned } from '../base/zoned-clock.js';
import type { GatewayConfig } from '../config/types.js';

/**
 * How the commands print times and JSON. People read local times with the zone's name, in
 * alarms.timeZone (the clocks of the plant, which the rules use too), never UTC nor the
 * zone of whatever machine the command runs on; scripts read RFC 3339 in UTC.
 */

/** The zone times are shown in: alarms.timeZone, else the machine's. */
export function displayZone(config: GatewayConfig): string {
  return config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** "2026-11-24 03:14:07 CET". */
export function showTime(epochMs: number, zone: string): string {
  return formatZoned(epochMs, zone, { seconds: true });
}

const ISO_UTC = /\b(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?Z)\b/g;

/**
 * Text written earlier with UTC times in it (history reasons such as "muted ... until
 * 2026-11-24T21:00:00.000Z"), with those times shown in `zone` instead.
 */
export function localizeTimes(text: string, zone: string): string {
  return text.replace(ISO_UTC, (iso) => {
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? iso : showTime(ms, zone);
  });
}

/**
 * Fields that hold an instant as epoch milliseconds in the records the commands print:
 * alarms and their history, acknowledgements, outbox entries, silences and their schedules,
 * alarm events, the store's health, certificates' validity. In --json they become RFC 3339 strings in UTC ("2026-11-24T02:14:07.000Z").
 */
const TIME_FIELDS = new Set(['at', 'firstSeen', 'lastSeen', 'resolvedAt', 'lastNotifiedAt', 'until', 'start', 'end', 'createdAt', 'updatedAt', 'nextAttemptAt', 'sentAt', 'expiredAt', 'receivedAt', 'flushAt', 'since', 'validFrom', 'validTo']);

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (key, field: unknown) => (TIME_FIELDS.has(key) && typeof field === 'number' && Number.isFinite(field) ? new Date(field).toISOString() : field), 2)}\n`;
}

export function printJson(value: unknown): void {
  process.stdout.write(toJson(value));
}

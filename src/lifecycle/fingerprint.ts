import { createHash } from 'node:crypto';
import type { AlarmsConfig } from '../config/schema.js';
import type { AlarmEvent } from '../parse/alarm-event.js';

/**
 * The identity of an alarm across its occurrences. `auto`: the device plus the key an
 * extraction pattern gave, else the code it extracted, else the title: so a UPS's
 * "on battery" and "no longer on battery" (one key) are one alarm, and a PLC that
 * puts a changing value in its subject but a fixed code in its body is one alarm.
 */
export function fingerprintOf(event: AlarmEvent, spec: AlarmsConfig['fingerprint']): string {
  const parts =
    spec === 'auto'
      ? ['device', event.device.id, ...(event.key ? ['key', event.key] : event.code ? ['code', event.code] : ['title', normaliseTitle(event.title)])]
      : spec.flatMap((field) => [field, valueOf(event, field)]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

function valueOf(event: AlarmEvent, field: string): string {
  switch (field) {
    case 'device':
      return event.device.id;
    case 'title':
      return normaliseTitle(event.title);
    case 'code':
      return event.code ?? '';
    case 'key':
      return event.key ?? '';
    case 'site':
      return event.device.site ?? '';
    case 'area':
      return event.device.area ?? '';
    default:
      return field.startsWith('fields.') ? (event.fields[field.slice('fields.'.length)] ?? '') : '';
  }
}

/** Case and spacing do not make a different alarm. */
function normaliseTitle(title: string): string {
  return title.toLowerCase().replace(/\s+/g, ' ').trim();
}

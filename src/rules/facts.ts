import { wallClock, WEEKDAYS } from '../base/zoned-clock.js';
import { SEVERITIES } from '../config/schema.js';
import type { AlarmEvent } from '../parse/alarm-event.js';

/**
 * What a rule condition can look at: the facts built from an AlarmEvent and the time.
 * The catalogue below is the single list the validator, the README and the error
 * messages draw from, so a fact cannot exist in one place and be missing in another.
 */

/** How a fact's values compare; decides which operators and condition values make sense. */
export type FactKind = 'text' | 'number' | 'boolean' | 'list' | 'time';

export interface FactSpec {
  kind: FactKind;
  /** The only values the fact can take, so a typo such as `severity: Major` is caught at load. */
  values?: readonly string[];
  /** Numbers written as text (fields from `Key : value` lines) may be compared as numbers. */
  numericText?: boolean;
}

const DEVICE_PROPERTIES = ['id', 'name', 'site', 'area', 'description'] as const;

const FACTS: Record<string, FactSpec> = {
  ...Object.fromEntries(DEVICE_PROPERTIES.map((p) => [`device.${p}`, { kind: 'text' } satisfies FactSpec])),
  title: { kind: 'text' },
  text: { kind: 'text' },
  severity: { kind: 'text', values: SEVERITIES },
  code: { kind: 'text' },
  key: { kind: 'text' },
  value: { kind: 'number' },
  unit: { kind: 'text' },
  state: { kind: 'text', values: ['active', 'cleared'] },
  sender: { kind: 'text' },
  recipients: { kind: 'list' },
  source: { kind: 'text', values: ['smtp', 'cli', 'mqtt'] },
  listener: { kind: 'text' },
  peer: { kind: 'text' },
  helo: { kind: 'text' },
  hasAttachments: { kind: 'boolean' },
  timeOfDay: { kind: 'time' },
  weekday: { kind: 'text', values: WEEKDAYS },
};

const FIELD_SPEC: FactSpec = { kind: 'text', numericText: true };

/** Fact names as rule authors write them, for error messages and documentation. */
export const KNOWN_FACT_NAMES: readonly string[] = [
  ...DEVICE_PROPERTIES.map((p) => `device.${p}`),
  'title', 'text', 'severity', 'code', 'key', 'value', 'unit', 'state', 'sender', 'recipients',
  'fields.<name>', 'source', 'listener', 'peer', 'helo', 'hasAttachments', 'timeOfDay', 'weekday',
];

/** The spec of a fact name as written in a rule (`device.site`, `fields.Location`), or undefined. */
export function factSpec(name: string): FactSpec | undefined {
  if (name.startsWith('fields.') && name.length > 'fields.'.length) return FIELD_SPEC;
  return Object.hasOwn(FACTS, name) ? FACTS[name] : undefined;
}

/**
 * `device.site` is the `device` fact at path `$.site` in json-rules-engine terms.
 * Everything after the first dot is one property name, so a field called
 * "Alarm class" or "Temp.max" is reachable as written.
 */
export function engineFactOf(name: string): { fact: string; path?: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { fact: name } : { fact: name.slice(0, dot), path: `$.${name.slice(dot + 1)}` };
}

/** The inverse of engineFactOf, to show a condition the way its author wrote it. */
export function factNameOf(fact: string, path: string | undefined): string {
  return path ? `${fact}.${path.startsWith('$.') ? path.slice(2) : path}` : fact;
}

/**
 * Resolves engine paths as a single own property. json-rules-engine would otherwise
 * hand them to JSONPath, which reads `$.Alarm class` differently and walks prototypes;
 * our fact objects are one level deep, so a lookup is all that is needed.
 */
export function ownPropertyPath(value: object, path: string): unknown {
  const key = path.startsWith('$.') ? path.slice(2) : path;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

export type RuleFacts = Record<string, unknown>;

/** The runtime facts for one event at `now`; absent values are left out (the engine then sees undefined). */
export function buildFacts(event: AlarmEvent, now: number, timeZone: string): RuleFacts {
  const clock = wallClock(now, timeZone);
  const device: Record<string, string> = {};
  for (const property of DEVICE_PROPERTIES) {
    const value = event.device[property];
    if (value !== undefined) device[property] = value;
  }
  const facts: Record<string, unknown> = {
    device,
    title: event.title,
    text: event.text,
    severity: event.severity,
    code: event.code,
    key: event.key,
    value: event.value,
    unit: event.unit,
    state: event.state,
    sender: event.sender ?? undefined,
    recipients: [...event.recipients],
    fields: { ...event.fields },
    source: event.source,
    listener: event.listener,
    peer: event.peer.address,
    helo: event.peer.helo,
    hasAttachments: event.attachments.length > 0,
    timeOfDay: clock.timeOfDay,
    weekday: clock.weekday,
  };
  for (const [name, value] of Object.entries(facts)) if (value === undefined) delete facts[name];
  return facts;
}

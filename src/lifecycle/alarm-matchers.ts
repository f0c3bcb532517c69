import type { Matcher } from '../config/matcher.js';
import { compileSafeRegex, type SafeRegex } from '../config/safe-regex.js';
import type { Alarm } from './alarm.js';

/** What silences and inhibit rules look at: the alarm's identity and fields. */
export type MatchableAlarm = Pick<Alarm, 'device' | 'title' | 'severity' | 'key' | 'code' | 'fields'>;

/** The value of a matcher field (config/matcher.ts) on an alarm; "" when it has none. */
export function alarmField(alarm: MatchableAlarm, field: string): string {
  switch (field) {
    case 'device':
    case 'device.id':
      return alarm.device.id;
    case 'device.name':
      return alarm.device.name;
    case 'site':
    case 'device.site':
      return alarm.device.site ?? '';
    case 'area':
    case 'device.area':
      return alarm.device.area ?? '';
    case 'severity':
      return alarm.severity;
    case 'title':
      return alarm.title;
    case 'key':
      return alarm.key ?? '';
    case 'code':
      return alarm.code ?? '';
    default:
      // Own properties only: a field named "constructor" is not Object's.
      return field.startsWith('fields.') && Object.hasOwn(alarm.fields, field.slice('fields.'.length)) ? (alarm.fields[field.slice('fields.'.length)] ?? '') : '';
  }
}

// Silences are read from the store for every decision; compiling their patterns once is
// enough. Patterns come from people, so they are few; the bound only guards the memory.
const compiled = new Map<string, SafeRegex | null>();

function regexOf(source: string): SafeRegex | null {
  let regex = compiled.get(source);
  if (regex === undefined) {
    try {
      regex = compileSafeRegex(source);
    } catch {
      // Validated when the silence or rule was made; a pattern that no longer compiles matches nothing.
      regex = null;
    }
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(source, regex);
  }
  return regex;
}

export function matches(alarm: MatchableAlarm, m: Matcher): boolean {
  const value = alarmField(alarm, m.field);
  switch (m.operator) {
    case 'equal':
      return value === m.value;
    case 'notEqual':
      return value !== m.value;
    case 'matches':
      return regexOf(m.value)?.test(value) ?? false;
  }
}

/** Every matcher holds. An empty list holds for nothing: muting everything takes a matcher that says so. */
export function matchesAll(alarm: MatchableAlarm, matchers: readonly Matcher[]): boolean {
  return matchers.length > 0 && matchers.every((m) => matches(alarm, m));
}

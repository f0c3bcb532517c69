import { regexProblem } from './safe-regex.js';
import { SEVERITIES } from './schema.js';

/**
 * A condition on one field of an alarm, written `field=value`, `field!=value` or
 * `field~regex` (RE2, unanchored: `title~(?i)battery` matches "UPS: On battery power").
 * One syntax for silences (`annunciator silence add --match`) and inhibit rules
 * (`inhibit[].source`, `.target`); lifecycle/alarm-matchers.ts evaluates them.
 */
export type MatchOperator = 'equal' | 'notEqual' | 'matches';

export interface Matcher {
  field: string;
  operator: MatchOperator;
  value: string;
}

/**
 * Field names as in rule conditions (`device.site`), with the short forms the
 * fingerprint setting uses (`device` for the id, `site`, `area`). A field an alarm does
 * not have reads as "" (so `code!=E1` holds for an alarm without a code).
 */
export const MATCHER_FIELDS = ['device', 'device.id', 'device.name', 'device.site', 'device.area', 'site', 'area', 'severity', 'title', 'key', 'code'] as const;

export function isMatcherField(name: string): boolean {
  return (MATCHER_FIELDS as readonly string[]).includes(name) || /^fields\..+$/.test(name);
}

const FIELD_LIST = `${MATCHER_FIELDS.join(', ')} or fields.NAME`;
const OPERATORS: Record<string, MatchOperator> = { '=': 'equal', '!=': 'notEqual', '~': 'matches' };
const SYMBOLS: Record<MatchOperator, string> = { equal: '=', notEqual: '!=', matches: '~' };

export type ParsedMatcher = { ok: true; matcher: Matcher } | { ok: false; problem: string };

/** `device.id=ups-hall2`, `severity!=info`, `title~(?i)battery` to a Matcher, or why not. */
export function parseMatcher(text: string): ParsedMatcher {
  // The field is the shortest prefix followed by an operator: "fields.a!=b" is fields.a != b.
  const match = /^\s*([A-Za-z][\w.]*?|fields\.[^=!~]+?)\s*(!=|=|~)(.*)$/s.exec(text);
  if (!match) return { ok: false, problem: `"${text}" is not a matcher (write field=value, field!=value or field~regex)` };
  const [, field = '', symbol = '=', value = ''] = match;
  if (!isMatcherField(field)) return { ok: false, problem: `unknown field "${field}" in "${text}" (use ${FIELD_LIST})` };
  const operator = OPERATORS[symbol] ?? 'equal';
  if (operator === 'matches') {
    if (value === '') return { ok: false, problem: `"${text}": an empty pattern matches everything; give one` };
    const problem = regexProblem(value);
    if (problem) return { ok: false, problem: `"${text}": ${problem}` };
  } else if (field === 'severity' && !(SEVERITIES as readonly string[]).includes(value)) {
    return { ok: false, problem: `"${text}": severity is one of ${SEVERITIES.join(', ')}` };
  }
  return { ok: true, matcher: { field, operator, value } };
}

export function formatMatcher(m: Matcher): string {
  return `${m.field}${SYMBOLS[m.operator]}${m.value}`;
}

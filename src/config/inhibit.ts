import { isMatcherField, MATCHER_FIELDS, parseMatcher, type Matcher } from './matcher.js';
import type { RawConfig } from './schema.js';

/**
 * An inhibit rule as loaded: while an active alarm matches `source`, notifications of
 * alarms matching `target` that have the same value in every `equal` field are muted
 * (Alertmanager's inhibit_rules). lifecycle/inhibit.ts applies them.
 */
export interface InhibitRule {
  name: string;
  source: Matcher[];
  target: Matcher[];
  /** Fields both alarms must have, with the same value (e.g. site). */
  equal: string[];
}

type At = (path: ReadonlyArray<PropertyKey>, message: string) => void;

/** Parses the matchers of `inhibit:` and checks names and fields; every problem goes to `at` with its key. */
export function resolveInhibitRules(raw: RawConfig, at: At): InhibitRule[] {
  const names = new Set<string>();
  return raw.inhibit.map((rule, i): InhibitRule => {
    const path = ['inhibit', i];
    if (names.has(rule.name)) at([...path, 'name'], `inhibit rule "${rule.name}" is defined twice`);
    names.add(rule.name);
    if (!raw.alarms) at(path, 'inhibition needs the alarm pipeline: add an alarms section');
    const matchers = (side: 'source' | 'target'): Matcher[] =>
      rule[side].flatMap((text, j) => {
        const parsed = parseMatcher(text);
        if (parsed.ok) return [parsed.matcher];
        at([...path, side, j], parsed.problem);
        return [];
      });
    rule.equal.forEach((field, j) => {
      if (!isMatcherField(field)) at([...path, 'equal', j], `unknown field "${field}" (use ${MATCHER_FIELDS.join(', ')} or fields.NAME)`);
    });
    return { name: rule.name, source: matchers('source'), target: matchers('target'), equal: rule.equal };
  });
}

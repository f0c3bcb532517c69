import { compileSafeRegex, type SafeRegex } from '../config/safe-regex.js';
import type { ExtractionPattern } from '../config/schema.js';

/** An extraction pattern compiled once at load, not per message. */
export interface CompiledPattern {
  name: string;
  subject?: SafeRegex;
  body?: SafeRegex;
  set: ExtractionPattern['set'];
}

export function compilePatterns(patterns: readonly ExtractionPattern[]): CompiledPattern[] {
  return patterns.map((p) => ({
    name: p.name,
    subject: p.subject !== undefined ? compileSafeRegex(p.subject, { ignoreCase: p.ignoreCase }) : undefined,
    body: p.body !== undefined ? compileSafeRegex(p.body, { ignoreCase: p.ignoreCase }) : undefined,
    set: p.set,
  }));
}

export interface PatternMatch {
  name: string;
  /** Named groups of the subject and body matches, body winning on a clash. */
  groups: Record<string, string>;
  set: ExtractionPattern['set'];
}

/** Every pattern whose expressions all match, in order. */
export function matchPatterns(patterns: readonly CompiledPattern[], subject: string, body: string): PatternMatch[] {
  const matches: PatternMatch[] = [];
  for (const pattern of patterns) {
    const subjectGroups = pattern.subject ? pattern.subject.match(subject) : {};
    if (!subjectGroups) continue;
    const bodyGroups = pattern.body ? pattern.body.match(body) : {};
    if (!bodyGroups) continue;
    matches.push({ name: pattern.name, groups: { ...subjectGroups, ...bodyGroups }, set: pattern.set });
  }
  return matches;
}

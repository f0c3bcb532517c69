import { Operator, type Engine } from 'json-rules-engine';
import { isBetween, isTimeOfDay } from '../base/zoned-clock.js';
import type { SafeRegex } from '../config/safe-regex.js';
import type { FactKind } from './facts.js';

/**
 * The operators a condition may use: json-rules-engine's built-ins plus our own. What
 * each one accepts is checked when the rules load (conditions.ts), so at run time an
 * operator only ever sees values of the shape it expects.
 */

export const BUILT_IN_OPERATORS = [
  'equal', 'notEqual', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive',
  'in', 'notIn', 'contains', 'doesNotContain',
] as const;
export const CUSTOM_OPERATORS = ['matches', 'notMatches', 'between', 'startsWith', 'endsWith', 'exists'] as const;
export const KNOWN_OPERATORS: readonly string[] = [...BUILT_IN_OPERATORS, ...CUSTOM_OPERATORS];

export const NUMERIC_OPERATORS: readonly string[] = ['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'];

/** Which operators make sense for which kind of fact (a numeric comparison of a title never matches). */
export const OPERATORS_BY_KIND: Record<FactKind, readonly string[]> = {
  text: ['equal', 'notEqual', 'in', 'notIn', 'contains', 'doesNotContain', 'matches', 'notMatches', 'startsWith', 'endsWith', 'exists'],
  number: ['equal', 'notEqual', 'in', 'notIn', ...NUMERIC_OPERATORS, 'exists'],
  boolean: ['equal', 'notEqual', 'exists'],
  list: ['contains', 'doesNotContain', 'matches', 'notMatches', 'exists'],
  time: ['between', 'equal', 'notEqual', 'in', 'notIn'],
};

/** A fact value as text for the text operators; lists are handled by their callers. */
function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function textContains(factValue: unknown, needle: unknown): boolean {
  if (Array.isArray(factValue)) return factValue.includes(needle);
  const text = asText(factValue);
  return text !== undefined && typeof needle === 'string' && text.includes(needle);
}

/**
 * Adds our operators to an engine. `patterns` holds every `matches` pattern of the
 * rule book, compiled once at load: the operator looks its pattern up instead of
 * compiling per event, and never runs a JavaScript RegExp on user input.
 */
export function addOperators(engine: Engine, patterns: ReadonlyMap<string, SafeRegex>): void {
  const regexFor = (source: unknown): SafeRegex => {
    const regex = typeof source === 'string' ? patterns.get(source) : undefined;
    // Validation compiles every pattern into `patterns`; reaching this is a bug, not bad input.
    if (!regex) throw new Error(`pattern ${JSON.stringify(source)} was not compiled when the rules were loaded`);
    return regex;
  };
  const matches = (factValue: unknown, source: unknown): boolean => {
    const regex = regexFor(source);
    if (Array.isArray(factValue)) return factValue.some((item) => { const text = asText(item); return text !== undefined && regex.test(text); });
    const text = asText(factValue);
    return text !== undefined && regex.test(text);
  };

  engine.addOperator(new Operator<unknown, unknown>('matches', matches));
  // Negative operators hold for an absent fact, like the built-in notEqual and notIn do.
  engine.addOperator(new Operator<unknown, unknown>('notMatches', (factValue, source) => !matches(factValue, source)));
  // The built-ins only look inside arrays; for text they silently never match, which
  // would surprise anyone writing `title contains "battery"`. Lists behave as before.
  engine.addOperator(new Operator<unknown, unknown>('contains', textContains));
  engine.addOperator(new Operator<unknown, unknown>('doesNotContain', (factValue, needle) => !textContains(factValue, needle)));
  engine.addOperator(
    new Operator<unknown, unknown>('startsWith', (factValue, prefix) => typeof factValue === 'string' && typeof prefix === 'string' && factValue.startsWith(prefix)),
  );
  engine.addOperator(
    new Operator<unknown, unknown>('endsWith', (factValue, suffix) => typeof factValue === 'string' && typeof suffix === 'string' && factValue.endsWith(suffix)),
  );
  engine.addOperator(new Operator<unknown, unknown>('exists', (factValue, wanted) => (factValue !== undefined && factValue !== null) === wanted));
  engine.addOperator(
    new Operator<unknown, unknown>('between', (factValue, range) => {
      if (!isTimeOfDay(factValue) || !Array.isArray(range)) return false;
      const [start, end] = range as unknown[];
      return isTimeOfDay(start) && isTimeOfDay(end) && isBetween(factValue, start, end);
    }),
  );
}

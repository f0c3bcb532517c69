import type { z } from 'zod';

/**
 * zod's own messages ("Invalid input: expected number, received string") in plain words
 * for the plant engineer fixing a configuration or rule file: what the key takes and what
 * it was given. Pass `plainIssueMessage` as the `error` of a `safeParse`: a message a
 * schema states itself (`z.string().regex(re, 'a time of day as HH:MM')`) still wins, as
 * zod gives a schema's message precedence over the one of the parse.
 */

/** `unknown key "prot" (known: name, address, port)`: an unknown key with the keys allowed in its place. */
export function unknownKeysMessage(keys: readonly string[], known?: readonly string[]): string {
  const list = known !== undefined && known.length > 0 ? ` (known: ${known.join(', ')})` : '';
  return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}${list}`;
}

/** What a key takes, by zod's name for the type. */
const KINDS: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a map',
  record: 'a map',
  map: 'a map',
  null: 'nothing',
  date: 'a date',
};

const LONGEST_TEXT = 60;

/** A value as given: `the text "twenty-five"`, `the number 3`, `true`, `a list`, `an empty value`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    if (value === '') return 'empty text';
    const shown = value.length > LONGEST_TEXT ? `${value.slice(0, LONGEST_TEXT - 3)}...` : value;
    return `the text ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return typeof value;
}

/** `a, b or c`. */
function oneOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function kind(expected: string): string {
  return KINDS[expected] ?? expected;
}

/** An allowed value as written in YAML: words bare, text that is not one word quoted. */
function literal(value: unknown): string {
  return typeof value === 'string' && /^[\w.:@/+-]+$/.test(value) ? value : JSON.stringify(value);
}

function countOf(n: number | bigint, one: string, many: string): string {
  return `${n} ${n === 1 || n === 1n ? one : many}`;
}

/** The keys an object schema allows, or undefined when `inst` is not one. */
function shapeKeys(inst: unknown): string[] | undefined {
  const def = (inst as { _zod?: { def?: { shape?: unknown } } } | undefined)?._zod?.def;
  return def?.shape !== null && typeof def?.shape === 'object' ? Object.keys(def.shape) : undefined;
}

/** The zod error map: a plain message for the issues a configuration or rule file commonly has, else zod's own. */
export function plainIssueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const got = `got ${describeValue(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `expected ${kind(issue.expected)}, ${got}`;
    case 'invalid_value':
      if (issue.values.length === 1) return `expected ${literal(issue.values[0])}, ${got}`;
      return `expected one of ${oneOf(issue.values.map(literal))}, ${got}`;
    case 'unrecognized_keys':
      return unknownKeysMessage(issue.keys, shapeKeys(issue.inst));
    case 'too_small': {
      const { minimum, inclusive } = issue;
      if (issue.origin === 'number' || issue.origin === 'int') return `${inclusive ? `must be at least ${minimum}` : `must be above ${minimum}`}, ${got}`;
      const least = inclusive ? minimum : Number(minimum) + 1;
      if (issue.origin === 'string') return least === 1 ? 'must not be empty' : `must be at least ${countOf(least, 'character', 'characters')} long`;
      if (issue.origin === 'array') return least === 1 ? 'must not be an empty list' : `must list at least ${countOf(least, 'entry', 'entries')}`;
      return undefined;
    }
    case 'too_big': {
      const { maximum, inclusive } = issue;
      if (issue.origin === 'number' || issue.origin === 'int') return `${inclusive ? `must be at most ${maximum}` : `must be below ${maximum}`}, ${got}`;
      const most = inclusive ? maximum : Number(maximum) - 1;
      if (issue.origin === 'string') return `must be at most ${countOf(most, 'character', 'characters')} long`;
      if (issue.origin === 'array') return `must list at most ${countOf(most, 'entry', 'entries')}`;
      return undefined;
    }
    case 'invalid_format':
      if (issue.format === 'email') return `expected an email address such as alarms@plant.example, ${got}`;
      if (issue.format === 'url') return `expected a URL, ${got}`;
      return undefined;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}, ${got}`;
    case 'invalid_union': {
      // A discriminated union: the discriminator's value picks the shape.
      const choices: unknown = 'options' in issue ? issue.options : undefined;
      if (issue.discriminator !== undefined && Array.isArray(choices)) {
        const input: unknown = issue.input;
        const value = input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>)[issue.discriminator] : input;
        const options = oneOf(choices.map(literal));
        return value === undefined ? `is required: one of ${options}` : `expected one of ${options}, got ${describeValue(value)}`;
      }
      // A union of plain types (text or a number): say which types, when every branch failed on the type alone.
      const expected = issue.errors.map((branch) => (branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0 ? branch[0]!.expected : undefined));
      if (expected.length > 0 && expected.every((e) => e !== undefined)) {
        if (issue.input === undefined) return 'is required';
        return `expected ${oneOf([...new Set(expected.map(kind))])}, ${got}`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

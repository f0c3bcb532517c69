import { isTimeOfDay } from '../base/zoned-clock.js';
import { regexProblemWithHint } from '../config/safe-regex.js';
import { engineFactOf, factSpec, KNOWN_FACT_NAMES, type FactSpec } from './facts.js';
import { KNOWN_OPERATORS, NUMERIC_OPERATORS, OPERATORS_BY_KIND } from './operators.js';

/**
 * A rule's `when`, as written by a plant engineer, checked and turned into
 * json-rules-engine conditions. Every mistake is reported with its path inside `when`
 * (the loader turns paths into line numbers), and all of them at once: fixing a rule
 * file should not be a loop of one error per reload.
 */

export interface EngineLeaf {
  fact: string;
  /** `$.site` for `device.site`: json-rules-engine's way to reach into an object fact. */
  path?: string;
  operator: string;
  value: unknown;
}
export type EngineCondition = EngineLeaf | { all: EngineCondition[] } | { any: EngineCondition[] } | { not: EngineCondition };
export type EngineTopCondition = Exclude<EngineCondition, EngineLeaf>;

export interface ConditionProblem {
  /** Relative to `when`. */
  path: PropertyKey[];
  message: string;
}

const GROUP_KEYS = ['all', 'any', 'not'] as const;
const LEAF_KEYS = ['fact', 'operator', 'value'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export function compileWhen(when: unknown): { condition?: EngineTopCondition; problems: ConditionProblem[] } {
  const problems: ConditionProblem[] = [];
  if (when === undefined || when === null) return { problems: [{ path: [], message: 'is required: all, any or not with conditions' }] };
  const compiled = compileNode(when, [], problems);
  if (problems.length > 0 || compiled === undefined) return { problems };
  // json-rules-engine wants a group at the top; a lone condition is a group of one.
  return { condition: 'fact' in compiled ? { all: [compiled] } : compiled, problems };
}

function compileNode(node: unknown, path: PropertyKey[], problems: ConditionProblem[]): EngineCondition | undefined {
  const problem = (where: PropertyKey[], message: string): undefined => {
    problems.push({ path: where, message });
    return undefined;
  };
  if (!isPlainObject(node)) {
    return problem(path, `a condition is { fact, operator, value } or a group (all, any, not), not ${describe(node)}`);
  }
  const groups = GROUP_KEYS.filter((key) => Object.hasOwn(node, key));
  if (groups.length > 1) return problem(path, `one group per object: ${groups.join(' and ')} found (nest one inside the other)`);
  const group = groups[0];
  if (group === undefined) {
    if (Object.hasOwn(node, 'condition')) return problem(path, 'named condition references are not supported: write the conditions out');
    if (!Object.hasOwn(node, 'fact') && !Object.hasOwn(node, 'operator')) {
      return problem(path, `a condition needs fact, operator and value, or a group (all, any, not); found keys ${Object.keys(node).map((k) => `"${k}"`).join(', ') || 'none'}`);
    }
    return compileLeaf(node, path, problems);
  }

  const extra = Object.keys(node).filter((key) => key !== group);
  if (extra.length > 0) problem(path, `unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} next to ${group}`);
  const inner = node[group];
  if (group === 'not') {
    if (Array.isArray(inner)) return problem([...path, 'not'], 'not takes one condition or group, not a list (wrap several in all or any)');
    const child = compileNode(inner, [...path, 'not'], problems);
    return child && { not: child };
  }
  if (!Array.isArray(inner)) return problem([...path, group], `${group} takes a list of conditions`);
  // An empty `any` would match everything in json-rules-engine; nobody means that.
  if (group === 'any' && inner.length === 0) return problem([...path, group], 'any needs at least one condition');
  const children = inner.map((child, index) => compileNode(child, [...path, group, index], problems));
  if (children.some((c) => c === undefined)) return undefined;
  const list = children as EngineCondition[];
  return group === 'all' ? { all: list } : { any: list };
}

function compileLeaf(node: Record<string, unknown>, path: PropertyKey[], problems: ConditionProblem[]): EngineLeaf | undefined {
  const before = problems.length;
  const problem = (where: PropertyKey[], message: string): void => void problems.push({ path: [...path, ...where], message });

  const extra = Object.keys(node).filter((key) => !LEAF_KEYS.includes(key));
  if (extra.length > 0) problem([extra[0] ?? ''], `unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} (a condition has fact, operator and value)`);

  const { fact, operator } = node;
  let spec: FactSpec | undefined;
  if (typeof fact !== 'string') problem(['fact'], fact === undefined ? 'is required' : `must be a fact name, not ${describe(fact)}`);
  else {
    spec = factSpec(fact);
    if (!spec) {
      const hint = fact === 'device' || fact === 'fields' ? `"${fact}" needs a property, e.g. ${fact === 'device' ? 'device.id' : 'fields.Location'}; ` : '';
      problem(['fact'], `unknown fact "${fact}" (${hint}known: ${KNOWN_FACT_NAMES.join(', ')})`);
    }
  }

  if (typeof operator !== 'string') problem(['operator'], operator === undefined ? 'is required' : `must be an operator name, not ${describe(operator)}`);
  else if (!KNOWN_OPERATORS.includes(operator)) problem(['operator'], `unknown operator "${operator}" (known: ${KNOWN_OPERATORS.join(', ')})`);
  else if (spec && typeof fact === 'string') {
    const allowed = [...OPERATORS_BY_KIND[spec.kind], ...(spec.numericText ? NUMERIC_OPERATORS : [])];
    if (!allowed.includes(operator)) problem(['operator'], `operator "${operator}" does not apply to ${fact} (${spec.kind}); use one of: ${allowed.join(', ')}`);
  }

  if (!Object.hasOwn(node, 'value')) problem(['value'], 'is required');
  else if (problems.length === before && spec && typeof fact === 'string' && typeof operator === 'string') {
    for (const found of valueProblems(fact, spec, operator, node.value)) problem(['value', ...found.path], found.message);
  }

  if (problems.length > before || typeof fact !== 'string' || typeof operator !== 'string') return undefined;
  return { ...engineFactOf(fact), operator, value: node.value };
}

/** What is wrong with a condition's value for its fact and operator, if anything. */
function valueProblems(fact: string, spec: FactSpec, operator: string, value: unknown): ConditionProblem[] {
  const at = (message: string, path: PropertyKey[] = []): ConditionProblem[] => [{ path, message }];
  switch (operator) {
    case 'exists':
      return typeof value === 'boolean' ? [] : at('exists takes true or false');
    case 'between': {
      if (!Array.isArray(value) || value.length !== 2 || !value.every(isTimeOfDay)) {
        return at('between takes two times of day, e.g. ["22:00", "06:00"] (HH:MM, 00:00 to 23:59; quote them)');
      }
      if (value[0] === value[1]) return at(`between "${String(value[0])}" and the same time is empty or the whole day; give two different times`);
      return [];
    }
    case 'matches':
    case 'notMatches': {
      if (typeof value !== 'string' || value === '') return at(`${operator} takes a regular expression as text`);
      const problem = regexProblemWithHint(value);
      return problem ? at(problem) : [];
    }
    case 'contains':
    case 'doesNotContain':
    case 'startsWith':
    case 'endsWith':
      return typeof value === 'string' && value !== '' ? [] : at(`${operator} takes text${typeof value === 'number' ? ' (put the number in quotes)' : ''}`);
    case 'lessThan':
    case 'lessThanInclusive':
    case 'greaterThan':
    case 'greaterThanInclusive':
      return typeof value === 'number' && Number.isFinite(value) ? [] : at(`${operator} takes a number, not ${describe(value)}`);
    case 'in':
    case 'notIn':
      if (!Array.isArray(value) || value.length === 0) return at(`${operator} takes a list of values, e.g. [a, b]`);
      return value.flatMap((item, index) => scalarProblems(fact, spec, item).map((p) => ({ ...p, path: [index] })));
    default:
      return scalarProblems(fact, spec, value);
  }
}

/** A single value compared with `equal`, `notEqual` or inside `in`: it must be of the fact's kind. */
function scalarProblems(fact: string, spec: FactSpec, value: unknown): ConditionProblem[] {
  const at = (message: string): ConditionProblem[] => [{ path: [], message }];
  switch (spec.kind) {
    case 'number':
      return typeof value === 'number' ? [] : at(`${fact} is a number; compare it with a number, not ${describe(value)}`);
    case 'boolean':
      return typeof value === 'boolean' ? [] : at(`${fact} is true or false, not ${describe(value)}`);
    case 'time':
      return isTimeOfDay(value) ? [] : at(`${fact} is a time of day "HH:MM" (quoted), not ${describe(value)}`);
    case 'list':
      return at(`${fact} is a list; use contains or doesNotContain`);
    case 'text':
      if (typeof value !== 'string') {
        // YAML reads 0x0109, 1e3 or yes/no-looking values as numbers and booleans; they never equal text.
        return at(`${fact} is text, but the value is ${describe(value)}: put it in quotes`);
      }
      if (spec.values && !spec.values.includes(value)) return at(`"${value}" is not a ${fact} (one of: ${spec.values.join(', ')})`);
      return [];
  }
}

/** Every regular expression in a compiled condition tree, to compile them once per rule book. */
export function patternsOf(condition: EngineCondition): string[] {
  if ('all' in condition) return condition.all.flatMap(patternsOf);
  if ('any' in condition) return condition.any.flatMap(patternsOf);
  if ('not' in condition) return patternsOf(condition.not);
  return (condition.operator === 'matches' || condition.operator === 'notMatches') && typeof condition.value === 'string' ? [condition.value] : [];
}

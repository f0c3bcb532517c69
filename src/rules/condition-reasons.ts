import { factNameOf } from './facts.js';

/**
 * json-rules-engine's evaluated conditions as lines a person can read, each with the
 * value the fact had, e.g.
 *   title matches "(?i)on battery" → true (was "UPS-HALL2: On battery power in resp...")
 * Groups other than the rule's top-level `all` get a header line; their conditions are
 * indented beneath it.
 */

const MAX_SEEN = 60;

export function describeConditions(conditions: unknown): string[] {
  if (isObject(conditions) && Array.isArray(conditions.all)) return conditions.all.flatMap((c) => describe(c, 0));
  return describe(conditions, 0);
}

function describe(node: unknown, depth: number): string[] {
  if (!isObject(node)) return [];
  const indent = '  '.repeat(depth);
  const outcome = resultText(node.result);
  if (Array.isArray(node.all) || Array.isArray(node.any)) {
    const kind = Array.isArray(node.all) ? 'all' : 'any';
    const children = (Array.isArray(node.all) ? node.all : (node.any as unknown[])).flatMap((c) => describe(c, depth + 1));
    return [`${indent}${kind} of → ${outcome}`, ...children];
  }
  if ('not' in node) return [`${indent}not → ${outcome}`, ...describe(node.not, depth + 1)];
  if (typeof node.fact !== 'string' || typeof node.operator !== 'string') return [];

  const fact = factNameOf(node.fact, typeof node.path === 'string' ? node.path : undefined);
  const line = `${indent}${fact} ${node.operator} ${formatExpected(node.value)} → ${outcome}`;
  return [node.result === undefined ? line : `${line} (was ${formatSeen(node.factResult)})`];
}

function resultText(result: unknown): string {
  return result === undefined ? 'not evaluated' : String(result);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** Quotes text with only `"`, `\` and control characters escaped, so a regex reads as written. */
function quote(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function formatExpected(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return `[${value.map(formatExpected).join(', ')}]`;
  return String(value);
}

function formatSeen(value: unknown): string {
  if (value === undefined || value === null) return 'absent';
  if (typeof value === 'string') return quote(truncate(value, MAX_SEEN));
  if (Array.isArray(value)) return truncate(`[${value.map((v) => (typeof v === 'string' ? quote(v) : String(v))).join(', ')}]`, MAX_SEEN);
  if (typeof value === 'object') return truncate(JSON.stringify(value), MAX_SEEN);
  return String(value);
}

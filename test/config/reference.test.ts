import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
import { BEGIN, END, TABLE_HEADER, descriptionGaps, renderReference } from '../../scripts/config-docs/reference.js';
import { configKeys } from '../../scripts/config-docs/schema-walk.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * docs/configuration.md must name every key the loader accepts and no key it refuses.
 * Two checks, so a failure says what is wrong: the rows of its reference tables against
 * the key paths of the zod schema (read from the file as a person would, whatever wrote
 * it), and the generated part against what `npm run docs:config` writes now.
 */

const DOC = join(REPO_ROOT, 'docs/configuration.md');

/** The first cell of every row of every reference table (the tables under TABLE_HEADER). */
function documentedKeys(markdown: string): string[] {
  const keys: string[] = [];
  let inTable = false;
  for (const line of markdown.split('\n')) {
    if (line.trim() === TABLE_HEADER) {
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (!inTable || /^\|\s*-/.test(line)) continue;
    const key = /^\|\s*`([^`]+)`\s*\|/.exec(line)?.[1];
    assert.ok(key, `docs/configuration.md: a reference row without a backticked key path: ${line}`);
    const cells = line.split(/(?<!\\)\|/).slice(1, -1);
    assert.equal(cells.length, 4, `docs/configuration.md: ${key}: a row needs key, type, default and meaning`);
    assert.ok(cells.every((c) => c.trim() !== ''), `docs/configuration.md: ${key}: an empty cell`);
    keys.push(key);
  }
  return keys;
}

function disagreement(schemaKeys: string[], docKeys: string[]): { undocumented: string[]; unknown: string[]; twice: string[] } {
  const documented = new Set(docKeys);
  const known = new Set(schemaKeys);
  return {
    undocumented: schemaKeys.filter((k) => !documented.has(k)),
    unknown: docKeys.filter((k) => !known.has(k)),
    twice: docKeys.filter((k, i) => docKeys.indexOf(k) !== i),
  };
}

describe('the configuration reference (docs/configuration.md)', () => {
  const doc = readFileSync(DOC, 'utf8');
  const schemaKeys = configKeys().map((k) => k.path);

  it('documents every key of the schema, and no key the schema does not have', () => {
    const result = disagreement(schemaKeys, documentedKeys(doc));
    assert.deepEqual(result, { undocumented: [], unknown: [], twice: [] }, 'docs/configuration.md and src/config/schema.ts disagree: run npm run docs:config');
  });

  it('is what npm run docs:config writes from the schema now', () => {
    const begin = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    assert.ok(begin >= 0 && end > begin, 'the markers of the generated reference are in docs/configuration.md');
    assert.equal(doc.slice(begin, end + END.length), renderReference(), 'docs/configuration.md is out of date: run npm run docs:config');
  });

  it('has a description for every key, and none for a key that is gone', () => {
    assert.deepEqual(descriptionGaps(), { undescribed: [], unknown: [] }, 'scripts/config-docs/descriptions.ts and the schema disagree');
  });

  it('fails when a line is missing, or names a key the schema does not have', () => {
    const rows = doc.split('\n');
    const line = rows.findIndex((l) => l.startsWith('| `listeners[].limits.maxConnections` |'));
    assert.ok(line > 0, 'the reference has a row for listeners[].limits.maxConnections');
    const without = [...rows.slice(0, line), ...rows.slice(line + 1)].join('\n');
    assert.ok(disagreement(schemaKeys, documentedKeys(without)).undocumented.includes('listeners[].limits.maxConnections'));
    const renamed = disagreement(schemaKeys, documentedKeys(doc.replace('| `gateway.dataDir` |', '| `gateway.dataDirectory` |')));
    assert.ok(renamed.undocumented.includes('gateway.dataDir') && renamed.unknown.includes('gateway.dataDirectory'), JSON.stringify(renamed));
    const doubled = doc.replace('| `gateway.dataDir` |', '| `gateway.domain` |');
    assert.ok(disagreement(schemaKeys, documentedKeys(doubled)).twice.includes('gateway.domain'));
  });

  it('reads the key paths, types and defaults from the schema, through lists, unions and defaults', () => {
    const keys = new Map(configKeys().map((k) => [k.path, k]));
    assert.ok(keys.size > 200, `${keys.size} keys`);
    assert.equal(keys.get('listeners[].limits.idleTimeout')?.default, '1m');
    assert.equal(keys.get('listeners[].limits.idleTimeout')?.type, 'duration');
    assert.equal(keys.get('listeners[].limits.maxMessageSize')?.default, '10MiB');
    assert.equal(keys.get('listeners[].port')?.type, 'integer (0–65535)');
    assert.equal(keys.get('listeners[].port')?.required, true);
    assert.equal(keys.get('delivery.accounts[].type')?.default, 'smtp', 'the type a preprocess fills in');
    assert.equal(keys.get('delivery.accounts[].directory')?.only, '`type: file`');
    assert.equal(keys.get('delivery.accounts[].auth.password')?.type, 'secret');
    assert.equal(keys.get('delivery.accounts[].auth.type')?.default, 'login');
    assert.equal(keys.get('mqtt[].subscriptions[].limit')?.only, '`format: number`');
    assert.equal(keys.get('alarms.floodControl.limit')?.type, 'integer ≥ 1');
    assert.equal(keys.get('alarms.timeZone')?.required, false);
    assert.equal(keys.has('delivery.accounts[].auth.password.env'), false, 'a secret is one value, not a section');
  });

  it('walks any zod object the same way', () => {
    const schema = z.strictObject({
      a: z.string().default('x'),
      list: z.array(z.strictObject({ n: z.number().int().min(1).max(9), tags: z.array(z.string()).optional() })).min(1),
      section: z.strictObject({ on: z.boolean().default(true) }).prefault({}),
    });
    assert.deepEqual(
      configKeys(schema as unknown as Parameters<typeof configKeys>[0]).map((k) => [k.path, k.type, k.required, k.default]),
      [
        ['a', 'string', false, 'x'],
        ['list', 'list of objects', true, undefined],
        ['list[].n', 'integer (1–9)', true, undefined],
        ['list[].tags', 'list of strings', false, undefined],
        ['section', 'object', false, '{}'],
        ['section.on', 'boolean', false, 'true'],
      ],
    );
    const described = z.strictObject({ inner: z.string().describe('said inside').optional(), outer: z.string().optional().describe('said outside'), none: z.string() });
    assert.deepEqual(
      configKeys(described as unknown as Parameters<typeof configKeys>[0]).map((k) => [k.path, k.description]),
      [
        ['inner', 'said inside'],
        ['outer', 'said outside'],
        ['none', undefined],
      ],
      'a .describe() in the schema is a description too',
    );
    assert.ok(configSchema, 'the real schema loads');
  });
});

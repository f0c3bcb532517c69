import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderRulesJsonSchema } from '../../scripts/config-docs/rules-json-schema.js';
import { isRuleFileName, parseRuleFileContents } from '../../src/rules/load-rules.js';
import { KNOWN_OPERATORS } from '../../src/rules/operators.js';
import { checkJsonSchema } from '../helpers/json-schema-check.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * rules/rules.schema.json is what editors check rule files against: it must be what
 * `npm run docs:config` writes from src/rules/rule-file.ts now, accept every shipped rule
 * file, refuse what the loader refuses for its shape, and not be loaded as a rule file.
 */

const RULES_DIR = join(REPO_ROOT, 'rules');
const SCHEMA_FILE = join(RULES_DIR, 'rules.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;

function problems(file: unknown): string[] {
  return checkJsonSchema(schema, file).map((p) => `${p.path}: ${p.message}`);
}

const RULE = {
  name: 'ups-on-battery',
  when: { all: [{ fact: 'device.id', operator: 'equal', value: 'ups-hall2' }, { any: [{ fact: 'fields.Location', operator: 'startsWith', value: 'Hall 2' }] }, { not: { fact: 'timeOfDay', operator: 'between', value: ['22:00', '06:00'] } }] },
  then: { receivers: ['facility-team'], severity: 'major', repeatInterval: '2h', group: { by: ['site', 'fields.Line'], wait: '30s' }, continue: true },
};
const ESCALATION = { name: 'plant-critical', levels: [{ after: '15m', receivers: ['shift-team'] }], repeatLast: { every: '30m', times: 4 }, stopOn: 'acknowledged' };

function withRule(change: (rule: Record<string, unknown>) => void): unknown {
  const rule = structuredClone(RULE) as Record<string, unknown>;
  change(rule);
  return { rules: [rule] };
}

describe('the JSON Schema of rule files (rules/rules.schema.json)', () => {
  it('is what npm run docs:config writes from src/rules/rule-file.ts now', () => {
    assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), renderRulesJsonSchema(), 'rules/rules.schema.json is out of date: run npm run docs:config');
  });

  it('is not read as a rule file by the loader', () => {
    assert.equal(isRuleFileName('rules.schema.json'), false);
    assert.equal(isRuleFileName('other.json'), true);
  });

  const files = readdirSync(RULES_DIR).filter(isRuleFileName).sort();
  it('is checked against every shipped rule file', () => assert.ok(files.length >= 5, files.join(', ')));
  for (const name of files) {
    it(`accepts rules/${name}, which names it for editors on its first line (a comment the loader ignores)`, () => {
      const text = readFileSync(join(RULES_DIR, name), 'utf8');
      const directive = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
      assert.ok(directive?.[1], `${name}: first line is # yaml-language-server: $schema=...`);
      assert.equal(resolve(RULES_DIR, directive[1]), SCHEMA_FILE, `${name}: the $schema path leads to rules/rules.schema.json`);
      assert.deepEqual(problems(parse(text)), [], name);
      assert.ok(parseRuleFileContents(text, name).rules.length > 0, `${name} still parses with its rules`);
    });
  }

  it('accepts a rule with nested groups, a field fact, grouping and an escalation policy', () => {
    assert.deepEqual(problems({ escalations: [ESCALATION], rules: [RULE] }), []);
    assert.deepEqual(problems({ rules: [{ name: 'catch-all', when: { all: [] }, then: { group: false } }] }), []);
    assert.deepEqual(problems({ rules: [{ name: 'single', when: { fact: 'value', operator: 'greaterThan', value: 130 }, then: {} }] }), []);
    assert.deepEqual(problems({ rules: null }), [], 'rules: with every entry commented out');
  });

  it('lists the operators the loader knows as an enum', () => {
    const defs = schema.$defs as Record<string, { properties: Record<string, { enum?: unknown[] }> }>;
    assert.deepEqual(defs.fact?.properties.operator?.enum, [...KNOWN_OPERATORS]);
  });

  it('refuses what the loader refuses for its shape', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['an unknown top-level key', { rule: [RULE] }, /unknown key "rule"/],
      ['an unknown key of a rule', withRule((r) => (r.descripton = 'x')), /rules\[0\]: unknown key "descripton"/],
      ['an unknown key of then', withRule((r) => ((r.then as Record<string, unknown>).receiver = ['x'])), /then: unknown key "receiver"/],
      ['an unknown operator', withRule((r) => (r.when = { fact: 'title', operator: 'regex', value: 'x' })), /when: matches none.*"regex" is not one of/],
      ['an unknown fact', withRule((r) => (r.when = { fact: 'device', operator: 'equal', value: 'x' })), /when: matches none/],
      ['an unknown key of a condition', withRule((r) => (r.when = { all: [{ fact: 'title', operator: 'equal', value: 'x', path: '$.a' }] })), /when: matches none/],
      ['two groups in one object', withRule((r) => (r.when = { all: [], any: [] })), /when: matches none/],
      ['not with a list', withRule((r) => (r.when = { not: [{ fact: 'title', operator: 'equal', value: 'x' }] })), /when: matches none/],
      ['an empty any', withRule((r) => (r.when = { any: [] })), /when: matches none/],
      ['a condition without a value', withRule((r) => (r.when = { fact: 'title', operator: 'exists' })), /when: matches none.*value is required/],
      ['a rule without then', withRule((r) => delete r.then), /then is required/],
      ['receivers as a string', withRule((r) => ((r.then as Record<string, unknown>).receivers = 'shift-team')), /receivers: is string, not array/],
      ['a severity not in the list', withRule((r) => ((r.then as Record<string, unknown>).severity = 'high')), /"high" is not one of/],
      ['continue as text', withRule((r) => ((r.then as Record<string, unknown>).continue = 'yes')), /continue: is string, not boolean/],
      ['a duration that is not one', withRule((r) => ((r.then as Record<string, unknown>).repeatInterval = 'hourly')), /"hourly" does not match/],
      ['group by a field that is not one', withRule((r) => ((r.then as Record<string, unknown>).group = { by: ['plant'], wait: '30s' })), /group: matches none/],
      ['a bad rule name', withRule((r) => (r.name = 'ups on battery')), /name: "ups on battery" does not match/],
      ['an escalation level without receivers', { escalations: [{ ...ESCALATION, levels: [{ after: '15m' }] }] }, /receivers is required/],
      ['an unknown stopOn', { escalations: [{ ...ESCALATION, stopOn: 'cleared' }] }, /"cleared" is not one of/],
    ];
    for (const [what, file, expected] of cases) {
      const found = problems(file);
      assert.ok(found.some((p) => expected.test(p)), `${what}: expected ${expected}, got ${JSON.stringify(found)}`);
    }
  });

  it('describes keys for the editor', () => {
    type Node = { description?: string; anyOf?: Node[]; items?: Node; properties?: Record<string, Node> };
    const items = (node: Node | undefined): Record<string, Node> => node?.anyOf?.[0]?.items?.properties ?? {};
    const top = (schema as Node).properties ?? {};
    const rule = items(top.rules);
    const then = rule.then?.properties ?? {};
    const described = { ...rule, ...then, ...items(top.escalations) };
    for (const key of ['name', 'when', 'then', 'receivers', 'severity', 'template', 'repeatInterval', 'escalation', 'group', 'continue', 'levels', 'repeatLast', 'stopOn']) {
      assert.ok((described[key]?.description ?? '').length >= 10, `${key} has a description`);
    }
    assert.match(then.repeatInterval?.description ?? '', /duration/);
  });

  it('the checker follows $ref into $defs and refuses one it cannot follow', () => {
    assert.deepEqual(checkJsonSchema({ $defs: { n: { type: 'number' } }, $ref: '#/$defs/n' }, 'x').map((p) => p.message), ['is string, not number']);
    assert.match(checkJsonSchema({ $ref: 'https://example.com/s.json' }, 1)[0]?.message ?? '', /cannot follow/);
  });
});

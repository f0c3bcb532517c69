import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RuleBookHolder, type ReloadResult } from '../../src/rules/rule-watcher.js';
import { KNOWN, problemsOf, tempDir, type TempDir } from './rules-fixtures.js';

const ruleFile = (...names: string[]): string => `rules:\n${names.map((n) => `  - name: ${n}\n    when: { all: [] }\n    then: { receivers: [oncall] }\n`).join('')}`;

/** Resolves with the first reload result that satisfies `wanted`; the test's timeout bounds the wait. */
function nextReload(holder: RuleBookHolder, wanted: (result: ReloadResult) => boolean): Promise<ReloadResult> {
  return new Promise((resolve) => holder.watch((result) => wanted(result) && resolve(result)));
}

describe('RuleBookHolder', () => {
  let tmp: TempDir;
  let holder: RuleBookHolder | undefined;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    holder?.stopWatching();
    holder = undefined;
    tmp.remove();
  });

  it('loads at construction and refuses to start on invalid rules', () => {
    tmp.write('a.yaml', ruleFile('a'));
    holder = new RuleBookHolder(tmp.dir, KNOWN);
    assert.deepEqual(holder.book.rules.map((r) => r.name), ['a']);
    tmp.write('b.yaml', 'rules: [\n');
    problemsOf(() => new RuleBookHolder(tmp.dir, KNOWN));
  });

  it('reload() swaps in valid rules and reports how many', () => {
    tmp.write('a.yaml', ruleFile('a'));
    holder = new RuleBookHolder(tmp.dir, KNOWN);
    tmp.write('b.yaml', ruleFile('b1', 'b2'));
    assert.deepEqual(holder.reload(), { ok: true, rules: 3 });
    assert.deepEqual(holder.book.rules.map((r) => r.name), ['a', 'b1', 'b2']);
  });

  it('reload() of an invalid file keeps the rules in force and reports the error', () => {
    tmp.write('a.yaml', ruleFile('a'));
    holder = new RuleBookHolder(tmp.dir, KNOWN);
    const before = holder.book;
    tmp.write('a.yaml', ruleFile('a').replace('[oncall]', '[nobody]'));
    const result = holder.reload();
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.match(result.error.message, /a\.yaml:4: rule "a": then\.receivers\[0\]: no receiver named "nobody"/);
    assert.equal(holder.book, before);
  });

  it('reads the known names afresh on each reload when given a function', () => {
    tmp.write('a.yaml', ruleFile('a'));
    let receivers = ['oncall'];
    holder = new RuleBookHolder(tmp.dir, () => ({ receivers }));
    receivers = ['someone-else'];
    assert.equal(holder.reload().ok, false);
  });

  it('watch() picks up a valid change', { timeout: 10_000 }, async () => {
    tmp.write('a.yaml', ruleFile('a'));
    holder = new RuleBookHolder(tmp.dir, KNOWN, { debounceMs: 20 });
    const reloaded = nextReload(holder, (r) => r.ok && r.rules === 2);
    tmp.write('b.json', JSON.stringify({ rules: [{ name: 'b', when: { all: [] }, then: {} }] }));
    assert.deepEqual(await reloaded, { ok: true, rules: 2 });
    assert.deepEqual(holder.book.rules.map((r) => r.name), ['a', 'b']);
  });

  it('watch() reports an invalid change and keeps the old rules', { timeout: 10_000 }, async () => {
    tmp.write('a.yaml', ruleFile('a'));
    holder = new RuleBookHolder(tmp.dir, KNOWN, { debounceMs: 20 });
    const before = holder.book;
    const refused = nextReload(holder, (r) => !r.ok);
    tmp.write('a.yaml', 'rules:\n  - name: a\n    when: { all: [ { fact: nope, operator: equal, value: 1 } ] }\n    then: {}\n');
    const result = await refused;
    assert.ok(!result.ok);
    assert.match(result.error.message, /unknown fact "nope"/);
    assert.equal(holder.book, before);
  });

  it('watch() tolerates a missing directory and loads it once it appears', { timeout: 10_000 }, async () => {
    const dir = join(tmp.dir, 'rules');
    holder = new RuleBookHolder(dir, KNOWN, { debounceMs: 20 });
    assert.equal(holder.book.rules.length, 0);
    const reloaded = nextReload(holder, (r) => r.ok && r.rules === 1);
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.yaml'), ruleFile('late'));
    assert.deepEqual(await reloaded, { ok: true, rules: 1 });
    assert.equal(holder.book.rules[0]?.name, 'late');
  });
});

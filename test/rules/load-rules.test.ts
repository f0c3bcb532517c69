import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadRuleBook, loadRuleFile, parseRuleFile } from '../../src/rules/load-rules.js';
import { formatRuleProblem } from '../../src/rules/rules-error.js';
import { KNOWN, problemsOf, tempDir } from './rules-fixtures.js';

/** One rule whose `when` holds the given condition lines (YAML flow maps, one per line). */
function ruleWith(conditions: string[], then = 'receivers: [oncall]', name = 'r1'): string {
  return [
    'rules:',
    `  - name: ${name}`,
    '    when:',
    '      all:',
    ...conditions.map((c) => `        - ${c}`),
    '    then:',
    `      ${then}`,
    '',
  ].join('\n');
}

function onlyProblem(yaml: string, file = 'rules/test.yaml') {
  const problems = problemsOf(() => parseRuleFile(yaml, file, KNOWN));
  assert.equal(problems.length, 1, problems.map(formatRuleProblem).join('\n'));
  return problems[0]!;
}

describe('rule files: valid ones', () => {
  it('parses a rule: conditions for json-rules-engine, durations in ms, continue false by default', () => {
    const [rule] = parseRuleFile(
      ruleWith(['{ fact: device.site, operator: equal, value: Plant North }', '{ fact: fields.Alarm class, operator: exists, value: true }'], 'receivers: [facility-team]\n      repeatInterval: 1h30m'),
      'x.yaml',
      KNOWN,
    );
    assert.ok(rule);
    assert.equal(rule.name, 'r1');
    assert.equal(rule.file, 'x.yaml');
    assert.equal(rule.line, 2);
    assert.deepEqual(rule.when, {
      all: [
        { fact: 'device', path: '$.site', operator: 'equal', value: 'Plant North' },
        { fact: 'fields', path: '$.Alarm class', operator: 'exists', value: true },
      ],
    });
    assert.deepEqual(rule.then, { receivers: ['facility-team'], repeatInterval: 90 * 60_000, continue: false });
  });

  it('takes a lone condition as a group of one and nests all / any / not', () => {
    const [lone] = parseRuleFile('rules:\n  - name: a\n    when: { fact: state, operator: equal, value: cleared }\n    then: {}\n', 'x.yaml');
    assert.deepEqual(lone?.when, { all: [{ fact: 'state', operator: 'equal', value: 'cleared' }] });
    const [nested] = parseRuleFile(
      'rules:\n  - name: b\n    when:\n      any:\n        - not: { fact: code, operator: exists, value: true }\n        - all: []\n    then: {}\n',
      'x.yaml',
    );
    assert.deepEqual(nested?.when, { any: [{ not: { fact: 'code', operator: 'exists', value: true } }, { all: [] }] });
  });

  it('an empty file, or rules: with everything commented out, is no rules', () => {
    assert.deepEqual(parseRuleFile('', 'x.yaml'), []);
    assert.deepEqual(parseRuleFile('# nothing yet\n', 'x.yaml'), []);
    assert.deepEqual(parseRuleFile('rules:\n  # - name: later\n', 'x.yaml'), []);
  });

  it('reads JSON files, with line numbers for their problems', () => {
    const json = JSON.stringify({ rules: [{ name: 'j', when: { all: [{ fact: 'title', operator: 'contains', value: 'x' }] }, then: { receivers: ['quality'] } }] }, null, 2);
    const [rule] = parseRuleFile(json, 'x.json', KNOWN);
    assert.equal(rule?.name, 'j');
    const bad = json.replace('"contains"', '"containz"');
    const problem = onlyProblem(bad, 'x.json');
    assert.equal(problem.line, 9);
    assert.match(problem.message, /unknown operator "containz"/);
  });

  it('allows the reserved template passthrough and, without a template list, any template', () => {
    const yaml = ruleWith(['{ fact: title, operator: exists, value: true }'], 'template: passthrough');
    assert.equal(parseRuleFile(yaml, 'x.yaml', { receivers: [], templates: ['default'] }).length, 1);
    assert.equal(parseRuleFile(ruleWith(['{ fact: title, operator: exists, value: true }'], 'template: fancy'), 'x.yaml', KNOWN).length, 1);
  });
});

describe('rule files: each problem names file, line, rule and reason', () => {
  it('an unknown fact, listing the known ones', () => {
    const problem = onlyProblem(ruleWith(['{ fact: device.id, operator: equal, value: a }', '{ fact: titel, operator: equal, value: x }']));
    assert.equal(problem.file, 'rules/test.yaml');
    assert.equal(problem.line, 6);
    assert.equal(problem.rule, 'r1');
    assert.equal(problem.key, 'when.all[1].fact');
    assert.match(problem.message, /unknown fact "titel" \(known: device\.id, .*title, .*fields\.<name>.*timeOfDay, weekday\)/);
    assert.match(formatRuleProblem(problem), /^rules\/test\.yaml:6: rule "r1": when\.all\[1\]\.fact: unknown fact "titel"/);
  });

  it('a bare object fact needs a property', () => {
    assert.match(onlyProblem(ruleWith(['{ fact: device, operator: equal, value: a }'])).message, /"device" needs a property, e.g\. device\.id/);
  });

  it('an unknown operator, listing the known ones', () => {
    const problem = onlyProblem(ruleWith(['{ fact: title, operator: regex, value: a }']));
    assert.equal(problem.key, 'when.all[0].operator');
    assert.match(problem.message, /unknown operator "regex" \(known: equal, .*matches, notMatches, between, startsWith, endsWith, exists\)/);
  });

  it('an operator that does not suit the fact', () => {
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: greaterThan, value: 3 }'])).message, /operator "greaterThan" does not apply to title \(text\)/);
    assert.match(onlyProblem(ruleWith(['{ fact: value, operator: matches, value: "1" }'])).message, /does not apply to value \(number\)/);
  });

  it('an invalid regular expression, and RE2-only syntax (no lookaround, no backreferences)', () => {
    const problem = onlyProblem(ruleWith(['{ fact: title, operator: matches, value: "(unclosed" }']));
    assert.equal(problem.key, 'when.all[0].value');
    assert.equal(problem.message, 'invalid regular expression /(unclosed/: error parsing regexp: missing closing ): `(unclosed` (patterns use RE2 syntax: no lookaround, no backreferences; (?i) for ignoring case)');
    assert.match(onlyProblem(ruleWith(["{ fact: title, operator: notMatches, value: 'a(?=b)' }"])).message, /unsupported Perl syntax/);
    assert.match(onlyProblem(ruleWith(["{ fact: title, operator: matches, value: '(a)\\1' }"])).message, /invalid escape/);
  });

  it('a between that is not two different "HH:MM" times', () => {
    for (const value of ['["22:00"]', '["22:00", "6:00"]', '["22:00", "24:00"]', '"22:00-06:00"', '[2200, 600]']) {
      const problem = onlyProblem(ruleWith([`{ fact: timeOfDay, operator: between, value: ${value} }`]));
      assert.equal(problem.key, 'when.all[0].value', value);
      assert.match(problem.message, /between takes two times of day/, value);
    }
    assert.match(onlyProblem(ruleWith(['{ fact: timeOfDay, operator: between, value: ["06:00", "06:00"] }'])).message, /two different times/);
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: between, value: ["06:00", "07:00"] }'])).message, /does not apply to title/);
  });

  it('values that could never match: numbers for text, unknown enum values, wrong shapes', () => {
    assert.match(onlyProblem(ruleWith(['{ fact: code, operator: equal, value: 0x0109 }'])).message, /code is text, but the value is number 265: put it in quotes/);
    assert.match(onlyProblem(ruleWith(['{ fact: severity, operator: in, value: [critical, Major] }'])).message, /"Major" is not a severity \(one of: critical, major/);
    assert.equal(onlyProblem(ruleWith(['{ fact: severity, operator: in, value: [critical, Major] }'])).key, 'when.all[0].value[1]');
    assert.match(onlyProblem(ruleWith(['{ fact: weekday, operator: equal, value: saturday }'])).message, /one of: mon, tue/);
    assert.match(onlyProblem(ruleWith(['{ fact: value, operator: greaterThan, value: "130" }'])).message, /takes a number/);
    assert.match(onlyProblem(ruleWith(['{ fact: key, operator: exists, value: yes }'])).message, /exists takes true or false/);
    assert.match(onlyProblem(ruleWith(['{ fact: recipients, operator: contains, value: 5 }'])).message, /takes text/);
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: in, value: x }'])).message, /takes a list/);
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: equal }'])).message, /is required/);
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: equal, value: x, path: $.a }'])).message, /unknown key "path"/);
  });

  it('malformed groups', () => {
    assert.match(onlyProblem('rules:\n  - name: a\n    when: { all: [], any: [] }\n    then: {}\n').message, /one group per object/);
    assert.match(onlyProblem('rules:\n  - name: a\n    when: { any: [] }\n    then: {}\n').message, /any needs at least one condition/);
    assert.match(onlyProblem('rules:\n  - name: a\n    when: { not: [] }\n    then: {}\n').message, /not takes one condition or group, not a list/);
    assert.match(onlyProblem('rules:\n  - name: a\n    when: { condition: shared }\n    then: {}\n').message, /named condition references are not supported/);
    assert.match(onlyProblem('rules:\n  - name: a\n    then: {}\n').message, /is required/);
  });

  it('an unknown receiver, listing the known ones, at the line of the name', () => {
    const problem = onlyProblem(ruleWith(['{ fact: title, operator: exists, value: true }'], 'receivers: [oncall, facilities]'));
    assert.equal(problem.line, 7);
    assert.equal(problem.key, 'then.receivers[1]');
    assert.match(problem.message, /no receiver named "facilities" \(known: facility-team, maintenance, shift-team, quality, oncall\)/);
  });

  it('an unknown template when the templates are known', () => {
    const problems = problemsOf(() => parseRuleFile(ruleWith(['{ fact: title, operator: exists, value: true }'], 'template: fancy'), 'x.yaml', { receivers: [], templates: ['default'] }));
    assert.equal(problems[0]!.message, 'no template named "fancy" (known: default, passthrough)');
  });

  it('an unknown template lists passthrough once, also when the caller already counts it among the templates', () => {
    const problems = problemsOf(() => parseRuleFile(ruleWith(['{ fact: title, operator: exists, value: true }'], 'template: fancy'), 'x.yaml', { receivers: [], templates: ['default', 'passthrough'] }));
    assert.equal(problems[0]!.message, 'no template named "fancy" (known: default, passthrough)');
  });

  it('unknown keys in a rule and in then, bad durations, severities and names', () => {
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: exists, value: true }'], 'reciever: [oncall]')).message, /unknown key "reciever" \(known: receivers, severity, template, repeatInterval/);
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: exists, value: true }'], 'repeatInterval: soon')).message, /"soon" is not a duration/);
    assert.match(onlyProblem(ruleWith(['{ fact: title, operator: exists, value: true }'], 'severity: urgent')).message, /critical/);
    assert.equal(onlyProblem(ruleWith(['{ fact: title, operator: exists, value: true }'], 'receivers: [oncall]', 'Störung kessel')).key, 'name');
    assert.match(onlyProblem('rules:\n  - name: a\n    when: { all: [] }\n    then: {}\n    priority: 3\n').message, /unknown key "priority" \(known: name, description, when, then\)/);
    assert.match(onlyProblem('- name: a\n').message, /a rule file is a map with a list under "rules"/);
  });

  it('an unknown key anywhere names the keys allowed in its place', () => {
    assert.equal(onlyProblem('rules: []\nrulez: []\n').message, 'unknown key "rulez" (known: escalations, rules)');
    const level = onlyProblem('escalations:\n  - name: e\n    levels:\n      - { after: 0, receivers: [oncall], wait: 5m }\n');
    assert.equal(level.key, 'escalations[0].levels[0]');
    assert.equal(level.message, 'unknown key "wait" (known: after, receivers)');
  });

  it('wrong types and values are said in plain words, with what was given', () => {
    const then = (line: string) => ruleWith(['{ fact: title, operator: exists, value: true }'], line);
    const cases: Array<[yaml: string, message: string]> = [
      [then('notifyResolved: sometimes'), 'expected true or false, got the text "sometimes"'],
      [then('repeatInterval: [1h]'), 'expected text or a number, got a list'],
      [then('mode: forward'), 'expected one of notify or passthrough, got the text "forward"'],
      ['escalations:\n  - name: e\n    levels: [{ after: 0, receivers: [oncall] }]\n    repeatLast: { every: 1h, times: 0 }\n', 'must be above 0, got the number 0'],
    ];
    // All at once, so a failure shows every case that differs.
    assert.deepEqual(
      cases.map(([yaml]) => onlyProblem(yaml).message),
      cases.map(([, message]) => message),
    );
  });

  it('a YAML syntax error with its line', () => {
    // The YAML parser may report follow-on errors; the first one is the line to fix.
    const problem = problemsOf(() => parseRuleFile('rules:\n  - name: a\n    when: { all: [ }\n    then: {}\n', 'rules/test.yaml'))[0]!;
    assert.equal(problem.line, 3);
    assert.equal(problem.rule, undefined);
    assert.match(formatRuleProblem(problem), /^rules\/test\.yaml:3: YAML syntax: /);
    const dup = onlyProblem('rules:\n  - name: a\n    name: b\n    when: { all: [] }\n    then: {}\n');
    assert.match(dup.message, /YAML syntax: .*unique/i);
  });

  it('a JSON syntax error with its line; JSON files stay strict JSON', () => {
    const problem = onlyProblem('{\n  "rules": [\n    { "name": "a", }\n  ]\n}\n', 'x.json');
    assert.equal(problem.line, 3);
    assert.match(problem.message, /^JSON syntax: /);
    assert.match(onlyProblem('# a comment\n{ "rules": [] }\n', 'x.json').message, /^JSON syntax/);
  });

  it('lists every problem of every rule at once, including receivers of a rule with a broken when', () => {
    const yaml = [
      'rules:',
      '  - name: first',
      '    when: { all: [ { fact: nope, operator: equal, value: 1 }, { fact: title, operator: match, value: x } ] }',
      '    then: { receivers: [ghost] }',
      '  - name: first',
      '    when: { all: [] }',
      '    then: { severity: high }',
      '',
    ].join('\n');
    const problems = problemsOf(() => parseRuleFile(yaml, 'many.yaml', KNOWN)).map(formatRuleProblem);
    assert.deepEqual(
      problems.map((p) => p.replace(/ \(.*$/, '')),
      [
        'many.yaml:3: rule "first": when.all[0].fact: unknown fact "nope"',
        'many.yaml:3: rule "first": when.all[1].operator: unknown operator "match"',
        'many.yaml:7: rule "first": then.severity: expected one of critical, major, minor, warning or info, got the text "high"',
        'many.yaml:4: rule "first": then.receivers[0]: no receiver named "ghost"',
        'many.yaml:5: rule "first": name: is already used by the rule at line 2; rule names are unique across files',
      ],
    );
  });
});

describe('loadRuleBook', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  it('a missing or empty directory is no rules', () => {
    assert.equal(loadRuleBook(join(tmp.dir, 'missing'), KNOWN).rules.length, 0);
    assert.equal(loadRuleBook(tmp.dir, KNOWN).rules.length, 0);
  });

  it('loads *.yaml, *.yml and *.json in file-name order, rules in file order; skips dotfiles and others', () => {
    const dir = tempDir();
    try {
      dir.write('b.yml', 'rules:\n  - { name: b1, when: { all: [] }, then: {} }\n  - { name: b2, when: { all: [] }, then: {} }\n');
      dir.write('a.yaml', 'rules:\n  - { name: a1, when: { all: [] }, then: {} }\n');
      dir.write('c.json', '{ "rules": [ { "name": "c1", "when": { "all": [] }, "then": {} } ] }');
      dir.write('.#a.yaml', 'not: [valid');
      dir.write('notes.txt', 'not rules');
      const book = loadRuleBook(dir.dir, KNOWN);
      assert.deepEqual(book.rules.map((r) => r.name), ['a1', 'b1', 'b2', 'c1']);
      assert.deepEqual(book.files, ['a.yaml', 'b.yml', 'c.json'].map((n) => join(dir.dir, n)));
    } finally {
      dir.remove();
    }
  });

  it('refuses a rule name used in two files, naming both', () => {
    const dir = tempDir();
    try {
      dir.write('a.yaml', 'rules:\n  - name: other\n    when: { all: [] }\n    then: {}\n  - name: dup\n    when: { all: [] }\n    then: {}\n');
      const second = dir.write('b.yaml', '# second file\nrules:\n  - name: dup\n    when: { all: [] }\n    then: {}\n');
      const problems = problemsOf(() => loadRuleBook(dir.dir, KNOWN));
      assert.equal(problems.length, 1);
      assert.equal(formatRuleProblem(problems[0]!), `${second}:3: rule "dup": name: is already used by the rule at ${join(dir.dir, 'a.yaml')}:5; rule names are unique across files`);
    } finally {
      dir.remove();
    }
  });

  it('collects the problems of every file before refusing', () => {
    const dir = tempDir();
    try {
      dir.write('a.yaml', 'rules:\n  - name: a\n    when: { all: [] }\n    then: { receivers: [nobody] }\n');
      dir.write('b.yaml', 'rules: [\n');
      dir.write('c.yaml', 'rules:\n  - name: fine\n    when: { all: [] }\n    then: {}\n');
      const problems = problemsOf(() => loadRuleBook(dir.dir, KNOWN));
      assert.deepEqual(problems.map((p) => p.file), [join(dir.dir, 'a.yaml'), join(dir.dir, 'b.yaml')]);
    } finally {
      dir.remove();
    }
  });

  it('loadRuleFile reads one file, and names it when it cannot', () => {
    const file = tmp.write('one.yaml', 'rules:\n  - { name: one, when: { all: [] }, then: { receivers: [quality] } }\n');
    assert.equal(loadRuleFile(file, KNOWN)[0]?.name, 'one');
    const missing = join(tmp.dir, 'gone.yaml');
    assert.match(problemsOf(() => loadRuleFile(missing))[0]!.message, /cannot be read \(ENOENT\)/);
  });
});

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadRuleBook, parseRuleFileContents } from '../../src/rules/load-rules.js';
import { routeEvent } from '../../src/rules/router.js';
import { formatRuleProblem } from '../../src/rules/rules-error.js';
import { alarmEvent } from '../helpers/alarm-factory.js';
import { DEFAULTS, KNOWN, problemsOf, RECEIVERS, tempDir, TIME_ZONE, TUESDAY_NOON } from './rules-fixtures.js';

const POLICY = [
  'escalations:',
  '  - name: plant-critical',
  '    levels:',
  '      - { after: 15m, receivers: [shift-team] }',
  '      - { after: 45m, receivers: [maintenance, oncall] }',
  '    repeatLast: { every: 30m, times: 3 }',
  '',
].join('\n');

const RULE = ['rules:', '  - name: ups', '    when: { fact: device.id, operator: equal, value: ups-hall2 }', '    then: { receivers: [facility-team], escalation: plant-critical }', ''].join('\n');

describe('escalation policies in rule files', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('parses levels, durations, repeatLast and the default stopOn', () => {
    const { escalations, rules } = parseRuleFileContents(POLICY, 'esc.yaml', KNOWN);
    assert.equal(rules.length, 0, 'a file may hold only escalations');
    assert.deepEqual(escalations, [
      {
        name: 'plant-critical',
        file: 'esc.yaml',
        line: 2,
        levels: [
          { after: 900_000, receivers: ['shift-team'] },
          { after: 2_700_000, receivers: ['maintenance', 'oncall'] },
        ],
        repeatLast: { every: 1_800_000, times: 3 },
        stopOn: 'acknowledged-or-cleared',
      },
    ]);
  });

  it('names file, line and reason for unknown receivers, bad durations, out-of-order levels and unknown keys', () => {
    const text = [
      'escalations:',
      '  - name: bad',
      '    levels:',
      '      - { after: 30m, receivers: [nobody] }',
      '      - { after: 10m, receivers: [oncall] }',
      '    stopOn: cleared',
      '  - name: worse',
      '    levels: [{ after: soon, receivers: [oncall] }]',
      '    extra: 1',
      '',
    ].join('\n');
    const problems = problemsOf(() => parseRuleFileContents(text, 'esc.yaml', KNOWN)).map(formatRuleProblem);
    assert.ok(problems.some((p) => /^esc\.yaml:4: escalations\[0\]\.levels\[0\]\.receivers\[0\]: no receiver named "nobody"/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /^esc\.yaml:6: escalations\[0\]\.stopOn: /.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /escalations\[1\]\.levels\[0\]\.after: "soon" is not a duration/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /escalations\[1\]: unknown key "extra"/.test(p)), problems.join('\n'));
    const ordered = problemsOf(() => parseRuleFileContents(text.replace('stopOn: cleared', 'stopOn: acknowledged').replace('[nobody]', '[oncall]').split('  - name: worse')[0]!, 'esc.yaml', KNOWN)).map(formatRuleProblem);
    assert.deepEqual(ordered, ['esc.yaml:5: escalations[0].levels[1].after: levels are in order: each "after" is at least the one before']);
  });

  it('a rule chooses a policy by name, across files; the route carries it', async () => {
    const rulesDir = tempDir();
    rulesDir.write('a-policies.yaml', POLICY);
    rulesDir.write('b-rules.yaml', RULE);
    const book = loadRuleBook(rulesDir.dir, KNOWN);
    assert.deepEqual([...book.escalations.keys()], ['plant-critical']);
    const { route } = await routeEvent(alarmEvent(), book, { now: TUESDAY_NOON, timeZone: TIME_ZONE, receivers: RECEIVERS, defaults: DEFAULTS });
    assert.equal(route.escalation, 'plant-critical');
    const other = await routeEvent(alarmEvent({ device: { id: 'x', name: 'x', matchedBy: 'sender' } }), book, { now: TUESDAY_NOON, timeZone: TIME_ZONE, receivers: RECEIVERS, defaults: { ...DEFAULTS, escalation: 'plant-critical' } });
    assert.equal(other.route.escalation, 'plant-critical', 'defaultRoute.escalation for alarms no rule gives one');
    rulesDir.remove();
  });

  it('refuses a rule naming an unknown policy, a duplicate policy across files, and an unknown defaultRoute.escalation', () => {
    const rulesDir = tempDir();
    rulesDir.write('b-rules.yaml', RULE);
    let problems = problemsOf(() => loadRuleBook(rulesDir.dir, KNOWN)).map(formatRuleProblem);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /b-rules\.yaml:2: rule "ups": then\.escalation: no escalation named "plant-critical" \(the rule files define no escalations\)/);
    rulesDir.write('a-policies.yaml', POLICY);
    rulesDir.write('c-again.yaml', POLICY);
    problems = problemsOf(() => loadRuleBook(rulesDir.dir, { ...KNOWN, defaultEscalation: 'nope' })).map(formatRuleProblem);
    assert.ok(problems.some((p) => /c-again\.yaml:2: escalations\.name: escalation "plant-critical" is already defined at .*a-policies\.yaml:2/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /alarms\.defaultRoute\.escalation: no escalation named "nope"/.test(p)), problems.join('\n'));
    rulesDir.remove();
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeEvent } from '../../src/rules/router.js';
import { alarmEvent, bookFrom, context } from './rules-fixtures.js';

describe('rule patterns run in linear time', () => {
  // (a+)+$ on "aaa...ab" takes a backtracking engine exponential time: a JavaScript
  // RegExp would not return for hours. This test only has to finish.
  it('a catastrophic pattern against 50 000 a’s and a b returns (no match)', async () => {
    const book = bookFrom(
      'rules:\n' +
        '  - name: evil\n    when: { fact: text, operator: matches, value: "(a+)+$" }\n    then: { receivers: [oncall] }\n' +
        '  - name: evil-negated\n    when: { fact: title, operator: notMatches, value: "^(a|aa)+$" }\n    then: { receivers: [quality] }\n',
    );
    const hostile = `${'a'.repeat(50_000)}b`;
    const { route, verdicts } = await routeEvent(alarmEvent({ title: hostile, text: hostile }), book, context());
    assert.deepEqual(verdicts.map((v) => v.matched), [false, true]);
    assert.deepEqual(route.rules, ['evil-negated']);
    assert.ok(verdicts[0]!.reasons[0]!.length < 200, 'the seen value is cut short in the reason');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { decide } from '../../src/lifecycle/decide.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';

const T0 = Date.UTC(2026, 10, 24, 2, 0, 0);
const MIN = 60_000;
let ids = 0;
const newAlarmId = () => `ALM${++ids}`;

/** Feeds events through decide() the way the pipeline does, keeping the state between them. */
function run(steps: Array<{ at: number; state?: 'active' | 'cleared'; routeOverrides?: Parameters<typeof route>[0] }>) {
  let active: Alarm | undefined;
  const decisions = [];
  for (const [i, step] of steps.entries()) {
    const decision = decide({
      active,
      event: alarmEvent({ id: `E${i}`, state: step.state ?? 'active' }),
      route: route(step.routeOverrides),
      fingerprint: 'fp',
      now: step.at,
      newAlarmId,
    });
    decisions.push(decision);
    active = decision.alarm?.state === 'active' ? decision.alarm : undefined;
  }
  return decisions;
}

describe('lifecycle decisions', () => {
  it('keeps at most maxText bytes of the text, cut at a line and noted; the next occurrence replaces both, the due event keeps all', () => {
    const long = 'Winding temperature 142 C\n'.repeat(100);
    const raised = decide({ active: undefined, event: alarmEvent({ id: 'L1', text: long }), route: route(), fingerprint: 'fp', now: T0, newAlarmId, maxText: 100 });
    assert.equal(raised.alarm?.text, 'Winding temperature 142 C\n'.repeat(3).trimEnd());
    assert.deepEqual(raised.alarm?.textCut, { shownBytes: 77, totalBytes: 2600 });
    assert.equal(raised.due[0]?.event.text, long, 'the notification quotes from the event, cut by its own limit');
    const repeat = decide({ active: raised.alarm, event: alarmEvent({ id: 'L2', text: 'short again' }), route: route(), fingerprint: 'fp', now: T0 + MIN, newAlarmId, maxText: 100 });
    assert.equal(repeat.alarm?.text, 'short again');
    assert.equal(repeat.alarm?.textCut, undefined, 'no note of the earlier cut');
    assert.equal(repeat.alarm && 'textCut' in repeat.alarm, false);
    const cleared = decide({ active: raised.alarm, event: alarmEvent({ id: 'L3', state: 'cleared', text: long }), route: route(), fingerprint: 'fp', now: T0 + 2 * MIN, newAlarmId, maxText: 100 });
    assert.deepEqual(cleared.alarm?.textCut, { shownBytes: 77, totalBytes: 2600 });
  });

  it('raises a new alarm and notifies once', () => {
    const [d] = run([{ at: T0 }]);
    assert.equal(d?.outcome, 'raised');
    assert.equal(d?.due.length, 1);
    assert.equal(d?.due[0]?.kind, 'firing');
    assert.equal(d?.due[0]?.sequence, 1);
    assert.equal(d?.alarm?.count, 1);
    assert.match(d?.reason ?? '', /new alarm, routed by rule ups-power/);
  });

  it('folds ten repeats inside the repeat interval into one notification with a count of ten', () => {
    const decisions = run(Array.from({ length: 10 }, (_, i) => ({ at: T0 + i * MIN })));
    assert.equal(decisions.flatMap((d) => d.due).length, 1);
    assert.equal(decisions.at(-1)?.alarm?.count, 10);
    assert.deepEqual(decisions.slice(1).map((d) => d.outcome), Array(9).fill('repeat-folded'));
    assert.match(decisions[1]?.reason ?? '', /repeat 2 folded/);
  });

  it('sends a reminder with the count once the repeat interval has passed', () => {
    const decisions = run([{ at: T0 }, { at: T0 + 10 * MIN }, { at: T0 + 20 * MIN }, { at: T0 + 61 * MIN }]);
    const reminder = decisions.at(-1)?.due[0];
    assert.equal(reminder?.kind, 'reminder');
    assert.equal(reminder?.alarm.count, 4);
    assert.equal(reminder?.sequence, 2);
    assert.equal(reminder?.alarm.countAtLastNotification, 1, 'the template can tell how many were folded since');
    assert.equal(decisions.at(-1)?.alarm?.countAtLastNotification, 4);
  });

  it('resolves on a clear and notifies with the duration', () => {
    const [, cleared] = run([{ at: T0 }, { at: T0 + 7 * MIN, state: 'cleared' }]);
    assert.equal(cleared?.outcome, 'resolved');
    assert.equal(cleared?.alarm?.state, 'resolved');
    assert.equal(cleared?.alarm?.resolvedAt, T0 + 7 * MIN);
    assert.equal(cleared?.due[0]?.kind, 'resolved');
    assert.match(cleared?.reason ?? '', /resolved after 420 s/);
  });

  it('resolves without a notification when the route does not want one', () => {
    const [, cleared] = run([{ at: T0 }, { at: T0 + MIN, state: 'cleared', routeOverrides: { notifyResolved: false } }]);
    assert.equal(cleared?.alarm?.state, 'resolved');
    assert.equal(cleared?.due.length, 0);
  });

  it('records a clear with nothing to resolve, and sends nothing', () => {
    const [d] = run([{ at: T0, state: 'cleared' }]);
    assert.equal(d?.outcome, 'clear-without-alarm');
    assert.equal(d?.alarm, undefined);
    assert.equal(d?.due.length, 0);
  });

  it('keeps a suppressed alarm on record without notifying, and its clear silent too', () => {
    const [raised, cleared] = run([
      { at: T0, routeOverrides: { suppressedBy: 'maintenance-window' } },
      { at: T0 + MIN, state: 'cleared' },
    ]);
    assert.equal(raised?.outcome, 'suppressed');
    assert.equal(raised?.alarm?.state, 'active');
    assert.match(raised?.reason ?? '', /suppressed by rule maintenance-window/);
    assert.equal(cleared?.due.length, 0, 'never notified, so no resolution is sent either');
  });

  it('starts a new alarm after the previous one was resolved', () => {
    const decisions = run([{ at: T0 }, { at: T0 + MIN, state: 'cleared' }, { at: T0 + 2 * MIN }]);
    assert.equal(decisions[2]?.outcome, 'raised');
    assert.notEqual(decisions[2]?.alarm?.id, decisions[0]?.alarm?.id);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { decide } from '../../src/lifecycle/decide.js';
import { dueTimers, escalationTimers, timerVerdict, type EscalationTimer } from '../../src/lifecycle/escalation.js';
import type { EscalationPolicy } from '../../src/rules/escalation-policy.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';

const T0 = Date.UTC(2026, 10, 26, 2, 0, 0);
const MIN = 60_000;

const policy: EscalationPolicy = {
  name: 'plant-critical',
  levels: [
    { after: 15 * MIN, receivers: ['shift-lead'] },
    { after: 45 * MIN, receivers: ['plant-manager', 'oncall-electrical'] },
  ],
  repeatLast: { every: 30 * MIN, times: 2 },
  stopOn: 'acknowledged-or-cleared',
};

function raised(): Alarm {
  const decision = decide({ active: undefined, event: alarmEvent(), route: route(), fingerprint: 'fp', now: T0, newAlarmId: () => 'ALARM1' });
  return decision.alarm!;
}

/** A fake clock's walk: fires every timer due at `now` as the scheduler would, returning what fired. */
function fireDue(timers: EscalationTimer[], alarm: Alarm, now: number, lateAfter = 1000): string[] {
  const fired: string[] = [];
  for (const timer of dueTimers(timers, now)) {
    const verdict = timerVerdict(timer, alarm, now, lateAfter);
    if (!verdict.fire) {
      for (const t of timers) if (t.firedAt === undefined) t.cancelledAt = now;
      fired.push(`stopped: ${verdict.reason}`);
      continue;
    }
    timer.firedAt = now;
    if (verdict.next) timers.push(verdict.next);
    fired.push(verdict.reason);
  }
  return fired;
}

describe('escalation timers', () => {
  it('stores one timer per level, due `after` the raise', () => {
    const timers = escalationTimers(policy, 'ALARM1', T0);
    assert.deepEqual(
      timers.map((t) => [t.level, t.dueAt - T0, t.data.receivers]),
      [
        [1, 15 * MIN, ['shift-lead']],
        [2, 45 * MIN, ['plant-manager', 'oncall-electrical']],
      ],
    );
    assert.equal(timers[0]!.data.repeatLast, undefined, 'only the last level repeats');
    assert.deepEqual(timers[1]!.data.repeatLast, { every: 30 * MIN, times: 2 });
  });

  it('fires each level when due, on time without "late", and repeats the last level `times` times', () => {
    const alarm = raised();
    const timers = escalationTimers(policy, alarm.id, T0);
    assert.deepEqual(fireDue(timers, alarm, T0 + 14 * MIN), [], 'nothing is due before level 1');
    assert.deepEqual(fireDue(timers, alarm, T0 + 15 * MIN), ['escalation level 1 of policy plant-critical: not acknowledged after 15 min']);
    assert.deepEqual(fireDue(timers, alarm, T0 + 15 * MIN), [], 'a fired level does not fire again');
    assert.deepEqual(fireDue(timers, alarm, T0 + 45 * MIN), ['escalation level 2 of policy plant-critical: not acknowledged after 45 min']);
    assert.deepEqual(fireDue(timers, alarm, T0 + 75 * MIN), ['escalation level 2 of policy plant-critical (repeat 1): not acknowledged after 75 min']);
    assert.deepEqual(fireDue(timers, alarm, T0 + 105 * MIN), ['escalation level 2 of policy plant-critical (repeat 2): not acknowledged after 105 min']);
    assert.deepEqual(fireDue(timers, alarm, T0 + 500 * MIN), [], 'no repeat beyond `times`');
    assert.deepEqual(timers.map((t) => t.level), [1, 2, 3, 4]);
  });

  it('after a downtime fires each overdue level once, late, saying by how much; a repeat counts from now', () => {
    const alarm = raised();
    const timers = escalationTimers(policy, alarm.id, T0);
    const back = T0 + 52 * MIN;
    assert.deepEqual(fireDue(timers, alarm, back), [
      'escalation level 1 of policy plant-critical: not acknowledged after 15 min (late by 37 min)',
      'escalation level 2 of policy plant-critical: not acknowledged after 45 min (late by 7 min)',
    ]);
    assert.deepEqual(fireDue(timers, alarm, back + MIN), []);
    assert.equal(timers.find((t) => t.level === 3)?.dueAt, back + 30 * MIN, 'the next repeat is an interval after the late firing, not a burst');
  });

  it('stops on an acknowledgement, whatever stopOn says', () => {
    const alarm: Alarm = { ...raised(), ack: { by: 'anna', at: T0 + MIN, channel: 'mqtt' } };
    for (const stopOn of ['acknowledged', 'acknowledged-or-cleared'] as const) {
      const timers = escalationTimers({ ...policy, stopOn }, alarm.id, T0);
      assert.deepEqual(fireDue(timers, alarm, T0 + 15 * MIN), ['stopped: escalation of policy plant-critical stopped: acknowledged by anna via mqtt']);
      assert.ok(timers.every((t) => t.cancelledAt !== undefined), 'the pending levels are cancelled');
      assert.deepEqual(fireDue(timers, alarm, T0 + 60 * MIN), []);
    }
  });

  it('stops on a clear only with stopOn acknowledged-or-cleared', () => {
    const cleared: Alarm = { ...raised(), state: 'resolved', resolvedAt: T0 + MIN };
    const stops = escalationTimers(policy, cleared.id, T0);
    assert.deepEqual(fireDue(stops, cleared, T0 + 15 * MIN), ['stopped: escalation of policy plant-critical stopped: cleared']);
    const mustAck = escalationTimers({ ...policy, stopOn: 'acknowledged' }, cleared.id, T0);
    assert.deepEqual(fireDue(mustAck, cleared, T0 + 15 * MIN), ['escalation level 1 of policy plant-critical: not acknowledged after 15 min']);
  });

  it('a timer whose alarm is gone does not fire', () => {
    const [timer] = escalationTimers(policy, 'GONE', T0);
    assert.deepEqual(timerVerdict(timer!, undefined, T0 + 15 * MIN, 1000), { fire: false, reason: 'the alarm is no longer in the store' });
  });
});

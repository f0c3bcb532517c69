import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideUnack } from '../../src/lifecycle/ack.js';
import { escalationTimers, resumedEscalations } from '../../src/lifecycle/escalation.js';
import { alarmRecord } from '../helpers/alarm-factory.js';

const MIN = 60_000;
const BASE = { title: 'Motor M12 overtemperature', severity: 'major' as const, device: { id: 'plc-line4', name: 'PLC Line 4', matchedBy: 'sender' as const } };
const T0 = 1_764_000_000_000;
const policy = (stopOn: 'acknowledged' | 'acknowledged-or-cleared') => ({
  name: 'p',
  levels: [
    { after: 15 * MIN, receivers: ['tom'] },
    { after: 60 * MIN, receivers: ['oncall'] },
  ],
  stopOn,
});

describe('taking back an acknowledgement', () => {
  it('clears the ack and its announcement; an alarm not acknowledged or unknown says so', () => {
    const acked = alarmRecord('A', { ...BASE, ack: { by: 'anna', at: T0, channel: 'api' }, ackAnnounced: true });
    const decided = decideUnack(acked);
    assert.equal(decided.outcome, 'recorded');
    assert.equal(decided.outcome === 'recorded' && (decided.alarm.ack ?? decided.alarm.ackAnnounced), undefined);
    assert.equal(decided.outcome === 'recorded' && decided.was.by, 'anna');
    assert.equal(decideUnack(alarmRecord('B', BASE)).outcome, 'not-acknowledged');
    assert.equal(decideUnack(undefined).outcome, 'unknown-alarm');
  });

  it('resumes the levels the ack stopped, each with the time it had left; not fired ones only', () => {
    const alarm = alarmRecord('A', { ...BASE, firstSeen: T0 });
    const [level1, level2] = escalationTimers(policy('acknowledged'), 'A', T0);
    const ackedAt = T0 + 20 * MIN;
    const timers = [
      { ...level1!, firedAt: T0 + 15 * MIN },
      { ...level2!, cancelledAt: ackedAt },
    ];
    const resumed = resumedEscalations(timers, alarm, ackedAt, T0 + 50 * MIN);
    assert.deepEqual(resumed.map((t) => [t.level, t.dueAt - T0, t.cancelledAt]), [[2, 90 * MIN, undefined]], 'level 2 had 40 min left');
    // Stopped while overdue (the gateway was down): due at once.
    assert.deepEqual(resumedEscalations([{ ...level2!, cancelledAt: T0 + 70 * MIN }], alarm, T0 + 70 * MIN, T0 + 80 * MIN).map((t) => t.dueAt - T0), [80 * MIN]);
    // Cancelled before the ack (by something else): not the ack's to resume.
    assert.deepEqual(resumedEscalations([{ ...level2!, cancelledAt: ackedAt - 1 }], alarm, ackedAt, T0 + 50 * MIN), []);
  });

  it('resumes nothing for a cleared alarm under a policy that stops on a clear', () => {
    const cleared = alarmRecord('A', { ...BASE, firstSeen: T0, state: 'resolved', resolvedAt: T0 + MIN });
    const [, level2] = escalationTimers(policy('acknowledged-or-cleared'), 'A', T0);
    assert.deepEqual(resumedEscalations([{ ...level2!, cancelledAt: T0 + 20 * MIN }], cleared, T0 + 20 * MIN, T0 + 30 * MIN), []);
    const [, kept] = escalationTimers(policy('acknowledged'), 'A', T0);
    assert.equal(resumedEscalations([{ ...kept!, cancelledAt: T0 + 20 * MIN }], cleared, T0 + 20 * MIN, T0 + 30 * MIN).length, 1, 'stopOn: acknowledged goes on after a clear');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InhibitRule } from '../../src/config/inhibit.js';
import { parseMatcher, type Matcher } from '../../src/config/matcher.js';
import type { Alarm, Decision } from '../../src/lifecycle/alarm.js';
import { decide } from '../../src/lifecycle/decide.js';
import { applyMute, findMute, remute, stillMuted, unmute, unmutedReason, type MuteContext } from '../../src/lifecycle/mute.js';
import type { Silence } from '../../src/lifecycle/silence.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';

const T0 = Date.UTC(2026, 10, 24, 2, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

function m(text: string): Matcher {
  const parsed = parseMatcher(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.matcher;
}

const maintenance: Silence = {
  id: 'SIL1',
  matchers: [m('device.id=ups-hall2')],
  schedule: { kind: 'window', start: T0, end: T0 + HOUR },
  createdBy: 'anna',
  comment: 'battery swap',
  createdAt: T0,
};

const noMute = (now: number): MuteContext => ({ silences: [], sources: [], rules: [], now });
const silenced = (now: number): MuteContext => ({ silences: [maintenance], sources: [], rules: [], now });

let ids = 0;
/** decide() and then the mute stage, as the pipeline runs them. */
function step(active: Alarm | undefined, at: number, context: MuteContext, state: 'active' | 'cleared' = 'active'): Decision {
  const decided = decide({ active, event: alarmEvent({ id: `E${++ids}`, state }), route: route(), fingerprint: 'fp', now: at, newAlarmId: () => `ALM${ids}` });
  const mute = decided.alarm && decided.due.length > 0 ? findMute(decided.alarm, context) : undefined;
  return applyMute(decided, active, mute);
}

describe('muting after decide (pure, fake clock)', () => {
  it('a new alarm in a silence is recorded, not notified, with the silence, its comment and end as the reason', () => {
    const d = step(undefined, T0 + MIN, silenced(T0 + MIN));
    assert.equal(d.outcome, 'silenced');
    assert.equal(d.due.length, 0);
    assert.equal(d.alarm?.count, 1);
    assert.equal(d.alarm?.notifications, 0, 'the notification decide() counted is not counted');
    assert.equal(d.alarm?.lastNotifiedAt, undefined);
    assert.deepEqual(d.alarm?.mutedBy, { by: 'silence', silence: 'SIL1', until: T0 + HOUR });
    assert.match(d.reason, /^new alarm, routed by rule ups-power; muted by silence SIL1 \(battery swap\) until 2026-11-24T03:00:00\.000Z$/);
  });

  it('a reminder in a silence leaves the last notification as it was', () => {
    const raised = step(undefined, T0 - 2 * HOUR, noMute(T0 - 2 * HOUR));
    assert.equal(raised.outcome, 'raised');
    const reminder = step(raised.alarm, T0 + MIN, silenced(T0 + MIN));
    assert.equal(reminder.outcome, 'silenced');
    assert.equal(reminder.alarm?.notifications, 1);
    assert.equal(reminder.alarm?.lastNotifiedAt, T0 - 2 * HOUR);
    assert.equal(reminder.alarm?.countAtLastNotification, 1);
    assert.equal(reminder.alarm?.count, 2);
  });

  it('a muted resolution is not sent and leaves nothing waiting', () => {
    const raised = step(undefined, T0 - 2 * HOUR, noMute(T0 - 2 * HOUR));
    const resolved = step(raised.alarm, T0 + MIN, silenced(T0 + MIN), 'cleared');
    assert.equal(resolved.outcome, 'silenced');
    assert.equal(resolved.alarm?.state, 'resolved');
    assert.equal(resolved.alarm?.mutedBy, undefined);
  });

  it('when the silence has ended the alarm is no longer muted, and is notified as still active', () => {
    const muted = step(undefined, T0 + MIN, silenced(T0 + MIN)).alarm!;
    assert.equal(stillMuted(muted, silenced(T0 + 59 * MIN)), true);
    assert.equal(stillMuted(muted, silenced(T0 + HOUR)), false, 'the window is over');
    assert.equal(findMute(muted, silenced(T0 + HOUR)), undefined);
    const released = unmute(muted, alarmEvent({ id: muted.lastEventId }), route(), T0 + HOUR, unmutedReason(muted.mutedBy!, []));
    assert.equal(released.outcome, 'unmuted');
    assert.equal(released.due[0]?.kind, 'firing');
    assert.equal(released.due[0]?.reason, 'silence SIL1 ended; still active');
    assert.equal(released.due[0]?.sequence, 1);
    assert.equal(released.alarm?.notifications, 1);
    assert.equal(released.alarm?.mutedBy, undefined);
  });

  it('an expired silence ends the muting too', () => {
    const muted = step(undefined, T0 + MIN, silenced(T0 + MIN)).alarm!;
    const context = { ...silenced(T0 + 10 * MIN), silences: [{ ...maintenance, expiredAt: T0 + 5 * MIN }] };
    assert.equal(stillMuted(muted, context), false);
  });

  it('a later notification clears mutedBy; a repeat inside the silence keeps it', () => {
    const muted = step(undefined, T0 + MIN, silenced(T0 + MIN)).alarm!;
    const again = step(muted, T0 + 2 * MIN, silenced(T0 + 2 * MIN));
    assert.equal(again.outcome, 'silenced', 'never notified, so the repeat is due and muted again');
    assert.ok(again.alarm?.mutedBy);
    const after = step(again.alarm, T0 + 2 * HOUR, noMute(T0 + 2 * HOUR));
    assert.equal(after.outcome, 'raised');
    assert.equal(after.alarm?.mutedBy, undefined);
    assert.equal(after.due[0]?.alarm.mutedBy, undefined);
  });

  it('an acknowledged or now suppressed alarm is released without a notification', () => {
    const muted = step(undefined, T0 + MIN, silenced(T0 + MIN)).alarm!;
    const acked = unmute({ ...muted, ack: { by: 'tom', at: T0 + 2 * MIN, channel: 'cli' } }, alarmEvent(), route(), T0 + HOUR, 'silence SIL1 ended; still active');
    assert.equal(acked.due.length, 0);
    assert.match(acked.reason, /acknowledged by tom/);
    const suppressed = unmute(muted, alarmEvent(), route({ suppressedBy: 'quiet' }), T0 + HOUR, 'silence SIL1 ended; still active');
    assert.equal(suppressed.outcome, 'suppressed');
    assert.equal(suppressed.due.length, 0);
  });

  it('inhibition mutes like a silence, and ends with its source', () => {
    const rule: InhibitRule = { name: 'site-power', source: [m('key=mains-failure')], target: [m('device.id=ups-hall2')], equal: ['site'] };
    const source: Alarm = { ...step(undefined, T0, noMute(T0)).alarm!, id: 'MAINS', key: 'mains-failure', title: 'Mains failure', device: { id: 'mains', name: 'Mains', site: 'Plant North', matchedBy: 'sender' } };
    const context: MuteContext = { silences: [], sources: [source], rules: [rule], now: T0 + MIN };
    const d = step(undefined, T0 + MIN, context);
    assert.equal(d.outcome, 'inhibited');
    assert.match(d.reason, /inhibited by MAINS \(Mains failure\) via rule site-power$/);
    assert.deepEqual(d.alarm?.mutedBy, { by: 'inhibition', alarm: 'MAINS', rule: 'site-power' });
    assert.equal(stillMuted(d.alarm!, context), true);
    assert.equal(stillMuted(d.alarm!, { ...context, sources: [{ ...source, state: 'resolved' }] }), false);
    assert.equal(unmutedReason(d.alarm!.mutedBy!, ['site-power']), 'inhibition by MAINS via rule site-power ended; still active');
    // A reload that drops the rule ends the inhibition though its source is still active.
    assert.equal(stillMuted(d.alarm!, { ...context, rules: [] }), false);
    assert.equal(unmutedReason(d.alarm!.mutedBy!, []), 'inhibit rule site-power is no longer configured (inhibition by MAINS ended); still active');
  });

  it('a silence is named before an inhibition, and takes over when one ends while the other holds', () => {
    const rule: InhibitRule = { name: 'everything-north', source: [m('device.id=mains')], target: [m('site=Plant North')], equal: [] };
    const source: Alarm = { ...step(undefined, T0, noMute(T0)).alarm!, id: 'MAINS', device: { id: 'mains', name: 'Mains', site: 'Plant North', matchedBy: 'sender' } };
    const both: MuteContext = { silences: [maintenance], sources: [source], rules: [rule], now: T0 + MIN };
    const d = step(undefined, T0 + MIN, both);
    assert.equal(d.outcome, 'silenced');
    const afterSilence = { ...both, now: T0 + HOUR };
    assert.equal(stillMuted(d.alarm!, afterSilence), false);
    const next = findMute(d.alarm!, afterSilence);
    assert.equal(next?.by, 'inhibition');
    const moved = remute(d.alarm!, next!);
    assert.equal(moved.outcome, 'inhibited');
    assert.match(moved.reason, /^silence SIL1 ended; inhibited by MAINS/);
    assert.deepEqual(moved.alarm?.mutedBy, { by: 'inhibition', alarm: 'MAINS', rule: 'everything-north' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Alarm, Due } from '../../src/lifecycle/alarm.js';
import { ackAnnouncementSets, batchDues, digestScopeOf, summarizeBatch, type BatchItem } from '../../src/lifecycle/batch.js';
import { decide } from '../../src/lifecycle/decide.js';
import type { FloodSettings, FloodState } from '../../src/lifecycle/flood.js';
import type { Route } from '../../src/rules/route.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';

const T0 = Date.UTC(2026, 10, 26, 8, 0, 0);
let n = 0;

/** The due decide() makes for a new alarm of `device` at `site` under `r`. */
function due(r: Route, device = 'plc-4', site = 'Plant North', at = T0): Due {
  n += 1;
  const event = alarmEvent({ id: `E${n}`, title: `Alarm ${n}`, device: { id: device, name: device.toUpperCase(), site, matchedBy: 'sender' } });
  const decision = decide({ active: undefined, event, route: r, fingerprint: `fp${n}`, now: at, newAlarmId: () => `ALM${n}` });
  return decision.due[0]!;
}

const grouped = route({ group: { by: ['site'], wait: 30_000 } });
const flood: FloodSettings = { per: 'device', limit: 2, window: 60_000, digestInterval: 300_000 };

describe('grouping and flood control of due notifications (pure, fake clock)', () => {
  it('sends at once what no group or flood holds', () => {
    const d = due(route());
    const b = batchDues([d], { now: T0 });
    assert.deepEqual(b.send, [d]);
    assert.equal(b.held.length, 0);
  });

  it('holds a grouped route\'s notification under a key of route, group values and addresses', () => {
    const a = batchDues([due(grouped, 'plc-4')], { now: T0 });
    const b = batchDues([due(grouped, 'plc-5')], { now: T0 + 1000 });
    const other = batchDues([due(grouped, 'plc-6', 'Plant South')], { now: T0 });
    const otherPeople = batchDues([due(route({ group: grouped.group!, receivers: [{ name: 'night', emails: ['Night@example.com'] }] }))], { now: T0 });
    assert.equal(a.send.length, 0);
    assert.equal(a.held[0]!.batchKey, b.held[0]!.batchKey, 'same site, same route, same people: one group');
    assert.notEqual(a.held[0]!.batchKey, other.held[0]!.batchKey);
    assert.notEqual(a.held[0]!.batchKey, otherPeople.held[0]!.batchKey);
    assert.equal(a.held[0]!.batchKind, 'group');
    assert.equal(a.held[0]!.label, 'site=Plant North');
    assert.equal(a.held[0]!.flushAt, T0 + 30_000);
    assert.match(a.notes[0]!, /held for the group site=Plant North \(ups-power\), sent within 30 s of its first alarm/);
  });

  it('never holds escalations or acknowledgement announcements, nor what has nobody to go to', () => {
    const d = due(grouped);
    const escalation: Due = { ...d, kind: 'escalation' };
    const ack: Due = { ...d, kind: 'acknowledged' };
    const nobody: Due = { ...d, route: { ...d.route, receivers: [{ name: 'ghost', emails: [] }] } };
    const b = batchDues([escalation, ack, nobody], { now: T0 });
    assert.equal(b.send.length, 3);
    assert.equal(b.held.length, 0);
  });

  it('switches a device to its digest past the limit, before any grouping, and keeps the state per scope', () => {
    let state: FloodState | undefined;
    const kinds: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const b = batchDues([due(grouped)], { now: T0 + i, flood: { settings: flood, state: () => state } });
      state = b.floodStates[0];
      kinds.push(b.held[0]?.batchKind ?? 'sent');
    }
    assert.deepEqual(kinds, ['group', 'group', 'digest', 'digest', 'digest']);
    const other = batchDues([due(route(), 'plc-9')], { now: T0 + 6, flood: { settings: flood, state: (scope) => (scope === 'device:plc-4' ? state : undefined) } });
    assert.equal(other.send.length, 1, 'another device is not flooding');
    const digest = batchDues([due(route())], { now: T0 + 7, flood: { settings: flood, state: () => state } });
    assert.equal(digest.held[0]!.label, 'device plc-4');
    assert.equal(digest.held[0]!.flushAt, T0 + 7 + 300_000);
    assert.match(digest.held[0]!.batchKey, /^digest\|device:plc-4\|facility@example\.com$/);
    assert.equal(digestScopeOf({ kind: 'digest', key: digest.held[0]!.batchKey }), 'device:plc-4');
    assert.equal(digestScopeOf({ kind: 'digest', key: 'digest|device:a|b|ops@example.com' }), 'device:a|b', 'a device id with a bar');
    assert.equal(digestScopeOf({ kind: 'group', key: 'group|r|site=A|ops@example.com' }), undefined);
  });

  it('summarizes a batch: each alarm once as it is now, most severe first, notifications counted', () => {
    const alarm = (id: string, severity: Alarm['severity'], firstSeen: number, extra: Partial<Alarm> = {}): Alarm => ({ ...due(route()).alarm, id, severity, firstSeen, ...extra });
    const alarms = new Map<string, Alarm>([
      ['A', alarm('A', 'warning', T0)],
      ['B', alarm('B', 'critical', T0 + 5, { state: 'resolved', resolvedAt: T0 + 9 })],
      ['C', alarm('C', 'critical', T0 + 1, { ack: { by: 'anna', at: T0 + 3, channel: 'cli' } })],
    ]);
    const items: BatchItem[] = [
      { alarmId: 'A', kind: 'firing', reason: 'r', at: T0 },
      { alarmId: 'B', kind: 'firing', reason: 'r', at: T0 + 5 },
      { alarmId: 'C', kind: 'firing', reason: 'r', at: T0 + 1 },
      { alarmId: 'B', kind: 'resolved', reason: 'r', at: T0 + 9 },
      { alarmId: 'gone', kind: 'firing', reason: 'r', at: T0 + 9 },
    ];
    const summary = summarizeBatch(items, (id) => alarms.get(id));
    assert.deepEqual(summary.entries.map((e) => e.alarm.id), ['C', 'B', 'A']);
    assert.deepEqual(summary.entries[1]!.kinds, ['firing', 'resolved']);
    assert.equal(summary.notifications, 5);
    assert.equal(summary.active, 2);
    assert.equal(summary.resolved, 1);
    assert.equal(summary.acknowledged, 1);
  });

  it('sets acknowledged alarms to announce together: one act, the same people', () => {
    const ack = { by: 'anna', at: T0, channel: 'mail' as const, ref: '<r1@x>' };
    const base = due(route()).alarm;
    const a = { ...base, id: 'A', ack, receivers: ['ops@example.com'] };
    const b = { ...base, id: 'B', ack, receivers: ['OPS@example.com '] };
    const otherPeople = { ...base, id: 'C', ack, receivers: ['boss@example.com'] };
    const otherAct = { ...base, id: 'D', ack: { ...ack, ref: '<r2@x>' }, receivers: ['ops@example.com'] };
    assert.deepEqual(ackAnnouncementSets([a, b, otherPeople, otherAct]).map((set) => set.map((x) => x.id)), [['A', 'B'], ['C'], ['D']]);
  });
});

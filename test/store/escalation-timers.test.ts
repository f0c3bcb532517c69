import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { decide } from '../../src/lifecycle/decide.js';
import { escalationTimers } from '../../src/lifecycle/escalation.js';
import type { EscalationPolicy } from '../../src/rules/escalation-policy.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { alarmEvent, receivedMail, route } from '../helpers/alarm-factory.js';
import { testDir } from '../helpers/gateway.js';

const T0 = 1_764_000_000_000;
const policy = (stopOn: EscalationPolicy['stopOn'] = 'acknowledged-or-cleared'): EscalationPolicy => ({
  name: 'p',
  levels: [
    { after: 1000, receivers: ['a'] },
    { after: 2000, receivers: ['b'] },
  ],
  stopOn,
});

const received = (id: string): Received => receivedMail(id, T0);

describe('SqliteStore escalation timers', () => {
  const dir = testDir();
  let n = 0;
  let store: SqliteStore;

  beforeEach(() => {
    n += 1;
    store = SqliteStore.open(join(dir.path, `data-${n}`));
  });
  afterEach(() => store.close());

  /** Raises an alarm through commitPipeline with the policy's timers, as the gateway does. */
  function raise(p: EscalationPolicy): Alarm {
    store.insertReceived(received('r1'));
    const alarm = decide({ active: undefined, event: alarmEvent({ id: 'r1' }), route: route(), fingerprint: 'fp', now: T0, newAlarmId: () => 'A1' }).alarm!;
    store.commitPipeline('r1', { alarm, outcome: 'raised', reason: 'new', outbox: [], escalationTimers: escalationTimers(p, alarm.id, T0) }, T0);
    return store.getAlarm('A1')!;
  }

  it('stores the timers with the raised alarm and lists the due ones and the next due time', () => {
    raise(policy());
    assert.deepEqual(store.escalationTimers('A1').map((t) => [t.level, t.dueAt]), [
      [1, T0 + 1000],
      [2, T0 + 2000],
    ]);
    assert.equal(store.nextEscalationDueAt(), T0 + 1000);
    assert.deepEqual(store.dueEscalationTimers(T0 + 999, 10), []);
    assert.deepEqual(store.dueEscalationTimers(T0 + 2000, 10).map((t) => t.level), [1, 2]);
  });

  it('marks a timer fired with the alarm change and its outbox entry, and refuses to fire it twice', () => {
    const alarm = raise(policy());
    const fire = (at: number): boolean =>
      store.commitAlarmChange(
        { expected: store.getAlarm('A1')!, alarm: { ...store.getAlarm('A1')!, notifications: alarm.notifications + 1 }, receivedId: 'r1', outcome: 'escalated', reason: 'level 1', outbox: [{ id: `o${at}`, receivedId: 'r1', alarmId: 'A1', envelopeFrom: 'gw@x', recipients: ['a@x'], message: Buffer.from('m') }], escalation: { fired: { alarmId: 'A1', level: 1 } } },
        at,
      );
    assert.equal(fire(T0 + 1000), true);
    assert.equal(store.escalationTimers('A1')[0]?.firedAt, T0 + 1000);
    assert.equal(store.listOutbox(['pending']).length, 1);
    assert.equal(fire(T0 + 1001), false, 'fired_at guards it');
    assert.equal(store.listOutbox(['pending']).length, 1, 'and nothing more is queued');
    assert.equal(store.getAlarm('A1')?.notifications, alarm.notifications + 1);
    assert.deepEqual(store.dueEscalationTimers(T0 + 5000, 10).map((t) => t.level), [2]);
  });

  it('an acknowledgement cancels the pending timers in its transaction and is picked up once for announcing', () => {
    raise(policy());
    assert.deepEqual(store.unannouncedAcks(10), []);
    store.acknowledge('A1', { by: 'anna', at: T0 + 500, channel: 'cli' }, T0 + 500);
    assert.ok(store.escalationTimers('A1').every((t) => t.cancelledAt === T0 + 500));
    assert.equal(store.nextEscalationDueAt(), undefined);
    assert.deepEqual(store.dueEscalationTimers(T0 + 5000, 10), []);
    const [acked] = store.unannouncedAcks(10);
    assert.equal(acked?.id, 'A1');
    assert.equal(store.commitAlarmChange({ expected: acked!, alarm: { ...acked!, ackAnnounced: true }, receivedId: 'r1', outcome: 'ack-announced', reason: 'told', outbox: [] }, T0 + 600), true);
    assert.deepEqual(store.unannouncedAcks(10), []);
  });

  it('a clear cancels the timers of a policy that stops on a clear, not of one that needs an ack', () => {
    for (const stopOn of ['acknowledged-or-cleared', 'acknowledged'] as const) {
      const alarm = raise(policy(stopOn));
      store.insertReceived(received('r2'));
      store.commitPipeline('r2', { alarm: { ...alarm, state: 'resolved', resolvedAt: T0 + 100, lastEventId: 'r2' }, outcome: 'resolved', reason: 'cleared', outbox: [] }, T0 + 100);
      const cancelled = store.escalationTimers('A1').every((t) => t.cancelledAt === T0 + 100);
      assert.equal(cancelled, stopOn === 'acknowledged-or-cleared', stopOn);
      store.close();
      n += 1;
      store = SqliteStore.open(join(dir.path, `data-${n}`));
    }
  });

  it('migrating an older store counts existing acknowledgements as announced', () => {
    store.close();
    const file = join(dir.path, 'old.db');
    const old = new SqliteStore(file);
    old.insertReceived(received('r1'));
    const alarm = decide({ active: undefined, event: alarmEvent({ id: 'r1' }), route: route(), fingerprint: 'fp', now: T0, newAlarmId: () => 'A1' }).alarm!;
    old.commitPipeline('r1', { alarm, outcome: 'raised', reason: 'new', outbox: [] }, T0);
    old.acknowledge('A1', { by: 'anna', at: T0, channel: 'mqtt' }, T0);
    old.close();
    // Back to version 4, as a store written before escalations.
    const db = new Database(file);
    db.exec(`DROP TABLE escalation_timers; DROP TABLE batch_items; DROP TABLE batches; DROP TABLE flood_state; DROP INDEX outbox_alarm; DROP INDEX outbox_batch; ALTER TABLE outbox DROP COLUMN batch_id; UPDATE alarms SET data = json_remove(data, '$.ackAnnounced');`);
    db.pragma('user_version = 4');
    db.close();
    store = new SqliteStore(file);
    assert.deepEqual(store.unannouncedAcks(10), []);
    assert.equal(store.getAlarm('A1')?.ackAnnounced, true);
    assert.deepEqual(store.escalationTimers('A1'), []);
  });
});

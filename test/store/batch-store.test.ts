import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Received } from '../../src/ingest/received.js';
import type { HeldNotification } from '../../src/lifecycle/batch.js';
import { decide } from '../../src/lifecycle/decide.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { alarmEvent, receivedMail, route } from '../helpers/alarm-factory.js';
import { testDir } from '../helpers/gateway.js';

const T0 = 1_764_000_000_000;

const received = (id: string): Received => receivedMail(id, T0);

function held(alarmId: string, key = 'group|r|site=A|ops@example.com', flushAt = T0 + 30_000): HeldNotification {
  return { batchKey: key, batchKind: 'group', label: 'site=A', flushAt, receivers: [{ name: 'ops', emails: ['ops@example.com'] }], alarmId, kind: 'firing', reason: 'new alarm', at: T0 };
}

describe('SqliteStore batches and flood state', () => {
  const dir = testDir();
  let n = 0;
  let store: SqliteStore;

  beforeEach(() => {
    n += 1;
    store = new SqliteStore(join(dir.path, `batches-${n}.db`));
  });
  afterEach(() => store.close());

  /** Commits a new alarm `id` whose notification is held. */
  function commitHeld(id: string, h: HeldNotification, at = T0): void {
    store.insertReceived(received(`r-${id}`));
    const alarm = decide({ active: undefined, event: alarmEvent({ id: `r-${id}` }), route: route(), fingerprint: `fp-${id}`, now: at, newAlarmId: () => id }).alarm!;
    store.commitPipeline(`r-${id}`, { alarm, outcome: 'raised', reason: 'new; held', outbox: [], held: [h], floodStates: [{ scope: 'device:plc', windowStart: T0, count: 1 }] }, at);
  }

  it('held notifications with one key collect in one open batch that keeps its first flush time', () => {
    commitHeld('A1', held('A1'));
    commitHeld('A2', held('A2', undefined, T0 + 99_000), T0 + 5000);
    commitHeld('B1', held('B1', 'group|r|site=B|ops@example.com'));
    assert.equal(store.nextBatchDueAt(), T0 + 30_000);
    const due = store.dueBatches(T0 + 30_000, 10);
    assert.equal(due.length, 2);
    const a = due.find((b) => b.label === 'site=A' && b.key.includes('site=A'))!;
    assert.equal(a.flushAt, T0 + 30_000, 'the first notification set the time');
    assert.deepEqual(store.batchItems(a.id).map((i) => i.alarmId), ['A1', 'A2']);
    assert.deepEqual(store.batchesOfAlarm('A2').map((b) => b.id), [a.id]);
    assert.deepEqual(store.dueBatches(T0 + 29_999, 10), []);
    assert.deepEqual(store.floodState('device:plc'), { scope: 'device:plc', windowStart: T0, count: 1 });
  });

  it('a batch is sent once: the second flush is refused and writes nothing', () => {
    commitHeld('A1', held('A1'));
    const [batch] = store.dueBatches(T0 + 30_000, 10);
    const flush = {
      batchId: batch!.id,
      outbox: [{ id: 'O1', receivedId: null, alarmId: null, batchId: batch!.id, envelopeFrom: 'gw@x', recipients: ['ops@example.com'], message: Buffer.from('m') }],
      log: [{ alarmId: 'A1', receivedId: 'r-A1', outcome: 'group-sent', reason: 'group site=A' }],
      floodState: { scope: 'device:plc', windowStart: T0 + 30_000, count: 0 },
    };
    assert.equal(store.commitBatchFlush(flush, T0 + 30_000), true);
    assert.equal(store.commitBatchFlush({ ...flush, outbox: [{ ...flush.outbox[0]!, id: 'O2' }] }, T0 + 30_001), false);
    assert.equal(store.getBatch(batch!.id)?.sentAt, T0 + 30_000);
    assert.equal(store.nextBatchDueAt(), undefined);
    assert.equal(store.getOutbox('O1')?.batchId, batch!.id);
    assert.equal(store.getOutbox('O2'), undefined);
    assert.deepEqual(store.alarmLog('A1').map((h) => h.outcome), ['raised', 'group-sent']);
    assert.deepEqual(store.alarmRecipients('A1'), ['ops@example.com'], 'a group that listed the alarm was sent to it');
    assert.deepEqual(store.alarmRecipients('nobody'), []);
    assert.equal(store.floodState('device:plc')?.count, 0);
    // The next held notification of that key opens a new batch.
    commitHeld('A3', held('A3', undefined, T0 + 90_000), T0 + 60_000);
    const [next] = store.dueBatches(T0 + 90_000, 10);
    assert.notEqual(next?.id, batch!.id);
    assert.deepEqual(store.batchItems(next!.id).map((i) => i.alarmId), ['A3']);
  });
});

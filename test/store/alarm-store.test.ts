import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { testDir } from '../helpers/gateway.js';
import { alarmRecord } from '../helpers/alarm-factory.js';

const dir = testDir();
after(() => dir.remove());

function received(id: string, mqtt?: Received['mqtt'], raw = 'x'): Received {
  return { id, receivedAt: 1000, listener: 'broker', peer: { address: '127.0.0.1', port: 1883, secure: false }, envelope: { mailFrom: null, rcptTo: [] }, raw: Buffer.from(raw), mqtt };
}

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, {
    device: { id: 'tank3', name: 'Tank 3', matchedBy: 'topic' },
    title: 'tank3: LevelHigh',
    severity: 'major',
    firstSeen: 1000,
    firstEventId: 'R1',
    lastEventId: 'R1',
    notifications: 1,
    countAtLastNotification: 1,
    ...overrides,
  });
}

describe('alarm state in the store', () => {
  const store = SqliteStore.open(join(dir.path, 'a'));
  after(() => store.close());

  it('saves the alarm, its history and the topic state with the message, in one commit', () => {
    store.insertReceived(received('R1', { topic: 'p/tank3/level', qos: 1, retain: false, dup: false, messageId: 7 }));
    store.commitPipeline('R1', { alarm: alarm('A1'), topicState: { topic: 'p/tank3/level', state: 'active', value: 4.8, at: 1000 }, outcome: 'raised', reason: 'new alarm', outbox: [] }, 1000);
    assert.equal(store.activeAlarm('fp-A1')?.id, 'A1');
    assert.deepEqual(store.topicState('p/tank3/level'), { topic: 'p/tank3/level', state: 'active', value: 4.8, at: 1000 });
    assert.deepEqual(store.alarmLog('A1').map((l) => l.outcome), ['raised']);
    assert.equal(store.getReceived('R1')?.mqtt?.topic, 'p/tank3/level', 'the MQTT envelope round-trips');
  });

  it('keeps only one active alarm per fingerprint', () => {
    store.insertReceived(received('R2'));
    assert.throws(() => store.commitPipeline('R2', { alarm: alarm('A2', { fingerprint: 'fp-A1' }), outcome: 'raised', reason: 'x', outbox: [] }, 1000), /UNIQUE/);
    assert.equal(store.pendingReceived(10).length, 1, 'the failed commit left the message in the inbox');
  });

  it('drops telemetry that changed nothing but keeps its topic state', () => {
    store.insertReceived(received('R3', { topic: 'p/tank3/level', qos: 1, retain: false, dup: false, messageId: 8 }));
    store.commitPipeline('R3', { topicState: { topic: 'p/tank3/level', state: 'active', value: 4.9, at: 2000 }, outcome: 'no-change', reason: 'still beyond', outbox: [] }, 2000);
    assert.equal(store.getReceived('R3'), undefined);
    assert.equal(store.topicState('p/tank3/level')?.value, 4.9);
  });

  it('recognises a redelivered MQTT message by topic, message id and payload', () => {
    store.insertReceived(received('R4', { topic: 'p/x', qos: 1, retain: false, dup: false, messageId: 42 }, 'payload-1'));
    assert.equal(store.isRedelivery('p/x', 42, Buffer.from('payload-1'), 0), true);
    assert.equal(store.isRedelivery('p/x', 42, Buffer.from('payload-2'), 0), false, 'a reused message id with other content is new');
    assert.equal(store.isRedelivery('p/y', 42, Buffer.from('payload-1'), 0), false);
    assert.equal(store.isRedelivery('p/x', 42, Buffer.from('payload-1'), 5000), false, 'outside the window');
  });

  it('records the first acknowledgement with who, when and how', () => {
    const acked = store.acknowledge('A1', { by: 'anna', at: 3000, channel: 'mqtt', ref: 'annunciator/ack' }, 3000);
    assert.equal(acked?.ack?.by, 'anna');
    const again = store.acknowledge('A1', { by: 'tom', at: 4000, channel: 'cli' }, 4000);
    assert.equal(again?.ack?.by, 'anna', 'the first acknowledgement counts');
    assert.equal(store.getAlarm('A1')?.ack?.channel, 'mqtt');
    assert.deepEqual(store.alarmLog('A1').map((l) => l.outcome), ['raised', 'acknowledged']);
    assert.equal(store.acknowledge('NOPE', { by: 'x', at: 1, channel: 'cli' }, 1), undefined);
  });
});

describe('an acknowledgement that lands while the pipeline works on the alarm', () => {
  const store = SqliteStore.open(join(dir.path, 'b'));
  after(() => store.close());

  it('is kept when the pipeline saves the alarm it read before', () => {
    store.insertReceived(received('S1'));
    store.commitPipeline('S1', { alarm: alarm('B1'), outcome: 'raised', reason: 'new', outbox: [] }, 1000);
    const read = store.getAlarm('B1')!;
    store.acknowledge('B1', { by: 'anna', at: 1500, channel: 'mqtt' }, 1500);
    store.insertReceived(received('S2'));
    store.commitPipeline('S2', { alarm: { ...read, count: 2 }, outcome: 'repeat-folded', reason: 'repeat', outbox: [] }, 2000);
    assert.equal(store.getAlarm('B1')?.count, 2);
    assert.equal(store.getAlarm('B1')?.ack?.by, 'anna');
  });
});

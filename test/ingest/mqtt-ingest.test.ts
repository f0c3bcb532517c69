import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { IPublishPacket } from 'mqtt';
import { loadConfig } from '../../src/config/load.js';
import { MqttIngest } from '../../src/ingest/mqtt/mqtt-ingest.js';
import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { silentLogger } from '../../src/log/logger.js';
import { MqttMappings } from '../../src/ingest/mqtt/mqtt-mappings.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { acknowledger, commitPipeline } from '../helpers/store.js';

const config = loadConfig(join(REPO_ROOT, 'config/examples/mqtt.yaml'), {});
const broker = { ...config.mqtt[0]!, maxPayloadSize: 100 };

function packet(topic: string, payload: string, extra: Partial<IPublishPacket> = {}): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, messageId: 1, ...extra };
}

describe('MQTT ingest decisions (no broker needed: messages handed in directly)', () => {
  const dir = testDir();
  const store = SqliteStore.open(dir.path);
  const committed: Received[] = [];
  const acked: Alarm[] = [];
  const ingest = new MqttIngest({
    broker,
    mappings: new MqttMappings([broker]),
    store,
    logger: silentLogger(),
    commit: async (r) => {
      await store.accept(r);
      committed.push(r);
    },
    acknowledge: acknowledger(store, acked),
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('commits a mapped message with its MQTT envelope', async () => {
    await ingest.handle(packet('plant/north/line2/tank3/alarm', '{"alarm":"LevelHigh"}', { messageId: 5 }));
    assert.equal(committed.length, 1);
    assert.deepEqual(committed[0]?.mqtt, { topic: 'plant/north/line2/tank3/alarm', qos: 1, retain: false, dup: false, clientId: 'annunciator-gw1', messageId: 5 });
    assert.equal(committed[0]?.listener, 'plant-broker');
  });

  it('does not commit a redelivery (DUP) of a message it already has', async () => {
    await ingest.handle(packet('plant/north/line2/tank3/alarm', '{"alarm":"LevelHigh"}', { messageId: 5, dup: true }));
    assert.equal(committed.length, 1);
    assert.equal(ingest.stats.duplicates, 1);
  });

  it('commits a DUP it has not seen (the first copy never reached the store)', async () => {
    await ingest.handle(packet('plant/north/line2/tank3/alarm', '{"alarm":"LevelLow"}', { messageId: 6, dup: true }));
    assert.equal(committed.length, 2);
  });

  it('refuses oversize payloads and unknown topics without committing them', async () => {
    await ingest.handle(packet('plant/north/line2/tank3/alarm', JSON.stringify({ pad: 'x'.repeat(200) })));
    await ingest.handle(packet('somewhere/else', 'ON'));
    assert.equal(committed.length, 2);
    assert.equal(ingest.stats.rejected.oversize, 1);
    assert.equal(ingest.stats.rejected['unknown-topic'], 1);
  });

  it('takes acknowledgements on <prefix>/ack and refuses malformed ones', async () => {
    await commitPipeline(
      store,
      committed[0]!.id,
      {
        alarm: { id: 'A1', fingerprint: 'f', state: 'active', device: { id: 'tank3', name: 'Tank 3', matchedBy: 'topic' }, title: 't', severity: 'major', fields: {}, text: '', count: 1, firstSeen: 1, lastSeen: 1, firstEventId: 'x', lastEventId: 'x', notifications: 1, countAtLastNotification: 1, receivers: [], rules: [] },
        outcome: 'raised',
        reason: 'r',
        outbox: [],
      },
      1,
    );
    await ingest.handle(packet('annunciator/ack', '{"alarm":"A1","by":"anna"}'));
    assert.equal(acked[0]?.ack?.by, 'anna');
    await ingest.handle(packet('annunciator/ack', 'ack please'));
    await ingest.handle(packet('annunciator/ack', '{"alarm":"NOPE","by":"anna"}'));
    assert.equal(ingest.stats.rejected['bad-ack'], 2);
    assert.equal(ingest.stats.acks, 1);
  });
});

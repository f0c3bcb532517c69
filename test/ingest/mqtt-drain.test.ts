import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, connectAsync, type IConnackPacket, type MqttClient } from 'mqtt';
import { loadConfig } from '../../src/config/load.js';
import type { MqttBrokerConfig } from '../../src/config/types.js';
import { MqttIngest } from '../../src/ingest/mqtt/mqtt-ingest.js';
import { MqttMappings } from '../../src/ingest/mqtt/mqtt-mappings.js';
import type { Received } from '../../src/ingest/received.js';
import type { MqttSession } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { capturedLogs } from '../helpers/captured-logs.js';
import { testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { findMosquittoBinary, startMosquitto, type SpawnedMosquitto } from '../helpers/mqtt-broker.js';
import { peerGate } from '../helpers/real-peers.js';
import { acknowledger } from '../helpers/store.js';

const binary = findMosquittoBinary();
const gate = peerGate(binary === undefined ? 'no mosquitto binary on PATH or in /usr/sbin: these tests start a broker of their own' : false);
const example = loadConfig(join(REPO_ROOT, 'config/examples/mqtt.yaml'), {});
const GROUP = 'annunciator';

/**
 * MqttIngest.drain against a real Mosquitto of its own: the session a member of a shared
 * group left at the broker (with the events queued for it) is emptied through the ingest's
 * commit and ended; the drain yields, leaving the session, when its holder is back (by the
 * store's word, or by taking the session over at the broker).
 */
describe('draining the MQTT session of a gateway that is gone (a real Mosquitto)', { skip: gate.skip }, () => {
  let broker: SpawnedMosquitto;
  const dir = testDir();
  let store: SqliteStore;
  let ingest: MqttIngest;
  const stored: string[] = [];
  const clients: MqttClient[] = [];

  before(async () => {
    gate.assertPresent();
    broker = await startMosquitto({});
    store = SqliteStore.open(dir.path);
    const config: MqttBrokerConfig = { ...example.mqtt[0]!, url: broker.url, clientId: 'gw-survivor', protocolVersion: 5, subscribe: { kind: 'shared', group: GROUP } };
    const commit = async (received: Received): Promise<void> => {
      await store.accept(received);
      stored.push(received.raw.toString('utf8'));
    };
    ingest = new MqttIngest({ broker: config, mappings: new MqttMappings([config]), store, logger: capturedLogs('info', []).logger, commit, acknowledge: acknowledger(store) });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await ingest?.stop();
    await store?.close();
    await broker?.stop();
    dir.remove();
  });

  const filter = `$share/${GROUP}/plant/+/+/+/alarm`;
  /** A member that subscribed and went (its session kept an hour), with `n` events queued for it. */
  const goneMember = async (n: number): Promise<MqttSession> => {
    const clientId = `gw-gone-${randomBytes(4).toString('hex')}`;
    const member = await connectAsync(broker.url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    await member.subscribeAsync(filter, { qos: 1 });
    await member.endAsync();
    const pub = await connectAsync(broker.url, { clientId: `pub-${clientId}`, protocolVersion: 5 });
    for (let i = 0; i < n; i += 1) await pub.publishAsync(`plant/north/line2/${clientId}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', n: i }), { qos: 1 });
    await pub.endAsync();
    return { url: broker.url, clientId, filters: [filter], startedAt: 0 };
  };
  /** Connects as the member, resuming its session if the broker holds one: whether it did. */
  const resume = async (clientId: string): Promise<{ client: MqttClient; sessionPresent: boolean }> => {
    const client = connect(broker.url, { clientId, clean: false, protocolVersion: 5, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } });
    clients.push(client);
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return { client, sessionPresent: connack.sessionPresent };
  };
  const held = async (clientId: string): Promise<boolean> => (await resume(clientId)).sessionPresent;

  it('commits every event the session held, then ends it: the broker keeps nothing for it', async () => {
    const session = await goneMember(20);
    const before = stored.length;
    const drained = await ingest.drain(session, async () => true);
    assert.deepEqual(drained, { committed: 20, duplicates: 0 });
    assert.equal(stored.length - before, 20);
    assert.equal(new Set(stored.slice(before)).size, 20);
    const received = (await store.inbox.pending(100)).filter((r) => r.mqtt?.clientId === session.clientId);
    assert.equal(received.length, 20, "recorded as received by the gone member's client id (its redeliveries are recognised)");
    assert.equal(await held(session.clientId), false, 'the session is ended');
  });

  it('yields when the store says the gateway is back: the session stays', async () => {
    const session = await goneMember(3);
    assert.equal(await ingest.drain(session, async () => false), undefined);
    assert.equal(await held(session.clientId), true);
  });

  it('yields when the gateway takes its session over at the broker, without reconnecting to fight for it', async () => {
    const session = await goneMember(3);
    let taker: { client: MqttClient; sessionPresent: boolean } | undefined;
    const drained = await ingest.drain(session, async () => {
      taker = await resume(session.clientId);
      return true;
    });
    assert.equal(drained, undefined);
    assert.equal(taker!.sessionPresent, true, 'the gateway back found its session');
    // The drain has ended (it never reconnects): the session is the gateway's.
    assert.equal(taker!.client.connected, true, 'not taken back by the drain');
  });
});

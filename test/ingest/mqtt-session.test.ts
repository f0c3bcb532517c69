import assert from 'node:assert/strict';
import { capturedLogs } from '../helpers/captured-logs.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { loadConfig } from '../../src/config/load.js';
import type { MqttBrokerConfig } from '../../src/config/types.js';
import { MqttIngest } from '../../src/ingest/mqtt/mqtt-ingest.js';
import { MqttMappings } from '../../src/ingest/mqtt/mqtt-mappings.js';
import type { Received } from '../../src/ingest/received.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { eventually, testDir, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { findMosquittoBinary, startMosquitto, type MosquittoSettings, type SpawnedMosquitto } from '../helpers/mqtt-broker.js';
import { peerGate } from '../helpers/real-peers.js';
import { acknowledger } from '../helpers/store.js';

/**
 * The MQTT session as the ingest keeps it, against a real Mosquitto of each test's own that
 * it restarts: what is PUBACKed after a connection changed, whether a lost session is noticed
 * (at a reconnect and at start), what a kept session is subscribed to, and a downgraded QoS.
 * Commits are held or failed by the test to put a message where it wants it.
 */

const binary = findMosquittoBinary();
const gate = peerGate(binary === undefined ? 'no mosquitto binary on PATH or in /usr/sbin: these tests start and restart their own broker' : false);
const example = loadConfig(join(REPO_ROOT, 'config/examples/mqtt.yaml'), {});

interface LogLine {
  level: number;
  msg: string;
}

/** A commit the test decides: each call waits until the test resolves or rejects it. */
interface HeldCommit {
  payload: string;
  resolve(): void;
  reject(error: Error): void;
}

interface Harness {
  dir: TestDir;
  store: SqliteStore;
  logs: LogLine[];
  commits: HeldCommit[];
  /** Payloads committed to the store, in order. */
  stored: string[];
  /** Commits of these payloads go through at once. */
  autoCommit: (payload: string) => boolean;
  start(subscriptions?: MqttBrokerConfig['subscriptions']): Promise<MqttIngest>;
  close(): Promise<void>;
}

function harness(broker: SpawnedMosquitto, clientId = `gw-${randomBytes(4).toString('hex')}`): Harness {
  const dir = testDir();
  const store = SqliteStore.open(dir.path);
  const logs: LogLine[] = [];
  const commits: HeldCommit[] = [];
  const stored: string[] = [];
  const ingests: MqttIngest[] = [];
  const { logger } = capturedLogs('info', logs);
  const h: Harness = {
    dir,
    store,
    logs,
    commits,
    stored,
    autoCommit: () => true,
    async start(subscriptions = example.mqtt[0]!.subscriptions) {
      const config: MqttBrokerConfig = { ...example.mqtt[0]!, url: broker.url, clientId, reconnect: { initialDelay: 50, maxDelay: 200 }, subscriptions };
      const commit = async (received: Received): Promise<void> => {
        const payload = received.raw.toString('utf8');
        if (!h.autoCommit(payload)) await new Promise<void>((resolve, reject) => commits.push({ payload, resolve, reject }));
        await store.accept(received);
        stored.push(payload);
      };
      const ingest = new MqttIngest({ broker: config, mappings: new MqttMappings([config]), store, logger, commit, acknowledge: acknowledger(store) });
      ingests.push(ingest);
      ingest.start();
      await eventually(() => ingest.ready, 10_000, 'ingest connected and subscribed');
      return ingest;
    },
    async close() {
      await Promise.all(ingests.map((i) => i.stop()));
      await store.close();
      dir.remove();
    },
  };
  return h;
}

const event = (device: string, n: number) => ({ topic: `plant/north/line2/${device}/alarm`, payload: JSON.stringify({ alarm: 'LevelHigh', state: 'active', n }) });

async function publisher(broker: SpawnedMosquitto): Promise<MqttClient> {
  return connectAsync(broker.url, { clientId: `pub-${randomBytes(4).toString('hex')}`, clean: false, reconnectPeriod: 50 });
}

const errors = (logs: LogLine[], pattern: RegExp) => logs.filter((l) => l.level >= 50 && pattern.test(l.msg));

describe('the MQTT session across broker restarts (a real Mosquitto per test)', { skip: gate.skip }, () => {
  before(() => gate.assertPresent());

  const brokers: SpawnedMosquitto[] = [];
  const harnesses: Harness[] = [];
  after(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
    await Promise.all(brokers.map((b) => b.stop()));
  });
  async function setUp(settings: MosquittoSettings = {}): Promise<{ broker: SpawnedMosquitto; h: Harness }> {
    const broker = await startMosquitto(settings);
    brokers.push(broker);
    const h = harness(broker);
    harnesses.push(h);
    return { broker, h };
  }

  it('a message committed after its connection closed is not PUBACKed on the next: there the packet id names another message, which the broker would drop', { timeout: 60_000 }, async () => {
    // Without persistence the restart loses the session: the new one numbers its messages from 1 again.
    const { broker, h } = await setUp({ persistence: 'false', log_type: 'all' });
    const first = event('t1', 1);
    const second = event('t2', 2);
    h.autoCommit = () => false;
    const ingest = await h.start();
    const pub = await publisher(broker);
    try {
      await pub.publishAsync(first.topic, first.payload, { qos: 1 });
      const held = await eventually(() => h.commits.find((c) => c.payload === first.payload), 10_000, 'the first message in its commit');
      await broker.restart('SIGTERM');
      await eventually(() => ingest.ready && ingest.stats.sessionsLost === 1, 10_000, 'reconnected to a new session and subscribed');
      await pub.publishAsync(second.topic, second.payload, { qos: 1 });
      // The broker hands the second message on with the packet id the first one had.
      await eventually(() => new RegExp(`Sending PUBLISH to ${ingest.connection.broker.clientId} \\(d0, q1, r0, m1, '${second.topic}'`).test(broker.log()), 10_000, 'the second message sent as m1');
      held.resolve();
      // The first message committed: a PUBACK for it, if any, goes out now, before the second's commit fails.
      await eventually(() => h.stored.includes(first.payload), 10_000, 'the first message committed');
      // Its first commit fails: unacknowledged, the connection is dropped and the broker must send it again.
      const failing = await eventually(() => h.commits.find((c) => c.payload === second.payload), 10_000, 'the second message in its commit');
      h.autoCommit = () => true;
      failing.reject(new Error('disk full, for the test'));
      await eventually(() => h.stored.includes(second.payload), 10_000, 'the second message redelivered and committed (a PUBACK sent for the first one on the new connection acknowledged it unseen)');
      assert.deepEqual(h.stored, [first.payload, second.payload]);
    } finally {
      await pub.endAsync(true);
    }
  });

  it('a resumed session sends again a message still being committed; its copy waits for that commit and is not stored twice', { timeout: 60_000 }, async () => {
    const { broker, h } = await setUp({ log_type: 'all' });
    const only = event('t3', 3);
    h.autoCommit = () => false;
    const ingest = await h.start();
    const pub = await publisher(broker);
    try {
      await pub.publishAsync(only.topic, only.payload, { qos: 1 });
      const held = await eventually(() => h.commits[0], 10_000, 'the message in its commit');
      await broker.restart('SIGTERM');
      await eventually(() => ingest.ready, 10_000, 'reconnected');
      // The broker kept the session and sends the message again (DUP) at once after the CONNACK.
      await eventually(() => new RegExp(`Sending PUBLISH to ${ingest.connection.broker.clientId} \\(d1, q1`).test(broker.log()), 10_000, 'the redelivery sent');
      h.autoCommit = () => true;
      held.resolve();
      await eventually(() => ingest.stats.duplicates === 1, 10_000, 'the redelivery recognised');
      assert.deepEqual(h.stored, [only.payload]);
      assert.equal(h.commits.length, 1, 'the copy was never committed');
      assert.equal(ingest.stats.sessionsLost, 0);
    } finally {
      await pub.endAsync(true);
    }
  });

  it('a redelivery is looked for only within the session: an earlier session\'s message with the same packet id, topic and payload is another event', { timeout: 60_000 }, async () => {
    const { broker, h } = await setUp({ persistence: 'false', log_type: 'all' });
    const same = event('t4', 4);
    const ingest = await h.start();
    const pub = await publisher(broker);
    try {
      await pub.publishAsync(same.topic, same.payload, { qos: 1 });
      await eventually(() => h.stored.length === 1, 10_000, 'the first event committed (packet id 1)');
      await broker.restart('SIGTERM');
      await eventually(() => ingest.ready && ingest.stats.sessionsLost === 1, 10_000, 'a new session, numbering from 1 again');
      // The device sends the same reading again: packet id 1 of the new session. Its first commit fails, so the broker sends it again, DUP.
      h.autoCommit = () => false;
      await pub.publishAsync(same.topic, same.payload, { qos: 1 });
      const failing = await eventually(() => h.commits[0], 10_000, 'the second event in its commit');
      h.autoCommit = () => true;
      failing.reject(new Error('disk full, for the test'));
      await eventually(() => new RegExp(`Sending PUBLISH to ${ingest.connection.broker.clientId} \\(d1, q1, r0, m1,`).test(broker.log()), 10_000, 'the redelivery sent');
      await eventually(() => h.stored.length === 2, 10_000, 'the second event committed, not taken for a copy of the first');
      assert.equal(ingest.stats.duplicates, 0);
    } finally {
      await pub.endAsync(true);
    }
  });

  it('a session the gateway set up and the broker no longer has is reported at start; a kept one is not', { timeout: 60_000 }, async () => {
    for (const [persistence, lost] of [
      ['true', 0],
      ['false', 1],
    ] as const) {
      const { broker, h } = await setUp({ persistence });
      const first = await h.start();
      assert.equal(first.stats.sessionsLost, 0, 'a first start is no loss');
      await first.stop();
      await broker.restart('SIGTERM');
      const second = await h.start();
      assert.equal(second.stats.sessionsLost, lost, `persistence ${persistence}`);
      assert.equal(errors(h.logs, /lost our persistent session/).length, lost);
    }
  });

  it('a kept session is subscribed to filters added to the configuration, and unsubscribed from removed ones', { timeout: 60_000 }, async () => {
    const { broker, h } = await setUp();
    const [alarms, level] = example.mqtt[0]!.subscriptions;
    const first = await h.start([alarms!]);
    await first.stop();
    const second = await h.start([level!]);
    assert.ok(h.logs.some((l) => l.msg === 'the broker kept our session'));
    const pub = await publisher(broker);
    try {
      await pub.publishAsync('plant/north/line2/tank3/alarm', JSON.stringify({ alarm: 'LevelHigh', state: 'active' }), { qos: 1 });
      await pub.publishAsync('plant/north/line2/tank3/level', '4.9', { qos: 1 });
      await eventually(() => h.stored.includes('4.9'), 10_000, 'the newly configured topic received');
      // Published before the level reading, the alarm topic would have arrived first had it still been subscribed.
      assert.deepEqual(h.stored, ['4.9']);
      assert.equal(second.stats.rejected['unknown-topic'] ?? 0, 0);
    } finally {
      await pub.endAsync(true);
    }
  });

  it('a subscription the broker grants with QoS 0 only is reported: nothing is kept for the gateway while it is away', { timeout: 60_000 }, async () => {
    const { h } = await setUp({ max_qos: '0' });
    await h.start();
    assert.ok(errors(h.logs, /granted QoS 0 instead of 1/).length > 0);
  });
});

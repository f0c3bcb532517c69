import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { CORPUS_DIR } from '../helpers/corpus.js';
import { configFrom, eventually, runGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { mqttExampleHarness, type MqttHarness } from '../helpers/mqtt-example.js';

type Harness = MqttHarness;
const harness = (broker: TestBroker, upstreamPort: number, overrides: Record<string, unknown> = {}): Harness => mqttExampleHarness(broker.url, upstreamPort, overrides);

async function startGatewayFor(h: Harness): Promise<RunningGateway> {
  const gateway = await runGateway(configFrom(h.dir, h.raw));
  await eventually(() => gateway.mqtt[0]?.ready, 10_000, 'gateway connected and subscribed');
  return gateway;
}

function sample(name: string, root: string): { topic: string; payload: string } {
  const { topic, payload } = JSON.parse(readFileSync(join(CORPUS_DIR, 'mqtt', `${name}.json`), 'utf8')) as { topic: string; payload: unknown };
  return { topic: `${root}/${topic}`, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) };
}

async function publisher(broker: TestBroker, clientId = `pub-${randomBytes(4).toString('hex')}`): Promise<MqttClient> {
  return connectAsync(broker.url, { clientId, clean: false, reconnectPeriod: 200 });
}

async function settled(gateway: RunningGateway): Promise<void> {
  await eventually(async () => (await gateway.store.inbox.pending(1)).length === 0 && (await gateway.store.outbox.list(['pending', 'sending'])).length === 0, 15_000, 'pipeline settled');
}

const kinds = (messages: Upstream['messages']) => messages.map((m) => `${m.parsed.headers.get('x-annunciator-kind')}: ${m.parsed.subject}`);

// The broker is chosen when the suite starts (test/helpers/mqtt-broker.ts), after the titles
// are fixed, so each test names the broker it ran against in a diagnostic line ("broker: ...").
describe('MQTT alarms against a real broker (named in each test\'s "broker:" line)', () => {
  let broker: TestBroker;
  let upstream: Upstream;

  before(async () => {
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
  });
  beforeEach((t) => {
    if ('diagnostic' in t) t.diagnostic(`broker: ${broker?.choice ?? 'none started'}`);
  });
  after(async () => {
    await upstream?.close();
    await broker?.stop();
  });

  it('each corpus sample becomes an alarm and a notification, and its clear a resolved one', async () => {
    const h = harness(broker, upstream.port);
    const gateway = await startGatewayFor(h);
    const pub = await publisher(broker);
    const before = upstream.messages.length;
    try {
      for (const name of ['tank-level-json', 'tank-level-cleared', 'nested-json-epoch', 'numeric-telemetry', 'plain-text-on', 'plain-text-off']) {
        const { topic, payload } = sample(name, h.root);
        await pub.publishAsync(topic, payload, { qos: 1 });
      }
      await eventually(() => upstream.messages.length - before >= 6, 15_000, 'six notifications');
      await settled(gateway);
      const got = kinds(upstream.messages.slice(before));
      assert.equal(got.length, 6, got.join('\n'));
      for (const expected of [/^firing: .*tank3: LevelHigh/, /^resolved: .*tank3: LevelHigh/, /^firing: .*Light curtain interrupted during stroke/, /^firing: .*level above 4\.5 m/, /^firing: .*Compressor C2: oil_pressure_low/, /^resolved: .*Compressor C2: oil_pressure_low/]) {
        assert.ok(got.some((g) => expected.test(g)), `${expected} not in\n${got.join('\n')}`);
      }
      assert.ok(upstream.messages.slice(before).every((m) => m.rcptTo.includes('oncall@example.com')), 'the default route for MQTT');
    } finally {
      await pub.endAsync();
      await gateway.stop();
      h.dir.remove();
    }
  });

  it('events published while the gateway is stopped are delivered when it starts', async () => {
    const h = harness(broker, upstream.port);
    // The first run leaves the gateway's persistent session (its subscriptions) on the broker:
    // startGatewayFor returns once the gateway is subscribed.
    const first = await startGatewayFor(h);
    await first.stop();
    const pub = await publisher(broker);
    const before = upstream.messages.length;
    try {
      for (const device of ['tank7', 'tank8', 'tank9']) {
        await pub.publishAsync(`${h.root}/plant/north/line2/${device}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: 5 }), { qos: 1 });
      }
      const second = await startGatewayFor(h);
      try {
        await eventually(() => upstream.messages.length - before >= 3, 15_000, 'three notifications after start');
        await settled(second);
        const got = kinds(upstream.messages.slice(before));
        assert.deepEqual(got.map((g) => /tank\d/.exec(g)?.[0]).sort(), ['tank7', 'tank8', 'tank9']);
      } finally {
        await second.stop();
      }
    } finally {
      await pub.endAsync();
      h.dir.remove();
    }
  });

  it('malformed payloads are counted and refused without disturbing good ones', async () => {
    const h = harness(broker, upstream.port, { maxPayloadSize: 1024 });
    const gateway = await startGatewayFor(h);
    const pub = await publisher(broker);
    const before = upstream.messages.length;
    const topic = (device: string) => `${h.root}/plant/north/line2/${device}/alarm`;
    try {
      const good = (n: number) => pub.publishAsync(topic(`good${n}`), JSON.stringify({ alarm: 'LevelHigh', state: 'active' }), { qos: 1 });
      await good(1);
      await pub.publishAsync(topic('bad1'), '{"alarm": "LevelHigh", ', { qos: 1 });
      await good(2);
      await pub.publishAsync(topic('bad2'), JSON.stringify({ alarm: 'LevelHigh', value: 'very high' }), { qos: 1 });
      await good(3);
      await pub.publishAsync(topic('big'), JSON.stringify({ alarm: 'LevelHigh', pad: 'x'.repeat(4096) }), { qos: 1 });
      await pub.publishAsync(`${h.root}/site7/compressor/C2/alarms/x`, 'PERHAPS', { qos: 1 });
      await good(4);
      await eventually(() => upstream.messages.length - before >= 4, 15_000, 'four good notifications');
      await settled(gateway);
      const got = kinds(upstream.messages.slice(before));
      assert.deepEqual(got.map((g) => /good\d/.exec(g)?.[0]).sort(), ['good1', 'good2', 'good3', 'good4']);
      const stats = gateway.mqtt[0]!.stats;
      assert.equal(stats.rejected['bad-payload'], 3);
      assert.equal(stats.rejected.oversize, 1);
      assert.equal((await gateway.store.inbox.pending(10)).length, 0);
    } finally {
      await pub.endAsync();
      await gateway.stop();
      h.dir.remove();
    }
  });

  it('publishes alarm state retained, and removes it once resolved and acknowledged over MQTT', async () => {
    const h = harness(broker, upstream.port);
    const gateway = await startGatewayFor(h);
    const pub = await publisher(broker);
    const watcher = await connectAsync(broker.url, { clientId: `watch-${h.root}`, clean: true });
    const states = new Map<string, string>();
    watcher.on('message', (topic, payload) => states.set(topic, payload.toString()));
    try {
      const { topic, payload } = sample('tank-level-json', h.root);
      await pub.publishAsync(topic, payload, { qos: 1 });
      const alarm = await eventually(async () => (await gateway.store.alarms.list(['active']))[0], 10_000, 'an active alarm');
      const stateTopic = `${h.root}/annunciator/alarms/${alarm.id}`;
      await watcher.subscribeAsync(`${h.root}/annunciator/#`, { qos: 1 });
      const active = await eventually(() => states.get(stateTopic), 10_000, 'retained state');
      assert.equal((JSON.parse(active) as { state: string }).state, 'active');
      assert.equal((JSON.parse(active) as { device: { id: string } }).device.id, 'tank3');

      const cleared = sample('tank-level-cleared', h.root);
      await pub.publishAsync(cleared.topic, cleared.payload, { qos: 1 });
      await eventually(() => (states.get(stateTopic)?.includes('"state":"resolved"') ? true : undefined), 10_000, 'resolved state');
      assert.match(states.get(stateTopic) ?? '', /"acknowledged":false/, 'resolved but not acknowledged stays visible');

      await pub.publishAsync(`${h.root}/annunciator/ack`, JSON.stringify({ alarm: alarm.id, by: 'anna' }), { qos: 1 });
      await eventually(() => (states.get(stateTopic) === '' ? true : undefined), 10_000, 'retained state removed');
      assert.equal((await gateway.store.alarms.get(alarm.id))?.ack?.by, 'anna');
      assert.equal((await gateway.store.alarms.get(alarm.id))?.ack?.channel, 'mqtt');
      assert.ok((await gateway.store.alarms.history(alarm.id)).some((l) => l.outcome === 'acknowledged' && /anna via mqtt/.test(l.reason)));
      // The resolved notification's delivery event: delivery runs on its own thread, so it may come after the ack.
      await eventually(() => ([...states.keys()].some((t) => t === `${h.root}/annunciator/notifications`) ? true : undefined), 10_000, 'a notification event was published');

      // A new subscriber sees no retained state for it any more.
      const late = await connectAsync(broker.url, { clientId: `late-${h.root}`, clean: true });
      const retained: string[] = [];
      late.on('message', (t) => retained.push(t));
      await late.subscribeAsync(stateTopic, { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(retained, []);
      await late.endAsync();
    } finally {
      await watcher.endAsync();
      await pub.endAsync();
      await gateway.stop();
      h.dir.remove();
    }
  });
});

describe('a broker restart mid-stream loses nothing (broker named in each test\'s "broker:" line)', () => {
  let broker: TestBroker;
  let upstream: Upstream;

  before(async () => {
    broker = await startTestBroker({ restartable: true });
    upstream = await startUpstream({ security: 'none' });
  });
  beforeEach((t) => {
    if ('diagnostic' in t) t.diagnostic(`broker: ${broker?.choice ?? 'none started'}`);
  });
  after(async () => {
    await upstream?.close();
    await broker?.stop();
  });

  it(`every alarm of a stream published across a restart is notified exactly once`, async () => {
    const h = harness(broker, upstream.port);
    const gateway = await startGatewayFor(h);
    const pub = await publisher(broker);
    const before = upstream.messages.length;
    try {
      const publish = (n: number) => pub.publishAsync(`${h.root}/plant/north/line2/unit${n}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active' }), { qos: 1 });
      for (let n = 0; n < 15; n += 1) await publish(n);
      await broker.restart();
      // The publisher's QoS 1 messages wait in its own queue until it is back.
      await Promise.all(Array.from({ length: 15 }, (_, i) => publish(15 + i)));
      await eventually(() => upstream.messages.length - before >= 30, 30_000, 'thirty notifications');
      await settled(gateway);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const units = kinds(upstream.messages.slice(before)).map((g) => /unit\d+/.exec(g)?.[0]);
      assert.equal(units.length, 30, 'no duplicates');
      assert.deepEqual(new Set(units).size, 30);
    } finally {
      await pub.endAsync();
      await gateway.stop();
      h.dir.remove();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { configFrom, eventually, runGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { mqttExampleHarness } from '../helpers/mqtt-example.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const gate = await postgresGate();
const EVENTS = Number(process.env.ANNUNCIATOR_SHARED_EVENTS ?? 500);
const DEVICES = 20;

/**
 * Two gateways on one PostgreSQL database and one broker: subscribed as an MQTT 5 shared
 * subscription group (the default on a PostgreSQL store), the broker gives each event to
 * one of them, so each event is one occurrence, not one per gateway; on MQTT 3.1.1 only the
 * leader holds the session, and the next leader takes it over with what it queued.
 */
describe('two gateways on one database and one broker (real broker, real PostgreSQL)', { skip: gate.skip }, () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let upstream: Upstream;
  const gateways: RunningGateway[] = [];
  const dirs: Array<{ remove(): void }> = [];

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
  });
  after(async () => {
    for (const gateway of gateways) await gateway.stop();
    await upstream?.close();
    await broker?.stop();
    await db?.drop();
    for (const dir of dirs) dir.remove();
  });

  it(`${EVENTS} QoS 1 events: each is committed by one gateway, each is one occurrence, each gateway took a share`, async (t) => {
    t.diagnostic(`broker: ${broker.choice}`);
    const first = mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
    const root = first.root;
    for (const n of [1, 2]) {
      const h = n === 1 ? first : mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
      dirs.push(h.dir);
      const [mqtt] = h.raw.mqtt as Array<Record<string, unknown> & { subscriptions: Array<{ topic: string }> }>;
      // One topic root for both: the second harness's random root replaced by the first's.
      const raw = {
        ...h.raw,
        store: db.storeSection(),
        mqtt: [{ ...mqtt, clientId: `${first.clientId}-gw${n}`, subscriptions: mqtt!.subscriptions.map((s) => ({ ...s, topic: s.topic.replace(h.root, root) })), publish: { enabled: false } }],
      };
      const config = configFrom(h.dir, raw);
      assert.deepEqual(config.mqtt[0]!.subscribe, { kind: 'shared', group: 'annunciator' }, 'the default on a PostgreSQL store with MQTT 5');
      const gateway = await runGateway(config);
      gateways.push(gateway);
      await eventually(() => gateway.mqtt[0]?.ready, 10_000, `gateway ${n} subscribed`);
    }

    const pub = await connectAsync(broker.url, { clientId: `${root}-pub`, clean: true, protocolVersion: 5 });
    const before = upstream.messages.length;
    try {
      await Promise.all(
        Array.from({ length: EVENTS }, (_, i) =>
          pub.publishAsync(`${root}/plant/north/line2/dev${i % DEVICES}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: i }), { qos: 1 }),
        ),
      );
    } finally {
      await pub.endAsync();
    }
    await eventually(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM received WHERE state = 'new'`))[0]?.n === 0 && gateways.every((g) => g.mqtt[0]!.stats.committed + g.mqtt[0]!.stats.duplicates > 0) && (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM received`))[0]!.n >= EVENTS, 30_000, 'every event committed and processed');
    await eventually(async () => (await gateways[0]!.store.outbox.list(['pending', 'sending'])).length === 0, 20_000, 'outbox drained');

    const rows = await db.query<{ value: string; client: string }>(`SELECT convert_from(raw, 'UTF8')::json->>'value' AS value, mqtt->>'clientId' AS client FROM received`);
    const values = rows.map((r) => Number(r.value));
    assert.equal(values.length, EVENTS, 'one committed message per event, not one per gateway');
    assert.equal(new Set(values).size, EVENTS, 'no event twice');
    const perGateway = [1, 2].map((n) => rows.filter((r) => r.client === `${first.clientId}-gw${n}`).length);
    t.diagnostic(`events per gateway: ${perGateway.join(' / ')}`);
    assert.ok(perGateway.every((n) => n > 0), `both gateways took a share: ${perGateway.join(' / ')}`);

    const [occurrences] = await db.query<{ alarms: number; total: number }>(`SELECT count(*)::int AS alarms, sum((data->>'count')::int)::int AS total FROM alarms`);
    assert.deepEqual(occurrences, { alarms: DEVICES, total: EVENTS }, 'each event one occurrence of its device alarm');
    const notified = upstream.messages.slice(before).map((m) => /dev\d+/.exec(m.parsed.subject ?? '')?.[0]);
    assert.equal(notified.length, DEVICES, 'one notification per alarm');
    assert.equal(new Set(notified).size, DEVICES);
  });
  it('MQTT 3.1.1: only the leader holds the session; when it stops, the next leader takes the session over with the events queued meanwhile', async (t) => {
    t.diagnostic(`broker: ${broker.choice}`);
    // The lead is one per database: the first test's gateways leave.
    for (const g of gateways.splice(0)) await g.stop();
    const h = mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 4 });
    dirs.push(h.dir);
    const pair: RunningGateway[] = [];
    for (const name of ['gw-a', 'gw-b']) {
      const [mqtt] = h.raw.mqtt as Array<Record<string, unknown>>;
      const config = configFrom(h.dir, { ...h.raw, gateway: { ...(h.raw.gateway as object), name }, store: db.storeSection(), mqtt: [{ ...mqtt, publish: { enabled: false } }] });
      assert.deepEqual(config.mqtt[0]!.subscribe, { kind: 'leader' });
      const gateway = await runGateway(config, undefined, { leadershipInterval: 100 });
      gateways.push(gateway);
      pair.push(gateway);
    }
    const [a, b] = pair as [RunningGateway, RunningGateway];
    const leader = await eventually(() => (a.leading ? a : b.leading ? b : undefined), 10_000, 'a leader');
    const other = leader === a ? b : a;
    await eventually(() => leader.mqtt[0]!.ready, 10_000, 'the leader subscribed');
    assert.equal(other.mqtt[0]!.connection.running, false, 'the other gateway stays off the broker');

    const pub = await connectAsync(broker.url, { clientId: `${h.root}-pub`, clean: true });
    const publish = (from: number, to: number) =>
      Promise.all(Array.from({ length: to - from }, (_, i) => pub.publishAsync(`${h.root}/plant/north/line2/lm${from + i}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: from + i }), { qos: 1 })));
    const committed = async () => (await db.query<{ value: string }>(`SELECT convert_from(raw, 'UTF8')::json->>'value' AS value FROM received WHERE mqtt->>'topic' LIKE $1`, [`${h.root}/%`])).map((r) => Number(r.value));
    try {
      await publish(0, 50);
      await eventually(async () => (await committed()).length >= 50, 15_000, 'the first 50 committed by the leader');
      await leader.stop();
      gateways.splice(gateways.indexOf(leader), 1);
      // Queued at the broker for the session while no gateway holds it.
      await publish(50, 100);
      await eventually(() => other.leading && other.mqtt[0]!.ready, 15_000, 'the other gateway leads and holds the session');
      await eventually(async () => (await committed()).length >= 100, 15_000, 'the queued events committed by the new leader');
    } finally {
      await pub.endAsync();
    }
    const values = await committed();
    assert.equal(values.length, 100, 'each event once');
    assert.equal(new Set(values).size, 100);
    assert.ok(other.mqtt[0]!.stats.committed >= 50, `the new leader committed the queued events (${other.mqtt[0]!.stats.committed})`);
  });
});

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
 * Two gateways on one PostgreSQL database, subscribed to one broker as an MQTT 5 shared
 * subscription group (the default on a PostgreSQL store): the broker gives each event to
 * one of them, so each event is one occurrence, not one per gateway.
 */
describe('two gateways in one MQTT shared subscription group (real broker, real PostgreSQL)', { skip: gate.skip }, () => {
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
    const { user, database, port } = db.connection();
    const first = mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
    const root = first.root;
    for (const n of [1, 2]) {
      const h = n === 1 ? first : mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
      dirs.push(h.dir);
      const [mqtt] = h.raw.mqtt as Array<Record<string, unknown> & { subscriptions: Array<{ topic: string }> }>;
      // One topic root for both: the second harness's random root replaced by the first's.
      const raw = {
        ...h.raw,
        store: { url: `postgres://${user}@127.0.0.1:${port}/${database}`, security: 'none' },
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
});

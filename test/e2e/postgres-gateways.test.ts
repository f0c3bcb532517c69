import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { GatewayConfig } from '../../src/config/types.js';
import { timerAt } from '../../src/lifecycle/timer.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { receivedMessage } from '../store/contract.js';
import { connectAsync } from 'mqtt';
import { loadCorpus } from '../helpers/corpus.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { mqttExampleHarness } from '../helpers/mqtt-example.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { baseConfig, configFrom, eventually, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { shippedConfig } from '../helpers/shipped-config.js';

const gate = await postgresGate();

/**
 * Several whole gateways (createApp, as `annunciator start` builds it) on one PostgreSQL
 * database, in this process: every one takes mail and works its inbox and outbox; one leads
 * the timers, the reply watchers and the retained MQTT state.
 */
describe('several gateways on one PostgreSQL', { skip: gate.skip }, () => {
  let db: TestDatabase;
  const dirs: TestDir[] = [];
  const running: RunningGateway[] = [];

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const g of running.splice(0)) await g.stop();
    for (const d of dirs.splice(0)) d.remove();
    await db.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  });
  after(() => db?.drop());

  /** A gateway named `name` on the test database, beating for the lead every 100 ms. */
  const start = async (name: string, delivery: Record<string, unknown> = {}): Promise<RunningGateway> => {
    const dir = testDir();
    dirs.push(dir);
    const config = namedGatewayConfig(dir, db, name, delivery);
    const gateway = await runGateway(config, undefined, { leadershipInterval: 100 });
    running.push(gateway);
    return gateway;
  };

  /** The gateway whose timer runner fires a timer armed now (by either). */
  const firedBy = async (gateways: RunningGateway[]): Promise<RunningGateway[]> => {
    const fired: RunningGateway[] = [];
    const offs = gateways.map((g) => g.events.on('timer-fired', ({ kind }) => kind === 'prune' && fired.push(g)));
    await gateways.at(-1)!.store.timers.arm(timerAt('prune', 'store', null, Date.now()));
    await eventually(() => fired.length > 0, 10_000, 'the prune timer to fire');
    offs.forEach((off) => off());
    return fired;
  };

  it('one gateway of two leads and fires the timers; stopped, the other takes over and fires them', async () => {
    const a = await start('gw-a');
    await eventually(() => a.leading, 10_000, 'gw-a to lead');
    const b = await start('gw-b');
    assert.equal(b.leading, false);
    assert.deepEqual(await firedBy([a, b]), [a]);
    await a.stop();
    running.splice(running.indexOf(a), 1);
    await eventually(() => b.leading, 10_000, 'gw-b to lead');
    assert.deepEqual(await firedBy([b]), [b]);
  });
});

describe('wake-ups between gateways on one PostgreSQL', { skip: gate.skip }, () => {
  let db: TestDatabase;
  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it("another gateway's message, notification and timer are taken at once (LISTEN/NOTIFY), not at the next poll a minute later", async () => {
    const dir = testDir();
    const gateway = await runGateway(namedGatewayConfig(dir, db, 'gw-a', { pollInterval: '60s' }), undefined, { leadershipInterval: 100 });
    // The other gateway: its store alone, writing as its pipeline would.
    const other = new PostgresStore({ connection: db.connection(), gateway: 'gw-b' });
    try {
      await eventually(() => gateway.leading, 10_000, 'gw-a to lead (and listen)');
      const processed = gateway.events.once('queued');
      await other.accept(receivedMessage('from-b', { receivedAt: Date.now(), peer: { address: '127.0.0.1', port: 40000, secure: false } }));
      await withinSeconds(processed, 5, "the other gateway's message to be processed");

      const fired = gateway.events.once('timer-fired', ({ kind }) => kind === 'prune');
      await other.timers.arm(timerAt('prune', 'store', null, Date.now()));
      await withinSeconds(fired, 5, "the timer the other gateway armed to fire");

      const delivered = gateway.events.once('delivered', ({ entry }) => entry.id === 'out-b');
      await other.transaction((tx) => tx.outbox.insert({ id: 'out-b', receivedId: null, envelopeFrom: 'gw@gw.test', recipients: ['ops@example.com'], message: Buffer.from('Subject: x\r\n\r\nx\r\n') }, Date.now()));
      await withinSeconds(delivered, 5, "the other gateway's notification to be delivered");
    } finally {
      await other.close();
      await gateway.stop();
      dir.remove();
    }
  });
});

/** The test configuration (relay mode, files out) for a gateway named `name` on the test database. */
function namedGatewayConfig(dir: TestDir, db: TestDatabase, name: string, delivery: Record<string, unknown> = {}): GatewayConfig {
  const raw = baseConfig(dir, { delivery });
  return configFrom(dir, { ...raw, gateway: { ...(raw.gateway as object), name }, store: db.storeSection() });
}

async function withinSeconds<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), seconds * 1000)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the same alarm at two gateways at once', { skip: gate.skip }, () => {
  let db: TestDatabase;
  let upstream: Upstream;
  const dir = testDir();
  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
    upstream = await startUpstream({ security: 'none' });
    cpSync(join(REPO_ROOT, 'rules'), join(dir.path, 'rules'), { recursive: true });
  });
  after(async () => {
    await upstream?.close();
    await db?.drop();
    dir.remove();
  });

  it('100 copies, 50 to each gateway, concurrently: one alarm, counted 100 times, one notification', async () => {
    const shipped = shippedConfig();
    const gateways: RunningGateway[] = [];
    try {
      for (const name of ['gw-a', 'gw-b']) {
        const own = testDir('annunciator-test-', dir.path);
        gateways.push(
          await runGateway(
            configFrom(own, {
              ...shipped,
              gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(own.path, 'data'), name },
              store: db.storeSection(),
              log: { level: 'error', format: 'json' },
              listeners: loopbackListeners(),
              http: { listen: { address: '127.0.0.1', port: 0 } },
              alarms: { ...(shipped.alarms as object), rulesDir: join(dir.path, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false },
              delivery: relayDelivery(upstream.port),
            }),
            undefined,
            { leadershipInterval: 100 },
          ),
        );
      }
      const mail = loadCorpus().find((m) => m.file === 'ups-on-battery.eml')!;
      /** `count` copies to one gateway, `parallel` sessions at a time. */
      const sendTo = async (gateway: RunningGateway, count: number, parallel: number): Promise<void> => {
        let next = 0;
        await Promise.all(
          Array.from({ length: parallel }, async () => {
            while (next < count) {
              next += 1;
              const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
              assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
            }
          }),
        );
      };
      await Promise.all(gateways.map((g) => sendTo(g, 50, 10)));
      const [a] = gateways as [RunningGateway];
      await eventually(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM received WHERE state = 'new'`))[0]!.n === 0, 60_000, 'both inboxes drained');
      await eventually(async () => (await a.store.outbox.list(['pending', 'sending'])).length === 0, 60_000, 'the outbox drained');

      const alarms = await db.query<{ id: string; state: string; count: number }>(`SELECT id, state, (data->>'count')::int AS count FROM alarms`);
      assert.equal(alarms.length, 1, JSON.stringify(alarms));
      assert.deepEqual(alarms[0], { id: alarms[0]!.id, state: 'active', count: 100 });
      const [history] = await db.query<{ n: number; raised: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'raised')::int AS raised FROM alarm_log WHERE alarm_id = $1`, [alarms[0]!.id]);
      assert.deepEqual(history, { n: 100, raised: 1 });
      const processedBy = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM received WHERE state = 'processed'`);
      assert.equal(processedBy[0]!.n, 100);
      assert.equal(upstream.messages.length, 1, upstream.messages.map((m) => m.parsed.subject).join(' / '));
      const [outbox] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox`);
      assert.equal(outbox!.n, 1);
    } finally {
      for (const g of gateways) await g.stop();
    }
  });
});

describe('the retained MQTT state with two gateways on one PostgreSQL', { skip: gate.skip }, () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let upstream: Upstream;
  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
  });
  after(async () => {
    await upstream?.close();
    await broker?.stop();
    await db?.drop();
  });

  it('is published by the leader only, whichever gateway changed the alarm; the other publishes it all when it takes the lead', async () => {
    // One configuration but for the client id and the publish prefix, to tell who published what.
    // MQTT 5: both gateways connected, in the shared group (on MQTT 3.1.1 only the leader would connect).
    const h = mqttExampleHarness(broker.url, upstream.port);
    const config = (name: string) => {
      const [mqtt] = h.raw.mqtt as Array<Record<string, unknown>>;
      return configFrom(h.dir, { ...h.raw, gateway: { ...(h.raw.gateway as object), name }, store: db.storeSection(), mqtt: [{ ...mqtt, protocolVersion: 5, clientId: `${h.clientId}-${name}`, publish: { prefix: `${h.root}/${name}`, qos: 1 } }] });
    };
    const a = await runGateway(config('gw-a'), undefined, { leadershipInterval: 100 });
    let b: RunningGateway | undefined;
    const watcher = await connectAsync(broker.url, { clientId: `watch-${h.root}`, clean: true });
    const states = new Map<string, string>();
    watcher.on('message', (topic, payload) => states.set(topic, payload.toString()));
    try {
      await eventually(() => a.leading, 10_000, 'gw-a to lead');
      b = await runGateway(config('gw-b'), undefined, { leadershipInterval: 100 });
      await eventually(() => a.mqtt[0]?.ready && b?.mqtt[0]?.ready, 10_000, 'both connected');
      await watcher.subscribeAsync([`${h.root}/gw-a/alarms/#`, `${h.root}/gw-b/alarms/#`], { qos: 1 });

      // A mail to gw-b: either gateway may process it (the inbox is shared); gw-a publishes the state.
      const mail = loadCorpus().find((m) => m.file === 'ups-on-battery.eml')!;
      const sent = await sendAsDevice({ port: b.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
      assert.match(sent.dataReply ?? '', /^250 /);
      const alarm = await eventually(async () => (await b!.store.alarms.list(['active']))[0], 10_000, 'the alarm');
      const state = await eventually(() => states.get(`${h.root}/gw-a/alarms/${alarm.id}`), 10_000, "the leader's retained state");
      assert.equal((JSON.parse(state) as { state: string }).state, 'active');
      assert.deepEqual([...states.keys()].filter((t) => t.startsWith(`${h.root}/gw-b/`)), [], 'gw-b does not lead: it publishes no state');

      await a.stop();
      await eventually(() => b!.leading, 10_000, 'gw-b to lead');
      const republished = await eventually(() => states.get(`${h.root}/gw-b/alarms/${alarm.id}`), 10_000, "gw-b's state on taking the lead");
      assert.equal((JSON.parse(republished) as { id: string }).id, alarm.id);
    } finally {
      await watcher.endAsync();
      await b?.stop();
      await a.stop();
      h.dir.remove();
    }
  });
});

describe('a gateway on the SQLite file', () => {
  it('leads from its start: it is alone', async () => {
    const dir = testDir();
    const gateway = await runGateway(configFrom(dir, baseConfig(dir)));
    try {
      assert.equal(gateway.leading, true);
      assert.equal(gateway.store.peers, undefined);
    } finally {
      await gateway.stop();
      dir.remove();
    }
  });
});

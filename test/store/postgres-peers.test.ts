import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { timerAt } from '../../src/lifecycle/timer.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Wake } from '../../src/store/store.js';
import { alarmRecord } from '../helpers/alarm-factory.js';
import { eventually } from '../helpers/gateway.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { receivedMessage } from './contract.js';

const gate = await postgresGate();
const T0 = 1_764_000_000_000;

/**
 * What several gateways on one database need from the store besides its contract: the
 * inbox claimed so that two never take the same message, and wake-ups (LISTEN/NOTIFY) sent
 * with the commits that make work for the others.
 */
describe('PostgreSQL store shared by several gateways', { skip: gate.skip }, () => {
  let db: TestDatabase;
  const opened: PostgresStore[] = [];

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });
  after(() => db?.drop());

  const open = (schema: string, gateway: string): PostgresStore => {
    const store = new PostgresStore({ connection: db.connection(), schema, gateway });
    opened.push(store);
    return store;
  };

  /** A store that listens (its control connection open), and what it heard. */
  const listening = async (schema: string, gateway: string): Promise<{ store: PostgresStore; heard: Wake[] }> => {
    const store = open(schema, gateway);
    const heard: Wake[] = [];
    store.peers.onWake((wake) => heard.push(wake));
    await store.peers.beat();
    await eventually(() => heard.some((w) => w.kind === 'missed'), 5000, 'the first look after listening');
    heard.length = 0;
    return { store, heard };
  };

  it('a message one gateway is processing is skipped by the other, which takes the next ones without waiting', async () => {
    const schema = db.schema();
    const a = open(schema, 'gw-a');
    const b = open(schema, 'gw-b');
    for (let i = 1; i <= 4; i += 1) await a.inbox.insert(receivedMessage(`m${i}`, { receivedAt: T0 + i }));
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    let claimedByA: string[] = [];
    const aDone = a.transaction(async (tx) => {
      claimedByA = (await tx.inbox.pending(2)).map((r) => r.id);
      await holding;
      for (const id of claimedByA) await tx.inbox.complete(id, T0 + 100);
    });
    try {
      await eventually(() => claimedByA.length > 0, 5000, 'a to claim');
      assert.deepEqual(claimedByA, ['m1', 'm2']);
      // b's transaction would wait on a's row locks if it did not skip them: it must finish while a still holds them.
      const claimedByB = await b.transaction(async (tx) => (await tx.inbox.pending(10)).map((r) => r.id));
      assert.deepEqual(claimedByB, ['m3', 'm4']);
    } finally {
      release();
      await aDone;
    }
    assert.deepEqual((await b.inbox.pending(10)).map((r) => r.id), ['m3', 'm4']);
  });

  it('commits that make work send wake-ups to the other gateways, not to their sender, and a rollback sends none', async () => {
    const schema = db.schema();
    const { store: a, heard } = await listening(schema, 'gw-a');
    const b = open(schema, 'gw-b');

    await b.accept(receivedMessage('m1'));
    await eventually(() => heard.some((w) => w.kind === 'inbox'), 5000, 'the inbox wake-up');

    await b.transaction((tx) => tx.outbox.insert({ id: 'o1', receivedId: 'm1', envelopeFrom: 'plc@gw.test', recipients: ['ops@example.com'], message: Buffer.from('x') }, T0));
    await eventually(() => heard.some((w) => w.kind === 'outbox'), 5000, 'the outbox wake-up');

    const alarm = alarmRecord('al1', { device: { id: 'plc', name: 'PLC', matchedBy: 'sender' }, title: 'pump', severity: 'major', firstSeen: T0, lastSeen: T0 });
    await b.transaction((tx) => tx.alarms.save(alarm));
    await eventually(() => heard.some((w) => w.kind === 'alarm' && w.alarmId === 'al1'), 5000, 'the alarm wake-up');

    // Timers: a wake-up only for one due sooner than every other pending one.
    await b.transaction((tx) => tx.timers.arm(timerAt('unmute', 'late', null, T0 + 60_000)));
    await eventually(() => heard.some((w) => w.kind === 'timer' && w.dueAt === T0 + 60_000), 5000, 'the first timer wake-up');
    await b.transaction((tx) => tx.timers.add([timerAt('unmute', 'later', null, T0 + 120_000)]));
    await b.transaction((tx) => tx.timers.arm(timerAt('unmute', 'sooner', null, T0 + 30_000)));
    await eventually(() => heard.some((w) => w.kind === 'timer' && w.dueAt === T0 + 30_000), 5000, 'the sooner timer wake-up');
    assert.equal(heard.some((w) => w.kind === 'timer' && w.dueAt === T0 + 120_000), false, 'no wake-up for a timer due after another');

    // Rolled back: nothing. Its own commits: nothing (a's events woke its loops already). A marker from b then tells all has arrived.
    const before = heard.length;
    await assert.rejects(
      b.transaction(async (tx) => {
        await tx.outbox.insert({ id: 'o2', receivedId: null, envelopeFrom: 'plc@gw.test', recipients: ['ops@example.com'], message: Buffer.from('x') }, T0);
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await a.accept(receivedMessage('m-own'));
    await b.transaction((tx) => tx.alarms.save({ ...alarm, id: 'marker', fingerprint: 'fp-marker' }));
    await eventually(() => heard.some((w) => w.kind === 'alarm' && w.alarmId === 'marker'), 5000, 'the marker');
    assert.deepEqual(heard.slice(before), [{ kind: 'alarm', alarmId: 'marker' }]);
  });

  it('the control connection lost, the next beat listens again and asks for a look at everything missed meanwhile', async () => {
    const schema = db.schema();
    const { store: a, heard } = await listening(schema, 'gw-a');
    const b = open(schema, 'gw-b');
    const lost: string[] = [];
    a.peers.onLost((reason) => lost.push(reason));
    const [row] = await db.query<{ backend_pid: number }>(`SELECT backend_pid FROM ${schema}.gateways WHERE name = 'gw-a'`);
    await db.query('SELECT pg_terminate_backend($1)', [row!.backend_pid]);
    await eventually(() => lost.length > 0, 5000, 'the loss');
    // Sent while nobody listened: not heard, looked for after the reconnect instead.
    await b.accept(receivedMessage('while-away'));
    await a.peers.beat();
    await eventually(() => heard.some((w) => w.kind === 'missed'), 5000, 'the look after reconnecting');
    await b.accept(receivedMessage('after'));
    await eventually(() => heard.some((w) => w.kind === 'inbox'), 5000, 'wake-ups heard again');
  });

  describe('notifications a gateway was delivering when it went', () => {
    const entry = (id: string) => ({ id, receivedId: null, envelopeFrom: 'plc@gw.test', recipients: ['ops@example.com'], message: Buffer.from(id) });
    /** Queues `id` and lets `store` claim it (at `at`). */
    const claimedBy = async (store: PostgresStore, id: string, at: number): Promise<void> => {
      await store.transaction((tx) => tx.outbox.insert(entry(id), at));
      const claimed = await store.outbox.claimDue(at, 1);
      assert.deepEqual(claimed.map((e) => e.id), [id]);
    };
    const statuses = async (schema: string) =>
      Object.fromEntries((await db.query<{ id: string; status: string }>(`SELECT id, status FROM ${schema}.outbox ORDER BY id`)).map((r) => [r.id, r.status]));

    it("a gateway starting takes back its own claims and those of gateways gone, never a live gateway's", async () => {
      const schema = db.schema();
      const now = Date.now();
      const live = open(schema, 'gw-live');
      await live.peers.beat();
      await claimedBy(live, 'o-live', now);
      const gone = open(schema, 'gw-gone');
      await gone.peers.beat();
      await claimedBy(gone, 'o-gone', now);
      await gone.close();
      const neverBeatOld = open(schema, 'gw-never-old');
      await claimedBy(neverBeatOld, 'o-never-old', now - 120_000);
      const neverBeatNew = open(schema, 'gw-never-new');
      await claimedBy(neverBeatNew, 'o-never-new', now);
      const restarted = open(schema, 'gw-restarted');
      await claimedBy(restarted, 'o-own', now);

      const again = open(schema, 'gw-restarted');
      assert.equal(await again.outbox.recoverInterrupted(now), 3);
      assert.deepEqual(await statuses(schema), { 'o-gone': 'pending', 'o-live': 'sending', 'o-never-new': 'sending', 'o-never-old': 'pending', 'o-own': 'pending' });
    });

    it("the leader's beat makes a gone gateway's claims due again and wakes every worker", async () => {
      const schema = db.schema();
      const { store: leader, heard: leaderHeard } = await listening(schema, 'gw-leader');
      assert.equal(await leader.peers.beat(), true);
      const { heard: otherHeard } = await listening(schema, 'gw-other');
      const gone = open(schema, 'gw-gone');
      await gone.peers.beat();
      await claimedBy(gone, 'o-gone', Date.now());
      await claimedBy(leader, 'o-leader', Date.now());
      assert.equal(await leader.peers.beat(), true);
      assert.deepEqual(await statuses(schema), { 'o-gone': 'sending', 'o-leader': 'sending' }, 'gw-gone is alive still');
      await gone.close();
      assert.equal(await leader.peers.beat(), true);
      assert.deepEqual(await statuses(schema), { 'o-gone': 'pending', 'o-leader': 'sending' });
      assert.ok(leaderHeard.some((w) => w.kind === 'outbox'));
      await eventually(() => otherHeard.some((w) => w.kind === 'outbox'), 5000, 'the other worker woken');
    });
  });

  it('the MQTT sessions of a gateway that is gone are found for the leader to drain; a gateway back, or seen within the grace, is not gone', async () => {
    const schema = db.schema();
    const a = open(schema, 'gw-a');
    await a.peers.beat();
    const session = (clientId: string) => ({ url: 'mqtt://127.0.0.1:1883', clientId, filters: ['$share/annunciator/plant/#'], startedAt: T0 });
    await a.mqttSessions.save(session('annunciator-a'));
    const b = new PostgresStore({ connection: db.connection(), schema, gateway: 'gw-b' });
    await b.peers.beat();
    await b.mqttSessions.save(session('annunciator-b'));
    assert.deepEqual(await a.peers.goneMqttSessions(0), [], 'gw-b is alive');
    // Its control session ended: as a SIGKILL does (the server sees the socket closed).
    await b.close();
    assert.deepEqual(await a.peers.goneMqttSessions(60_000), [], 'seen within the grace: maybe only reconnecting');
    const gone = await eventually(async () => (await a.peers.goneMqttSessions(0))[0], 5000, "gw-b's session gone");
    assert.deepEqual(gone, { ...session('annunciator-b'), gateway: 'gw-b' });
    assert.equal(await a.peers.stillGone(gone, 0), true);

    // gw-b back under its name: the drain yields.
    const back = open(schema, 'gw-b');
    await back.peers.beat();
    assert.equal(await a.peers.stillGone(gone, 0), false);
    assert.deepEqual(await a.peers.goneMqttSessions(0), []);
    // Another gateway now holds the client id (a restart under a new name): not the gone one's any more.
    await back.peers.leave();
    await a.mqttSessions.save(session('annunciator-b'));
    assert.equal(await a.peers.stillGone(gone, 0), false, 'held by gw-a now');
    assert.deepEqual(await a.peers.goneMqttSessions(0), [], "the leader's own sessions are never drained");

    await back.mqttSessions.save(session('annunciator-c'));
    const [c] = await eventually(async () => { const found = await a.peers.goneMqttSessions(0); return found.length > 0 ? found : undefined; }, 5000, 'gw-b gone again');
    await a.peers.forgetMqttSession(c!);
    assert.equal(await a.mqttSessions.get(c!.url, c!.clientId), undefined, 'forgotten once drained');
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { systemClock, type Clock } from '../../src/base/clock.js';
import { GatewayEventBus, type GatewayEvents } from '../../src/events.js';
import { Leadership } from '../../src/run/leadership.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Peers } from '../../src/store/store.js';
import { capturedLogs } from '../helpers/captured-logs.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { eventually } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const gate = await postgresGate();
const INTERVAL = 2000;

/** The backend that holds the leader lock of `schema`, if any. */
async function leaderPid(db: TestDatabase, schema: string): Promise<number | undefined> {
  const rows = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('annunciator:leader:' || $1, 0)`,
    [schema],
  );
  return rows[0]?.pid;
}

interface Gateway {
  store: PostgresStore;
  leadership: Leadership;
  events: GatewayEventBus;
  clock: FakeClock;
  /** What each beat answered (the real peers, observed). */
  beats: boolean[];
  heard: Array<{ event: 'gained' } | ({ event: 'lost' } & GatewayEvents['leadership-lost'])>;
  lines: Array<Record<string, unknown>>;
}

describe('leadership among gateways on one PostgreSQL', { skip: gate.skip }, () => {
  let db: TestDatabase;
  const opened: Gateway[] = [];

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const g of opened.splice(0)) {
      await g.leadership.stop();
      await g.store.close();
    }
  });
  after(() => db?.drop());

  const gateway = (schema: string, name: string, connection = db.connection(), clock: Clock = new FakeClock()): Gateway => {
    const store = new PostgresStore({ connection, schema, gateway: name, controlTimeout: 2000 });
    const beats: boolean[] = [];
    const peers: Peers = {
      gateway: store.peers.gateway,
      beat: async () => {
        const leads = await store.peers.beat();
        beats.push(leads);
        return leads;
      },
      onLost: (fn) => store.peers.onLost(fn),
      leave: () => store.peers.leave(),
      onWake: (fn) => store.peers.onWake(fn),
      goneMqttSessions: (graceMs) => store.peers.goneMqttSessions(graceMs),
      stillGone: (session, graceMs) => store.peers.stillGone(session, graceMs),
      forgetMqttSession: (session) => store.peers.forgetMqttSession(session),
    };
    const events = new GatewayEventBus();
    const { logger, lines } = capturedLogs();
    const heard: Gateway['heard'] = [];
    events.on('leadership-gained', () => heard.push({ event: 'gained' }));
    events.on('leadership-lost', (e) => heard.push({ event: 'lost', ...e }));
    const leadership = new Leadership({ peers, events, clock, logger, interval: INTERVAL });
    const g = { store, leadership, events, clock: clock as FakeClock, beats, heard, lines };
    opened.push(g);
    return g;
  };

  /** Starts its beats and lets the first one answer. */
  const started = async (g: Gateway): Promise<void> => {
    g.leadership.start();
    await g.clock.advance(0);
    await eventually(() => g.beats.length > 0, 10_000, `${g.store.peers.gateway}'s first beat`);
  };

  /** One beat interval on its clock, and the beat answered. */
  const nextBeat = async (g: Gateway): Promise<boolean> => {
    const before = g.beats.length;
    await g.clock.advance(INTERVAL);
    await eventually(() => g.beats.length > before, 10_000, `${g.store.peers.gateway}'s next beat`);
    return g.beats.at(-1)!;
  };

  it('one of two leads; its connection killed, it says leadership-lost at once and the other leads at its next beat', async () => {
    const schema = db.schema();
    const a = gateway(schema, 'gw-a');
    const b = gateway(schema, 'gw-b');
    await started(a);
    assert.equal(a.leadership.leading, true);
    assert.deepEqual(a.heard, [{ event: 'gained' }]);
    assert.ok(a.lines.some((l) => l.level === 30 && String(l.msg).startsWith('this gateway leads') && l.gateway === 'gw-a'), JSON.stringify(a.lines));
    await started(b);
    assert.equal(b.leadership.leading, false);
    assert.equal(await nextBeat(b), false, 'the lead is held: b waits');

    // The server ends a's control session (as when the connection breaks): the lead goes with it, no clock needed.
    const pid = await leaderPid(db, schema);
    assert.ok(pid);
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await eventually(() => a.heard.length === 2, 10_000, 'leadership-lost at a');
    assert.equal(a.heard[1]?.event, 'lost');
    assert.equal(a.leadership.leading, false);
    assert.ok(a.lines.some((l) => l.level === 40 && String(l.msg).startsWith('this gateway no longer leads')), JSON.stringify(a.lines));

    // Within one beat of b's clock: the takeover.
    assert.equal(await nextBeat(b), true);
    assert.equal(b.leadership.leading, true);
    assert.deepEqual(b.heard, [{ event: 'gained' }]);
    // a reconnects at once (a beat due now) and does not take the lead back.
    await a.clock.advance(0);
    await eventually(() => a.beats.length >= 2, 10_000, "a's beat after reconnecting");
    assert.equal(a.beats.at(-1), false);
    assert.equal(a.leadership.leading, false);
    assert.equal(await leaderPid(db, schema) !== pid, true);
  });

  it('a leader that stops hands the lead over at the next beat of another', async () => {
    const schema = db.schema();
    const a = gateway(schema, 'gw-a');
    const b = gateway(schema, 'gw-b');
    await started(a);
    await started(b);
    assert.equal(b.leadership.leading, false);
    await a.leadership.stop();
    assert.equal(a.leadership.leading, false);
    assert.equal(await leaderPid(db, schema), undefined, 'the lock is released with the stop');
    assert.equal(await nextBeat(b), true);
    assert.deepEqual(b.heard, [{ event: 'gained' }]);
  });

  it('stores in different schemas have a leader each', async () => {
    const a = gateway(db.schema(), 'gw-a');
    const b = gateway(db.schema(), 'gw-b');
    await started(a);
    await started(b);
    assert.equal(a.leadership.leading, true);
    assert.equal(b.leadership.leading, true);
  });

  it('the database cut off: the leader stops leading at once, warns once, and leads again when it is back', async () => {
    const { host, port } = db.connection();
    const proxy = new TcpProxy({ host, port });
    await proxy.start();
    try {
      const schema = db.schema();
      const a = gateway(schema, 'gw-a', db.connection({ host: '127.0.0.1', port: proxy.port }));
      await started(a);
      assert.equal(a.leadership.leading, true);
      await proxy.cut();
      await eventually(() => a.heard.some((h) => h.event === 'lost'), 10_000, 'leadership-lost');
      assert.equal(a.leadership.leading, false);
      // The beats fail while it is away: one warning, not one per beat.
      await a.clock.advance(0);
      for (let i = 0; i < 3; i += 1) {
        const before = a.lines.length;
        await a.clock.advance(INTERVAL);
        await eventually(() => a.lines.length > before || a.lines.filter((l) => String(l.msg).startsWith('cannot reach the database')).length > 0, 10_000, 'a failed beat');
      }
      assert.equal(a.lines.filter((l) => String(l.msg).startsWith('cannot reach the database')).length, 1, JSON.stringify(a.lines));
      assert.equal(await leaderPid(db, schema), undefined);
      await proxy.start();
      await eventually(
        async () => {
          await a.clock.advance(INTERVAL);
          return a.leadership.leading;
        },
        20_000,
        'the lead again',
      );
      assert.deepEqual(a.heard.map((h) => h.event), ['gained', 'lost', 'gained']);
    } finally {
      await proxy.cut();
    }
  });

  it('a leader process SIGKILLed: another gateway leads within one beat (real time, measured)', async () => {
    const schema = db.schema();
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/leader-process.ts'), db.connection().url, schema, 'gw-killed'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await eventually(() => out.includes('leading'), 20_000, 'the child to lead');
      const b = gateway(schema, 'gw-b', db.connection(), systemClock);
      b.leadership.start();
      await eventually(() => b.beats.length > 0, 10_000, "b's first beat");
      assert.equal(b.leadership.leading, false);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await once(child, 'exit');
      await eventually(() => b.leadership.leading, 10_000, 'b to lead');
      const takeover = Date.now() - killedAt;
      process.stdout.write(`# takeover after SIGKILL of the leader: ${takeover} ms (beat interval ${INTERVAL} ms)\n`);
      assert.ok(takeover <= INTERVAL + 1000, `took ${takeover} ms`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

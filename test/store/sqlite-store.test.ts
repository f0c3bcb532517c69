import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../src/store/sqlite/migrate.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { alarmRecord } from '../helpers/alarm-factory.js';
import { escalationTimerOf } from '../../src/lifecycle/timer.js';
import { testDir } from '../helpers/gateway.js';
import { receivedMessage, storeContract } from './contract.js';

const dir = testDir();
after(() => dir.remove());
let n = 0;

storeContract('sqlite', async () => {
  n += 1;
  const dataDir = join(dir.path, `contract-${n}`);
  return { store: SqliteStore.open(dataDir), reopen: async () => SqliteStore.open(dataDir) };
});

describe('SqliteStore', () => {
  let dataDir: string;
  let store: SqliteStore;

  beforeEach(() => {
    n += 1;
    dataDir = join(dir.path, `data-${n}`);
    store = SqliteStore.open(dataDir);
  });
  afterEach(() => store.close());

  it('creates the data folder and annunciator.db in it', () => {
    assert.ok(existsSync(join(dataDir, 'annunciator.db')));
  });

  it('uses WAL and fsyncs every commit (synchronous = FULL): the durability a 250 promises', () => {
    // 2 is FULL; NORMAL (1) would skip the fsync of WAL commits and lose acknowledged mail on power loss.
    assert.deepEqual(store.settings(), { journalMode: 'wal', synchronous: 2, autoVacuum: 2, schemaVersion: readMigrations().length });
  });

  it('has one numbered SQL file per schema version', () => {
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
    assert.deepEqual(
      files.map((f) => Number(f.slice(0, 4))),
      files.map((_, i) => i + 1),
    );
  });

  it('reads the muted alarms through their own index, not every active alarm', () => {
    // The query planner took alarms_state (every active alarm) until migration 0010; bench/store-scale.ts shows what that cost.
    const db = new Database(join(dataDir, 'annunciator.db'), { readonly: true });
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT data FROM alarms WHERE muted = 1 AND state = 'active' ORDER BY first_seen, id`).all() as { detail: string }[];
      assert.deepEqual(
        plan.map((row) => row.detail),
        ['SEARCH alarms USING INDEX alarms_muted (muted=? AND state=?)'],
      );
    } finally {
      db.close();
    }
  });

  it('refuses a database from a newer version', async () => {
    await store.close();
    const db = new Database(join(dataDir, 'annunciator.db'));
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => SqliteStore.open(dataDir), /schema version 99 is newer/);
    store = SqliteStore.open(join(dataDir, 'other'));
  });

  it('close is safe to call twice; a closed store refuses work', async () => {
    await store.close();
    await assert.doesNotReject(store.close());
    await assert.rejects(store.inbox.pending(1));
  });

  it('two stores on one file see each other', async () => {
    const other = SqliteStore.open(dataDir);
    try {
      await store.accept(receivedMessage('shared'));
      assert.deepEqual((await other.inbox.pending(10)).map((r) => r.id), ['shared']);
    } finally {
      await other.close();
    }
  });

  it('migrates a store of version 7 forward: escalation timers, open batches and unannounced acks become timer rows', async () => {
    await store.close();
    const file = join(dataDir, 'v7.db');
    const old = new Database(file);
    migrate(old, readMigrations().slice(0, 7));
    const acked = alarmRecord('A1', { device: { id: 'plc', name: 'PLC', matchedBy: 'sender' }, title: 't', severity: 'major', ack: { by: 'anna', at: 5, channel: 'mqtt' } });
    old.prepare(`INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data, ack_at) VALUES (?, ?, 'active', 0, 0, ?, 5)`).run(acked.id, acked.fingerprint, JSON.stringify(acked));
    old.prepare(`INSERT INTO escalation_timers (alarm_id, level, due_at, fired_at, data) VALUES ('A1', 1, 100, 50, '{"policy":"p","policyLevel":1}'), ('A1', 2, 200, NULL, '{"policy":"p","policyLevel":2}')`).run();
    old.prepare(`INSERT INTO batches (id, key, kind, label, opened_at, flush_at, receivers) VALUES ('B1', 'k', 'group', 'l', 0, 300, '[]'), ('B2', 'k2', 'group', 'l', 0, 400, '[]')`).run();
    old.prepare(`UPDATE batches SET sent_at = 10 WHERE id = 'B2'`).run();
    old.close();
    copyFileSync(file, join(dataDir, 'annunciator.db'));
    store = SqliteStore.open(dataDir);
    assert.deepEqual(
      (await store.timers.due(1000, 10)).map((t) => [t.kind, t.key, t.dueAt]),
      [
        ['announce-ack', 'A1', 5],
        ['escalate', 'A1:2', 200],
        ['flush-batch', 'B1', 300],
      ],
    );
    const level2 = (await store.timers.get('escalate', 'A1:2'))!;
    assert.equal(level2.kind === 'escalate' && escalationTimerOf(level2).level, 2);
    assert.equal((await store.timers.get('escalate', 'A1:1'))?.firedAt, 50);
  });

  it('migrates a store of an older version forward, keeping its data', async () => {
    await store.close();
    const file = join(dataDir, 'old.db');
    // A store written before escalations (version 4), with an acknowledged alarm.
    const old = new Database(file);
    migrate(old, readMigrations().slice(0, 4));
    const acked = alarmRecord('A1', { device: { id: 'plc', name: 'PLC', matchedBy: 'sender' }, title: 't', severity: 'major', ack: { by: 'anna', at: 5, channel: 'mqtt' } });
    const muted = alarmRecord('A2', { device: { id: 'plc', name: 'PLC', matchedBy: 'sender' }, title: 'u', severity: 'major', mutedBy: { by: 'silence', silence: 'S1' } });
    for (const a of [acked, muted]) old.prepare(`INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data) VALUES (?, ?, 'active', 0, 0, ?)`).run(a.id, a.fingerprint, JSON.stringify(a));
    old.close();
    copyFileSync(file, join(dataDir, 'annunciator.db'));
    store = SqliteStore.open(dataDir);
    assert.equal(store.settings().schemaVersion, readMigrations().length);
    assert.equal(store.settings().autoVacuum, 2, 'an older file is rewritten once with incremental auto-vacuum');
    assert.equal((await store.alarms.get('A1'))?.ackAnnounced, true, 'acknowledgements from before escalations count as announced');
    assert.deepEqual((await store.alarms.muted()).map((a) => a.id), ['A2'], 'the muted column is filled from the stored alarms');
    assert.deepEqual(await store.timers.ofAlarm('A1'), [], 'an acknowledgement from before escalations is not announced again');
    assert.deepEqual((await store.timers.due(0, 10)).map((t) => [t.kind, t.key]), [['unmute', 'A2']], 'a muted alarm is looked at again at once');
  });

});

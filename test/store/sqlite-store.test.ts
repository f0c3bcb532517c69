import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../src/store/sqlite/migrate.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { alarmRecord } from '../helpers/alarm-factory.js';
import { escalationTimerOf } from '../../src/lifecycle/timer.js';
import { eventually, testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { receivedMessage, storeContract } from './contract.js';
import { SqliteConnection } from '../../src/store/sqlite/connection.js';

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

  it('uses WAL; SQLite commits without fsync (NORMAL) because the store flushes the WAL itself before it reports a commit', () => {
    assert.deepEqual(store.settings(), { journalMode: 'wal', synchronous: 1, autoVacuum: 2, schemaVersion: readMigrations().length, walAutocheckpoint: 1000 });
  });

  describe('checkpoints in a thread of their own', () => {
    it('the connection never checkpoints by itself; the thread copies the WAL into the database; when the thread dies the connection takes over again', async () => {
      const folder = join(dataDir, 'checkpoints');
      const background = SqliteStore.open(folder, { backgroundCheckpoints: true });
      try {
        assert.equal(autocheckpointOf(background), 0, 'the connection never checkpoints in a commit');
        const dbFile = join(folder, 'annunciator.db');
        const sizeBefore = statSync(dbFile).size;
        // About 2 MiB of mail: more than SQLite's 1,000-page autocheckpoint would let pass, written by commits that never checkpoint.
        const raw = Buffer.alloc(100 * 1024, 'x');
        await Promise.all(Array.from({ length: 20 }, (_, i) => background.accept(receivedMessage(`big-${i}`, { raw }))));
        await eventually(() => statSync(dbFile).size > sizeBefore + 1024 * 1024, 10_000, 'the checkpoint thread to copy the WAL into the database');
        const thread = background.checkpointsForTest!;
        await thread.killForTest();
        assert.equal(autocheckpointOf(background), 1000, 'the connection checkpoints by itself again');
      } finally {
        await background.close();
      }
    });

    it('is off by default (the CLI): the connection keeps SQLite\'s own autocheckpoint', () => {
      assert.equal(autocheckpointOf(store), 1000);
      assert.equal(store.checkpointsForTest, undefined);
    });
  });

  describe('durability: a commit is reported only once the WAL is flushed', () => {
    /** A flush that waits until the test lets it go, or fails. */
    function heldFlushes() {
      const held: Array<{ fd: number; release: () => void; fail: (error: Error) => void }> = [];
      const syncFile = (fd: number) => new Promise<void>((release, fail) => held.push({ fd, release, fail }));
      return { held, syncFile };
    }
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    let flushing: SqliteStore;
    let clock: FakeClock;
    let flushes: ReturnType<typeof heldFlushes>;
    beforeEach(() => {
      flushes = heldFlushes();
      clock = new FakeClock(Date.UTC(2026, 10, 30));
      flushing = SqliteStore.open(join(dataDir, 'flushing'), { syncFile: flushes.syncFile, clock });
    });
    afterEach(async () => {
      for (const h of flushes.held) h.release();
      await flushing.close();
    });

    it('accept resolves (the device hears 250) only after the flush, and one flush covers the accepts that came together', async () => {
      let acknowledged = 0;
      const accepts = [1, 2, 3].map((i) => flushing.accept(receivedMessage(`m-${i}`)).then(() => (acknowledged += 1)));
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(flushes.held.length, 1, 'the three accepts were committed together and share one flush');
      assert.equal(acknowledged, 0, 'written to the WAL but not yet on the disk: no 250 yet');
      // Readable at once by the same process (the pipeline may start on it), durable only later.
      assert.equal((await flushing.inbox.pending(10)).length, 3);
      flushes.held[0]!.release();
      await Promise.all(accepts);
      assert.equal(acknowledged, 3);
    });

    it('tells `committed` at the commit, before the flush: the inbox runner starts while the device still waits for its 250', async () => {
      const told: string[] = [];
      const accepted = flushing.accept(receivedMessage('early'), { committed: () => told.push('committed') }).then(() => told.push('durable'));
      for (let i = 0; i < 5; i += 1) await settle();
      assert.deepEqual(told, ['committed'], 'committed, not yet flushed');
      assert.deepEqual((await flushing.inbox.pending(10)).map((r) => r.id), ['early']);
      flushes.held[0]!.release();
      await accepted;
      assert.deepEqual(told, ['committed', 'durable']);
    });

    it('does not tell `committed` for a message whose commit failed', async () => {
      let told = false;
      flushing.limitPagesForTest(1);
      await assert.rejects(flushing.accept(receivedMessage('refused', { raw: Buffer.alloc(64 * 1024, 0x61) }), { committed: () => (told = true) }));
      flushing.limitPagesForTest(undefined);
      assert.equal(told, false);
    });

    it('a transaction that wrote resolves after the flush; one that only read does not wait for one', async () => {
      let done = false;
      const writing = flushing.transaction(async (tx) => tx.inbox.insert(receivedMessage('w-1'))).then(() => (done = true));
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(done, false);
      const flushesBefore = flushes.held.length;
      await flushing.transaction(async (tx) => tx.inbox.pending(10));
      assert.equal(flushes.held.length, flushesBefore, 'a read-only transaction asks for no flush');
      for (const h of flushes.held) h.release();
      await writing;
      assert.equal(done, true);
    });

    it('a transaction told not to wait for the flush resolves at once, and its flush still runs; a durable commit after it waits for one that covers both', async () => {
      await flushing.transaction(async (tx) => tx.inbox.insert(receivedMessage('n-1')), { awaitFlush: false });
      assert.equal(flushes.held.length, 1, 'its flush was asked for all the same');
      assert.equal((await flushing.inbox.pending(10)).length, 1, 'committed: readable at once');
      let durable = false;
      const after = flushing.transaction(async (tx) => tx.inbox.insert(receivedMessage('n-2'))).then(() => (durable = true));
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(durable, false);
      flushes.held[0]!.release();
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(durable, false, 'the first flush may have started before it was written: it waits for its own');
      flushes.held[1]!.release();
      await after;
      assert.equal(flushing.flushes, 2);
    });

    it('a flush that fails after a transaction that did not wait for it fails the store, not that caller: the next commits are refused with a store fault', async () => {
      await flushing.transaction(async (tx) => tx.inbox.insert(receivedMessage('n-3')), { awaitFlush: false });
      flushes.held[0]!.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      for (let i = 0; i < 5; i += 1) await settle();
      await assert.rejects(flushing.accept(receivedMessage('n-4')), (error: Error & { code?: string }) => error.name === 'StoreError');
    });

    it('commits made while a flush runs wait for the next one, which then covers them all', async () => {
      const first = flushing.accept(receivedMessage('a-1'));
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(flushes.held.length, 1);
      let laterDone = 0;
      const later = [flushing.accept(receivedMessage('a-2')), flushing.accept(receivedMessage('a-3'))].map((p) => p.then(() => (laterDone += 1)));
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(flushes.held.length, 1, 'no second flush while the first runs');
      flushes.held[0]!.release();
      await first;
      for (let i = 0; i < 5; i += 1) await settle();
      assert.equal(laterDone, 0, 'the first flush may have started before they were written: they wait for their own');
      assert.equal(flushes.held.length, 2, 'one more flush for both');
      flushes.held[1]!.release();
      await Promise.all(later);
      assert.equal(flushing.flushes, 2);
    });

    it('a failed flush fails the accepts it covered with a store fault (the device hears 451, never 250)', async () => {
      const accepting = flushing.accept(receivedMessage('f-1'));
      for (let i = 0; i < 5; i += 1) await settle();
      flushes.held[0]!.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(accepting, (error: Error & { code?: string }) => error.name === 'StoreError' && error.code === 'SQLITE_IOERR_FSYNC');
      // Like any I/O fault: devices are refused at once until the health watch's next look ...
      await assert.rejects(flushing.accept(receivedMessage('f-2')), (error: Error & { code?: string }) => error.code === 'SQLITE_IOERR_FSYNC');
      // ... then the next flush is asked of a freshly opened descriptor and can succeed again.
      clock.advance(1000);
      const next = flushing.accept(receivedMessage('f-3'));
      for (let i = 0; i < 50 && flushes.held.length < 2; i += 1) await settle();
      flushes.held[1]?.release();
      await next;
    });

    it('flushes the WAL file itself (a descriptor on annunciator.db-wal)', async () => {
      const accepting = flushing.accept(receivedMessage('x-1'));
      for (let i = 0; i < 5; i += 1) await settle();
      const fd = flushes.held[0]!.fd;
      assert.equal(readlinkSync(`/proc/self/fd/${fd}`), join(dataDir, 'flushing', 'annunciator.db-wal'));
      flushes.held[0]!.release();
      await accepting;
    });
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
    const db = SqliteConnection.open(join(dataDir, 'annunciator.db'), { readonly: true });
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
    const db = SqliteConnection.open(join(dataDir, 'annunciator.db'));
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
    const old = SqliteConnection.open(file);
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

  it('a status update of a 100 KiB mail or notification does not write its bytes again (they live in a table of their own)', async () => {
    const file = join(dataDir, 'annunciator.db');
    const big = Buffer.alloc(100 * 1024, 0xab);
    const r = receivedMessage('R1', { raw: big });
    await store.accept(r);
    await store.outbox.insert({ id: 'O1', receivedId: null, envelopeFrom: 'gw@test', recipients: ['ops@example.com'], message: big }, 1);
    await store.outbox.insert({ id: 'O2', receivedId: null, envelopeFrom: 'gw@test', recipients: ['ops@example.com'], message: big }, 1);
    // A reader on an emptied WAL: no checkpoint can restart it, so every frame written lands at its end.
    const reader = SqliteConnection.open(file);
    try {
      reader.pragma('wal_checkpoint(TRUNCATE)');
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM received').get();
      const walGrowth = async (fn: () => Promise<unknown>): Promise<number> => {
        const before = statSync(`${file}-wal`).size;
        await fn();
        return statSync(`${file}-wal`).size - before;
      };
      const writes = {
        complete: await walGrowth(() => store.inbox.complete('R1', 2)),
        claim: await walGrowth(() => store.outbox.claimDue(3, 10)),
        markSent: await walGrowth(() => store.outbox.markSent('O1', 4, 'primary', [])),
        reschedule: await walGrowth(() => store.outbox.reschedule('O2', { now: 5, error: '451 busy', account: 'primary', rejectedRecipients: [], nextAttemptAt: 60, recipients: ['ops@example.com'] })),
        retryNow: await walGrowth(() => store.outbox.retryNow(['O2'], 6)),
      };
      for (const [step, bytes] of Object.entries(writes)) assert.ok(bytes < 24 * 1024, `${step} wrote ${bytes} bytes to the WAL for a 100 KiB blob`);
      assert.ok((await store.inbox.get('R1'))?.raw.equals(big));
      assert.ok((await store.outbox.get('O1'))?.message.equals(big));
    } finally {
      reader.exec('ROLLBACK');
      reader.close();
    }
  });

  it('a relayed body passed on as it came is written once: the outbox row keeps the headers and reads the rest from the received mail', async () => {
    const file = join(dataDir, 'annunciator.db');
    const raw = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(100 * 1024, 'line of text\r\n')]);
    const offset = raw.indexOf('\r\n\r\n') + 4;
    const message = Buffer.concat([Buffer.from('Received: by gw\r\nSubject: big\r\n\r\n'), raw.subarray(offset)]);
    await store.accept(receivedMessage('R1', { raw }));
    const reader = SqliteConnection.open(file);
    try {
      reader.pragma('wal_checkpoint(TRUNCATE)');
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM received').get();
      const before = statSync(`${file}-wal`).size;
      await store.outbox.insert({ id: 'O1', receivedId: 'R1', envelopeFrom: 'gw@test', recipients: ['ops@example.com'], message, bodyOfReceived: { offset, length: raw.length - offset } }, 1);
      const wrote = statSync(`${file}-wal`).size - before;
      assert.ok(wrote < 24 * 1024, `the insert wrote ${wrote} bytes to the WAL for a 100 KiB body`);
    } finally {
      reader.exec('ROLLBACK');
      reader.close();
    }
    const c = SqliteConnection.open(file, { readonly: true });
    try {
      assert.equal(c.prepare('SELECT count(*) AS n FROM outbox_message').get<{ n: number }>()!.n, 0);
    } finally {
      c.close();
    }
    assert.ok((await store.outbox.get('O1'))?.message.equals(message));
    await assert.rejects(store.inbox.drop('R1'), /FOREIGN KEY/, 'the mail an entry reads its body from cannot go before the entry');
  });

  describe('a large mail or notification is read back from memory right after the commit that wrote it', () => {
    const big = (text: string) => Buffer.concat([Buffer.from(`Subject: ${text}\r\n\r\n`), Buffer.alloc(40 * 1024, `${text} line\r\n`)]);
    const entry = (id: string, message: Buffer) => ({ id, receivedId: null, envelopeFrom: 'gw@test', recipients: ['ops@example.com'], message });

    it('the inbox runner gets the accepted bytes themselves, once; a second read (a retry) comes from the file', async () => {
      const raw = big('accepted');
      await store.accept(receivedMessage('R1', { raw }));
      const [first] = await store.inbox.pending(10);
      assert.equal(first!.raw, raw, 'the very Buffer the accept wrote');
      const [again] = await store.inbox.pending(10);
      assert.notEqual(again!.raw, raw);
      assert.ok(again!.raw.equals(raw), 'read from the file, the same bytes');
    });

    it('the outbox claim gets the queued message itself; a retry reads it from the file', async () => {
      const message = big('queued');
      await store.transaction((tx) => tx.outbox.insert(entry('O1', message), 1));
      const [claimed] = await store.outbox.claimDue(1, 10);
      assert.equal(claimed!.message, message);
      await store.outbox.reschedule('O1', { now: 2, nextAttemptAt: 2, error: 'again', account: null, recipients: ['ops@example.com'], rejectedRecipients: [] });
      const [retried] = await store.outbox.claimDue(2, 10);
      assert.notEqual(retried!.message, message);
      assert.ok(retried!.message.equals(message));
    });

    it('stays within its budget, oldest out first; an evicted message is read from the file', async () => {
      const messages = Array.from({ length: 260 }, (_, i) => big(`m${String(i).padStart(3, '0')}`));
      for (let i = 0; i < messages.length; i += 1) await store.transaction((tx) => tx.outbox.insert(entry(`O${String(i).padStart(3, '0')}`, messages[i]!), 1));
      const claimed = await store.outbox.claimDue(1, 1000);
      assert.equal(claimed.length, 260);
      // 8 MiB of 40 KiB messages: the first ones went to make room.
      assert.notEqual(claimed[0]!.message, messages[0]);
      assert.equal(claimed[259]!.message, messages[259]);
      claimed.forEach((c, i) => assert.ok(c.message.equals(messages[i]!), c.id));
    });
  });

  it('deletes a mail\'s and a notification\'s bytes with their row: drop, queue delete, retention', async () => {
    const blobs = (): { raw: number; message: number } => {
      const c = SqliteConnection.open(join(dataDir, 'annunciator.db'), { readonly: true });
      try {
        return {
          raw: c.prepare('SELECT count(*) AS n FROM received_raw').get<{ n: number }>()!.n,
          message: c.prepare('SELECT count(*) AS n FROM outbox_message').get<{ n: number }>()!.n,
        };
      } finally {
        c.close();
      }
    };
    const large = (id: string): Buffer => Buffer.alloc(8192, id);
    await store.accept(receivedMessage('small'));
    await store.outbox.insert({ id: 'small', receivedId: null, envelopeFrom: 'gw@test', recipients: ['ops@example.com'], message: Buffer.from('small') }, 1);
    assert.deepEqual(blobs(), { raw: 0, message: 0 }, 'small values stay in the row');
    for (const id of ['R1', 'R2', 'R3']) await store.accept(receivedMessage(id, { raw: large(id) }));
    for (const id of ['O1', 'O2', 'O3']) await store.outbox.insert({ id, receivedId: null, envelopeFrom: 'gw@test', recipients: ['ops@example.com'], message: large(id) }, 1);
    assert.deepEqual(blobs(), { raw: 3, message: 3 });
    await store.inbox.drop('R1');
    assert.equal(await store.outbox.delete(['O1']), 1);
    assert.deepEqual(blobs(), { raw: 2, message: 2 });
    await store.inbox.complete('R2', 10);
    assert.deepEqual((await store.outbox.claimDue(10, 2)).map((e) => [e.id, e.message.length]), [['O2', 8192], ['O3', 8192]]);
    await store.outbox.markSent('O2', 10, 'primary', []);
    assert.equal(await store.inbox.prune(100, 10), 1);
    assert.equal(await store.outbox.prune(100, 10), 1);
    assert.deepEqual(blobs(), { raw: 1, message: 1 });
    assert.ok((await store.inbox.get('R3'))?.raw.equals(large('R3')));
    assert.ok((await store.outbox.get('O3'))?.message.equals(large('O3')));
    assert.ok((await store.inbox.get('small'))?.raw.equals(receivedMessage('small').raw));
    assert.deepEqual((await store.outbox.list(['pending', 'sending'])).map((e) => [e.id, e.size]), [['O3', 8192], ['small', 5]]);
  });

  it('opens a store file written by better-sqlite3 12 (annunciator before node:sqlite): binary mail, outbox and alarms read back byte for byte', async () => {
    // test/fixtures/store/better-sqlite3-v12.db: SqliteStore of commit 73e035d (better-sqlite3 12.11.1, SQLite
    // 3.53.2, schema 12, WAL) took R1 (raw with NUL and 0xFF bytes), an outbox entry O1 and an alarm A1, then closed.
    await store.close();
    copyFileSync(join(REPO_ROOT, 'test/fixtures/store/better-sqlite3-v12.db'), join(dataDir, 'annunciator.db'));
    store = SqliteStore.open(dataDir);
    assert.equal(store.settings().schemaVersion, readMigrations().length);
    assert.equal(store.settings().journalMode, 'wal');
    const raw = Buffer.concat([Buffer.from('Subject: Motor M12 \xfcbertemperatur\r\n\r\n', 'latin1'), Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10])]);
    const received = await store.inbox.get('R1');
    assert.ok(received && Buffer.isBuffer(received.raw) && received.raw.equals(raw), String(received?.raw));
    assert.deepEqual(received.envelope, { mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'] });
    const entry = await store.outbox.get('O1');
    assert.ok(entry && Buffer.isBuffer(entry.message) && entry.message.equals(Buffer.from([0x41, 0, 0xff, 0x42])));
    assert.equal((await store.alarms.get('A1'))?.title, 'Motor M12 overtemperature');
    await store.accept(receivedMessage('R2'));
    assert.deepEqual((await store.inbox.pending(10)).map((r) => r.id), ['R1', 'R2']);
  });

  it('migrates a store of version 12 forward: large mails and notifications move out of their rows and read back byte for byte', async () => {
    await store.close();
    const file = join(dataDir, 'v12.db');
    const old = SqliteConnection.open(file);
    migrate(old, readMigrations().slice(0, 12));
    const large = Buffer.from(Array.from({ length: 100 * 1024 }, (_, i) => (i * 7) % 256));
    const small = Buffer.from([0, 1, 0xff, 13, 10]);
    for (const [id, raw] of [['R1', large], ['R2', small]] as const) {
      old.prepare(`INSERT INTO received (id, received_at, listener, peer_address, peer_port, secure, mail_from, rcpt_to, raw) VALUES (?, 1, 'lan', '10.0.0.5', 1, 0, NULL, '[]', ?)`).run(id, raw);
      old.prepare(`INSERT INTO outbox (id, received_id, created_at, envelope_from, recipients, message, status, next_attempt_at, updated_at) VALUES (?, ?, 1, 'gw@test', '[]', ?, 'pending', 1, 1)`).run(`O${id}`, id, raw);
    }
    old.close();
    copyFileSync(file, join(dataDir, 'annunciator.db'));
    store = SqliteStore.open(dataDir);
    assert.ok((await store.inbox.get('R1'))?.raw.equals(large));
    assert.ok((await store.inbox.get('R2'))?.raw.equals(small));
    assert.ok((await store.outbox.get('OR1'))?.message.equals(large));
    assert.ok((await store.outbox.get('OR2'))?.message.equals(small));
    const db = SqliteConnection.open(join(dataDir, 'annunciator.db'), { readonly: true });
    try {
      assert.deepEqual(db.prepare(`SELECT id, length(raw) AS n FROM received ORDER BY id`).all().map((r) => ({ ...r })), [{ id: 'R1', n: 0 }, { id: 'R2', n: 5 }]);
      assert.deepEqual(db.prepare(`SELECT id FROM received_raw`).all().map((r) => r.id), ['R1']);
      assert.deepEqual(db.prepare(`SELECT id FROM outbox_message`).all().map((r) => r.id), ['OR1']);
    } finally {
      db.close();
    }
  });

  it('migrates a store of an older version forward, keeping its data', async () => {
    await store.close();
    const file = join(dataDir, 'old.db');
    // A store written before escalations (version 4), with an acknowledged alarm.
    const old = SqliteConnection.open(file);
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

/** The connection's own autocheckpoint threshold (0: it never checkpoints by itself). */
function autocheckpointOf(store: SqliteStore): number {
  return store.settings().walAutocheckpoint;
}

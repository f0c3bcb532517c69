import assert from 'node:assert/strict';
import { capturedLogs } from '../helpers/captured-logs.js';
import { readdirSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import type { HeldNotification } from '../../src/lifecycle/batch.js';
import { MIGRATIONS_DIR, readMigrations } from '../../src/store/postgres/migrate.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import { StoreError } from '../../src/store/store-error.js';
import type { Repositories, Store } from '../../src/store/store.js';
import { alarmRecord } from '../helpers/alarm-factory.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { eventually } from '../helpers/gateway.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { createCa, createSelfSigned } from '../helpers/certs.js';
import { startPgTlsProxy } from '../helpers/pg-tls-proxy.js';
import { closedPort, TcpProxy } from '../helpers/tcp-proxy.js';
import { X509Certificate } from 'node:crypto';
import { receivedMessage, storeContract } from './contract.js';

const gate = await postgresGate();
let db: TestDatabase;
const T0 = 1_764_000_000_000;

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, { device: { id: 'plc', name: 'PLC', matchedBy: 'sender' }, title: `alarm ${id}`, severity: 'major', firstSeen: T0, lastSeen: T0, ...overrides });
}

function held(alarmId: string, key = 'group|r|site=A|ops@example.com'): HeldNotification {
  return { batchKey: key, batchKind: 'group', label: 'site=A', flushAt: T0 + 30_000, receivers: [{ name: 'ops', emails: ['ops@example.com'] }], alarmId, kind: 'firing', reason: 'new alarm', at: T0 };
}

/** Log lines kept, for what the store says about the database. */
const capture = () => capturedLogs();

/** Until some session of the test database waits for a lock another one holds. */
async function someoneWaitsForALock(): Promise<void> {
  await eventually(
    async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n > 0,
    10_000,
    'a transaction waiting for a lock',
  );
}

describe('PostgreSQL store', { skip: gate.skip }, () => {
  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  storeContract('postgres', async () => {
    const schema = db.schema();
    const open = () => new PostgresStore({ connection: db.connection(), schema });
    return { store: open(), reopen: async () => open() };
  });

  describe('PostgresStore', () => {
    const opened: Store[] = [];
    /** A store in `schema` (a fresh one by default); closed after the test. */
    const storeIn = (schema = db.schema(), options: Partial<PostgresStoreOptions> = {}): PostgresStore => {
      const store = new PostgresStore({ connection: db.connection(), schema, ...options });
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe('migrations', () => {
      it('has one numbered SQL file per schema version', () => {
        const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
        assert.deepEqual(
          files.map((f) => Number(f.slice(0, 4))),
          files.map((_, i) => i + 1),
        );
      });

      it('migrates an empty database once; opening it again applies nothing', async () => {
        const schema = db.schema();
        assert.deepEqual(await storeIn(schema).open(), { version: readMigrations().length, applied: readMigrations().map((m) => m.version) });
        assert.deepEqual(await storeIn(schema).open(), { version: readMigrations().length, applied: [] });
        assert.deepEqual(
          await db.query(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`),
          readMigrations().map((m) => ({ version: m.version, name: m.name })),
        );
        assert.equal((await storeIn(schema).settings()).schemaVersion, readMigrations().length);
      });

      it('two gateways starting at once against an empty database migrate it once', async () => {
        const schema = db.schema();
        const stores = Array.from({ length: 4 }, () => storeIn(schema));
        const results = await Promise.all(stores.map((s) => s.open()));
        assert.deepEqual(results.map((r) => r.applied.length).sort(), [0, 0, 0, readMigrations().length], 'one migrated, the others found it done');
        assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${schema}.schema_migrations`))[0]!.n, readMigrations().length);
        await stores[0]!.accept(receivedMessage('after'));
        assert.equal((await stores[3]!.inbox.get('after'))?.id, 'after');
      });

      it('refuses a database of a newer version, or with another history, and says why', async () => {
        const schema = db.schema();
        await storeIn(schema).open();
        await db.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES (99, '0099-future.sql')`);
        await assert.rejects(storeIn(schema).open(), /schema version 99 is newer than this annunciator understands/);
        await assert.rejects(storeIn(schema).accept(receivedMessage('x')), /schema version 99 is newer/, 'no work on a schema it does not know');
        await db.query(`DELETE FROM ${schema}.schema_migrations WHERE version = 99`);
        await db.query(`UPDATE ${schema}.schema_migrations SET name = '0001-other.sql' WHERE version = 1`);
        await assert.rejects(storeIn(schema).open(), /version 1 was applied as 0001-other\.sql, but this annunciator's is 0001-schema\.sql/);
      });
    });

    describe('durability', () => {
      it('commits with synchronous_commit on, even where the database has it off', async () => {
        await db.query(`ALTER DATABASE ${db.name} SET synchronous_commit = off`);
        try {
          const fresh = await db.query<{ s: string }>(`SELECT current_setting('synchronous_commit') AS s`);
          assert.ok(fresh, 'the setting only applies to new sessions');
          const store = storeIn();
          await store.accept(receivedMessage('m1'));
          assert.equal((await store.settings()).synchronousCommit, 'on');
        } finally {
          await db.query(`ALTER DATABASE ${db.name} RESET synchronous_commit`);
        }
      });
    });

    describe('the database unreachable', () => {
      it('accept and transactions reject with a transient StoreError at once, and health says so', async () => {
        const clock = new FakeClock(T0);
        const { logger, lines } = capture();
        const store = new PostgresStore({ connection: db.connection({ port: await closedPort() }), clock, logger });
        opened.push(store);
        assert.deepEqual(store.health(), { ok: true }, 'nothing known before the first call');
        const started = Date.now();
        const refused = await store.accept(receivedMessage('r1')).then(
          () => assert.fail('accepted without a database'),
          (error: unknown) => error,
        );
        assert.ok(Date.now() - started < 5000, 'a refused connection fails at once, not after the connect timeout');
        assert.ok(refused instanceof StoreError, String(refused));
        assert.equal(refused.code, 'PG_CONNECTION');
        assert.equal(StoreError.isFault(refused), true, 'a fault: the device hears 451 and sends again');
        assert.match(refused.message, /cannot be reached.*ECONNREFUSED/);
        await assert.rejects(
          store.transaction((tx) => tx.inbox.pending(1)),
          (error: unknown) => StoreError.isFault(error),
        );
        const health = store.health();
        assert.equal(health.ok, false);
        assert.ok(!health.ok && health.code === 'PG_CONNECTION' && health.since === T0 && !health.needsRestart && /451/.test(health.reason));
        assert.equal(lines.filter((l) => l.level === 50).length, 1, 'said once, not per call');
      });

      it('comes back by itself when the database answers again; what was committed before is kept', async () => {
        const proxy = new TcpProxy({ host: db.connection().host, port: db.connection().port });
        await proxy.start();
        const { logger, lines } = capture();
        const store = new PostgresStore({ connection: db.connection({ port: proxy.port }), schema: db.schema(), logger });
        opened.push(store);
        try {
          await store.accept(receivedMessage('before'));
          await proxy.cut();
          await assert.rejects(store.accept(receivedMessage('during')), (error: unknown) => StoreError.isFault(error));
          // A pooled connection broken under a transaction is dropped, not handed out again.
          await assert.rejects(store.transaction((tx) => tx.inbox.pending(10)), (error: unknown) => StoreError.isFault(error));
          assert.equal(store.health().ok, false);
          await proxy.start();
          await store.accept(receivedMessage('after'));
          assert.deepEqual(store.health(), { ok: true });
          assert.deepEqual((await store.inbox.pending(10)).map((r) => r.id), ['after', 'before'].sort());
          assert.deepEqual(
            lines.filter((l) => /^store: the database/.test(String(l.msg))).map((l) => l.level),
            [50, 30],
            'one line when it failed, one when it answered again',
          );
        } finally {
          await proxy.cut();
        }
      });

      it('a server without TLS, when TLS is required, is a transient fault that says so', async () => {
        const store = storeIn(undefined, { connection: db.connection({ tls: { minVersion: 'TLSv1.2', ca: [] } }) });
        await assert.rejects(store.accept(receivedMessage('x')), (error: unknown) => {
          assert.ok(error instanceof StoreError);
          assert.equal(error.code, 'PG_CONNECTION');
          assert.match(error.message, /does not support SSL/);
          return true;
        });
      });
    });

    describe('TLS to the database, checked as for the upstream accounts', () => {
      const ca = createCa('Plant DB CA');
      const leaf = ca.issue('db.plant.local', ['db.plant.local']);
      const selfSigned = createSelfSigned('pg.plant.local', ['127.0.0.1']);
      // (A pin stands in for the name: the self-signed certificates name no localhost.)
      // By host name: node-postgres then sets the TLS server name to it, which a configured servername must win over.
      const tlsStore = async (cert: { key: string; cert: string }, tls: NonNullable<PostgresStoreOptions['connection']['tls']>, maxVersion?: 'TLSv1.2') => {
        const proxy = await startPgTlsProxy({ ...cert, target: { host: db.connection().host, port: db.connection().port }, ...(maxVersion ? { maxVersion } : {}) });
        const store = storeIn(undefined, { connection: db.connection({ host: 'localhost', port: proxy.port, tls }) });
        return { store, proxy };
      };
      const tls = (overrides: Partial<NonNullable<PostgresStoreOptions['connection']['tls']>> = {}) => ({ minVersion: 'TLSv1.2' as const, ca: [], ...overrides });
      const refusedBecause = async (store: Store, why: RegExp): Promise<void> => {
        await assert.rejects(store.accept(receivedMessage('x')), (error: unknown) => {
          assert.ok(error instanceof StoreError && error.code === 'PG_CONNECTION' && StoreError.isFault(error), String(error));
          assert.match(error.message, why);
          return true;
        });
      };

      it('verifies the server against the configured CA and the name it is known by', async () => {
        const { store, proxy } = await tlsStore(leaf, tls({ ca: [Buffer.from(ca.cert)], servername: 'db.plant.local' }));
        try {
          await store.accept(receivedMessage('over-tls'));
          assert.equal((await store.inbox.get('over-tls'))?.id, 'over-tls');
          assert.ok(proxy.handshakes() > 0, 'over TLS');
        } finally {
          await store.close();
          await proxy.close();
        }
      });

      it('refuses a server its CAs do not vouch for, one whose name does not match, and one below the minimum version', async () => {
        const unknown = await tlsStore(leaf, tls());
        const wrongName = await tlsStore(leaf, tls({ ca: [Buffer.from(ca.cert)] }));
        const old = await tlsStore(leaf, tls({ ca: [Buffer.from(ca.cert)], servername: 'db.plant.local', minVersion: 'TLSv1.3' }), 'TLSv1.2');
        try {
          await refusedBecause(unknown.store, /certificate/);
          await refusedBecause(wrongName.store, /does not match|altnames/i);
          await refusedBecause(old.store, /version|protocol/i);
          assert.equal(unknown.store.health().ok, false, 'health says the database cannot be reached');
        } finally {
          for (const { store, proxy } of [unknown, wrongName, old]) {
            await store.close();
            await proxy.close();
          }
        }
      });

      it('takes a pinned self-signed certificate, and refuses another', async () => {
        const sha256 = new X509Certificate(selfSigned.cert).fingerprint256;
        const pinned = await tlsStore(selfSigned, tls({ pin: { sha256, certificate: Buffer.from(selfSigned.cert) } }));
        const other = createSelfSigned('pg.plant.local', ['127.0.0.1']);
        const mismatch = await tlsStore(other, tls({ pin: { sha256, certificate: Buffer.from(selfSigned.cert) } }));
        try {
          await pinned.store.accept(receivedMessage('pinned'));
          await refusedBecause(mismatch.store, /certificate|pinned/);
        } finally {
          for (const { store, proxy } of [pinned, mismatch]) {
            await store.close();
            await proxy.close();
          }
        }
      });
    });

    describe('transactions', () => {
      it('a statement that failed is never committed, even when fn catches it and returns', async () => {
        const store = storeIn();
        await store.transaction((tx) => tx.outbox.insert({ id: 'taken', receivedId: null, envelopeFrom: 'a@b', recipients: ['c@d'], message: Buffer.from('x') }, T0));
        const outcome = store.transaction(async (tx) => {
          await tx.outbox.insert({ id: 'fresh', receivedId: null, envelopeFrom: 'a@b', recipients: ['c@d'], message: Buffer.from('x') }, T0);
          const failed = await tx.outbox.insert({ id: 'taken', receivedId: null, envelopeFrom: 'a@b', recipients: ['c@d'], message: Buffer.from('x') }, T0).catch((error: unknown) => error);
          assert.ok(failed instanceof StoreError && failed.code === 'PG_23505', String(failed));
          // The statements after it see its error, not "current transaction is aborted".
          await assert.rejects(tx.outbox.get('fresh'), (error: unknown) => error === failed);
          return 'swallowed';
        });
        await assert.rejects(outcome, (error: unknown) => error instanceof StoreError && error.code === 'PG_23505' && !StoreError.isFault(error));
        assert.equal(await store.outbox.get('fresh'), undefined);
        await store.accept(receivedMessage('next'));
        assert.equal((await store.inbox.get('next'))?.id, 'next', 'the connection serves the next transaction');
      });

      it('keeps strings PostgreSQL text cannot hold: NUL and lone surrogates in documents exactly, NUL in columns as U+FFFD', async () => {
        const store = storeIn();
        const odd = alarm('A1', { title: 'tank\u0000level \ud800 high', fields: { 'line\u0000': '4\udfff' } });
        await store.alarms.save(odd);
        assert.deepEqual(await store.alarms.get('A1'), odd);
        assert.deepEqual((await store.alarms.list(['active'])).map((a) => a.title), [odd.title]);
        await store.accept(receivedMessage('r1', { peer: { address: '10.0.0.1', port: 1, helo: 'plc\u0000', secure: false } }));
        assert.equal((await store.inbox.get('r1'))?.peer.helo, 'plc\uFFFD');
        const key = 'group|r|line=4\u0000|ops@example.com';
        const batches = await store.transaction(async (tx) => [await tx.batches.hold(held('A1', key), T0), await tx.batches.hold(held('A2', key), T0)]);
        assert.equal(batches[0]!.id, batches[1]!.id, 'one batch for the key');
        await store.alarms.log('A1', { receivedId: 'r1', at: T0, outcome: 'raised', reason: 'matched "\u0000"' });
        assert.equal((await store.alarms.history('A1'))[0]?.reason, 'matched "\uFFFD"');
      });
    });

    describe('two gateways on one database', () => {
      /** Two stores on one schema, as two gateways on one database. */
      let pairSchema = '';
      const pair = (): [PostgresStore, PostgresStore] => {
        pairSchema = db.schema();
        return [storeIn(pairSchema, { gateway: 'gw-a' }), storeIn(pairSchema, { gateway: 'gw-b' })];
      };

      /** An occurrence of the alarm of `fingerprint`: raises it, or counts it on the active one. */
      const occurrence = async (tx: Repositories, fingerprint: string, id: string, between?: () => Promise<void>): Promise<void> => {
        const active = await tx.alarms.active(fingerprint);
        await between?.();
        await tx.alarms.save(active ? { ...active, count: active.count + 1 } : alarm(id, { fingerprint, count: 1 }));
      };

      it('the first occurrence of an alarm at both at once: one alarm, both counted (the second waits for the first)', async () => {
        const [a, b] = pair();
        await a.open();
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        const first = a.transaction((tx) => occurrence(tx, 'fp-1', 'A-first', () => held));
        // A read the first has locked: without the lock, b would find no alarm and raise a second one.
        const second = b.transaction((tx) => occurrence(tx, 'fp-1', 'A-second'));
        await someoneWaitsForALock();
        release();
        await Promise.all([first, second]);
        const active = await a.alarms.active('fp-1');
        assert.equal(active?.id, 'A-first');
        assert.equal(active?.count, 2);
        assert.deepEqual((await b.alarms.list(['active', 'resolved'])).map((x) => x.id), ['A-first']);
      });

      it('a repeat while the other resolves the alarm: the repeat raises a new one after the resolve, not a lost update', async () => {
        const [a, b] = pair();
        await a.alarms.save(alarm('A1', { fingerprint: 'fp-2', count: 3 }));
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        const resolving = a.transaction(async (tx) => {
          const active = (await tx.alarms.active('fp-2'))!;
          await held;
          await tx.alarms.save({ ...active, state: 'resolved', resolvedAt: T0 + 1 });
        });
        const repeat = b.transaction((tx) => occurrence(tx, 'fp-2', 'A2'));
        await someoneWaitsForALock();
        release();
        await Promise.all([resolving, repeat]);
        assert.equal((await a.alarms.get('A1'))?.state, 'resolved');
        assert.equal((await a.alarms.get('A1'))?.count, 3);
        assert.equal((await a.alarms.active('fp-2'))?.id, 'A2');
      });

      it('many occurrences through both at once are all counted: alarms, flood counters and topic state', async () => {
        const [a, b] = pair();
        await a.open();
        await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            (i % 2 ? a : b).transaction(async (tx) => {
              await occurrence(tx, 'fp-many', `A${i}`, () => new Promise((resolve) => setImmediate(resolve)));
              const flood = await tx.batches.floodState('device:plc');
              await new Promise((resolve) => setImmediate(resolve));
              await tx.batches.saveFloodState({ scope: 'device:plc', windowStart: T0, count: (flood?.count ?? 0) + 1 });
              const topic = await tx.topics.get('p/level');
              await tx.topics.save({ topic: 'p/level', state: 'active', value: (topic?.value ?? 0) + 1, at: T0 });
            }),
          ),
        );
        assert.equal((await a.alarms.list(['active'])).length, 1);
        assert.equal((await a.alarms.active('fp-many'))?.count, 30);
        assert.equal((await b.batches.floodState('device:plc'))?.count, 30);
        assert.equal((await b.topics.get('p/level'))?.value, 30);
      });

      it('a notification held while its batch goes out joins the next batch, not the one sent', async () => {
        const [a, b] = pair();
        const { id: first } = await a.transaction((tx) => tx.batches.hold(held('A1'), T0));
        let release!: () => void;
        const held2 = new Promise<void>((resolve) => (release = resolve));
        const flush = a.transaction(async (tx) => {
          await tx.batches.get(first);
          await held2;
          const items = await tx.batches.items(first);
          await tx.batches.markSent(first, T0 + 30_000);
          return items.map((i) => i.alarmId);
        });
        const joining = b.transaction((tx) => tx.batches.hold(held('A2'), T0 + 1));
        await someoneWaitsForALock();
        release();
        const [sentItems, joined] = await Promise.all([flush, joining]);
        assert.deepEqual(sentItems, ['A1']);
        assert.equal(joined.opened, true);
        assert.notEqual(joined.id, first);
        assert.deepEqual((await a.batches.items(first)).map((i) => i.alarmId), ['A1'], 'nothing was added to the batch that went out');
      });

      it('claims never hand out an entry twice, and record who claimed', async () => {
        const [a, b] = pair();
        await a.transaction(async (tx) => {
          for (let i = 0; i < 60; i += 1) await tx.outbox.insert({ id: `o${String(i).padStart(2, '0')}`, receivedId: null, envelopeFrom: 'a@b', recipients: ['c@d'], message: Buffer.from('x') }, T0);
        });
        const claimedBy = new Map<string, string>();
        await Promise.all(
          [a, b, a, b].map(async (store) => {
            for (;;) {
              const batch = await store.outbox.claimDue(T0, 7);
              if (batch.length === 0) return;
              for (const e of batch) {
                assert.equal(claimedBy.has(e.id), false, `${e.id} claimed twice`);
                claimedBy.set(e.id, store === a ? 'gw-a' : 'gw-b');
              }
            }
          }),
        );
        assert.equal(claimedBy.size, 60);
        const rows = await db.query<{ id: string; claimed_by: string }>(`SELECT id, claimed_by FROM ${pairSchema}.outbox WHERE status = 'sending'`);
        assert.equal(rows.length, 60);
        for (const row of rows) assert.equal(row.claimed_by, claimedBy.get(row.id), row.id);
        await a.outbox.markSent('o00', T0, 'acct', []);
        assert.equal((await db.query<{ claimed_by: string | null }>(`SELECT claimed_by FROM ${pairSchema}.outbox WHERE id = 'o00'`))[0]?.claimed_by, null, 'a lease ends with its outcome');
      });

      it("a redelivery is looked for among its own client's messages: the other gateway's session numbers packets on its own", async () => {
        const [a, b] = pair();
        const mqtt = (clientId?: string) => ({ topic: 'p/x', qos: 1 as const, retain: false, dup: false, messageId: 7, ...(clientId ? { clientId } : {}) });
        await a.accept(receivedMessage('A7', { receivedAt: 1000, raw: Buffer.from('ON'), mqtt: mqtt('gw-a') }));
        assert.equal(await b.inbox.isRedelivery('p/x', 7, Buffer.from('ON'), 0, 'gw-b'), false, "packet 7 of gw-b's session is another event");
        assert.equal(await b.inbox.isRedelivery('p/x', 7, Buffer.from('ON'), 0, 'gw-a'), true, "gw-a's session taken over (leader mode): the same event");
        await a.accept(receivedMessage('old', { receivedAt: 1000, raw: Buffer.from('OFF'), mqtt: mqtt() }));
        assert.equal(await b.inbox.isRedelivery('p/x', 7, Buffer.from('OFF'), 0, 'gw-b'), true, 'a message stored without a client id counts for every client');
      });
    });

    it('close is safe to call twice; a closed store refuses work', async () => {
      const store = storeIn();
      await store.accept(receivedMessage('m'));
      await store.close();
      await assert.doesNotReject(store.close());
      await assert.rejects(store.inbox.pending(1), /closed/);
      await assert.rejects(store.accept(receivedMessage('n')), /closed/);
    });
  });
});

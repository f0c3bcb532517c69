import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { asBuffer, isSqliteExperimentalWarning, sqliteCodeName, SqliteConnection } from '../../src/store/sqlite/connection.js';
import { StoreError } from '../../src/store/store-error.js';
import { testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/** src/store/sqlite/connection.ts: what it smooths over in node:sqlite, on real files. */
describe('the SQLite connection (node:sqlite)', () => {
  const dir = testDir('annunciator-connection-');
  after(() => dir.remove());

  it('names errors by their extended result code, as StoreError and the file health watch expect', () => {
    assert.equal(sqliteCodeName(13), 'SQLITE_FULL');
    assert.equal(sqliteCodeName(10 | (4 << 8)), 'SQLITE_IOERR_FSYNC');
    assert.equal(sqliteCodeName(8 | (4 << 8)), 'SQLITE_READONLY_DBMOVED');
    assert.equal(sqliteCodeName(19 | (6 << 8)), 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.equal(sqliteCodeName(5 | (3 << 8)), 'SQLITE_BUSY_TIMEOUT');
    assert.equal(sqliteCodeName(26), 'SQLITE_NOTADB');
    assert.equal(sqliteCodeName(14 | (60 << 8)), 'SQLITE_CANTOPEN', 'an extended code this table does not know: its primary');

    const db = SqliteConnection.open(join(dir.path, 'codes.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    db.prepare('INSERT INTO t (id, v) VALUES (?, ?)').run(1, 'a');
    assert.throws(
      () => db.prepare('INSERT INTO t (id, v) VALUES (?, ?)').run(1, 'b'),
      (error: unknown) => (error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' && /UNIQUE constraint failed/.test((error as Error).message),
    );
    db.pragma('max_page_count = 1');
    const wrapped = StoreError.wrap(tryInsertBig(db));
    assert.ok(wrapped instanceof StoreError && wrapped.code === 'SQLITE_FULL' && StoreError.isFault(wrapped), String(wrapped));
    db.close();
    assert.equal(db.open, false);
  });

  it('opens with fileMustExist only a file that is there, and read-only refuses writes with SQLITE_READONLY', () => {
    const missing = join(dir.path, 'missing.db');
    assert.throws(() => SqliteConnection.open(missing, { fileMustExist: true }), (error: unknown) => (error as { code?: string }).code === 'SQLITE_CANTOPEN');
    assert.equal(existsSync(missing), false);
    const file = join(dir.path, 'ro.db');
    SqliteConnection.open(file).close();
    const ro = SqliteConnection.open(file, { readonly: true });
    assert.throws(() => ro.exec('CREATE TABLE x (a)'), (error: unknown) => (error as { code?: string }).code === 'SQLITE_READONLY');
    ro.close();
  });

  it('binds undefined as NULL, hands BLOBs on as Buffers, sets the busy timeout, and leaves foreign keys to the store', () => {
    const db = SqliteConnection.open(join(dir.path, 'values.db'), { busyTimeout: 1234 });
    assert.equal(db.pragma('busy_timeout', { simple: true }), 1234);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 0);
    db.exec('CREATE TABLE t (a, b BLOB)');
    db.prepare('INSERT INTO t (a, b) VALUES (?, ?)').run(undefined, Buffer.from([0, 0xff]));
    const row = db.prepare('SELECT a, b FROM t').get<{ a: null; b: Uint8Array }>()!;
    assert.equal(row.a, null);
    const blob = asBuffer(row.b);
    assert.ok(Buffer.isBuffer(blob) && blob.equals(Buffer.from([0, 0xff])));
    assert.equal(db.transaction(() => db.prepare('INSERT INTO t (a) VALUES (1)').run().changes), 1);
    assert.throws(() => db.transaction(() => {
      db.prepare('INSERT INTO t (a) VALUES (2)').run();
      throw new Error('no');
    }), /no/);
    assert.equal(db.inTransaction, false);
    assert.deepEqual(db.prepare('SELECT a FROM t ORDER BY rowid').all<{ a: number | null }>().map((r) => r.a), [null, 1], 'the failed transaction rolled back');
    db.close();
  });

  it("drops node:sqlite's ExperimentalWarning (Node 22) and no other warning", () => {
    assert.ok(isSqliteExperimentalWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning'));
    assert.ok(!isSqliteExperimentalWarning('SQLite is an experimental feature', 'DeprecationWarning'));
    assert.ok(!isSqliteExperimentalWarning('WASI is an experimental feature', 'ExperimentalWarning'));
    const script = `const { SqliteConnection } = await import(${JSON.stringify(join(REPO_ROOT, 'src/store/sqlite/connection.ts'))}); SqliteConnection.open(':memory:').close(); process.emitWarning('another one', 'ExperimentalWarning');`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /SQLite is an experimental feature/);
    assert.match(run.stderr, /ExperimentalWarning: another one/);
  });
});

/** A write that needs new pages on a database capped at one page: SQLITE_FULL, as on a full disk. */
function tryInsertBig(db: SqliteConnection): unknown {
  try {
    db.prepare('INSERT INTO t (id, v) VALUES (?, ?)').run(2, 'x'.repeat(100_000));
    return undefined;
  } catch (error) {
    return error;
  }
}

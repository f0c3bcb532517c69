import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BackupError, backupSqliteStore } from '../../src/store/sqlite/backup.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { testDir } from '../helpers/gateway.js';
import { peerGate } from '../helpers/real-peers.js';
import { SqliteConnection } from '../../src/store/sqlite/connection.js';

/** A store file as the gateway leaves it (WAL, migrated), with `rows` received mails of `size` bytes. */
async function storeWith(dataDir: string, rows: number, size = 1000): Promise<string> {
  const store = SqliteStore.open(dataDir);
  for (let i = 0; i < rows; i += 1) {
    await store.accept({
      id: `r${i}`,
      receivedAt: 1_700_000_000_000 + i,
      listener: 'lan',
      peer: { address: '127.0.0.1', port: 1000 + i, secure: false },
      envelope: { mailFrom: 'plc@plant.local', rcptTo: ['oncall@example.com'] },
      raw: Buffer.alloc(size, `Subject: alarm ${i}\r\n`),
    });
  }
  await store.close();
  return SqliteStore.fileIn(dataDir);
}

function receivedIds(file: string): string[] {
  const db = SqliteConnection.open(file, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM received ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
  } finally {
    db.close();
  }
}

/** Files in `dir` other than those named: a failed backup must leave no temporary file behind. */
function othersIn(dir: string, ...expected: string[]): string[] {
  return readdirSync(dir).filter((name) => !expected.includes(name));
}

describe('store backup (backupSqliteStore)', () => {
  const dir = testDir('annunciator-backup-');
  after(() => dir.remove());

  it('writes a checked copy with every row, the schema version and the store file mode', async () => {
    const source = await storeWith(join(dir.path, 'a'), 25);
    chmodSync(source, 0o640);
    const target = join(dir.path, 'backup-a.db');
    const report = backupSqliteStore(source, target);
    assert.equal(report.target, target);
    assert.equal(report.schemaVersion, SqliteConnection.open(source, { readonly: true }).pragma('user_version', { simple: true }));
    assert.ok(report.schemaVersion >= 11);
    assert.equal(report.bytes, statSync(target).size);
    assert.deepEqual(receivedIds(target), receivedIds(source));
    assert.equal(receivedIds(target).length, 25);
    assert.equal(statSync(target).mode & 0o777, 0o640);
    const copy = SqliteConnection.open(target, { readonly: true });
    assert.deepEqual(copy.pragma('integrity_check', { simple: true }), 'ok');
    // Incremental auto-vacuum survives, so a store restored from it needs no VACUUM at start.
    assert.equal(copy.pragma('auto_vacuum', { simple: true }), 2);
    copy.close();
    assert.deepEqual(othersIn(dir.path, 'a', 'backup-a.db'), []);
  });

  it('a store opened on the copy has everything (migrations find it current)', async () => {
    const source = await storeWith(join(dir.path, 'b'), 3);
    const restoredDir = join(dir.path, 'b-restored');
    mkdirSync(restoredDir);
    backupSqliteStore(source, SqliteStore.fileIn(restoredDir));
    const store = SqliteStore.open(restoredDir);
    try {
      assert.equal(store.settings().journalMode, 'wal');
      assert.equal(store.settings().autoVacuum, 2);
      assert.deepEqual(
        (await store.inbox.pending(10)).map((r) => r.id),
        ['r0', 'r1', 'r2'],
      );
    } finally {
      await store.close();
    }
  });

  it('replaces an older backup of the same name whole', async () => {
    const source = await storeWith(join(dir.path, 'c'), 4);
    const target = dir.write('backup-c.db', 'yesterday');
    backupSqliteStore(source, target);
    assert.equal(receivedIds(target).length, 4);
  });

  it('refuses the store itself, its WAL, a missing folder, a folder and a missing store, writing nothing', async () => {
    const dataDir = join(dir.path, 'd');
    const source = await storeWith(dataDir, 1);
    for (const target of [source, `${source}-wal`, join(dataDir, '.', 'annunciator.db')]) {
      assert.throws(() => backupSqliteStore(source, target), (e: unknown) => e instanceof BackupError && /is the store itself/.test(e.message));
    }
    assert.throws(() => backupSqliteStore(source, join(dir.path, 'nowhere', 'b.db')), /folder .*nowhere does not exist/);
    assert.throws(() => backupSqliteStore(source, dir.path), /is a directory/);
    assert.throws(() => backupSqliteStore(join(dir.path, 'none', 'annunciator.db'), join(dir.path, 'x.db')), /no store at/);
    assert.deepEqual(othersIn(dataDir, 'annunciator.db'), []);
    assert.equal(receivedIds(source).length, 1);
  });

  it('fails on a file that is not a database, keeping the old backup and leaving no temporary file', () => {
    const sub = join(dir.path, 'e');
    mkdirSync(sub);
    const source = join(sub, 'annunciator.db');
    writeFileSync(source, Buffer.alloc(8192, 'not sqlite '));
    const target = join(sub, 'backup.db');
    writeFileSync(target, 'the old backup');
    assert.throws(() => backupSqliteStore(source, target), (e: unknown) => e instanceof BackupError && /SQLITE_NOTADB/.test(e.message));
    assert.equal(readFileSync(target, 'utf8'), 'the old backup');
    assert.deepEqual(othersIn(sub, 'annunciator.db', 'backup.db'), []);
  });

  describe('on a disk that fills up mid-copy (a real 1 MiB tmpfs)', () => {
    const diskDir = testDir('annunciator-backup-disk-');
    const mountPoint = join(diskDir.path, 'disk');
    mkdirSync(mountPoint);
    let mountError: string | false = false;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      mountError = `cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): ${(error as Error).message.split('\n')[0]}`;
    }
    const gate = peerGate(mountError);
    after(() => {
      if (mountError === false) execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
      diskDir.remove();
    });

    it('keeps the old backup as it was and leaves no partial file', { skip: gate.skip }, async () => {
      gate.assertPresent();
      // 3 MiB of mail: the copy cannot fit in 1 MiB.
      const source = await storeWith(join(dir.path, 'f'), 30, 100_000);
      const target = join(mountPoint, 'backup.db');
      writeFileSync(target, 'the old backup');
      assert.throws(() => backupSqliteStore(source, target), (e: unknown) => e instanceof BackupError && /SQLITE_FULL|database or disk is full/.test(e.message));
      assert.equal(readFileSync(target, 'utf8'), 'the old backup');
      assert.deepEqual(othersIn(mountPoint, 'backup.db'), []);
    });
  });
});

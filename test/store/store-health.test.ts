import assert from 'node:assert/strict';
import { capturedLogs } from '../helpers/captured-logs.js';
import { chmodSync, copyFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileHealth } from '../../src/store/sqlite/file-health.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError } from '../../src/store/store-error.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { testDir } from '../helpers/gateway.js';
import { receivedMessage } from './contract.js';

const dir = testDir();
after(() => dir.remove());
let n = 0;

/** A store on a fake clock with its log lines kept. */
function watched(): { store: SqliteStore; file: string; clock: FakeClock; lines: Record<string, unknown>[] } {
  n += 1;
  const clock = new FakeClock();
  const { logger, lines } = capturedLogs();
  const dataDir = join(dir.path, `health-${n}`);
  const store = SqliteStore.open(dataDir, { clock, logger });
  return { store, file: join(dataDir, 'annunciator.db'), clock, lines };
}

const errors = (lines: Record<string, unknown>[]) => lines.filter((l) => l.level === 50);

describe('the store watches its file', () => {
  it('is healthy on a fresh file and in memory', async () => {
    const { store } = watched();
    assert.deepEqual(store.health(), { ok: true });
    await store.close();
    const memory = new SqliteStore(':memory:');
    assert.deepEqual(memory.health(), { ok: true });
    await memory.close();
  });

  it('deleted: refuses the very next accept (checked after its commit, before a 250), every transaction after, and logs once that a restart is needed', async () => {
    const { store, file, clock, lines } = watched();
    await store.accept(receivedMessage('before'));
    unlinkSync(file);
    await assert.rejects(store.accept(receivedMessage('right after')), (error: unknown) => error instanceof StoreError && /was deleted; refusing to accept mail into a file that will not be read again/.test(error.message));
    for (let i = 0; i < 5; i += 1) await assert.rejects(store.accept(receivedMessage(`later-${i}`)), StoreError);
    await assert.rejects(store.transaction(async () => 1), /was deleted/);
    await assert.rejects(store.inbox.pending(10), /was deleted/);
    await clock.advance(5000);
    const health = store.health();
    assert.equal(health.ok, false);
    assert.ok(!health.ok && health.needsRestart && /was deleted/.test(health.reason));
    assert.equal(errors(lines).length, 1, JSON.stringify(lines));
    assert.match(String(errors(lines)[0]?.msg), /Restart the gateway/);
    await store.close();
  });

  it('replaced by another file: refused like a deletion', async () => {
    const { store, file, lines } = watched();
    await store.accept(receivedMessage('before'));
    copyFileSync(file, `${file}.new`);
    renameSync(`${file}.new`, file);
    await assert.rejects(store.accept(receivedMessage('after')), /was replaced by another file/);
    assert.ok(!store.health().ok);
    assert.equal(errors(lines).length, 1);
    await store.close();
  });

  it('made read-only (mode bits, root or not): refused from the next look, and taking work again by itself once writable', async () => {
    const { store, file, clock, lines } = watched();
    chmodSync(file, 0o444);
    await clock.advance(1000);
    const health = store.health();
    assert.ok(!health.ok && !health.needsRestart && /was made read-only/.test(health.reason));
    await assert.rejects(store.accept(receivedMessage('ro')), (error: unknown) => error instanceof StoreError && error.code === 'SQLITE_READONLY');
    await assert.rejects(store.transaction(async () => 1), /read-only/);
    chmodSync(file, 0o644);
    await clock.advance(1000);
    assert.deepEqual(store.health(), { ok: true });
    await store.accept(receivedMessage('rw'));
    assert.equal((await store.inbox.pending(10)).length, 1);
    assert.equal(errors(lines).length, 1);
    assert.ok(lines.some((l) => l.level === 40 && /healthy again/.test(String(l.msg))));
    await store.close();
  });

  it('full (SQLite page limit): accept rejects with SQLITE_FULL, health says so, and it clears once there is room again', async () => {
    const { store, clock, lines } = watched();
    await store.accept(receivedMessage('first'));
    store.limitPagesForTest(1);
    let refused: unknown;
    for (let i = 0; i < 1000 && !refused; i += 1) await store.accept(receivedMessage(`fill-${i}`)).catch((error: unknown) => (refused = error));
    assert.ok(refused instanceof StoreError && refused.code === 'SQLITE_FULL', String(refused));
    assert.ok(StoreError.isFault(refused));
    const health = store.health();
    assert.ok(!health.ok && health.code === 'SQLITE_FULL' && !health.needsRestart);
    // Reads and writes that need no new page still work.
    assert.ok((await store.inbox.pending(1)).length === 1);
    await clock.advance(5000);
    assert.equal(store.health().ok, false, 'still full: no room');
    store.limitPagesForTest(undefined);
    await clock.advance(1000);
    assert.deepEqual(store.health(), { ok: true });
    await store.accept(receivedMessage('after'));
    assert.equal(errors(lines).length, 1);
    await store.close();
  });

  it('an I/O error SQLite reports refuses work for one interval, then lets it try again; a write that commits clears it', async () => {
    const { store, file, clock } = watched();
    const lines: unknown[] = [];
    const health = new FileHealth(file, { clock, interval: 1000, roomToGrow: () => true, logger: { error: (...args: unknown[]) => lines.push(args), warn: (...args: unknown[]) => lines.push(args) } as never });
    health.failed(new StoreError('store: disk I/O error', 'SQLITE_IOERR_WRITE'));
    const refused = health.refusal();
    assert.ok(refused instanceof StoreError && refused.code === 'SQLITE_IOERR_WRITE' && /disk I\/O error/.test(refused.message));
    assert.equal(health.health().ok, false);
    await clock.advance(1000);
    assert.equal(health.refusal(), undefined, 'tried again after an interval');
    assert.equal(health.health().ok, false, 'but not healthy until something commits');
    health.committed(false, false);
    assert.equal(health.health().ok, false, 'a read proves nothing');
    health.committed(true, false);
    assert.deepEqual(health.health(), { ok: true });
    assert.equal(lines.length, 2, 'one line when it failed, one when it recovered');
    // Not the store's fault: a constraint says nothing about the file.
    health.failed(new StoreError('store: UNIQUE constraint failed', 'SQLITE_CONSTRAINT_PRIMARYKEY'));
    assert.deepEqual(health.health(), { ok: true });
    health.close();
    await store.close();
  });

  it('looks with one timer on the injected clock, and none once closed', async () => {
    const { store, clock } = watched();
    assert.equal(clock.pending, 1);
    await store.close();
    assert.equal(clock.pending, 0);
  });
});

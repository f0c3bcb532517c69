import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { alarmsInStore, withStoredStore, type StoredAlarms } from '../helpers/cli-alarms.js';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';

describe('annunciator queue', () => {
  const dir = testDir();
  after(() => dir.remove());
  let stored: StoredAlarms;
  const cli = (...args: string[]) => runCli(['--config', stored.configFile, 'queue', ...args]);
  const withStore = <T>(fn: (store: SqliteStore) => Promise<T>): Promise<T> => withStoredStore(stored, fn);

  before(async () => {
    stored = await alarmsInStore(dir, Date.parse('2026-11-24T13:00:00Z'), [
      { from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: On battery power' },
      { from: 'plc-line4@plant.local', to: 'maintenance@example.com', subject: 'ALARM Line4 Motor M12 overtemperature' },
    ]);
  });

  const entryOf = (alarmIndex: number) => {
    const entry = stored.outbox.find((e) => e.alarmId === stored.alarms[alarmIndex]?.id);
    assert.ok(entry, `a notification of alarm ${alarmIndex}`);
    return entry;
  };

  it('delete records in the alarm history who deleted which notification, and that it will not be sent', async () => {
    const ups = stored.alarms[0]!;
    const entry = entryOf(0);
    const before = await withStore((store) => store.alarms.history(ups.id));
    assert.equal(before.at(-1)?.outcome, 'raised', 'the history says the alarm was raised and notified');

    const result = await cli('delete', entry.id);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^deleted ${entry.id} \\(recorded in the history of alarm ${ups.id}\\)$`, 'm'));

    const history = await withStore((store) => store.alarms.history(ups.id));
    assert.equal(history.length, before.length + 1);
    const line = history.at(-1)!;
    assert.equal(line.outcome, 'notification-deleted');
    assert.equal(line.receivedId, entry.receivedId);
    assert.match(line.reason, new RegExp(`^notification ${entry.id} to facility@example\\.com, anna\\.berger@example\\.com deleted from the outbox by \\S+ via cli \\(pending after 1 attempt\\(s\\), last error: .*ECONNREFUSED.*; it will not be sent\\)$`));
    assert.ok(Math.abs(line.at - Date.now()) < 60_000, 'recorded at the time of the deletion');
    assert.equal(await withStore((store) => store.outbox.get(entry.id)), undefined, 'gone from the outbox');

    const shown = await runCli(['--config', stored.configFile, 'alarms', '--show', ups.id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /notification-deleted\s+notification \S+ to facility@example\.com, anna\.berger@example\.com deleted from the outbox by/);
    assert.match(shown.stdout, /^notified {4}1 time\(s\) to [^;]+; 1 of them deleted from the outbox unsent$/m);
  });

  it('delete names each id it cannot delete and writes no history for it: unknown, or being sent', async () => {
    const motor = stored.alarms[1]!;
    const entry = entryOf(1);
    // Claimed by a delivery worker: the row cannot be deleted while it is handed over.
    const claimed = await withStore((store) => store.outbox.claimDue(entry.nextAttemptAt, 10));
    assert.deepEqual(claimed.map((e) => e.id), [entry.id]);
    const historyBefore = await withStore((store) => store.alarms.history(motor.id));

    const result = await cli('delete', 'NO-SUCH-ENTRY', entry.id);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^annunciator queue delete: NO-SUCH-ENTRY: no such entry \(see annunciator queue\)$/m);
    assert.match(result.stderr, new RegExp(`^annunciator queue delete: ${entry.id}: being sent right now; it cannot be stopped$`, 'm'));
    assert.match(result.stdout, /^0 entries deleted$/m);
    assert.deepEqual(await withStore((store) => store.alarms.history(motor.id)), historyBefore);
    assert.equal((await withStore((store) => store.outbox.get(entry.id)))?.status, 'sending');
  });

  it('retry names the ids it cannot retry, and retries the others', async () => {
    const motorEntry = entryOf(1);
    await withStore((store) => store.outbox.recoverInterrupted(Date.now()));
    const result = await cli('retry', 'NOPE', motorEntry.id);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'annunciator queue retry: NOPE: no such entry (see annunciator queue)\n');
    assert.equal(result.stdout, '1 entry due now\n');
    assert.ok(((await withStore((store) => store.outbox.get(motorEntry.id)))?.nextAttemptAt ?? Infinity) <= Date.now());

    const none = await cli('retry');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^annunciator queue retry: name entry ids or use --all\n\(see 'annunciator queue retry --help'\)\n$/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { alarmsInStore, withStoredStore, type StoredAlarms } from '../helpers/cli-alarms.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';

/** stdout is one JSON document and nothing else. */
function jsonOf(result: CliResult): unknown {
  assert.match(result.stdout, /^\{\n[\s\S]*\n\}\n$/, `one JSON object on stdout: ${result.stdout}`);
  return JSON.parse(result.stdout);
}

describe('annunciator queue retry/delete --json', () => {
  const dir = testDir();
  after(() => dir.remove());
  let stored: StoredAlarms;
  const cli = (...args: string[]) => runCli(['--config', stored.configFile, 'queue', ...args]);
  const withStore = <T>(fn: (store: SqliteStore) => Promise<T>): Promise<T> => withStoredStore(stored, fn);
  // One notification per alarm, pending after a failed attempt; then one is being sent and one was sent.
  let sending = '';
  let sent = '';
  let pending: string[] = [];
  const alarmOf = (entryId: string) => stored.outbox.find((e) => e.id === entryId)?.alarmId;

  before(async () => {
    stored = await alarmsInStore(dir, Date.parse('2026-11-24T13:00:00Z'), [
      { from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: On battery power' },
      { from: 'plc-line4@plant.local', to: 'maintenance@example.com', subject: 'ALARM Line4 Motor M12 overtemperature' },
      { from: 'plc-line4@plant.local', to: 'maintenance@example.com', subject: 'ALARM Line4 Motor M7 overtemperature' },
      { from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: Battery low' },
    ]);
    const byDue = [...stored.outbox].sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt);
    await withStore(async (store) => {
      // The earliest due entry, claimed by a delivery worker: `sending`.
      const claimed = await store.outbox.claimDue(byDue[0]!.nextAttemptAt, 1);
      assert.equal(claimed.length, 1);
      sending = claimed[0]!.id;
      sent = byDue.find((e) => e.id !== sending)!.id;
      await store.outbox.markSent(sent, Date.now(), 'down', []);
    });
    pending = stored.outbox.filter((e) => e.id !== sending && e.id !== sent).map((e) => e.id);
    assert.ok(pending.length >= 2, 'two pending entries at least');
  });

  it('retry ID... --json: the ids made due, those not found, those sent or being sent; exit 1, the refusals also on stderr', async () => {
    const started = Date.now();
    const result = await cli('retry', '--json', 'NOPE', sent, sending, pending[0]!, pending[0]!);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(jsonOf(result), {
      retried: [pending[0]],
      notFound: ['NOPE'],
      refused: [
        { id: sent, status: 'sent', reason: 'sent already; nothing to retry' },
        { id: sending, status: 'sending', reason: 'being sent right now' },
      ],
    });
    assert.equal(
      result.stderr,
      [`NOPE: no such entry (see annunciator queue)`, `${sent}: sent already; nothing to retry`, `${sending}: being sent right now`].map((line) => `annunciator queue retry: ${line}\n`).join(''),
    );
    const entry = await withStore((store) => store.outbox.get(pending[0]!));
    assert.ok(entry && entry.nextAttemptAt >= started && entry.nextAttemptAt <= Date.now(), 'made due now');
    const unnamed = stored.outbox.find((e) => e.id === pending[1])!;
    assert.equal((await withStore((store) => store.outbox.get(unnamed.id)))?.nextAttemptAt, unnamed.nextAttemptAt, 'an id not named is left alone');
  });

  it('retry ID --json with nothing refused exits 0 and prints nothing on stderr', async () => {
    const result = await cli('retry', pending[1]!, '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.deepEqual(jsonOf(result), { retried: [pending[1]], notFound: [], refused: [] });
  });

  it('retry --all --json: every pending and failed entry, in the order queued; sent and sending ones are not taken', async () => {
    const result = await cli('retry', '--all', '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const inOrder = stored.outbox.filter((e) => pending.includes(e.id)).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((e) => e.id);
    assert.deepEqual(jsonOf(result), { retried: inOrder, notFound: [], refused: [] });
    const audit = JSON.parse((await runCli(['--config', stored.configFile, 'audit', '--action', 'outbox.retry', '--limit', '1', '--json'])).stdout) as Array<{ detail: unknown }>;
    assert.deepEqual(audit[0]?.detail, { all: true, entries: inOrder.length }, 'the audit log counts what was retried');
  });

  it('delete ID... --json: each entry deleted with its status and alarms, the ids not found, those being sent; exit 1', async () => {
    const result = await cli('delete', '--json', 'NOPE', sending, pending[0]!, sent);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(jsonOf(result), {
      deleted: [
        { id: pending[0], status: 'pending', alarmIds: [alarmOf(pending[0]!)] },
        { id: sent, status: 'sent', alarmIds: [alarmOf(sent)] },
      ],
      notFound: ['NOPE'],
      refused: [{ id: sending, status: 'sending', reason: 'being sent right now; it cannot be stopped' }],
    });
    assert.equal(result.stderr, `annunciator queue delete: NOPE: no such entry (see annunciator queue)\nannunciator queue delete: ${sending}: being sent right now; it cannot be stopped\n`);
    assert.equal(await withStore((store) => store.outbox.get(pending[0]!)), undefined, 'deleted');
    assert.equal(await withStore((store) => store.outbox.get(sent)), undefined, 'deleted');
    assert.equal((await withStore((store) => store.outbox.get(sending)))?.status, 'sending', 'left alone');

    const ok = await cli('delete', pending[1]!, '--json');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    assert.deepEqual(jsonOf(ok), { deleted: [{ id: pending[1], status: 'pending', alarmIds: [alarmOf(pending[1]!)] }], notFound: [], refused: [] });
  });
});

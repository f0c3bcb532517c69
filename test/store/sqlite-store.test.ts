import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Received } from '../../src/ingest/received.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { NewOutboxEntry } from '../../src/store/store.js';
import { testDir } from '../helpers/gateway.js';

const T0 = 1_764_000_000_000;

function receivedMessage(id: string, overrides: Partial<Received> = {}): Received {
  return {
    id,
    receivedAt: T0,
    listener: 'lan',
    peer: { address: '10.0.0.5', port: 40000, helo: 'plc-line4', secure: false },
    envelope: { mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'] },
    raw: Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`),
    ...overrides,
  };
}

function entry(id: string, receivedId: string | null = null, overrides: Partial<NewOutboxEntry> = {}): NewOutboxEntry {
  return { id, receivedId, envelopeFrom: 'plc@gw.test', recipients: ['ops@example.com'], message: Buffer.from(`message ${id}\r\n`), ...overrides };
}

describe('SqliteStore', () => {
  const dir = testDir();
  let n = 0;
  let dataDir: string;
  let store: SqliteStore;

  beforeEach(() => {
    n += 1;
    dataDir = join(dir.path, `data-${n}`);
    store = SqliteStore.open(dataDir);
  });
  afterEach(() => store.close());
  after(() => dir.remove());

  /** Queues outbox entries without a received message, all due at `now`. */
  function queue(ids: string[], now = T0): void {
    const receivedId = `r-${ids.join('-')}`;
    store.insertReceived(receivedMessage(receivedId));
    store.completeReceived(receivedId, ids.map((id) => entry(id, receivedId)), now);
  }

  describe('opening', () => {
    it('creates the data folder and annunciator.db in it', () => {
      assert.ok(existsSync(join(dataDir, 'annunciator.db')));
    });

    it('uses WAL and records the schema version', () => {
      assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(store.db.pragma('user_version', { simple: true }), 6);
    });

    it('refuses a database from a newer version', () => {
      store.close();
      const db = new Database(join(dataDir, 'annunciator.db'));
      db.pragma('user_version = 99');
      db.close();
      assert.throws(() => SqliteStore.open(dataDir), /schema version 99 is newer/);
    });

    it('close is safe to call twice', () => {
      store.close();
      assert.doesNotThrow(() => store.close());
      assert.equal(store.db.open, false);
    });
  });

  describe('received messages', () => {
    it('round-trips every field through insertReceived and pendingReceived', () => {
      const message = receivedMessage('r1', {
        receivedAt: T0 + 5,
        listener: 'plant-lan',
        peer: { address: '::ffff:10.0.0.7', port: 51234, helo: 'S7-1500', authUser: 'plc', secure: true },
        envelope: { mailFrom: 'plc@plant.local', rcptTo: ['a@example.com', 'b@example.com'] },
      });
      store.insertReceived(message);
      const [got, ...rest] = store.pendingReceived(10);
      assert.deepEqual(rest, []);
      assert.ok(got);
      assert.ok(Buffer.isBuffer(got.raw));
      assert.deepEqual({ ...got, raw: Buffer.from(got.raw) }, message);
    });

    it('keeps raw bytes exactly, binary and 8-bit included', () => {
      const raw = Buffer.from([0x00, 0xff, 0xf6, 0x0d, 0x0a, 0x0a, 0x80, 0x00, 0x2e, 0x0d]);
      store.insertReceived(receivedMessage('bin', { raw }));
      const got = store.pendingReceived(1)[0]!;
      assert.deepEqual([...got.raw], [...raw]);
    });

    it('keeps a null reverse-path and missing HELO and AUTH user', () => {
      store.insertReceived(receivedMessage('null', { peer: { address: '10.0.0.1', port: 1, secure: false }, envelope: { mailFrom: null, rcptTo: ['x@example.com'] } }));
      const got = store.pendingReceived(1)[0]!;
      assert.equal(got.envelope.mailFrom, null);
      assert.equal(got.peer.helo, undefined);
      assert.equal(got.peer.authUser, undefined);
      assert.equal(got.peer.secure, false);
    });

    it('refuses a duplicate id', () => {
      store.insertReceived(receivedMessage('dup'));
      assert.throws(() => store.insertReceived(receivedMessage('dup')));
    });

    it('lists pending messages oldest first, then by id, up to the limit', () => {
      store.insertReceived(receivedMessage('c', { receivedAt: T0 + 2 }));
      store.insertReceived(receivedMessage('b', { receivedAt: T0 + 1 }));
      store.insertReceived(receivedMessage('a2', { receivedAt: T0 }));
      store.insertReceived(receivedMessage('a1', { receivedAt: T0 }));
      assert.deepEqual(store.pendingReceived(10).map((r) => r.id), ['a1', 'a2', 'b', 'c']);
      assert.deepEqual(store.pendingReceived(2).map((r) => r.id), ['a1', 'a2']);
    });

    it('completeReceived queues the entries and the message is no longer pending', () => {
      store.insertReceived(receivedMessage('r1'));
      store.completeReceived('r1', [entry('o1', 'r1'), entry('o2', 'r1', { recipients: ['x@example.com', 'y@example.com'] })], T0 + 10);
      assert.deepEqual(store.pendingReceived(10), []);
      const o2 = store.getOutbox('o2');
      assert.ok(o2);
      assert.equal(o2.receivedId, 'r1');
      assert.equal(o2.status, 'pending');
      assert.equal(o2.attempts, 0);
      assert.equal(o2.createdAt, T0 + 10);
      assert.equal(o2.nextAttemptAt, T0 + 10);
      assert.equal(o2.updatedAt, T0 + 10);
      assert.deepEqual(o2.recipients, ['x@example.com', 'y@example.com']);
      assert.equal(o2.message.toString(), 'message o2\r\n');
      assert.equal(o2.lastError, null);
      assert.equal(o2.lastAccount, null);
      assert.equal(o2.sentAt, null);
      assert.deepEqual(o2.rejectedRecipients, []);
      assert.equal(store.db.prepare(`SELECT state FROM received WHERE id = 'r1'`).pluck().get(), 'processed');
    });

    it('completeReceived is idempotent: a second call queues nothing', () => {
      store.insertReceived(receivedMessage('r1'));
      store.completeReceived('r1', [entry('o1', 'r1')], T0);
      assert.doesNotThrow(() => store.completeReceived('r1', [entry('o1-again', 'r1'), entry('o1-again-2', 'r1')], T0 + 1));
      assert.deepEqual(store.listOutbox(['pending', 'sending', 'sent', 'failed']).map((e) => e.id), ['o1']);
      assert.equal(store.getOutbox('o1-again'), undefined);
    });

    it('completeReceived for an unknown id queues nothing', () => {
      store.completeReceived('nope', [entry('o1', null)], T0);
      assert.equal(store.getOutbox('o1'), undefined);
    });

    it('completeReceived is all or nothing', () => {
      store.insertReceived(receivedMessage('r1'));
      store.insertReceived(receivedMessage('r2'));
      store.completeReceived('r1', [entry('taken', 'r1')], T0);
      // The second entry collides with an existing id: nothing of r2 may stay behind.
      assert.throws(() => store.completeReceived('r2', [entry('fresh', 'r2'), entry('taken', 'r2')], T0));
      assert.equal(store.getOutbox('fresh'), undefined);
      assert.deepEqual(store.pendingReceived(10).map((r) => r.id), ['r2']);
    });

    it('rejectReceived takes a message out of the pending list and records why', () => {
      store.insertReceived(receivedMessage('bad'));
      store.insertReceived(receivedMessage('good'));
      store.rejectReceived('bad', 'no recipients allowed', T0 + 3);
      assert.deepEqual(store.pendingReceived(10).map((r) => r.id), ['good']);
      const row = store.db.prepare(`SELECT state, error, processed_at FROM received WHERE id = 'bad'`).get() as { state: string; error: string; processed_at: number };
      assert.deepEqual(row, { state: 'rejected', error: 'no recipients allowed', processed_at: T0 + 3 });
    });
  });

  describe('outbox', () => {
    it('claimDueOutbox returns only due pending entries, marks them sending and counts the attempt', () => {
      queue(['due1', 'due2']);
      queue(['later'], T0 + 60_000);
      const claimed = store.claimDueOutbox(T0, 10);
      assert.deepEqual(claimed.map((e) => e.id), ['due1', 'due2']);
      for (const e of claimed) {
        assert.equal(e.status, 'sending');
        assert.equal(e.attempts, 1);
        assert.equal(e.message.toString(), `message ${e.id}\r\n`);
      }
      const stored = store.getOutbox('due1')!;
      assert.equal(stored.status, 'sending');
      assert.equal(stored.attempts, 1);
      assert.equal(store.getOutbox('later')!.status, 'pending');
      assert.equal(store.getOutbox('later')!.attempts, 0);
    });

    it('claimDueOutbox does not hand out an entry twice', () => {
      queue(['o1']);
      assert.equal(store.claimDueOutbox(T0, 10).length, 1);
      assert.deepEqual(store.claimDueOutbox(T0 + 1, 10), []);
    });

    it('claimDueOutbox returns the most overdue first and respects the limit', () => {
      queue(['b'], T0 + 2);
      queue(['a'], T0 + 1);
      queue(['c'], T0 + 3);
      assert.deepEqual(store.claimDueOutbox(T0 + 10, 2).map((e) => e.id), ['a', 'b']);
      assert.deepEqual(store.claimDueOutbox(T0 + 10, 2).map((e) => e.id), ['c']);
    });

    it('claimDueOutbox includes an entry due exactly now', () => {
      queue(['edge'], T0 + 500);
      assert.deepEqual(store.claimDueOutbox(T0 + 499, 10), []);
      assert.deepEqual(store.claimDueOutbox(T0 + 500, 10).map((e) => e.id), ['edge']);
    });

    it('claimDueOutbox skips sent and failed entries', () => {
      // Claimed in id order: a-sent and b-failed are taken, c-pending stays.
      queue(['a-sent', 'b-failed', 'c-pending']);
      assert.deepEqual(store.claimDueOutbox(T0, 2).map((e) => e.id), ['a-sent', 'b-failed']);
      store.markSent('a-sent', T0 + 1, 'gmail', []);
      store.markFailed('b-failed', { now: T0 + 1, error: '550 no', account: 'gmail', rejectedRecipients: ['ops@example.com'] });
      assert.deepEqual(store.claimDueOutbox(T0 + 100, 10).map((e) => e.id), ['c-pending']);
    });

    it('attempts count up over reschedules', () => {
      queue(['o1']);
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const [claimed] = store.claimDueOutbox(T0 + attempt * 1000, 1);
        assert.equal(claimed?.attempts, attempt);
        store.reschedule('o1', { now: T0 + attempt * 1000, nextAttemptAt: T0 + attempt * 1000, error: 'try again', account: 'a', recipients: ['ops@example.com'], rejectedRecipients: [] });
      }
      assert.equal(store.getOutbox('o1')!.attempts, 3);
    });

    it('recoverInterruptedOutbox puts sending entries back to pending, due now', () => {
      queue(['s1', 's2', 'x-pending']);
      assert.deepEqual(store.claimDueOutbox(T0, 2).map((e) => e.id), ['s1', 's2']);
      assert.equal(store.recoverInterruptedOutbox(T0 + 5000), 2);
      for (const id of ['s1', 's2']) {
        const e = store.getOutbox(id)!;
        assert.equal(e.status, 'pending');
        assert.equal(e.nextAttemptAt, T0 + 5000);
        assert.equal(e.updatedAt, T0 + 5000);
        assert.equal(e.lastError, 'interrupted by a restart');
        assert.equal(e.attempts, 1);
      }
      assert.equal(store.getOutbox('x-pending')!.updatedAt, T0, 'pending entries are not touched');
      assert.equal(store.getOutbox('x-pending')!.lastError, null);
      assert.equal(store.recoverInterruptedOutbox(T0 + 6000), 0);
    });

    it('recoverInterruptedOutbox keeps an earlier error', () => {
      queue(['o1']);
      store.claimDueOutbox(T0, 1);
      store.reschedule('o1', { now: T0, nextAttemptAt: T0, error: '451 greylisted', account: 'a', recipients: ['ops@example.com'], rejectedRecipients: [] });
      store.claimDueOutbox(T0, 1);
      store.recoverInterruptedOutbox(T0 + 1);
      assert.equal(store.getOutbox('o1')!.lastError, '451 greylisted');
    });

    it('reschedule records the failure and the recipients still to do', () => {
      queue(['o1']);
      store.claimDueOutbox(T0, 1);
      store.reschedule('o1', { now: T0 + 1, nextAttemptAt: T0 + 30_000, error: '451 try later', account: 'm365', recipients: ['b@example.com'], rejectedRecipients: ['a@example.com'] });
      const e = store.getOutbox('o1')!;
      assert.equal(e.status, 'pending');
      assert.equal(e.nextAttemptAt, T0 + 30_000);
      assert.equal(e.lastError, '451 try later');
      assert.equal(e.lastAccount, 'm365');
      assert.deepEqual(e.recipients, ['b@example.com']);
      assert.deepEqual(e.rejectedRecipients, ['a@example.com']);
      assert.equal(e.updatedAt, T0 + 1);
      assert.deepEqual(store.claimDueOutbox(T0 + 29_999, 10), []);
      assert.deepEqual(store.claimDueOutbox(T0 + 30_000, 10).map((x) => x.id), ['o1']);
    });

    it('reschedule only acts on an entry that is being sent', () => {
      queue(['o1']);
      store.reschedule('o1', { now: T0 + 1, nextAttemptAt: T0 + 99_000, error: 'x', account: null, recipients: [], rejectedRecipients: [] });
      const e = store.getOutbox('o1')!;
      assert.equal(e.nextAttemptAt, T0);
      assert.equal(e.lastError, null);
      assert.deepEqual(e.recipients, ['ops@example.com']);
    });

    it('markSent records account, time and refused recipients', () => {
      queue(['o1']);
      store.claimDueOutbox(T0, 1);
      store.markSent('o1', T0 + 42, 'gmail', ['gone@example.com']);
      const e = store.getOutbox('o1')!;
      assert.equal(e.status, 'sent');
      assert.equal(e.sentAt, T0 + 42);
      assert.equal(e.updatedAt, T0 + 42);
      assert.equal(e.lastAccount, 'gmail');
      assert.deepEqual(e.rejectedRecipients, ['gone@example.com']);
    });

    it('markFailed records the error', () => {
      queue(['o1']);
      store.claimDueOutbox(T0, 1);
      store.markFailed('o1', { now: T0 + 7, error: '550 5.1.1 no such user', account: null, rejectedRecipients: ['ops@example.com'] });
      const e = store.getOutbox('o1')!;
      assert.equal(e.status, 'failed');
      assert.equal(e.lastError, '550 5.1.1 no such user');
      assert.equal(e.lastAccount, null);
      assert.equal(e.sentAt, null);
      assert.deepEqual(e.rejectedRecipients, ['ops@example.com']);
    });

    it('listOutbox filters by status, orders by creation and reports the size', () => {
      queue(['first'], T0);
      queue(['second'], T0 + 1);
      store.claimDueOutbox(T0, 1);
      store.markSent('first', T0 + 2, 'a', []);
      assert.deepEqual(store.listOutbox([]), []);
      assert.deepEqual(store.listOutbox(['pending']).map((e) => e.id), ['second']);
      const all = store.listOutbox(['pending', 'sent']);
      assert.deepEqual(all.map((e) => e.id), ['first', 'second']);
      assert.equal(all[0]!.size, Buffer.byteLength('message first\r\n'));
      assert.equal('message' in all[0]!, false);
      assert.equal(all[0]!.status, 'sent');
    });

    it('getOutbox is undefined for an unknown id', () => {
      assert.equal(store.getOutbox('nope'), undefined);
    });

    it('retryNow makes named pending and failed entries due now', () => {
      queue(['failed', 'later', 'sent']);
      store.claimDueOutbox(T0, 3);
      store.markFailed('failed', { now: T0, error: 'x', account: null, rejectedRecipients: [] });
      store.reschedule('later', { now: T0, nextAttemptAt: T0 + 3_600_000, error: 'y', account: null, recipients: ['ops@example.com'], rejectedRecipients: [] });
      store.markSent('sent', T0, 'a', []);
      assert.equal(store.retryNow(['failed', 'later', 'sent', 'unknown'], T0 + 10), 2);
      for (const id of ['failed', 'later']) {
        const e = store.getOutbox(id)!;
        assert.equal(e.status, 'pending', id);
        assert.equal(e.nextAttemptAt, T0 + 10, id);
      }
      assert.equal(store.getOutbox('sent')!.status, 'sent');
    });

    it('retryNow "all" touches pending and failed entries only', () => {
      queue(['failed', 'sending', 'pending', 'sent']);
      store.claimDueOutbox(T0, 4);
      store.markFailed('failed', { now: T0, error: 'x', account: null, rejectedRecipients: [] });
      store.reschedule('pending', { now: T0, nextAttemptAt: T0 + 999_999, error: 'y', account: null, recipients: ['ops@example.com'], rejectedRecipients: [] });
      store.markSent('sent', T0, 'a', []);
      assert.equal(store.retryNow('all', T0 + 5), 2);
      assert.equal(store.getOutbox('failed')!.status, 'pending');
      assert.equal(store.getOutbox('pending')!.nextAttemptAt, T0 + 5);
      assert.equal(store.getOutbox('sending')!.status, 'sending');
      assert.equal(store.getOutbox('sent')!.status, 'sent');
    });

    it('deleteOutbox deletes entries but never one being sent', () => {
      queue(['a-sending', 'b-failed', 'c-pending']);
      assert.deepEqual(store.claimDueOutbox(T0, 2).map((e) => e.id), ['a-sending', 'b-failed']);
      store.markFailed('b-failed', { now: T0, error: 'x', account: null, rejectedRecipients: [] });
      assert.equal(store.deleteOutbox(['a-sending', 'b-failed', 'c-pending', 'unknown']), 2);
      assert.equal(store.getOutbox('a-sending')!.status, 'sending');
      assert.equal(store.getOutbox('b-failed'), undefined);
      assert.equal(store.getOutbox('c-pending'), undefined);
    });

    it('nextDueAt is the earliest pending time, ignoring other states', () => {
      assert.equal(store.nextDueAt(), undefined);
      queue(['soon'], T0 + 100);
      queue(['later'], T0 + 200);
      assert.equal(store.nextDueAt(), T0 + 100);
      store.claimDueOutbox(T0 + 100, 1);
      assert.equal(store.nextDueAt(), T0 + 200);
      store.claimDueOutbox(T0 + 200, 1);
      assert.equal(store.nextDueAt(), undefined);
    });
  });

  describe('durability', () => {
    it('keeps received messages and outbox entries over close and reopen', () => {
      const raw = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a]);
      store.insertReceived(receivedMessage('kept', { raw }));
      queue(['o1', 'o2'], T0);
      store.claimDueOutbox(T0, 1);
      store.close();

      store = SqliteStore.open(dataDir);
      assert.deepEqual([...store.pendingReceived(10)[0]!.raw], [...raw]);
      assert.equal(store.getOutbox('o1')!.status, 'sending');
      assert.equal(store.getOutbox('o2')!.status, 'pending');
      assert.equal(store.recoverInterruptedOutbox(T0 + 1), 1);
      // o2 has been due since T0, the recovered o1 since T0 + 1.
      assert.deepEqual(store.claimDueOutbox(T0 + 1, 10).map((e) => e.id), ['o2', 'o1']);
    });

    it('two stores on one file see each other', () => {
      const other = SqliteStore.open(dataDir);
      try {
        store.insertReceived(receivedMessage('shared'));
        assert.deepEqual(other.pendingReceived(10).map((r) => r.id), ['shared']);
      } finally {
        other.close();
      }
    });
  });
});

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { acknowledgeIn } from '../../src/pipeline/acknowledge.js';
import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import type { HeldNotification } from '../../src/lifecycle/batch.js';
import { escalationTimers } from '../../src/lifecycle/escalation.js';
import type { EscalationPolicy } from '../../src/rules/escalation-policy.js';
import { silenceEndsAt, type Silence } from '../../src/lifecycle/silence.js';
import { escalationTimerOf, escalationTimerRow, timerAt, type Timer } from '../../src/lifecycle/timer.js';
import type { NewOutboxEntry, Store } from '../../src/store/store.js';
import { alarmRecord } from '../helpers/alarm-factory.js';

/**
 * What every store backend must do, run unchanged against each one (SQLite today,
 * PostgreSQL next): `open` gives a fresh, empty store; `reopen` closes it and opens the
 * same data again (a restart).
 */
export interface StoreUnderTest {
  store: Store;
  reopen(): Promise<Store>;
}

const T0 = 1_764_000_000_000;
const HOUR = 3_600_000;

export function receivedMessage(id: string, overrides: Partial<Received> = {}): Received {
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

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, { device: { id: 'plc', name: 'PLC', matchedBy: 'sender' }, title: `alarm ${id}`, severity: 'major', firstSeen: T0, lastSeen: T0, ...overrides });
}

function silence(id: string, overrides: Partial<Silence> = {}): Silence {
  return {
    id,
    matchers: [{ field: 'device.id', operator: 'equal', value: 'ups-hall2' }],
    schedule: { kind: 'window', start: T0, end: T0 + HOUR },
    createdBy: 'anna',
    comment: 'battery swap',
    createdAt: T0,
    ...overrides,
  };
}

function held(alarmId: string, key = 'group|r|site=A|ops@example.com', flushAt = T0 + 30_000): HeldNotification {
  return { batchKey: key, batchKind: 'group', label: 'site=A', flushAt, receivers: [{ name: 'ops', emails: ['ops@example.com'] }], alarmId, kind: 'firing', reason: 'new alarm', at: T0 };
}

const policy = (stopOn: EscalationPolicy['stopOn'] = 'acknowledged-or-cleared'): EscalationPolicy => ({
  name: 'p',
  levels: [
    { after: 1000, receivers: ['a'] },
    { after: 2000, receivers: ['b'] },
  ],
  stopOn,
});

export function storeContract(backend: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${backend}`, () => {
    let subject: StoreUnderTest;
    let store: Store;

    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });
    afterEach(() => store.close());

    const insertSilence = (s: Silence): Promise<void> => store.silences.insert(s, silenceEndsAt(s));

    /** Queues outbox entries, all due at `now`. */
    async function queue(ids: string[], now = T0): Promise<void> {
      await store.transaction(async (tx) => {
        for (const id of ids) await tx.outbox.insert(entry(id), now);
      });
    }

    describe('transactions', () => {
      it('tells a commit observer how long each transaction and accept took, and stops when told', async () => {
        const seen: { kind: string; seconds: number }[] = [];
        const stop = store.observeCommits((commit) => seen.push(commit));
        await store.accept(receivedMessage('timed'));
        await store.transaction(async (tx) => tx.inbox.complete('timed', T0));
        await assert.rejects(store.transaction(async () => {
          throw new Error('rolled back');
        }));
        assert.deepEqual(seen.map((c) => c.kind), ['accept', 'transaction'], 'a failed transaction is not timed');
        assert.ok(seen.every((c) => c.seconds >= 0 && c.seconds < 60));
        stop();
        await store.transaction(async (tx) => tx.inbox.get('timed'));
        assert.equal(seen.length, 2);
      });

      it('commits a transaction that does not wait for the flush all the same, and rolls it back when it throws', async () => {
        await store.transaction(async (tx) => tx.outbox.insert(entry('async-1'), T0), { awaitFlush: false });
        assert.deepEqual((await store.outbox.claimDue(T0, 10)).map((e) => e.id), ['async-1']);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.outbox.insert(entry('async-2'), T0);
            throw new Error('rolled back');
          }, { awaitFlush: false }),
        );
        assert.deepEqual(await store.outbox.claimDue(T0, 10), []);
        // The next transaction on the same connection waits for its own flush again.
        await queue(['durable-1']);
        assert.deepEqual((await store.outbox.claimDue(T0, 10)).map((e) => e.id), ['durable-1']);
      });

      it('commits what the function wrote, and rolls all of it back when it throws', async () => {
        await store.transaction(async (tx) => {
          await tx.inbox.insert(receivedMessage('kept'));
          await tx.outbox.insert(entry('o-kept', 'kept'), T0);
        });
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.inbox.insert(receivedMessage('lost'));
            await tx.outbox.insert(entry('o-lost', 'lost'), T0);
            throw new Error('changed my mind');
          }),
          /changed my mind/,
        );
        assert.deepEqual((await store.inbox.pending(10)).map((r) => r.id), ['kept']);
        assert.equal(await store.outbox.get('o-lost'), undefined);
        assert.equal((await store.outbox.get('o-kept'))?.receivedId, 'kept');
      });

      it('a failing statement rolls back the statements before it', async () => {
        await queue(['taken']);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.outbox.insert(entry('fresh'), T0);
            await tx.outbox.insert(entry('taken'), T0);
          }),
        );
        assert.equal(await store.outbox.get('fresh'), undefined);
      });

      it('reads inside a transaction see its own writes, and concurrent transactions do not interleave', async () => {
        await store.alarms.save(alarm('A1', { count: 0 }));
        // Each reads the count and writes it plus one: with interleaving, increments would be lost.
        await Promise.all(
          Array.from({ length: 10 }, () =>
            store.transaction(async (tx) => {
              const current = (await tx.alarms.get('A1'))!;
              await new Promise((resolve) => setImmediate(resolve));
              await tx.alarms.save({ ...current, count: current.count + 1 });
              assert.equal((await tx.alarms.get('A1'))?.count, current.count + 1);
            }),
          ),
        );
        assert.equal((await store.alarms.get('A1'))?.count, 10);
      });

      it('refuses a transaction opened inside another, and a call on the store itself from inside one', async () => {
        await assert.rejects(store.transaction(() => store.transaction(async () => undefined)), /cannot open another/);
        await assert.rejects(store.transaction(() => store.alarms.get('x')), /cannot open another/);
      });
    });

    describe('inbox', () => {
      it('round-trips every field', async () => {
        const message = receivedMessage('r1', {
          receivedAt: T0 + 5,
          listener: 'plant-lan',
          peer: { address: '::ffff:10.0.0.7', port: 51234, helo: 'S7-1500', authUser: 'plc', secure: true },
          envelope: { mailFrom: 'plc@plant.local', rcptTo: ['a@example.com', 'b@example.com'] },
          mqtt: { topic: 'p/tank3/level', qos: 1, retain: false, dup: false, messageId: 7 },
        });
        await store.accept(message);
        const [got, ...rest] = await store.inbox.pending(10);
        assert.deepEqual(rest, []);
        assert.ok(got && Buffer.isBuffer(got.raw));
        assert.deepEqual({ ...got, raw: Buffer.from(got.raw) }, message);
        assert.deepEqual(await store.inbox.get('r1'), got);
      });

      it('keeps raw bytes exactly, binary and 8-bit included', async () => {
        const raw = Buffer.from([0x00, 0xff, 0xf6, 0x0d, 0x0a, 0x0a, 0x80, 0x00, 0x2e, 0x0d]);
        await store.accept(receivedMessage('bin', { raw }));
        assert.deepEqual([...(await store.inbox.pending(1))[0]!.raw], [...raw]);
      });

      it('keeps a null reverse-path and missing HELO and AUTH user', async () => {
        await store.accept(receivedMessage('null', { peer: { address: '10.0.0.1', port: 1, secure: false }, envelope: { mailFrom: null, rcptTo: ['x@example.com'] } }));
        const got = (await store.inbox.pending(1))[0]!;
        assert.equal(got.envelope.mailFrom, null);
        assert.equal(got.peer.helo, undefined);
        assert.equal(got.peer.authUser, undefined);
        assert.equal(got.peer.secure, false);
      });

      it('refuses a duplicate id', async () => {
        await store.accept(receivedMessage('dup'));
        await assert.rejects(store.accept(receivedMessage('dup')));
        await assert.rejects(store.inbox.insert(receivedMessage('dup')));
      });

      it('accepts concurrent messages together, and one bad message fails alone', async () => {
        await store.accept(receivedMessage('taken'));
        const ids = Array.from({ length: 50 }, (_, i) => `m${String(i).padStart(2, '0')}`);
        const results = await Promise.allSettled([...ids.map((id) => store.accept(receivedMessage(id))), store.accept(receivedMessage('taken'))]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 50);
        assert.equal(results.at(-1)?.status, 'rejected');
        assert.deepEqual((await store.inbox.pending(100)).map((r) => r.id).sort(), [...ids, 'taken'].sort());
      });

      it('lists pending messages oldest first, then by id, up to the limit', async () => {
        for (const [id, at] of [['c', 2], ['b', 1], ['a2', 0], ['a1', 0]] as const) await store.accept(receivedMessage(id, { receivedAt: T0 + at }));
        assert.deepEqual((await store.inbox.pending(10)).map((r) => r.id), ['a1', 'a2', 'b', 'c']);
        assert.deepEqual((await store.inbox.pending(2)).map((r) => r.id), ['a1', 'a2']);
      });

      it('completes a message once: the second time, and for an unknown id, says so', async () => {
        await store.accept(receivedMessage('r1'));
        assert.equal(await store.inbox.complete('r1', T0 + 10), true);
        assert.equal(await store.inbox.complete('r1', T0 + 11), false);
        assert.equal(await store.inbox.complete('nope', T0), false);
        assert.deepEqual(await store.inbox.pending(10), []);
        assert.ok(await store.inbox.get('r1'), 'a processed message is kept');
      });

      it('rejects a message out of the pending list, and drops one that changed nothing', async () => {
        for (const id of ['bad', 'good', 'nothing']) await store.accept(receivedMessage(id));
        await store.inbox.reject('bad', 'no recipients allowed', T0 + 3);
        await store.inbox.drop('nothing');
        assert.deepEqual((await store.inbox.pending(10)).map((r) => r.id), ['good']);
        assert.ok(await store.inbox.get('bad'), 'a rejected message is kept for inspection');
        assert.equal(await store.inbox.complete('bad', T0 + 4), false);
        assert.equal(await store.inbox.get('nothing'), undefined);
      });

      it('recognises a redelivered MQTT message by topic, message id and payload', async () => {
        await store.accept(receivedMessage('R4', { receivedAt: 1000, raw: Buffer.from('payload-1'), mqtt: { topic: 'p/x', qos: 1, retain: false, dup: false, messageId: 42 } }));
        assert.equal(await store.inbox.isRedelivery('p/x', 42, Buffer.from('payload-1'), 0), true);
        assert.equal(await store.inbox.isRedelivery('p/x', 42, Buffer.from('payload-2'), 0), false, 'a reused message id with other content is new');
        assert.equal(await store.inbox.isRedelivery('p/y', 42, Buffer.from('payload-1'), 0), false);
        assert.equal(await store.inbox.isRedelivery('p/x', 42, Buffer.from('payload-1'), 5000), false, 'outside the window');
      });
    });

    it('accept tells `committed` once, no later than it resolves', async () => {
      let told = 0;
      await store.accept(receivedMessage('told'), { committed: () => (told += 1) });
      assert.equal(told, 1);
      assert.deepEqual((await store.inbox.pending(10)).map((r) => r.id), ['told']);
    });

    describe('outbox', () => {
      it('finds ids by their beginning, in order and up to a limit, taking no character as a wildcard', async () => {
        await store.transaction(async (tx) => {
          for (const id of ['01K0ABC1', '01K0ABC2', '01K0ABD1', '01K1AAA1', '01_0ABC1']) await tx.outbox.insert(entry(id, null), T0);
        });
        assert.deepEqual(await store.outbox.idsWithPrefix('01K0AB', 10), ['01K0ABC1', '01K0ABC2', '01K0ABD1']);
        assert.deepEqual(await store.outbox.idsWithPrefix('01K0AB', 2), ['01K0ABC1', '01K0ABC2']);
        assert.deepEqual(await store.outbox.idsWithPrefix('01_', 10), ['01_0ABC1']);
        assert.deepEqual(await store.outbox.idsWithPrefix('01%', 10), []);
        assert.deepEqual(await store.outbox.idsWithPrefix('01K2', 10), []);
      });

      it('stores every field of a new entry', async () => {
        await store.transaction((tx) => tx.outbox.insert(entry('o2', null, { alarmId: 'A1', batchId: 'B1', recipients: ['x@example.com', 'y@example.com'] }), T0 + 10));
        const o2 = (await store.outbox.get('o2'))!;
        assert.deepEqual(
          { ...o2, message: o2.message.toString() },
          {
            id: 'o2',
            receivedId: null,
            alarmId: 'A1',
            batchId: 'B1',
            envelopeFrom: 'plc@gw.test',
            recipients: ['x@example.com', 'y@example.com'],
            message: 'message o2\r\n',
            createdAt: T0 + 10,
            status: 'pending',
            attempts: 0,
            nextAttemptAt: T0 + 10,
            lastError: null,
            lastAccount: null,
            updatedAt: T0 + 10,
            sentAt: null,
            rejectedRecipients: [],
          },
        );
        assert.equal(await store.outbox.get('nope'), undefined);
      });

      it('an entry that ends with its received mail\'s own body reads back whole, and keeps that mail from retention while it is kept', async () => {
        const raw = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(40 * 1024, 'line of text\r\n')]);
        const offset = raw.indexOf('\r\n\r\n') + 4;
        const message = Buffer.concat([Buffer.from('Received: by gw\r\nSubject: big\r\n\r\n'), raw.subarray(offset)]);
        await store.accept(receivedMessage('R-big', { raw }));
        await store.transaction(async (tx) => {
          await tx.inbox.complete('R-big', T0);
          await tx.outbox.insert(entry('O-big', 'R-big', { message, bodyOfReceived: { offset, length: raw.length - offset } }), T0);
        });
        assert.ok((await store.outbox.get('O-big'))!.message.equals(message), 'get');
        assert.deepEqual((await store.outbox.list(['pending'])).map((e) => [e.id, e.size]), [['O-big', message.length]]);
        const [claimed] = await store.outbox.claimDue(T0, 10);
        assert.ok(claimed!.message.equals(message), 'claimDue');
        assert.equal(await store.inbox.prune(T0 + HOUR, 10), 0, 'the received mail stays while the entry does');
        await store.outbox.markSent('O-big', T0 + 1, 'primary', []);
        assert.ok((await store.outbox.get('O-big'))!.message.equals(message), 'sent, still whole');
        assert.equal(await store.outbox.prune(T0 + HOUR, 10), 1);
        assert.equal(await store.inbox.prune(T0 + HOUR, 10), 1);
        assert.equal(await store.inbox.get('R-big'), undefined);
      });

      it('lists entries by status in the order queued, a page at a time', async () => {
        await queue(['a', 'b']);
        await queue(['c', 'd'], T0 + 5);
        await store.outbox.claimDue(T0, 1);
        const ids = async (statuses: Parameters<typeof store.outbox.list>[0], page?: Parameters<typeof store.outbox.list>[1]) => (await store.outbox.list(statuses, page)).map((e) => e.id);
        assert.deepEqual(await ids(['pending', 'sending']), ['a', 'b', 'c', 'd']);
        assert.deepEqual(await ids(['pending']), ['b', 'c', 'd']);
        assert.deepEqual(await ids(['pending', 'sending'], { limit: 2 }), ['a', 'b']);
        assert.deepEqual(await ids(['pending', 'sending'], { limit: 2, after: { createdAt: T0, id: 'b' } }), ['c', 'd']);
        assert.deepEqual(await ids(['pending'], { limit: 5, after: { createdAt: T0 + 5, id: 'c' } }), ['d']);
        assert.deepEqual(await ids([], { limit: 5 }), []);
      });

      it('claims only due pending entries, marks them sending and counts the attempt', async () => {
        await queue(['due1', 'due2']);
        await queue(['later'], T0 + 60_000);
        const claimed = await store.outbox.claimDue(T0, 10);
        assert.deepEqual(claimed.map((e) => e.id), ['due1', 'due2']);
        for (const e of claimed) {
          assert.equal(e.status, 'sending');
          assert.equal(e.attempts, 1);
          assert.equal(e.message.toString(), `message ${e.id}\r\n`);
        }
        assert.equal((await store.outbox.get('due1'))!.status, 'sending');
        assert.equal((await store.outbox.get('later'))!.status, 'pending');
        assert.deepEqual(await store.outbox.claimDue(T0 + 1, 10), [], 'never hands out an entry twice');
      });

      it('claims the most overdue first, within the limit, including one due exactly now', async () => {
        await queue(['b'], T0 + 2);
        await queue(['a'], T0 + 1);
        await queue(['c'], T0 + 3);
        assert.deepEqual(await store.outbox.claimDue(T0 + 2, 0), []);
        assert.deepEqual((await store.outbox.claimDue(T0 + 2, 5)).map((e) => e.id), ['a', 'b']);
        assert.deepEqual((await store.outbox.claimDue(T0 + 3, 5)).map((e) => e.id), ['c']);
      });

      it('skips sent and failed entries; attempts count up over reschedules', async () => {
        await queue(['a-sent', 'b-failed', 'c-pending']);
        assert.deepEqual((await store.outbox.claimDue(T0, 2)).map((e) => e.id), ['a-sent', 'b-failed']);
        await store.outbox.markSent('a-sent', T0 + 1, 'gmail', []);
        await store.outbox.markFailed('b-failed', { now: T0 + 1, error: '550 no', account: 'gmail', rejectedRecipients: ['ops@example.com'] });
        for (let attempt = 1; attempt <= 3; attempt += 1) {
          const claimed = await store.outbox.claimDue(T0 + attempt * 1000, 10);
          assert.deepEqual(claimed.map((e) => [e.id, e.attempts]), [['c-pending', attempt]]);
          await store.outbox.reschedule('c-pending', { now: T0 + attempt * 1000, nextAttemptAt: T0 + attempt * 1000, error: 'try again', account: 'a', recipients: ['ops@example.com'], rejectedRecipients: [] });
        }
      });

      it('recovers entries a crash left sending, keeping an earlier error', async () => {
        await queue(['s1', 's2', 'x-pending']);
        await store.outbox.claimDue(T0, 2);
        await store.outbox.reschedule('s2', { now: T0, nextAttemptAt: T0, error: '451 greylisted', account: 'a', recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.claimDue(T0, 1);
        assert.equal(await store.outbox.recoverInterrupted(T0 + 5000), 2);
        const s1 = (await store.outbox.get('s1'))!;
        assert.deepEqual([s1.status, s1.nextAttemptAt, s1.updatedAt, s1.lastError, s1.attempts], ['pending', T0 + 5000, T0 + 5000, 'interrupted by a restart', 1]);
        assert.equal((await store.outbox.get('s2'))!.lastError, '451 greylisted');
        assert.equal((await store.outbox.get('x-pending'))!.updatedAt, T0, 'pending entries are not touched');
        assert.equal(await store.outbox.recoverInterrupted(T0 + 6000), 0);
      });

      it('reschedule records the failure and the recipients still to do, only for an entry being sent', async () => {
        await queue(['o1', 'z-idle']);
        await store.outbox.claimDue(T0, 1);
        await store.outbox.reschedule('o1', { now: T0 + 1, nextAttemptAt: T0 + 30_000, error: '451 try later', account: 'm365', recipients: ['b@example.com'], rejectedRecipients: ['a@example.com'] });
        const e = (await store.outbox.get('o1'))!;
        assert.deepEqual([e.status, e.nextAttemptAt, e.lastError, e.lastAccount, e.recipients, e.rejectedRecipients, e.updatedAt], ['pending', T0 + 30_000, '451 try later', 'm365', ['b@example.com'], ['a@example.com'], T0 + 1]);
        await store.outbox.reschedule('z-idle', { now: T0 + 1, nextAttemptAt: T0 + 99_000, error: 'x', account: null, recipients: [], rejectedRecipients: [] });
        assert.equal((await store.outbox.get('z-idle'))!.nextAttemptAt, T0);
        assert.deepEqual((await store.outbox.claimDue(T0 + 29_999, 10)).map((x) => x.id), ['z-idle']);
        assert.deepEqual((await store.outbox.claimDue(T0 + 30_000, 10)).map((x) => x.id), ['o1']);
      });

      it('markSent and markFailed record the outcome', async () => {
        await queue(['sent', 'failed']);
        await store.outbox.claimDue(T0, 2);
        await store.outbox.markSent('sent', T0 + 42, 'gmail', ['gone@example.com']);
        await store.outbox.markFailed('failed', { now: T0 + 7, error: '550 5.1.1 no such user', account: null, rejectedRecipients: ['ops@example.com'] });
        const sent = (await store.outbox.get('sent'))!;
        assert.deepEqual([sent.status, sent.sentAt, sent.updatedAt, sent.lastAccount, sent.rejectedRecipients], ['sent', T0 + 42, T0 + 42, 'gmail', ['gone@example.com']]);
        const failed = (await store.outbox.get('failed'))!;
        assert.deepEqual([failed.status, failed.lastError, failed.lastAccount, failed.sentAt, failed.rejectedRecipients], ['failed', '550 5.1.1 no such user', null, null, ['ops@example.com']]);
      });

      it('lists by status in creation order with the size, not the message', async () => {
        await queue(['first'], T0);
        await queue(['second'], T0 + 1);
        await store.outbox.claimDue(T0, 1);
        await store.outbox.markSent('first', T0 + 2, 'a', []);
        assert.deepEqual(await store.outbox.list([]), []);
        assert.deepEqual((await store.outbox.list(['pending'])).map((e) => e.id), ['second']);
        const all = await store.outbox.list(['pending', 'sent']);
        assert.deepEqual(all.map((e) => [e.id, e.status]), [['first', 'sent'], ['second', 'pending']]);
        assert.equal(all[0]!.size, Buffer.byteLength('message first\r\n'));
        assert.equal('message' in all[0]!, false);
      });

      it('retryNow makes pending and failed entries due now; delete never removes one being sent', async () => {
        await queue(['failed', 'later', 'sent', 'sending']);
        await store.outbox.claimDue(T0, 4);
        await store.outbox.markFailed('failed', { now: T0, error: 'x', account: null, rejectedRecipients: [] });
        await store.outbox.reschedule('later', { now: T0, nextAttemptAt: T0 + HOUR, error: 'y', account: null, recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.markSent('sent', T0, 'a', []);
        assert.equal(await store.outbox.retryNow(['failed', 'later', 'sent', 'unknown'], T0 + 10), 2);
        for (const id of ['failed', 'later']) assert.deepEqual([(await store.outbox.get(id))!.status, (await store.outbox.get(id))!.nextAttemptAt], ['pending', T0 + 10], id);
        await store.outbox.markFailed('failed', { now: T0, error: 'x', account: null, rejectedRecipients: [] });
        assert.equal(await store.outbox.retryNow('all', T0 + 20), 2);
        assert.equal((await store.outbox.get('sent'))!.status, 'sent');
        assert.equal((await store.outbox.get('sending'))!.status, 'sending');
        assert.equal(await store.outbox.delete(['sending', 'failed', 'later', 'unknown']), 2);
        assert.equal((await store.outbox.get('sending'))!.status, 'sending');
        assert.equal(await store.outbox.get('failed'), undefined);
      });

      it('nextDueAt is the earliest pending time, ignoring other states', async () => {
        assert.equal(await store.outbox.nextDueAt(), undefined);
        await queue(['soon'], T0 + 100);
        await queue(['later'], T0 + 200);
        assert.equal(await store.outbox.nextDueAt(), T0 + 100);
        await store.outbox.claimDue(T0 + 100, 1);
        assert.equal(await store.outbox.nextDueAt(), T0 + 200);
        await store.outbox.claimDue(T0 + 200, 1);
        assert.equal(await store.outbox.nextDueAt(), undefined);
      });

      it('pendingSummary counts the pending entries and gives the oldest one\'s queue time', async () => {
        assert.deepEqual(await store.outbox.pendingSummary(), { count: 0, oldestCreatedAt: undefined });
        await queue(['first'], T0 + 100);
        await queue(['second', 'third'], T0 + 200);
        assert.deepEqual(await store.outbox.pendingSummary(), { count: 3, oldestCreatedAt: T0 + 100 });
        await store.outbox.claimDue(T0 + 100, 1);
        assert.deepEqual(await store.outbox.pendingSummary(), { count: 2, oldestCreatedAt: T0 + 200 });
      });

      it('pendingByAccount groups the pending entries by the account last tried, with the oldest queue time', async () => {
        assert.deepEqual(await store.outbox.pendingByAccount(), []);
        await queue(['new'], T0 + 300);
        await queue(['tried-a', 'tried-b', 'sent'], T0 + 100);
        await store.outbox.claimDue(T0 + 100, 3);
        await store.outbox.reschedule('tried-a', { now: T0 + 400, nextAttemptAt: T0 + 500, error: '451 later', account: 'a', recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.reschedule('tried-b', { now: T0 + 400, nextAttemptAt: T0 + 500, error: '451 later', account: 'b', recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.markSent('sent', T0 + 400, 'a', []);
        const byAccount = (await store.outbox.pendingByAccount()).sort((x, y) => String(x.account).localeCompare(String(y.account)));
        assert.deepEqual(byAccount, [
          { account: 'a', count: 1, oldestCreatedAt: T0 + 100 },
          { account: 'b', count: 1, oldestCreatedAt: T0 + 100 },
          { account: null, count: 1, oldestCreatedAt: T0 + 300 },
        ]);
      });

      it('accountRecords gives per account the newest sent time and the newest error of an entry not sent', async () => {
        assert.deepEqual(await store.outbox.accountRecords(), []);
        await queue(['s1', 's2', 'f1', 'p1', 'p2', 'later-sent'], T0);
        await store.outbox.claimDue(T0, 6);
        await store.outbox.markSent('s1', T0 + 10, 'a', []);
        await store.outbox.markSent('s2', T0 + 20, 'a', []);
        await store.outbox.markFailed('f1', { now: T0 + 30, error: '550 no such user', account: 'a', rejectedRecipients: ['ops@example.com'] });
        await store.outbox.reschedule('p1', { now: T0 + 40, nextAttemptAt: T0 + 99, error: '451 greylisted', account: 'b', recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.reschedule('p2', { now: T0 + 50, nextAttemptAt: T0 + 99, error: '421 busy', account: 'b', recipients: ['ops@example.com'], rejectedRecipients: [] });
        // An error that a later success on this entry made history does not count.
        await store.outbox.reschedule('later-sent', { now: T0 + 60, nextAttemptAt: T0 + 61, error: 'old error', account: 'c', recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.claimDue(T0 + 61, 1);
        await store.outbox.markSent('later-sent', T0 + 70, 'c', []);
        assert.deepEqual(await store.outbox.accountRecords(), [
          { account: 'a', lastSentAt: T0 + 20, lastError: { message: '550 no such user', at: T0 + 30 } },
          { account: 'b', lastSentAt: undefined, lastError: { message: '421 busy', at: T0 + 50 } },
          { account: 'c', lastSentAt: T0 + 70, lastError: undefined },
        ]);
      });
    });

    describe('alarms', () => {
      it('saves and reads alarms, one active per fingerprint, most recently seen first', async () => {
        await store.alarms.save(alarm('A1', { fingerprint: 'fp-1' }));
        await store.alarms.save(alarm('A2', { fingerprint: 'fp-2', lastSeen: T0 + 5 }));
        assert.equal((await store.alarms.active('fp-1'))?.id, 'A1');
        assert.deepEqual(await store.alarms.get('A1'), alarm('A1', { fingerprint: 'fp-1' }));
        await assert.rejects(store.alarms.save(alarm('A3', { fingerprint: 'fp-1' })), 'a second active alarm of a fingerprint');
        await store.alarms.save(alarm('A1', { fingerprint: 'fp-1', state: 'resolved', resolvedAt: T0 + 9 }));
        assert.equal(await store.alarms.active('fp-1'), undefined);
        await store.alarms.save(alarm('A3', { fingerprint: 'fp-1', lastSeen: T0 + 10 }));
        assert.deepEqual((await store.alarms.list(['active'])).map((a) => a.id), ['A3', 'A2']);
        assert.deepEqual((await store.alarms.list(['active', 'resolved'], 2)).map((a) => a.id), ['A3', 'A2']);
        assert.deepEqual(await store.alarms.list([]), []);
      });

      it('lists alarms by device (id or name), site, severity and acknowledgement, names without regard to case', async () => {
        const ups = { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', matchedBy: 'sender' as const };
        const plc = { id: 'plc-line4', name: 'PLC Line 4', site: 'Plant South', matchedBy: 'sender' as const };
        await store.alarms.save(alarm('A1', { fingerprint: 'fp-1', device: ups, severity: 'critical', lastSeen: T0 + 3 }));
        await store.alarms.save(alarm('A2', { fingerprint: 'fp-2', device: ups, severity: 'warning', lastSeen: T0 + 2, ack: { by: 'anna', at: T0, channel: 'cli' } }));
        await store.alarms.save(alarm('A3', { fingerprint: 'fp-3', device: plc, severity: 'critical', lastSeen: T0 + 1 }));
        await store.alarms.save(alarm('A4', { fingerprint: 'fp-4', device: plc, severity: 'major', state: 'resolved', resolvedAt: T0 + 5 }));
        const ids = async (filter: Parameters<typeof store.alarms.list>[2], states: Array<'active' | 'resolved'> = ['active']) => (await store.alarms.list(states, 100, filter)).map((a) => a.id);
        assert.deepEqual(await ids({ device: 'ups-hall2' }), ['A1', 'A2']);
        assert.deepEqual(await ids({ device: 'ups hall 2' }), ['A1', 'A2'], 'by name, any case');
        assert.deepEqual(await ids({ site: 'plant south' }, ['active', 'resolved']), ['A3', 'A4']);
        assert.deepEqual(await ids({ severities: ['critical'] }), ['A1', 'A3']);
        assert.deepEqual(await ids({ severities: ['critical', 'warning'], device: 'UPS-HALL2' }), ['A1', 'A2']);
        assert.deepEqual(await ids({ severities: [] }), []);
        assert.deepEqual(await ids({ acknowledged: true }), ['A2']);
        assert.deepEqual(await ids({ acknowledged: false }), ['A1', 'A3']);
        assert.deepEqual(await ids({ device: 'nothing' }), []);
        assert.deepEqual(await ids({}), ['A1', 'A2', 'A3']);
      });

      it('finds ids by their beginning, in order and up to a limit, taking no character as a wildcard', async () => {
        for (const id of ['01K0ABC1', '01K0ABC2', '01K0ABD1', '01K1AAA1', '01_0ABC1']) await store.alarms.save(alarm(id, { fingerprint: id }));
        assert.deepEqual(await store.alarms.idsWithPrefix('01K0AB', 10), ['01K0ABC1', '01K0ABC2', '01K0ABD1']);
        assert.deepEqual(await store.alarms.idsWithPrefix('01K0AB', 2), ['01K0ABC1', '01K0ABC2']);
        assert.deepEqual(await store.alarms.idsWithPrefix('01K0ABC2', 10), ['01K0ABC2']);
        assert.deepEqual(await store.alarms.idsWithPrefix('01_', 10), ['01_0ABC1']);
        assert.deepEqual(await store.alarms.idsWithPrefix('01K2', 10), []);
        assert.deepEqual(await store.alarms.idsWithPrefix('01k0', 10), [], 'as stored');
      });

      it('keeps each alarm its history, in order', async () => {
        await store.alarms.save(alarm('A1'));
        await store.alarms.log('A1', { receivedId: 'r1', at: T0, outcome: 'raised', reason: 'new alarm' });
        await store.alarms.log(null, { receivedId: 'r9', at: T0, outcome: 'clear-without-alarm', reason: 'nothing to clear' });
        await store.alarms.log('A1', { receivedId: 'r2', at: T0 + 1, outcome: 'repeat-folded', reason: 'repeat' });
        assert.deepEqual(await store.alarms.history('A1'), [
          { receivedId: 'r1', at: T0, outcome: 'raised', reason: 'new alarm' },
          { receivedId: 'r2', at: T0 + 1, outcome: 'repeat-folded', reason: 'repeat' },
        ]);
        assert.deepEqual(await store.alarms.history('nobody'), []);
      });

      it('counts active alarms per severity, leaving out resolved ones', async () => {
        assert.deepEqual(await store.alarms.activeBySeverity(), {});
        await store.alarms.save(alarm('A', { severity: 'critical' }));
        await store.alarms.save(alarm('B'));
        await store.alarms.save(alarm('C'));
        await store.alarms.save(alarm('D', { severity: 'critical', state: 'resolved' }));
        assert.deepEqual(await store.alarms.activeBySeverity(), { critical: 1, major: 2 });
      });

      it('counts active alarms by severity, acknowledged and muted', async () => {
        assert.deepEqual(await store.alarms.activeSummary(), []);
        await store.alarms.save(alarm('A', { severity: 'critical' }));
        await store.alarms.save(alarm('B', { severity: 'critical' }));
        await store.alarms.save(alarm('C', { ack: { by: 'anna', at: T0 + 1, channel: 'cli' } }));
        await store.alarms.save(alarm('D', { mutedBy: { by: 'silence', silence: 'S1', until: T0 + HOUR } }));
        await store.alarms.save(alarm('E', { severity: 'critical', state: 'resolved' }));
        const key = (c: { severity: string; acknowledged: boolean; muted: boolean }) => `${c.severity}/${c.acknowledged}/${c.muted}`;
        const summary = (await store.alarms.activeSummary()).sort((x, y) => key(x).localeCompare(key(y)));
        assert.deepEqual(summary, [
          { severity: 'critical', acknowledged: false, muted: false, count: 2 },
          { severity: 'major', acknowledged: false, muted: true, count: 1 },
          { severity: 'major', acknowledged: true, muted: false, count: 1 },
        ]);
      });

      it('lists active muted alarms, oldest first', async () => {
        await store.alarms.save(alarm('A', { mutedBy: { by: 'silence', silence: 'S1', until: T0 + HOUR } }));
        await store.alarms.save(alarm('B'));
        await store.alarms.save(alarm('C', { state: 'resolved', mutedBy: { by: 'silence', silence: 'S1' } }));
        await store.alarms.save(alarm('D', { firstSeen: T0 - 1, mutedBy: { by: 'inhibition', alarm: 'X', rule: 'power' } }));
        assert.deepEqual((await store.alarms.muted()).map((a) => a.id), ['D', 'A']);
        const { mutedBy: _released, ...released } = (await store.alarms.get('A'))!;
        await store.alarms.save(released);
        assert.deepEqual((await store.alarms.muted()).map((a) => a.id), ['D']);
      });

      it('the first acknowledgement counts; it cancels pending escalation levels and arms its announcement', async () => {
        await store.alarms.save(alarm('A1'));
        await store.timers.add(escalationTimers(policy(), 'A1', T0).map(escalationTimerRow));
        const first = await store.transaction((tx) => acknowledgeIn(tx, 'A1', { by: 'anna', at: T0 + 500, channel: 'mqtt', ref: 'annunciator/ack' }, T0 + 500));
        assert.equal(first.outcome, 'recorded');
        const second = await store.transaction((tx) => acknowledgeIn(tx, 'A1', { by: 'tom', at: T0 + 600, channel: 'cli' }, T0 + 600));
        assert.equal(second.outcome, 'already');
        assert.equal(second.outcome === 'already' && second.ack.by, 'anna');
        assert.equal((await store.alarms.get('A1'))?.ack?.channel, 'mqtt');
        assert.deepEqual((await store.alarms.history('A1')).map((l) => [l.outcome, l.receivedId]), [['acknowledged', 'annunciator/ack']]);
        const timers = await store.timers.ofAlarm('A1');
        assert.ok(timers.filter((t) => t.kind === 'escalate').every((t) => t.cancelledAt === T0 + 500));
        assert.deepEqual((await store.timers.due(T0 + 5000, 10)).map((t) => [t.kind, t.key, t.dueAt]), [['announce-ack', 'A1', T0 + 500]], 'announced once, right away');
        assert.equal((await store.transaction((tx) => acknowledgeIn(tx, 'NOPE', { by: 'x', at: 1, channel: 'cli' }, 1))).outcome, 'unknown-alarm');
      });

      it('acknowledgements racing each other: exactly one is recorded', async () => {
        await store.alarms.save(alarm('A1'));
        const outcomes = await Promise.all(
          ['mqtt', 'link', 'mail', 'cli'].map((channel, i) => store.transaction((tx) => acknowledgeIn(tx, 'A1', { by: `p${i}`, at: T0 + i, channel: channel as 'mqtt' }, T0 + i))),
        );
        assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['already', 'already', 'already', 'recorded']);
      });

      it('pages alarms newest first (last seen, then id) by state, severity, device, site, area and acknowledgement', async () => {
        const ups = { id: 'UPS-Hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2', matchedBy: 'sender' as const };
        const plc = { id: 'plc-line4', name: 'PLC Line 4', site: 'Plant South', area: 'Line 4', matchedBy: 'sender' as const };
        await store.alarms.save(alarm('A1', { fingerprint: 'fp-1', device: ups, severity: 'critical', lastSeen: T0 + 3 }));
        await store.alarms.save(alarm('A2', { fingerprint: 'fp-2', device: ups, severity: 'warning', lastSeen: T0 + 3, ack: { by: 'anna', at: T0, channel: 'api' } }));
        await store.alarms.save(alarm('A3', { fingerprint: 'fp-3', device: plc, severity: 'critical', lastSeen: T0 + 1 }));
        await store.alarms.save(alarm('A4', { fingerprint: 'fp-4', device: plc, severity: 'major', state: 'resolved', lastSeen: T0 + 9, resolvedAt: T0 + 9 }));
        const ids = async (q: Partial<Parameters<typeof store.alarms.page>[0]>) => (await store.alarms.page({ states: ['active'], limit: 100, ...q })).map((a) => a.id);
        assert.deepEqual(await ids({}), ['A2', 'A1', 'A3'], 'a tie on last seen: the higher id first');
        assert.deepEqual(await ids({ states: [] }), ['A4', 'A2', 'A1', 'A3']);
        assert.deepEqual(await ids({ states: ['resolved'] }), ['A4']);
        assert.deepEqual(await ids({ severities: ['critical'] }), ['A1', 'A3']);
        assert.deepEqual(await ids({ severities: [] }), []);
        assert.deepEqual(await ids({ device: 'ups-hall2' }), ['A2', 'A1'], 'the id in any case');
        assert.deepEqual(await ids({ site: 'PLANT SOUTH', states: [] }), ['A4', 'A3']);
        assert.deepEqual(await ids({ area: 'hall 2', acknowledged: false }), ['A1']);
        assert.deepEqual(await ids({ acknowledged: true }), ['A2']);
        // Keyset pages: each starts after the last alarm of the one before.
        assert.deepEqual(await ids({ states: [], limit: 2 }), ['A4', 'A2']);
        assert.deepEqual(await ids({ states: [], limit: 2, after: { lastSeen: T0 + 3, id: 'A2' } }), ['A1', 'A3']);
        assert.deepEqual(await ids({ states: [], limit: 2, after: { lastSeen: T0 + 1, id: 'A3' } }), []);
        // The columns follow the alarm: acknowledged, then resolved.
        const { ack: _ack, ...a2 } = (await store.alarms.get('A2'))!;
        await store.alarms.save({ ...a2, state: 'resolved', resolvedAt: T0 + 4 });
        assert.deepEqual(await ids({ acknowledged: true, states: [] }), []);
        assert.deepEqual(await ids({ device: 'UPS-HALL2' }), ['A1']);
        assert.deepEqual((await store.alarms.list(['active'], 10, { acknowledged: false })).map((a) => a.id), ['A1', 'A3'], 'list reads the same columns');
      });

      it('lists the devices seen with their last alarm time and count of active alarms', async () => {
        const ups = { id: 'UPS-Hall2', name: 'UPS Hall 2', site: 'Plant North', matchedBy: 'sender' as const };
        const plc = { id: 'plc-line4', name: 'PLC Line 4', matchedBy: 'sender' as const };
        assert.deepEqual(await store.alarms.devices(), []);
        await store.alarms.save(alarm('A1', { fingerprint: 'fp-1', device: ups, lastSeen: T0 + 3 }));
        await store.alarms.save(alarm('A2', { fingerprint: 'fp-2', device: ups, lastSeen: T0 + 7, state: 'resolved', resolvedAt: T0 + 7 }));
        await store.alarms.save(alarm('A3', { fingerprint: 'fp-3', device: ups, lastSeen: T0 + 5 }));
        await store.alarms.save(alarm('A4', { fingerprint: 'fp-4', device: plc, lastSeen: T0 + 1, state: 'resolved', resolvedAt: T0 + 1 }));
        const devices = (await store.alarms.devices()).sort((a, b) => a.device.id.localeCompare(b.device.id));
        assert.deepEqual(
          devices.map((d) => [d.device.id, d.device.name, d.device.site, d.lastSeen, d.activeAlarms]),
          [
            ['plc-line4', 'PLC Line 4', undefined, T0 + 1, 0],
            ['UPS-Hall2', 'UPS Hall 2', 'Plant North', T0 + 7, 2],
          ],
        );
      });

      it('the recipients of an alarm are every address its notifications and batches went to', async () => {
        await store.transaction(async (tx) => {
          await tx.outbox.insert(entry('o1', null, { alarmId: 'A1', recipients: ['Ops@Example.com ', 'b@example.com'] }), T0);
          await tx.outbox.insert(entry('o2', null, { alarmId: 'A1', recipients: ['ops@example.com'] }), T0);
          await tx.batches.hold(held('A1'), T0);
        });
        const [batch] = await store.batches.due(T0 + 30_000, 10);
        await store.transaction((tx) => tx.outbox.insert(entry('o3', null, { batchId: batch!.id, recipients: ['group@example.com'] }), T0));
        assert.deepEqual(await store.alarms.recipients('A1'), ['b@example.com', 'group@example.com', 'ops@example.com']);
        assert.deepEqual(await store.alarms.recipients('nobody'), []);
      });

      it('the notifications of an alarm: its own and those of the batches that listed it, with the batch kind', async () => {
        await store.transaction(async (tx) => {
          await tx.outbox.insert(entry('o1', null, { alarmId: 'A1' }), T0);
          await tx.outbox.insert(entry('o2', null, { alarmId: 'A2' }), T0 + 1);
          await tx.batches.hold(held('A1'), T0);
          await tx.batches.hold(held('A2'), T0);
        });
        const [batch] = await store.batches.due(T0 + 30_000, 10);
        await store.transaction((tx) => tx.outbox.insert(entry('o3', null, { batchId: batch!.id, recipients: ['group@example.com'] }), T0 + 2));
        await store.outbox.claimDue(T0 + 5, 1);
        await store.outbox.markSent('o1', T0 + 6, 'primary', ['gone@example.com']);
        const mine = await store.outbox.ofAlarm('A1');
        assert.deepEqual(
          mine.map((e) => [e.id, e.status, e.batchKind, e.lastAccount, e.sentAt, e.rejectedRecipients, e.size > 0]),
          [
            ['o1', 'sent', null, 'primary', T0 + 6, ['gone@example.com'], true],
            ['o3', 'pending', 'group', null, null, [], true],
          ],
        );
        assert.equal('message' in mine[0]!, false, 'no message bodies');
        assert.deepEqual((await store.outbox.ofAlarm('A2')).map((e) => e.id), ['o2', 'o3']);
        assert.deepEqual(await store.outbox.ofAlarm('nobody'), []);
      });
    });

    describe('timers', () => {
      it('counts the pending timers per kind, leaving out fired and cancelled ones', async () => {
        assert.deepEqual(await store.timers.pendingByKind(), {});
        await store.timers.add(escalationTimers(policy(), 'A1', T0).map(escalationTimerRow));
        await store.timers.add([timerAt('flush-batch', 'B1', null, T0 + 1500), timerAt('unmute', 'A2', 'A2', T0 + 500), timerAt('unmute', 'A3', 'A3', T0 + 500)]);
        await store.timers.fire('escalate', 'A1:1', T0 + 1000);
        await store.timers.cancel('unmute', 'A3', T0 + 10);
        assert.deepEqual(await store.timers.pendingByKind(), { escalate: 1, 'flush-batch': 1, unmute: 1 });
      });

      it('lists due timers of every kind, earliest first, and the next due time; each fires once', async () => {
        await store.timers.add(escalationTimers(policy(), 'A1', T0).map(escalationTimerRow));
        await store.timers.add([timerAt('flush-batch', 'B1', null, T0 + 1500), timerAt('unmute', 'A2', 'A2', T0 + 500)]);
        // One already stored with the same kind and key is kept as it is.
        await store.timers.add(escalationTimers(policy(), 'A1', T0 + 99).map(escalationTimerRow));
        assert.equal(await store.timers.nextDueAt(), T0 + 500);
        assert.deepEqual(await store.timers.due(T0 + 499, 10), []);
        assert.deepEqual((await store.timers.due(T0 + 2000, 10)).map((t) => [t.kind, t.key]), [
          ['unmute', 'A2'],
          ['escalate', 'A1:1'],
          ['flush-batch', 'B1'],
          ['escalate', 'A1:2'],
        ]);
        assert.deepEqual((await store.timers.due(T0 + 2000, 2)).length, 2);
        assert.equal(await store.timers.fire('escalate', 'A1:1', T0 + 1000), true);
        assert.equal(await store.timers.fire('escalate', 'A1:1', T0 + 1001), false, 'fired_at guards it');
        const fired = (await store.timers.get('escalate', 'A1:1'))!;
        assert.equal(fired.firedAt, T0 + 1000);
        assert.equal(fired.kind === 'escalate' && escalationTimerOf(fired).level, 1, 'an escalation row round-trips its level and data');
        assert.deepEqual(fired.kind === 'escalate' && escalationTimerOf(fired), { ...escalationTimers(policy(), 'A1', T0)[0]!, firedAt: T0 + 1000 });
        assert.deepEqual((await store.timers.ofAlarm('A1')).map((t) => t.key), ['A1:1', 'A1:2']);
        assert.equal(await store.timers.nextDueAt(), T0 + 500);
      });

      it('arm sets a timer pending again at a new time, fired or cancelled before', async () => {
        await store.timers.add([timerAt('unmute', 'A1', 'A1', T0)]);
        assert.equal(await store.timers.fire('unmute', 'A1', T0), true);
        await store.timers.arm(timerAt('unmute', 'A1', 'A1', T0 + HOUR));
        const armed: Timer | undefined = await store.timers.get('unmute', 'A1');
        assert.deepEqual(armed, { kind: 'unmute', key: 'A1', alarmId: 'A1', dueAt: T0 + HOUR });
        assert.equal(await store.timers.cancel('unmute', 'A1', T0 + 1), true);
        assert.equal(await store.timers.cancel('unmute', 'A1', T0 + 2), false);
        assert.equal(await store.timers.nextDueAt(), undefined);
      });

      it('a clear cancels the escalation levels of a policy that stops on a clear, not of one that needs an ack', async () => {
        await store.timers.add(escalationTimers(policy('acknowledged-or-cleared'), 'clears', T0).map(escalationTimerRow));
        await store.timers.add(escalationTimers(policy('acknowledged'), 'needs-ack', T0).map(escalationTimerRow));
        await store.timers.add([timerAt('unmute', 'needs-ack', 'needs-ack', T0)]);
        assert.equal(await store.timers.cancelEscalations('clears', T0 + 100, true), 2);
        assert.equal(await store.timers.cancelEscalations('needs-ack', T0 + 100, true), 0);
        assert.equal(await store.timers.cancelEscalations('needs-ack', T0 + 100), 2);
        assert.equal(await store.timers.fire('escalate', 'clears:1', T0 + 1000), false, 'a cancelled timer does not fire');
        assert.deepEqual((await store.timers.due(T0 + 5000, 10)).map((t) => t.kind), ['unmute'], 'other kinds are not escalation levels');
      });
    });

    describe('batches and flood state', () => {
      it('held notifications with one key collect in one open batch that keeps its first flush time', async () => {
        const opened = await store.transaction(async (tx) => [
          await tx.batches.hold(held('A1'), T0),
          await tx.batches.hold(held('A2', undefined, T0 + 99_000), T0 + 5000),
          await tx.batches.hold(held('B1', 'group|r|site=B|ops@example.com'), T0),
        ]);
        assert.deepEqual(opened.map((o) => o.opened), [true, false, true]);
        assert.equal(opened[0]!.id, opened[1]!.id);
        assert.equal(await store.batches.nextDueAt(), T0 + 30_000);
        const due = await store.batches.due(T0 + 30_000, 10);
        assert.equal(due.length, 2);
        const a = due.find((b) => b.key.includes('site=A'))!;
        assert.equal(a.flushAt, T0 + 30_000, 'the first notification set the time');
        assert.deepEqual(await store.batches.get(a.id), a);
        assert.deepEqual((await store.batches.items(a.id)).map((i) => i.alarmId), ['A1', 'A2']);
        assert.deepEqual((await store.batches.ofAlarm('A2')).map((b) => b.id), [a.id]);
        assert.deepEqual(await store.batches.due(T0 + 29_999, 10), []);
      });

      it('a batch is sent once, and the next held notification of its key opens a new one', async () => {
        await store.transaction((tx) => tx.batches.hold(held('A1'), T0));
        const [batch] = await store.batches.due(T0 + 30_000, 10);
        assert.equal(await store.batches.markSent(batch!.id, T0 + 30_000), true);
        assert.equal(await store.batches.markSent(batch!.id, T0 + 30_001), false);
        assert.equal((await store.batches.get(batch!.id))?.sentAt, T0 + 30_000);
        assert.equal(await store.batches.nextDueAt(), undefined);
        await store.transaction((tx) => tx.batches.hold(held('A3', undefined, T0 + 90_000), T0 + 60_000));
        const [next] = await store.batches.due(T0 + 90_000, 10);
        assert.notEqual(next?.id, batch!.id);
        assert.deepEqual((await store.batches.items(next!.id)).map((i) => i.alarmId), ['A3']);
      });

      it('keeps flood control counters per scope', async () => {
        assert.equal(await store.batches.floodState('device:plc'), undefined);
        await store.batches.saveFloodState({ scope: 'device:plc', windowStart: T0, count: 1 });
        await store.batches.saveFloodState({ scope: 'device:plc', windowStart: T0, count: 2, floodingSince: T0 + 1 });
        assert.deepEqual(await store.batches.floodState('device:plc'), { scope: 'device:plc', windowStart: T0, count: 2, floodingSince: T0 + 1 });
      });
    });

    describe('silences', () => {
      it('keeps silences; lists current ones, newest first, and all of them', async () => {
        await insertSilence(silence('S1'));
        await insertSilence(silence('S2', { createdAt: T0 + 1, schedule: { kind: 'weekly', days: ['mon'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin', start: T0 } }));
        await insertSilence(silence('S3', { createdAt: T0 + 2, schedule: { kind: 'window', start: T0 - 2 * HOUR, end: T0 - HOUR } }));
        assert.deepEqual(await store.silences.get('S1'), silence('S1'), 'round-trips');
        assert.deepEqual((await store.silences.list(T0)).map((s) => s.id), ['S2', 'S1'], 'S3 is over');
        assert.deepEqual((await store.silences.list(T0 + 2 * HOUR)).map((s) => s.id), ['S2'], 'a weekly one without until never ends');
        assert.deepEqual((await store.silences.list(T0, { all: true })).map((s) => s.id), ['S3', 'S2', 'S1']);
      });

      it('expires a silence now; an unknown or ended one is reported as such', async () => {
        await insertSilence(silence('S1'));
        await insertSilence(silence('S3', { schedule: { kind: 'window', start: T0 - 2 * HOUR, end: T0 - HOUR } }));
        assert.equal((await store.silences.expire('S1', T0 + 600_000))?.expiredAt, T0 + 600_000);
        assert.equal((await store.silences.get('S1'))?.expiredAt, T0 + 600_000);
        assert.deepEqual(await store.silences.list(T0 + 660_000), []);
        assert.equal(await store.silences.expire('NOPE', T0), undefined);
        assert.equal((await store.silences.expire('S3', T0))?.expiredAt, undefined, 'already over: unchanged');
      });
    });

    describe('topic state', () => {
      it('keeps the last state of a telemetry topic', async () => {
        assert.equal(await store.topics.get('p/tank3/level'), undefined);
        await store.topics.save({ topic: 'p/tank3/level', state: 'active', value: 4.8, at: 1000 });
        await store.topics.save({ topic: 'p/tank3/level', state: 'cleared', value: 3.1, at: 2000 });
        assert.deepEqual(await store.topics.get('p/tank3/level'), { topic: 'p/tank3/level', state: 'cleared', value: 3.1, at: 2000 });
      });
    });

    describe('MQTT sessions', () => {
      it('remembers the filters subscribed per broker and client id, the last subscription winning', async () => {
        assert.equal(await store.mqttSessions.get('mqtt://127.0.0.1:1883', 'gw1'), undefined);
        await store.mqttSessions.save({ url: 'mqtt://127.0.0.1:1883', clientId: 'gw1', filters: ['a/+'], startedAt: 1000 });
        await store.mqttSessions.save({ url: 'mqtt://127.0.0.1:1883', clientId: 'gw1', filters: ['a/+', 'b/#'], startedAt: 2000 });
        await store.mqttSessions.save({ url: 'mqtt://127.0.0.1:1883', clientId: 'gw2', filters: ['c'], startedAt: 3000 });
        assert.deepEqual(await store.mqttSessions.get('mqtt://127.0.0.1:1883', 'gw1'), { url: 'mqtt://127.0.0.1:1883', clientId: 'gw1', filters: ['a/+', 'b/#'], startedAt: 2000 });
        assert.deepEqual((await store.mqttSessions.get('mqtt://127.0.0.1:1883', 'gw2'))?.filters, ['c']);
        assert.equal(await store.mqttSessions.get('mqtts://127.0.0.1:8883', 'gw1'), undefined);
      });
    });

    describe('audit log', () => {
      it('reads newest first, pages by id, filters by action, actor and target, and prunes by age', async () => {
        const entry = (at: number, actor: string, action: string, target: string | null, detail: Record<string, unknown> | null = null) => ({ at, actor, via: 'session', peer: '127.0.0.1', action, target, detail });
        await store.audit.record(entry(1000, 'anna', 'login', null));
        await store.audit.record(entry(2000, 'anna', 'alarm.acknowledge', 'a1', { comment: 'on my way <b>' }));
        await store.audit.record(entry(3000, 'tom', 'silence.create', 's1', { matchers: ['device=plc1'] }));
        await store.transaction(async (tx) => tx.audit.record(entry(4000, 'tom', 'alarm.acknowledge', 'a2')));
        const all = await store.audit.list({ limit: 10 });
        assert.deepEqual(all.map((e) => e.at), [4000, 3000, 2000, 1000]);
        assert.ok(all[0]!.id > all[1]!.id, 'ids increase');
        assert.deepEqual(all[2], { id: all[2]!.id, at: 2000, actor: 'anna', via: 'session', peer: '127.0.0.1', action: 'alarm.acknowledge', target: 'a1', detail: { comment: 'on my way <b>' } });
        assert.deepEqual((await store.audit.list({ limit: 2, beforeId: all[1]!.id })).map((e) => e.at), [2000, 1000]);
        assert.deepEqual((await store.audit.list({ limit: 10, action: 'alarm.acknowledge' })).map((e) => e.target), ['a2', 'a1']);
        assert.deepEqual((await store.audit.list({ limit: 10, actor: 'tom', target: 's1' })).map((e) => e.at), [3000]);
        assert.equal(await store.audit.prune(2500, 100), 2);
        assert.deepEqual((await store.audit.list({ limit: 10 })).map((e) => e.at), [4000, 3000]);
      });
    });

    describe('login sessions', () => {
      it('creates, reads, touches (never backwards), deletes and prunes by idle time and by age', async () => {
        const session = (idHash: string, name: string, createdAt: number, lastSeenAt = createdAt) => ({ idHash, name, createdAt, lastSeenAt, peer: '127.0.0.1' });
        await store.loginSessions.create(session('h1', 'anna', 1000));
        await store.loginSessions.create(session('h2', 'tom', 2000));
        await store.transaction(async (tx) => tx.loginSessions.create(session('h3', 'anna', 3000)));
        assert.deepEqual(await store.loginSessions.get('h1'), { idHash: 'h1', name: 'anna', createdAt: 1000, lastSeenAt: 1000, peer: '127.0.0.1' });
        assert.equal(await store.loginSessions.get('nope'), undefined);
        await assert.rejects(store.loginSessions.create(session('h1', 'eve', 4000)), 'one id hash is one session');
        assert.equal(await store.loginSessions.touch('h1', 5000), true);
        assert.equal(await store.loginSessions.touch('h1', 4500), true);
        assert.equal((await store.loginSessions.get('h1'))?.lastSeenAt, 5000, 'a late touch does not move it back');
        assert.equal(await store.loginSessions.touch('nope', 5000), false);
        assert.equal(await store.loginSessions.delete('h2'), true);
        assert.equal(await store.loginSessions.delete('h2'), false);
        assert.equal(await store.loginSessions.get('h2'), undefined);
        // h1: made at 1000, used at 5000; h3: made and last used at 3000.
        assert.equal(await store.loginSessions.prune(4000, 0, 100), 1, 'idle since before 4000: h3');
        assert.ok(await store.loginSessions.get('h1'));
        assert.equal(await store.loginSessions.prune(0, 1500, 100), 1, 'made before 1500: h1, however recently used');
        assert.equal(await store.loginSessions.get('h1'), undefined);
        for (let i = 0; i < 5; i++) await store.loginSessions.create(session(`old${i}`, 'anna', 100 + i));
        assert.equal(await store.loginSessions.prune(1000, 0, 3), 3, 'a bounded batch');
        assert.equal(await store.loginSessions.prune(1000, 0, 3), 2);
      });
    });

    describe('retention', () => {
      it('prunes what is done and older than its age, never pending work nor what active alarms need', async () => {
        const old = T0 - 40 * 24 * HOUR;
        const at = (id: string, when: number) => receivedMessage(id, { receivedAt: when });
        for (const id of ['done-old', 'sent-old', 'failed-recent', 'pending-old', 'raised-active', 'done-recent']) await store.accept(at(id, old));
        await store.transaction(async (tx) => {
          for (const id of ['done-old', 'sent-old', 'raised-active']) await tx.inbox.complete(id, old);
          await tx.inbox.complete('failed-recent', old);
          await tx.inbox.complete('done-recent', T0 - HOUR);
          await tx.outbox.insert(entry('o-sent-old', 'sent-old'), old);
          await tx.outbox.insert(entry('o-failed-recent', 'failed-recent'), old);
          await tx.outbox.insert(entry('o-pending-old', null), old);
        });
        await store.outbox.claimDue(old, 3);
        await store.outbox.markFailed('o-failed-recent', { now: T0 - HOUR, error: '550', account: 'a', rejectedRecipients: [] });
        await store.outbox.reschedule('o-pending-old', { now: old, nextAttemptAt: old, error: '451', account: 'a', recipients: ['ops@example.com'], rejectedRecipients: [] });
        await store.outbox.markSent('o-sent-old', old, 'a', []);
        // Sent long ago: goes. Failed recently, and still to be sent however old: kept.
        await store.alarms.save(alarm('active', { lastEventId: 'raised-active', lastSeen: old }));
        await store.alarms.save(alarm('gone', { state: 'resolved', lastSeen: old, resolvedAt: old }));
        await store.alarms.save(alarm('recent', { state: 'resolved', lastSeen: T0 - HOUR, resolvedAt: T0 - HOUR }));
        await store.alarms.log('gone', { receivedId: 'x', at: old, outcome: 'raised', reason: 'r' });
        await store.alarms.log(null, { receivedId: 'y', at: old, outcome: 'clear-without-alarm', reason: 'r' });
        await store.timers.add([timerAt('unmute', 'gone', 'gone', old), timerAt('unmute', 'active', 'active', T0 + HOUR)]);
        await store.timers.fire('unmute', 'gone', old);
        await store.transaction((tx) => tx.batches.hold(held('gone'), old));
        const [batch] = await store.batches.due(T0 + 60_000, 10);
        await store.batches.markSent(batch!.id, old);

        const cutoff = T0 - 30 * 24 * HOUR;
        const counts = await store.transaction(async (tx) => ({
          notifications: await tx.outbox.prune(cutoff, 100),
          messages: await tx.inbox.prune(cutoff, 100),
          batches: await tx.batches.prune(cutoff, 100),
          alarms: await tx.alarms.prune(cutoff, 100),
          timers: await tx.timers.prune(cutoff, 100),
        }));
        assert.deepEqual(counts, { notifications: 1, messages: 2, batches: 1, alarms: 1, timers: 0 });
        assert.deepEqual((await store.outbox.list(['pending', 'sending', 'sent', 'failed'])).map((e) => e.id).sort(), ['o-failed-recent', 'o-pending-old']);
        for (const kept of ['failed-recent', 'pending-old', 'raised-active', 'done-recent']) assert.ok(await store.inbox.get(kept), kept);
        for (const gone of ['done-old', 'sent-old']) assert.equal(await store.inbox.get(gone), undefined, gone);
        assert.equal(await store.alarms.get('gone'), undefined);
        assert.deepEqual(await store.alarms.history('gone'), []);
        assert.deepEqual(await store.timers.ofAlarm('gone'), [], 'its timers go with it');
        assert.ok(await store.alarms.get('active'));
        assert.ok(await store.alarms.get('recent'));
        assert.ok(await store.timers.get('unmute', 'active'), 'a pending timer is kept');
        assert.equal(await store.batches.get(batch!.id), undefined);
        assert.deepEqual(await store.transaction((tx) => tx.inbox.prune(cutoff, 100)), 0, 'a second prune finds nothing');
      });

      it('prunes in bounded batches', async () => {
        const old = T0 - 40 * 24 * HOUR;
        for (let i = 0; i < 5; i += 1) await store.accept(receivedMessage(`m${i}`, { receivedAt: old }));
        await store.transaction(async (tx) => {
          for (let i = 0; i < 5; i += 1) await tx.inbox.complete(`m${i}`, old);
        });
        assert.equal(await store.transaction((tx) => tx.inbox.prune(T0, 3)), 3);
        assert.equal(await store.transaction((tx) => tx.inbox.prune(T0, 3)), 2);
        await assert.doesNotReject(store.compact());
      });
    });

    describe('durability', () => {
      it('keeps everything committed over a restart', async () => {
        const raw = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a]);
        await store.accept(receivedMessage('kept', { raw }));
        await queue(['o1', 'o2'], T0);
        await store.outbox.claimDue(T0, 1);
        await store.alarms.save(alarm('A1'));
        store = await subject.reopen();
        assert.deepEqual([...(await store.inbox.pending(10))[0]!.raw], [...raw]);
        assert.equal((await store.outbox.get('o1'))!.status, 'sending');
        assert.equal(await store.outbox.recoverInterrupted(T0 + 1), 1);
        // o2 has been due since T0, the recovered o1 since T0 + 1.
        assert.deepEqual((await store.outbox.claimDue(T0 + 1, 10)).map((e) => e.id), ['o2', 'o1']);
        assert.equal((await store.alarms.get('A1'))?.id, 'A1');
      });
    });
  });
}

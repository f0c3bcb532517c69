import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { SmtpAccount } from '../../src/config/types.js';
import { createSender, type AccountSender } from '../../src/deliver/account-sender.js';
import { OutboxWorker, type DeliveryOutcome } from '../../src/deliver/outbox-worker.js';
import { silentLogger } from '../../src/log/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { testDir } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const dir = testDir();
after(() => dir.remove());
let n = 0;

const RETRY = { initialDelay: 30_000, maxDelay: 60_000, factor: 2, jitter: 0, maxAge: 86_400_000 };

function account(port: number): SmtpAccount {
  return { name: 'lan', type: 'smtp', host: '127.0.0.1', port, security: 'none', tls: { minVersion: 'TLSv1.2', ca: [] }, connectionTimeout: 5000 };
}

/**
 * The outbox worker against a real SQLite store and a real SMTP server on loopback, counting
 * the store's transactions: each is a commit, which under load is what a notification costs.
 */
describe('OutboxWorker: transactions per delivery', () => {
  let store: SqliteStore;
  let upstream: Upstream;
  let sender: AccountSender;
  let clock: FakeClock;
  let worker: OutboxWorker | undefined;
  let transactions = 0;
  let outcomes: DeliveryOutcome[];
  let held: Array<() => void>;
  let holding: boolean;

  beforeEach(async () => {
    n += 1;
    store = SqliteStore.open(join(dir.path, `outbox-${n}`));
    store.observeCommits((commit) => {
      if (commit.kind === 'transaction') transactions += 1;
    });
    held = [];
    holding = false;
    upstream = await startUpstream({ security: 'none', beforeDataReply: () => (holding ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()) });
    sender = createSender(account(upstream.port), 'gw.test', 4);
    clock = new FakeClock();
    outcomes = [];
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await upstream.close();
    await store.close();
  });

  function startWorker(options: { concurrency?: number; outcomeLingerMs?: number } = {}): OutboxWorker {
    worker = new OutboxWorker({
      store,
      senders: [sender],
      retry: RETRY,
      concurrency: options.concurrency ?? 4,
      pollInterval: 60_000,
      logger: silentLogger(),
      clock,
      outcomeLingerMs: options.outcomeLingerMs,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    return worker;
  }

  async function queue(...ids: string[]): Promise<void> {
    for (const id of ids) {
      await store.outbox.insert({ id, receivedId: null, envelopeFrom: 'gw@plant.example', recipients: ['ops@example.com'], message: Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`) }, clock.now());
    }
  }

  /** Lets the loop turn until `reached` holds (real I/O: the store's commits, the SMTP server). */
  async function until(reached: () => boolean): Promise<void> {
    while (!reached()) await new Promise((resolve) => setImmediate(resolve));
  }

  const outcomesReach = (count: number): Promise<void> => until(() => outcomes.length >= count);
  const heldReach = (count: number): Promise<void> => until(() => held.length >= count);

  it('one delivery: a claim (which also reads when the next entry is due) and its outcome, nothing more', async () => {
    await queue('O1');
    const w = startWorker();
    transactions = 0;
    await w.start();
    await outcomesReach(1);
    await w.stop();
    assert.equal(outcomes[0]!.kind, 'delivered');
    // recoverInterrupted at start, the claim, the outcome: a delivery that ends with no
    // entry waiting claims nothing, and when the next one is due comes with the claim.
    assert.equal(transactions, 3);
    assert.equal((await store.outbox.get('O1'))?.status, 'sent');
  });

  it('more entries than free slots: a delivery that ends claims the next, until none is left', async () => {
    await queue('O1', 'O2', 'O3');
    const w = startWorker({ concurrency: 1 });
    await w.start();
    await outcomesReach(3);
    assert.deepEqual(
      outcomes.map((o) => [o.kind, o.entry.id]),
      [
        ['delivered', 'O1'],
        ['delivered', 'O2'],
        ['delivered', 'O3'],
      ],
    );
    assert.equal(upstream.messages.length, 3);
  });

  it('an entry queued by another process, with no wake-up, goes out at the next poll', async () => {
    const w = startWorker();
    await w.start();
    await queue('O1');
    for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(outcomes.length, 0, 'not claimed before the poll');
    await clock.advance(60_000);
    await outcomesReach(1);
    assert.equal(outcomes[0]!.entry.id, 'O1');
  });

  it('outcomes that end within the linger share one commit', async () => {
    holding = true;
    await queue('O1', 'O2', 'O3', 'O4');
    // Long enough that the three later deliveries end within it, whatever the machine's load.
    const w = startWorker({ outcomeLingerMs: 400 });
    await w.start();
    await heldReach(4);
    held.shift()!();
    await outcomesReach(1);
    const before = transactions;
    const started = performance.now();
    for (const release of held.splice(0)) release();
    await outcomesReach(4);
    assert.equal(transactions - before, 1, 'the three outcomes in one commit');
    assert.ok(performance.now() - started >= 300, 'the commit waited for the linger');
    for (const id of ['O1', 'O2', 'O3', 'O4']) assert.equal((await store.outbox.get(id))?.status, 'sent');
  });
});

/**
 * A claimed message is the worker's alone (the store hands it out once): once every account
 * was tried, its memory is given back at once (base/release-bytes.ts), and nothing that
 * comes after (a retry, the outcome) needs those bytes.
 */
describe('OutboxWorker: a large message\'s memory', () => {
  let store: SqliteStore;
  let upstream: Upstream;
  let worker: OutboxWorker | undefined;
  const clock = new FakeClock();
  const handed: Buffer[] = [];
  const outcomes: DeliveryOutcome[] = [];

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await upstream.close();
    await store.close();
    handed.length = 0;
    outcomes.length = 0;
  });

  async function deliverOne(dataReply: (attempt: number) => number): Promise<Buffer> {
    n += 1;
    store = SqliteStore.open(join(dir.path, `outbox-bytes-${n}`));
    upstream = await startUpstream({ security: 'none', dataReply });
    const real = createSender(account(upstream.port), 'gw.test', 1);
    // Sees which Buffer the worker hands to the account; sends it as the account would.
    const watching: AccountSender = {
      name: real.name,
      description: real.description,
      send: (request) => {
        handed.push(request.message);
        return real.send(request);
      },
      close: () => real.close(),
    };
    const message = Buffer.from(`Subject: large\r\n\r\n${'0123456789abcdef'.repeat(4096).replace(/(.{64})/g, '$1\r\n')}`);
    const copy = Buffer.from(message);
    await store.outbox.insert({ id: 'L1', receivedId: null, envelopeFrom: 'gw@plant.example', recipients: ['ops@example.com'], message }, clock.now());
    worker = new OutboxWorker({ store, senders: [watching], retry: RETRY, concurrency: 1, pollInterval: 60_000, logger: silentLogger(), clock, onOutcome: (o) => outcomes.push(o) });
    await worker.start();
    while (outcomes.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return copy;
  }

  it('once delivered: the upstream has every byte, the worker\'s Buffer is given back, the outcome carries no message', async () => {
    const copy = await deliverOne(() => 250);
    assert.equal(outcomes[0]!.kind, 'delivered');
    assert.ok(upstream.messages[0]!.raw.equals(copy), 'the upstream got the message whole');
    assert.equal(handed.length, 1);
    assert.equal(handed[0]!.byteLength, 0, 'its memory was given back');
    assert.ok(!('message' in outcomes[0]!.entry), 'the outcome tells of the entry, not of its bytes');
  });

  it('refused for good: given back too', async () => {
    await deliverOne(() => 550);
    assert.equal(outcomes[0]!.kind, 'failed');
    assert.equal(handed[0]!.byteLength, 0);
  });

  it('deferred: the retry reads the message from the store again and delivers it whole', async () => {
    const copy = await deliverOne((attempt) => (attempt === 1 ? 451 : 250));
    assert.equal(outcomes[0]!.kind, 'deferred');
    assert.equal(handed[0]!.byteLength, 0);
    await clock.advance(RETRY.maxDelay + 1);
    while (outcomes.length < 2) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(outcomes[1]!.kind, 'delivered');
    assert.ok(upstream.messages[0]!.raw.equals(copy), 'the second attempt sent every byte');
  });
});

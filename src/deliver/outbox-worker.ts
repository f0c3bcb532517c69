import { failureBackoff, retryDelay } from '../base/backoff.js';
import { releaseBytes } from '../base/release-bytes.js';
import type { Clock, TimerHandle } from '../base/clock.js';
import { Linger } from '../base/linger.js';
import type { BackoffPolicy } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';
import type { OutboxEntry, OutboxRecord, Repositories, Store } from '../store/store.js';
import type { AccountSender, SendResult } from './account-sender.js';
import { classifyDeliveryError, oneLine, type DeliveryFailure } from './delivery-error.js';

export interface OutboxWorkerOptions {
  store: Store;
  senders: AccountSender[];
  retry: BackoffPolicy;
  concurrency: number;
  pollInterval: number;
  logger: Logger;
  /** Told of every outcome once it is recorded (to publish notification events, count metrics). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
  clock: Clock;
  random?: () => number;
  /** Real milliseconds between outcome commits while deliveries keep ending (base/linger.ts); default OUTCOME_LINGER_MS. */
  outcomeLingerMs?: number;
}

/**
 * Outcomes wait this long for others to share their commit: nothing waits on them but the
 * log line and the `delivered` event (the upstream has the message already), and under
 * load a commit per delivery cost as much as the rest of the bookkeeping.
 */
export const OUTCOME_LINGER_MS = 10;

/** Each outcome carries the entry as it was recorded (status, times, last error and account). */
export type DeliveryOutcome =
  | { kind: 'delivered'; entry: OutboxRecord; account: string }
  | { kind: 'deferred'; entry: OutboxRecord; reason: string; retryAt: number; account: string | null }
  | { kind: 'failed'; entry: OutboxRecord; reason: string; account: string | null };

/**
 * Drains the outbox: claims due entries, tries the accounts in order (the next one on a
 * connection, TLS or authentication failure), and records the outcome before it moves
 * on, so an entry an upstream accepted is never sent again. While the store fails (disk
 * full, file gone) scans and the recording of outcomes are tried again with a growing
 * delay, logged once a minute at most; entries whose outcome is not recorded stay
 * `sending`, so none is handed out twice, and are recorded once the store works again.
 */
export class OutboxWorker {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly inFlight = new Set<Promise<void>>();
  /** The last delivery claimed for each alarm, while it is in flight. */
  private readonly lastOfAlarm = new Map<string, Promise<void>>();
  private timer: TimerHandle | undefined;
  private running = false;
  private ticking = false;
  private tickAgain = false;
  /**
   * Whether entries may be due that no claim has seen: set by every wake-up from outside
   * (a queued notification, a retry, the poll) and by a claim that filled every free slot;
   * cleared when a claim begins. A delivery that ends claims again only while it is set:
   * otherwise nothing waits, and asking the store would be a transaction for nothing.
   */
  private mayHaveDue = true;
  /** When the earliest entry not yet due is due, as the last claim's transaction read it. */
  private nextDue: number | undefined;
  /** Outcomes waiting for their commit: recorded together, one transaction for all that finished meanwhile. */
  private outcomes: { write: (tx: Repositories) => Promise<void>; after: () => void }[] = [];
  private recording: Promise<void> | undefined;
  private readonly outcomeLinger: Linger;
  private recordTimer: TimerHandle | undefined;
  /** Scans and outcome commits that failed in a row: how long to wait before the next. */
  private scanFailures = 0;
  private recordFailures = 0;
  private readonly failureLog: RateLimitedLog;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.now = () => options.clock.now();
    this.random = options.random ?? Math.random;
    this.outcomeLinger = new Linger(options.outcomeLingerMs ?? OUTCOME_LINGER_MS);
    this.failureLog = new RateLimitedLog(options.logger, 60_000, this.now);
  }

  async start(): Promise<void> {
    const recovered = await this.options.store.outbox.recoverInterrupted(this.now());
    if (recovered > 0) this.options.logger.warn({ recovered }, 'outbox entries interrupted by a restart are due again');
    this.running = true;
    this.wake();
  }

  /** Look for due entries now, e.g. right after new ones were queued. */
  wake(): void {
    this.mayHaveDue = true;
    this.tickSoon();
  }

  private tickSoon(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    setImmediate(() => void this.tick());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await Promise.allSettled([...this.inFlight]);
    this.recordTimer?.cancel();
    await this.recording;
    // What finished last is recorded before the store closes; if that fails, the entries stay `sending` and go out again after the restart.
    if (this.outcomes.length > 0) await this.commitOutcomes();
    for (const sender of this.options.senders) sender.close();
  }

  private async tick(): Promise<void> {
    let failed = false;
    try {
      do {
        this.tickAgain = false;
        const free = this.options.concurrency - this.inFlight.size;
        if (!this.running || free <= 0) break;
        this.mayHaveDue = false;
        // A claim need not be on the disk before the send: lost, the entry is only sent again.
        const { claimed, nextDue } = await this.options.store.transaction(
          async (tx) => {
            const claimed = await tx.outbox.claimDue(this.now(), free);
            return { claimed, nextDue: await tx.outbox.nextDueAt() };
          },
          { awaitFlush: false },
        );
        this.nextDue = nextDue;
        if (claimed.length === free) this.mayHaveDue = true;
        for (const entry of claimed) {
          // Notifications of one alarm go out in the order they were queued (firing before
          // resolved): one waits for the delivery of the one before it still in flight.
          const before = entry.alarmId ? this.lastOfAlarm.get(entry.alarmId) : undefined;
          const job = (before ? before.then(() => this.deliver(entry)) : this.deliver(entry))
            .catch((error: unknown) => this.options.logger.error({ err: error, outboxId: entry.id }, 'delivery attempt failed unexpectedly; the entry goes out again after a restart'))
            .finally(() => {
              this.inFlight.delete(job);
              if (entry.alarmId && this.lastOfAlarm.get(entry.alarmId) === job) this.lastOfAlarm.delete(entry.alarmId);
              // A slot is free: worth a claim only if one may be waiting for it.
              if (this.mayHaveDue) this.tickSoon();
            });
          this.inFlight.add(job);
          if (entry.alarmId) this.lastOfAlarm.set(entry.alarmId, job);
        }
      } while (this.tickAgain);
      if (this.scanFailures > 0) {
        this.failureLog.reset('scan');
        this.options.logger.info({ failures: this.scanFailures }, 'outbox scans work again');
      }
      this.scanFailures = 0;
    } catch (error) {
      failed = true;
      // Not looked: whatever may be due still may be.
      this.mayHaveDue = true;
      this.scanFailures += 1;
      this.failureLog.error('scan', { err: error, failures: this.scanFailures, retryInMs: failureBackoff(this.scanFailures, this.options.pollInterval) }, 'outbox scan failed; trying again');
    } finally {
      this.ticking = false;
      this.schedule(failed);
    }
  }

  private schedule(failed: boolean): void {
    if (!this.running || this.ticking) return;
    let delay = failed ? failureBackoff(this.scanFailures, this.options.pollInterval) : this.options.pollInterval;
    if (!failed && this.nextDue !== undefined) delay = Math.min(delay, Math.max(0, this.nextDue - this.now()));
    this.timer?.cancel();
    this.timer = this.options.clock.setTimer(() => this.wake(), Math.max(delay, 5));
  }

  /** Queues an outcome for the next commit; `after` (log, tell) runs once it is durable. */
  private record(write: (tx: Repositories) => Promise<void>, after: () => void): void {
    this.outcomes.push({ write, after });
    if (this.recording || this.recordTimer) return;
    this.recording = this.commitOutcomesSoon();
  }

  /** The next outcome commit: after this turn's other outcomes, and after the linger since the last commit. */
  private commitOutcomesSoon(): Promise<void> {
    const wait = this.outcomeLinger.wait();
    return new Promise<void>((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve))).then(() => this.commitOutcomes());
  }

  private async commitOutcomes(): Promise<void> {
    const batch = this.outcomes.splice(0);
    try {
      await this.options.store.transaction(async (tx) => {
        for (const outcome of batch) await outcome.write(tx);
      });
      this.outcomeLinger.ended();
    } catch (error) {
      // Kept `sending`: nothing is handed out twice while the store fails; tried again.
      this.outcomes.unshift(...batch);
      this.recording = undefined;
      this.recordFailures += 1;
      const retryInMs = failureBackoff(this.recordFailures, this.options.pollInterval);
      this.failureLog.error('record', { err: error, outcomes: this.outcomes.length, failures: this.recordFailures, retryInMs }, 'cannot record delivery outcomes in the store; trying again');
      if (this.running && !this.recordTimer) {
        this.recordTimer = this.options.clock.setTimer(() => {
          this.recordTimer = undefined;
          this.recording = this.commitOutcomes();
        }, retryInMs);
      }
      return;
    }
    if (this.recordFailures > 0) {
      this.failureLog.reset('record');
      this.options.logger.info({ failures: this.recordFailures, outcomes: batch.length }, 'delivery outcomes recorded again');
    }
    this.recordFailures = 0;
    this.recording = undefined;
    for (const outcome of batch) {
      try {
        outcome.after();
      } catch (error) {
        // Recorded already; what telling about it throws must not stop the worker.
        this.options.logger.error({ err: error }, 'reporting a recorded delivery outcome failed');
      }
    }
    // Finished while this commit was under way: the next one.
    if (this.outcomes.length > 0 && !this.recordTimer) this.recording = this.commitOutcomesSoon();
  }

  private async deliver(claimed: OutboxEntry): Promise<void> {
    const { message, ...entry } = claimed;
    try {
      await this.deliverMessage(entry, message);
    } finally {
      // Handed out once by the claim, and sent by every account that was tried: its bytes go now.
      releaseBytes(message);
    }
  }

  private async deliverMessage(entry: OutboxRecord, message: Buffer): Promise<void> {
    const { senders, logger } = this.options;
    const log = logger.child({ msgId: entry.receivedId ?? undefined, alarmId: entry.alarmId ?? undefined, batchId: entry.batchId ?? undefined, outboxId: entry.id, attempt: entry.attempts });
    const failures: string[] = [];
    let lastFailure: DeliveryFailure | undefined;
    let lastAccount: string | null = null;
    for (const sender of senders) {
      lastAccount = sender.name;
      let result: SendResult;
      try {
        result = await sender.send({ id: entry.id, envelopeFrom: entry.envelopeFrom, recipients: entry.recipients, message });
      } catch (error) {
        lastFailure = classifyDeliveryError(error);
        failures.push(`${sender.name}: ${lastFailure.reason}`);
        if (lastFailure.kind === 'failover') {
          log.warn({ account: sender.name, upstream: sender.description, reason: lastFailure.reason }, 'account unusable, trying the next one');
          continue;
        }
        break;
      }
      this.recordResult(entry, sender, result, log);
      return;
    }
    this.recordFailure(entry, lastFailure ?? { kind: 'failover', reason: 'no account configured' }, failures.join('; '), lastAccount, log);
  }

  private recordResult(entry: OutboxRecord, sender: AccountSender, result: SendResult, log: Logger): void {
    const now = this.now();
    const permanent = result.rejected.filter((r) => (r.responseCode ?? 550) >= 500);
    const transient = result.rejected.filter((r) => (r.responseCode ?? 550) < 500);
    const rejectedRecipients = [...entry.rejectedRecipients, ...permanent.map((r) => r.address)];
    for (const r of permanent) log.error({ account: sender.name, recipient: r.address, reason: oneLine(r.reason) }, 'upstream refused a recipient for good');
    if (transient.length > 0) {
      const reason = transient.map((r) => `${r.address}: ${oneLine(r.reason)}`).join('; ');
      log.info({ account: sender.name, accepted: result.accepted }, 'delivered to some recipients; the rest retry');
      this.retryOrFail(entry, { kind: 'transient', reason }, reason, sender.name, transient.map((r) => r.address), rejectedRecipients, log);
      return;
    }
    if (result.accepted.length === 0) {
      this.record(
        (tx) => tx.outbox.markFailed(entry.id, { now, error: 'every recipient was refused', account: sender.name, rejectedRecipients }),
        () => {
          log.error({ account: sender.name }, 'delivery failed: every recipient was refused');
          this.options.onOutcome?.({ kind: 'failed', entry: { ...entry, status: 'failed', updatedAt: now, lastError: 'every recipient was refused', lastAccount: sender.name, rejectedRecipients }, reason: 'every recipient was refused', account: sender.name });
        },
      );
      return;
    }
    this.record(
      (tx) => tx.outbox.markSent(entry.id, now, sender.name, rejectedRecipients),
      () => {
        this.options.onOutcome?.({ kind: 'delivered', entry: { ...entry, status: 'sent', sentAt: now, updatedAt: now, lastAccount: sender.name, rejectedRecipients }, account: sender.name });
        log.info({ account: sender.name, upstream: sender.description, recipients: result.accepted, response: oneLine(result.response), latencyMs: now - entry.createdAt }, 'delivered');
      },
    );
  }

  private recordFailure(entry: OutboxRecord, failure: DeliveryFailure, detail: string, account: string | null, log: Logger): void {
    if (failure.kind === 'permanent') {
      const now = this.now();
      this.record(
        (tx) => tx.outbox.markFailed(entry.id, { now, error: detail, account, rejectedRecipients: entry.rejectedRecipients }),
        () => {
          log.error({ account, reason: detail, responseCode: failure.responseCode }, 'delivery failed permanently (5xx); not retried');
          this.options.onOutcome?.({ kind: 'failed', entry: { ...entry, status: 'failed', updatedAt: now, lastError: detail, lastAccount: account }, reason: detail, account });
        },
      );
      return;
    }
    this.retryOrFail(entry, failure, detail, account, entry.recipients, entry.rejectedRecipients, log);
  }

  private retryOrFail(entry: OutboxRecord, failure: DeliveryFailure, detail: string, account: string | null, recipients: string[], rejectedRecipients: string[], log: Logger): void {
    const now = this.now();
    const { retry } = this.options;
    if (now - entry.createdAt >= retry.maxAge) {
      const error = `gave up after ${entry.attempts} attempts: ${detail}`;
      this.record(
        (tx) => tx.outbox.markFailed(entry.id, { now, error, account, rejectedRecipients }),
        () => {
          log.error({ account, reason: detail, attempts: entry.attempts }, 'delivery failed: retried up to the maximum age');
          this.options.onOutcome?.({ kind: 'failed', entry: { ...entry, status: 'failed', updatedAt: now, lastError: error, lastAccount: account, rejectedRecipients }, reason: detail, account });
        },
      );
      return;
    }
    const nextAttemptAt = now + retryDelay(entry.attempts, retry, this.random);
    this.record(
      (tx) => tx.outbox.reschedule(entry.id, { now, nextAttemptAt, error: detail, account, recipients, rejectedRecipients }),
      () => {
        log.warn({ account, reason: detail, kind: failure.kind, retryAt: new Date(nextAttemptAt).toISOString() }, 'delivery deferred; will retry');
        this.options.onOutcome?.({
          kind: 'deferred',
          entry: { ...entry, status: 'pending', updatedAt: now, nextAttemptAt, lastError: detail, lastAccount: account, recipients, rejectedRecipients },
          reason: detail,
          retryAt: nextAttemptAt,
          account,
        });
        // Its retry time may come before the worker's next poll.
        this.wake();
      },
    );
  }
}


import { failureBackoff } from '../base/backoff.js';
import { releaseBytes } from '../base/release-bytes.js';
import type { Received } from '../ingest/received.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';
import { Effects } from '../pipeline/effects.js';
import { StoreError } from '../store/store-error.js';
import { WakeLoop, type RunnerOptions } from './wake-loop.js';

export interface InboxRunnerOptions extends RunnerOptions {
  /** Messages processed in one transaction (one commit, one fsync). */
  batchSize?: number;
  /** Real milliseconds between the end of a pass and the start of the next while mail keeps coming (base/linger.ts); default INBOX_LINGER_MS. */
  lingerMs?: number;
}

/**
 * Long enough that under load a pass takes several messages (at C=10 they come every few
 * ms), short against the seconds a notification takes to reach a person; at 50 msg/s or
 * less the passes are further apart than this and none waits (bench/postfix/README.md).
 */
export const INBOX_LINGER_MS = 10;

/**
 * Drives the pipeline from the inbox: takes the messages committed before `250`/PUBACK,
 * up to `batchSize` per transaction, and hands each to the pipeline. A crash at any point
 * leaves them in the inbox for the next pass; a message whose result cannot be saved is
 * tried alone, so it cannot hold up the others. When the store itself fails (disk full,
 * file gone) no message is blamed: they all wait in the inbox, and the runner tries
 * again with a growing delay, logging the failure once a minute at most.
 */
export class InboxRunner extends WakeLoop {
  private readonly failureLog: RateLimitedLog;

  constructor(private readonly options: InboxRunnerOptions) {
    super(options.clock, options.lingerMs ?? INBOX_LINGER_MS);
    this.failureLog = new RateLimitedLog(options.logger, 60_000, () => options.clock.now());
  }

  protected override passFailed(error: unknown, failures: number): void {
    const retryInMs = this.retryIn(failures);
    this.failureLog.error('pass', { err: error, failures, retryInMs }, 'cannot process the inbox (the store is failing); the messages wait in it, trying again');
  }

  protected override passRecovered(failures: number): void {
    this.failureLog.reset('pass');
    this.options.logger.info({ failures }, 'processing the inbox again');
  }

  protected override retryIn(failures: number): number {
    return failureBackoff(failures, this.options.pollInterval);
  }

  protected override nextWakeIn(): number {
    return this.options.pollInterval;
  }

  protected override async pass(): Promise<void> {
    const { store, pipeline, events, clock } = this.options;
    const limit = this.options.batchSize ?? 32;
    for (;;) {
      if (!this.isRunning) return;
      const fx = new Effects();
      let processed: Received[] = [];
      let count: number;
      try {
        // The messages are durable in the inbox already: the result need not be flushed before
        // its notifications go out (store.ts, TransactionOptions). Lost to a power failure, it
        // is worked out again from the inbox, at worst a notification sent twice.
        processed = await store.transaction(
          async (tx) => {
            const batch = await tx.inbox.pending(limit);
            const now = clock.now();
            for (const received of batch) await pipeline.received(tx, received, now, fx);
            return batch;
          },
          { awaitFlush: false },
        );
        count = processed.length;
      } catch (error) {
        // The store failing says nothing about the messages: the pass fails, they wait.
        if (StoreError.isFault(error)) throw error;
        count = await this.processAlone(limit);
      }
      fx.release(events);
      releaseRaw(processed);
      if (count < limit) return;
    }
  }

  /**
   * After a batch failed: each pending message in its own transaction; one that fails
   * alone is kept as rejected, unless the store itself failed (then the pass fails and
   * every message waits for the next one).
   */
  private async processAlone(limit: number): Promise<number> {
    const { store, pipeline, events, clock, logger } = this.options;
    const pending: Received[] = await store.inbox.pending(limit);
    let done = 0;
    for (const received of pending) {
      const fx = new Effects();
      try {
        await store.transaction((tx) => pipeline.received(tx, received, clock.now(), fx));
        fx.release(events);
        releaseRaw([received]);
        done += 1;
      } catch (error) {
        if (StoreError.isFault(error)) throw error;
        await store.inbox.reject(received.id, error instanceof Error ? error.message : String(error), clock.now());
        logger.child({ msgId: received.id }).error({ err: error }, 'message could not be processed; kept in the store as rejected');
        done += 1;
      }
    }
    return done;
  }
}

/**
 * The mails' bytes once their batch is committed and told: `pending` hands each out once, and
 * what the pipeline keeps of a mail (the alarm, the outbox row) is in the store now.
 */
function releaseRaw(processed: readonly Received[]): void {
  for (const received of processed) releaseBytes(received.raw);
}

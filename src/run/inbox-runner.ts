import type { Clock } from '../base/clock.js';
import type { GatewayEventBus } from '../events.js';
import type { Received } from '../ingest/received.js';
import type { Logger } from '../log/logger.js';
import { Effects } from '../pipeline/effects.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Store } from '../store/store.js';
import { WakeLoop } from './wake-loop.js';

export interface InboxRunnerOptions {
  store: Store;
  pipeline: Pipeline;
  events: GatewayEventBus;
  clock: Clock;
  logger: Logger;
  /** Catches messages `annunciator send` put into the store from another process. */
  pollInterval: number;
  /** Messages processed in one transaction (one commit, one fsync). */
  batchSize?: number;
}

/**
 * Drives the pipeline from the inbox: takes the messages committed before `250`/PUBACK,
 * up to `batchSize` per transaction, and hands each to the pipeline. A crash at any point
 * leaves them in the inbox for the next pass; a message whose result cannot be saved is
 * tried alone, so it cannot hold up the others.
 */
export class InboxRunner extends WakeLoop {
  constructor(private readonly options: InboxRunnerOptions) {
    super(options.clock);
  }

  protected override passFailed(error: unknown): void {
    this.options.logger.error({ err: error }, 'inbox pass failed; trying again at the next poll');
  }

  protected override nextWakeIn(): number {
    return this.options.pollInterval;
  }

  protected override async pass(): Promise<void> {
    const { store, pipeline, events, clock, logger } = this.options;
    const limit = this.options.batchSize ?? 32;
    for (;;) {
      if (!this.isRunning) return;
      const fx = new Effects();
      let count: number;
      try {
        count = await store.transaction(async (tx) => {
          const batch = await tx.inbox.pending(limit);
          const now = clock.now();
          for (const received of batch) await pipeline.received(tx, received, now, fx);
          return batch.length;
        });
      } catch (error) {
        const alone = await this.processAlone(limit);
        if (alone === undefined) {
          logger.error({ err: error }, 'cannot process the inbox (the store is failing); trying again at the next poll');
          return;
        }
        count = alone;
      }
      fx.release(events);
      if (count < limit) return;
    }
  }

  /** After a batch failed: each pending message in its own transaction; undefined when the store itself fails. */
  private async processAlone(limit: number): Promise<number | undefined> {
    const { store, pipeline, events, clock, logger } = this.options;
    let pending: Received[];
    try {
      pending = await store.inbox.pending(limit);
    } catch {
      return undefined;
    }
    let done = 0;
    for (const received of pending) {
      const fx = new Effects();
      try {
        await store.transaction((tx) => pipeline.received(tx, received, clock.now(), fx));
        fx.release(events);
        done += 1;
      } catch (error) {
        try {
          await store.inbox.reject(received.id, error instanceof Error ? error.message : String(error), clock.now());
          logger.child({ msgId: received.id }).error({ err: error }, 'message could not be processed; kept in the store as rejected');
          done += 1;
        } catch {
          return done > 0 ? done : undefined;
        }
      }
    }
    return done;
  }
}

import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import type { Logger } from '../log/logger.js';
import { decodeMail } from '../parse/decode-mail.js';
import { renderPassthrough } from '../render/passthrough.js';
import { newId } from '../base/ids.js';
import { isTrace, runAlarmPipeline, savePipelineResult, type PipelineStages } from './alarm-pipeline.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Repositories, Store } from '../store/store.js';
import { WakeLoop } from './wake-loop.js';
import { StoreError } from '../store/store-error.js';

export interface InboxProcessorOptions {
  store: Store;
  config: GatewayConfig;
  logger: Logger;
  /** The alarm pipeline's stages; without them mail is relayed as it came. */
  stages?: PipelineStages;
  /** A message the pipeline cannot use (bad payload, unknown topic); it is kept as rejected. */
  onUnusable?: (received: Received, reason: string) => void;
  /** An alarm changed (raised, counted, resolved): for publishing its state. */
  onAlarmChanged?: (alarm: Alarm) => void;
  /** Called after outbox entries were queued. */
  onQueued: () => void;
  /** Called after notifications were held for a group or digest (its timer may need to wake sooner). */
  onHeld?: () => void;
  now?: () => number;
  pollInterval?: number;
  /** Messages processed in one transaction (one commit, one fsync). */
  batchSize?: number;
}

/** What to say and whom to tell once a message's transaction has committed. */
type AfterCommit = () => void;

/**
 * The middle of the pipeline: takes committed messages from the inbox, decodes them and
 * queues what is to be sent, marking each one done in the same transaction. Up to
 * `batchSize` messages share one transaction; a crash at any point leaves them in the
 * inbox for the next pass.
 */
export class InboxProcessor extends WakeLoop {
  private readonly now: () => number;

  constructor(private readonly options: InboxProcessorOptions) {
    super();
    this.now = options.now ?? Date.now;
  }

  protected override passFailed(error: unknown): void {
    this.options.logger.error({ err: error }, 'inbox pass failed; trying again at the next poll');
  }

  protected override nextWakeIn(): number {
    // Catches messages `annunciator send` put into the store from another process.
    return this.options.pollInterval ?? 1000;
  }

  protected override async pass(): Promise<void> {
    const { store, logger } = this.options;
    const limit = this.options.batchSize ?? 32;
    for (;;) {
      if (!this.isRunning) return;
      let done: AfterCommit[];
      try {
        done = await store.transaction(async (tx) => {
          const batch = await tx.inbox.pending(limit);
          const after: AfterCommit[] = [];
          for (const received of batch) after.push(await this.process(tx, received));
          return after;
        });
      } catch (error) {
        // One message whose result cannot be saved must not hold up the others: each alone.
        const alone = await this.processAlone(limit);
        if (alone === undefined) {
          logger.error({ err: error }, 'cannot process the inbox (store failing); trying again at the next poll');
          return;
        }
        done = alone;
      }
      if (done.length === 0) return;
      for (const after of done) after();
      this.options.onQueued();
    }
  }

  /** After a batch failed: each pending message in its own transaction; undefined when the store itself fails. */
  private async processAlone(limit: number): Promise<AfterCommit[] | undefined> {
    const { store, logger } = this.options;
    let pending: Received[];
    try {
      pending = await store.inbox.pending(limit);
    } catch {
      return undefined;
    }
    const done: AfterCommit[] = [];
    for (const received of pending) {
      try {
        done.push(await store.transaction((tx) => this.process(tx, received)));
      } catch (error) {
        const log = logger.child({ msgId: received.id });
        try {
          await store.inbox.reject(received.id, error instanceof Error ? error.message : String(error), this.now());
          log.error({ err: error }, 'message could not be processed; kept in the store as rejected');
        } catch {
          return done.length > 0 ? done : undefined;
        }
      }
    }
    return done;
  }

  /** Processes one message inside `tx`; what to log and whom to tell comes back, for after the commit. */
  private async process(tx: Repositories, received: Received): Promise<AfterCommit> {
    const { config, logger } = this.options;
    const log = logger.child({ msgId: received.id });
    const now = this.now();
    try {
      if (this.options.stages && config.alarms) {
        const trace = await runAlarmPipeline(received, config, this.options.stages, tx, now);
        if (!isTrace(trace)) {
          if (trace.unusable) {
            await tx.inbox.reject(received.id, trace.reason, now);
            return () => this.options.onUnusable?.(received, trace.reason);
          }
          // Telemetry inside its band changes nothing worth keeping; only the topic state.
          if (!(await tx.inbox.complete(received.id, now))) return () => undefined;
          if (trace.topicState) await tx.topics.save(trace.topicState);
          await tx.inbox.drop(received.id);
          return () => undefined;
        }
        // The state guard makes a second pass over the same message a no-op.
        if (!(await tx.inbox.complete(received.id, now))) return () => undefined;
        const result = trace.result;
        await savePipelineResult(tx, received.id, result, now);
        return () => {
          if (result.alarm) this.options.onAlarmChanged?.(result.alarm);
          if (result.held?.length) this.options.onHeld?.();
          log.info(
            {
              alarmId: result.alarm?.id,
              device: trace.event.device.id,
              title: trace.event.title,
              state: trace.event.state,
              outcome: result.outcome,
              reason: result.reason,
              rules: trace.routing.route.rules,
              notifications: result.outbox.map((e) => e.id),
            },
            `alarm ${result.outcome}`,
          );
        };
      }
      const listener = config.listeners.find((l) => l.name === received.listener);
      const mail = await decodeMail(received.raw, listener?.compat.fallbackCharset ?? 'windows-1252');
      const outgoing = await renderPassthrough(received, mail, { relay: config.relay, hostname: config.gateway.hostname, domain: config.gateway.domain });
      if (outgoing.recipients.length === 0) {
        await tx.inbox.reject(received.id, 'no recipients', now);
        return () => log.error('message has no recipients; kept in the store as rejected');
      }
      const entry = { id: newId(), receivedId: received.id, ...outgoing };
      if (!(await tx.inbox.complete(received.id, now))) return () => undefined;
      await tx.outbox.insert(entry, now);
      return () => log.info({ outboxId: entry.id, subject: mail.subject, recipients: entry.recipients }, 'queued for delivery');
    } catch (error) {
      if (error instanceof StoreError) throw error;
      await tx.inbox.reject(received.id, error instanceof Error ? error.message : String(error), now);
      return () => log.error({ err: error }, 'message could not be processed; kept in the store as rejected');
    }
  }
}


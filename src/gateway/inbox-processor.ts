import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import type { Logger } from '../log/logger.js';
import { decodeMail } from '../parse/decode-mail.js';
import { renderPassthrough } from '../render/passthrough.js';
import { newId } from '../base/ids.js';
import { isTrace, runAlarmPipeline, type PipelineStages } from './alarm-pipeline.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Exclusive } from './exclusive.js';
import type { NewOutboxEntry, Store } from '../store/store.js';
import { WakeLoop } from './wake-loop.js';

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
  /** Shared with the unmute scheduler: each message is processed alone, so neither writes an alarm over the other. */
  exclusive?: Exclusive;
}

/**
 * The middle of the pipeline: takes committed messages from the inbox, decodes them and
 * queues what is to be sent, marking each one done in the same transaction. A crash at
 * any point leaves the message in the inbox for the next pass.
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
    for (;;) {
      let batch: Received[];
      try {
        batch = store.pendingReceived(32);
      } catch (error) {
        logger.error({ err: error }, 'cannot read the inbox; trying again at the next poll');
        return;
      }
      if (batch.length === 0) return;
      for (const received of batch) {
        if (!this.isRunning) return;
        await (this.options.exclusive ? this.options.exclusive.run(() => this.process(received)) : this.process(received));
        // Wake delivery per message, not per batch: the first alarm of a burst should not wait for the last.
        this.options.onQueued();
      }
    }
  }

  private async process(received: Received): Promise<void> {
    const { store, config, logger } = this.options;
    const log = logger.child({ msgId: received.id });
    const listener = config.listeners.find((l) => l.name === received.listener);
    const fallbackCharset = listener?.compat.fallbackCharset ?? 'windows-1252';
    try {
      if (this.options.stages && config.alarms) {
        const now = this.now();
        const trace = await runAlarmPipeline(received, config, this.options.stages, store, now);
        if (!isTrace(trace)) {
          if (trace.unusable) {
            store.rejectReceived(received.id, trace.reason, now);
            this.options.onUnusable?.(received, trace.reason);
          } else {
            store.commitPipeline(received.id, { outcome: 'no-change', reason: trace.reason, topicState: trace.topicState, outbox: [] }, now);
          }
          return;
        }
        store.commitPipeline(received.id, trace.result, now);
        if (trace.result.alarm) this.options.onAlarmChanged?.(trace.result.alarm);
        if (trace.result.held?.length) this.options.onHeld?.();
        log.info(
          {
            alarmId: trace.result.alarm?.id,
            device: trace.event.device.id,
            title: trace.event.title,
            state: trace.event.state,
            outcome: trace.result.outcome,
            reason: trace.result.reason,
            rules: trace.routing.route.rules,
            notifications: trace.result.outbox.map((e) => e.id),
          },
          `alarm ${trace.result.outcome}`,
        );
        return;
      }
      const mail = await decodeMail(received.raw, fallbackCharset);
      const outgoing = await renderPassthrough(received, mail, { relay: config.relay, hostname: config.gateway.hostname, domain: config.gateway.domain });
      if (outgoing.recipients.length === 0) {
        store.rejectReceived(received.id, 'no recipients', this.now());
        log.error('message has no recipients; kept in the store as rejected');
        return;
      }
      const entry: NewOutboxEntry = { id: newId(), receivedId: received.id, ...outgoing };
      store.completeReceived(received.id, [entry], this.now());
      log.info({ outboxId: entry.id, subject: mail.subject, recipients: entry.recipients }, 'queued for delivery');
    } catch (error) {
      try {
        store.rejectReceived(received.id, error instanceof Error ? error.message : String(error), this.now());
      } catch (storeError) {
        log.error({ err: storeError }, 'cannot mark the message as rejected; it stays in the inbox');
        return;
      }
      log.error({ err: error }, 'message could not be processed; kept in the store as rejected');
    }
  }
}

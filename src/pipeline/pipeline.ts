import { newId } from '../base/ids.js';
import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import type { AckOutcome, AckRequest, AlarmActor, UnackOutcome } from '../lifecycle/ack.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Timer } from '../lifecycle/timer.js';
import type { Logger } from '../log/logger.js';
import { decodeDeviceMail } from '../parse/undecodable-mail.js';
import { renderPassthrough } from '../render/passthrough.js';
import { StoreError } from '../store/store-error.js';
import type { Repositories } from '../store/store.js';
import { acknowledgeIn } from './acknowledge.js';
import { saveAlarmChange, type AlarmChange } from './alarm-change.js';
import { announceAcks } from './announce-ack.js';
import { armUnmuteNow } from './arm-unmute.js';
import { lateness, type PipelineContext } from './context.js';
import type { Effects } from './effects.js';
import { escalate } from './escalate.js';
import { flushBatch } from './flush-batch.js';
import { isTrace, runAlarmPipeline, savePipelineResult, type PipelineStages, type PipelineTrace, type UnusableMessage } from './message.js';
import { prune } from './prune.js';
import { release } from './unmute.js';
import { commentIn, unacknowledgeIn, type CommentOutcome } from './unacknowledge.js';

export interface PipelineOptions {
  config: GatewayConfig;
  /** The alarm pipeline's stages; without them (no `alarms` section) mail is relayed as it came. */
  stages?: PipelineStages;
  logger: Logger;
  /** A timer firing later than this after its due time says so in the alarm's history. */
  lateAfter: number;
}

/** What one received message gave. */
export type MessageOutcome = PipelineTrace | UnusableMessage | { relayed: string } | { done: 'already processed' };

/**
 * THE composition of the road, written once. Three inputs, each handled inside the
 * caller's transaction (the alarm read in it is the alarm written), each telling what it
 * did through `fx`, which the caller releases after the commit:
 *
 *  - received(): a message from the inbox: parse -> route -> decide (fingerprint, dedup,
 *    clear) -> mute (silences, inhibition) -> group and flood control -> render -> save;
 *    or, without an `alarms` section, relay it as it came;
 *  - timers(): timers that fell due: an escalation level, a muted alarm to look at again,
 *    a group or digest to send, acknowledgements to announce;
 *  - acknowledge(): acknowledgements from any door (MQTT, link, reply, CLI, API);
 *    unacknowledge() and comment() from the API.
 *
 * The inbox runner, the timer runner and `rules test` (over a throw-away store) all go
 * through here.
 */
export class Pipeline {
  private ctx: PipelineContext | undefined;

  constructor(private options: PipelineOptions) {
    this.ctx = options.stages ? { config: options.config, stages: options.stages, logger: options.logger, lateAfter: options.lateAfter } : undefined;
  }

  /**
   * A reloaded configuration and the stages built from it, for every message and timer
   * from now on; one already being handled finishes on what it started with.
   */
  reconfigure(config: GatewayConfig, stages: PipelineStages | undefined): void {
    const { stages: _previous, ...rest } = this.options;
    this.options = { ...rest, config, ...(stages ? { stages } : {}) };
    this.ctx = stages ? { config, stages, logger: this.options.logger, lateAfter: this.options.lateAfter } : undefined;
  }

  /** The stages in force (replaced by a reload); undefined without an `alarms` section. */
  get stages(): PipelineStages | undefined {
    return this.options.stages;
  }

  async received(tx: Repositories, received: Received, now: number, fx: Effects): Promise<MessageOutcome> {
    const { config, logger } = this.options;
    const log = logger.child({ msgId: received.id });
    // The state guard makes a second pass over one message a no-op.
    if (!(await tx.inbox.complete(received.id, now))) return { done: 'already processed' };
    try {
      if (this.ctx && config.alarms) {
        const trace = await runAlarmPipeline(received, config, this.ctx.stages, tx, now);
        if (!isTrace(trace)) {
          if (trace.unusable) {
            await tx.inbox.reject(received.id, trace.reason, now);
            fx.emit('rejected', { received, reason: trace.reason, kind: 'unusable' });
          } else {
            // Telemetry inside its band changes nothing worth keeping; only the topic state.
            if (trace.topicState) await tx.topics.save(trace.topicState);
            await tx.inbox.drop(received.id);
          }
          return trace;
        }
        const result = trace.result;
        await savePipelineResult(tx, received.id, result, now, fx);
        // A mail that could not be decoded is worth a warning, whatever became of its alarm.
        const level = trace.event.undecodable ? 'warn' : 'info';
        // Only the line's fields wait for the commit, not the trace: it holds the device's whole
        // text and the rendered notifications, which would outlive the young generation.
        const line = {
          alarmId: result.alarm?.id,
          device: trace.event.device.id,
          title: trace.event.title,
          state: trace.event.state,
          outcome: result.outcome,
          reason: result.reason,
          rules: trace.routing.route.rules,
          notifications: result.outbox.map((e) => e.id),
        };
        fx.after(() => log[level](line, `alarm ${result.outcome}`));
        return trace;
      }
      const listener = config.listeners.find((l) => l.name === received.listener);
      // A mail the parser fails on is relayed as a notice of it, with the raw mail (truncated) attached.
      const mail = await decodeDeviceMail(received, listener?.compat.fallbackCharset ?? 'windows-1252');
      const outgoing = await renderPassthrough(received, mail, { relay: config.relay, hostname: config.gateway.hostname, domain: config.gateway.domain });
      if (outgoing.recipients.length === 0) {
        await tx.inbox.reject(received.id, 'no recipients', now);
        fx.after(() => log.error('message has no recipients; kept in the store as rejected'));
        return { unusable: true, reason: 'no recipients' };
      }
      const entry = { id: newId(now), receivedId: received.id, ...outgoing };
      await tx.outbox.insert(entry, now);
      fx.emit('queued', { outboxIds: [entry.id] });
      // The line's fields, not the mail and the entry (both hold the whole message), wait for the commit.
      const { undecodable } = mail;
      const line = undecodable ? { outboxId: entry.id, size: undecodable.size, reason: undecodable.reason, recipients: entry.recipients } : { outboxId: entry.id, subject: mail.subject, recipients: entry.recipients };
      fx.after(() => (undecodable ? log.warn(line, 'the mail could not be decoded; a notice of it, with the mail attached, is queued for delivery') : log.info(line, 'queued for delivery')));
      return { relayed: entry.id };
    } catch (error) {
      // The store failing decides nothing about the message: roll back, try again later.
      if (error instanceof StoreError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      await tx.inbox.reject(received.id, reason, now);
      fx.emit('rejected', { received, reason, kind: 'error' });
      fx.after(() => log.error({ err: error }, 'message could not be processed; kept in the store as rejected'));
      return { unusable: true, reason };
    }
  }

  async timers(tx: Repositories, due: readonly Timer[], now: number, fx: Effects): Promise<void> {
    const ctx = this.ctx;
    const announce: string[] = [];
    for (const timer of due) {
      // Fired or cancelled since it was read (another gateway, an ack): nothing happens twice.
      if (!(await tx.timers.fire(timer.kind, timer.key, now))) continue;
      fx.emit('timer-fired', { kind: timer.kind, key: timer.key, lateBy: Math.max(0, now - timer.dueAt) });
      if (timer.kind === 'prune') {
        const counts = await prune(tx, this.options.config, now, fx);
        if (Object.values(counts).some((n) => n > 0)) fx.after(() => this.options.logger.child({ stage: 'retention' }).info(counts, 'pruned what is done and older than its retention'));
        continue;
      }
      if (!ctx) continue;
      const late = lateness(timer.dueAt, now, ctx.lateAfter);
      switch (timer.kind) {
        case 'escalate':
          await this.save(tx, await escalate(ctx, tx, timer, now), now, fx);
          break;
        case 'unmute':
          await this.save(tx, await release(ctx, tx, timer.key, now, late), now, fx);
          break;
        case 'flush-batch':
          await flushBatch(ctx, tx, timer.key, now, late, fx);
          break;
        case 'announce-ack':
          announce.push(timer.key);
          break;
        default:
          break;
      }
    }
    if (ctx && announce.length > 0) {
      for (const changed of await announceAcks(ctx, tx, announce, now)) await this.save(tx, changed, now, fx);
    }
  }

  /**
   * After a reload changed the inhibit rules: every alarm an inhibition holds is looked at
   * again now, under the rules in force (a dropped or narrowed rule releases it, with one
   * notification). Without this it would wait for its source to resolve, under a rule
   * that no longer exists. Returns how many were armed.
   */
  async inhibitRulesChanged(tx: Repositories, now: number, fx: Effects): Promise<number> {
    const armed = await armUnmuteNow(tx, now, (mutedBy) => mutedBy.by === 'inhibition');
    if (armed > 0) fx.emit('timer-armed', { kind: 'unmute', dueAt: now });
    return armed;
  }

  /** Acknowledgements of one act (one person through one door), recorded together. */
  async acknowledge(tx: Repositories, requests: readonly AckRequest[], now: number, fx: Effects): Promise<AckOutcome[]> {
    const outcomes: AckOutcome[] = [];
    for (const { alarmId, ack, peer } of requests) outcomes.push(await acknowledgeIn(tx, alarmId, ack, now, fx, peer));
    return outcomes;
  }

  /** Takes back acknowledgements (one act of one person): escalation resumes (pipeline/unacknowledge.ts). */
  async unacknowledge(tx: Repositories, alarmIds: readonly string[], actor: AlarmActor, now: number, fx: Effects, comment?: string): Promise<UnackOutcome[]> {
    const outcomes: UnackOutcome[] = [];
    for (const alarmId of alarmIds) outcomes.push(await unacknowledgeIn(tx, alarmId, actor, now, fx, comment));
    return outcomes;
  }

  /** A comment on an alarm, in its history and the audit log. */
  async comment(tx: Repositories, alarmId: string, actor: AlarmActor, text: string, now: number, fx: Effects): Promise<CommentOutcome> {
    return commentIn(tx, alarmId, actor, text, now, fx);
  }

  private async save(tx: Repositories, changed: { before: Alarm; change: AlarmChange } | undefined, now: number, fx: Effects): Promise<void> {
    if (!changed) return;
    const { before, change } = changed;
    await saveAlarmChange(tx, before, change, now, fx);
    fx.after(() =>
      this.options.logger
        .child({ alarmId: change.alarm.id })
        .info({ device: change.alarm.device.id, title: change.alarm.title, outcome: change.outcome, reason: change.reason, notifications: change.outbox.map((e) => e.id) }, `alarm ${change.outcome}`),
    );
  }
}

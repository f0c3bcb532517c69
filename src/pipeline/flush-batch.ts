import { newId } from '../base/ids.js';
import type { Alarm } from '../lifecycle/alarm.js';
import { digestScopeOf, summarizeBatch, type Batch, type BatchSummary } from '../lifecycle/batch.js';
import { afterDigest, type FloodState } from '../lifecycle/flood.js';
import type { NewOutboxEntry, Repositories } from '../store/store.js';
import type { PipelineContext } from './context.js';
import type { Effects } from './effects.js';
import { renderNotice } from './notice.js';

/** The history entry each listed alarm gets when its batch goes out. */
const SENT_OUTCOME: Record<Batch['kind'], string> = { group: 'group-sent', digest: 'digest-sent', ack: 'ack-announcement-sent' };

/**
 * A group or digest (lifecycle/batch.ts) is due: one notification listing the batch's
 * alarms as they are now (one alarm alone gets its ordinary notification), a history
 * entry on each alarm, and, after a digest, flood control's verdict on whether the
 * device's rate has fallen: all in the transaction that marks the batch sent, so a
 * restart sends an overdue batch once, late, and never twice.
 */
export async function flushBatch(ctx: PipelineContext, tx: Repositories, batchId: string, now: number, late: string, fx: Effects): Promise<void> {
  const batch = await tx.batches.get(batchId);
  if (!batch || batch.sentAt !== undefined) return;
  const items = await tx.batches.items(batch.id);
  const alarms = new Map<string, Alarm>();
  for (const id of new Set(items.map((i) => i.alarmId))) {
    const alarm = await tx.alarms.get(id);
    if (alarm) alarms.set(id, alarm);
  }
  const summary = summarizeBatch(items, (id) => alarms.get(id));
  const made = await notification(ctx, tx, batch, summary, now);
  const outbox = typeof made === 'string' ? [] : made;
  const what = {
    digest: `digest of ${batch.label}: ${summary.notifications} notification(s) about ${summary.entries.length} alarm(s) folded`,
    group: `group ${batch.label}: ${summary.entries.length} alarm(s)`,
    ack: `announcement that ${summary.entries.length} alarm(s) were ${batch.label}`,
  }[batch.kind];
  const sent = typeof made === 'string' ? `; not sent: ${made}` : outbox.length === 0 ? '; no receiver has an address, nothing sent' : `; sent as ${outbox.map((e) => e.id).join(', ')}`;
  const flood = batch.kind === 'digest' ? await floodAfter(ctx, tx, batch, summary, now) : undefined;
  const reason = `${what} in ${batch.id}${late}${sent}${flood ? `; ${flood.reason}` : ''}`;
  if (!(await tx.batches.markSent(batch.id, now))) return;
  for (const { alarm } of summary.entries) await tx.alarms.log(alarm.id, { receivedId: alarm.lastEventId, at: now, outcome: SENT_OUTCOME[batch.kind], reason });
  for (const entry of outbox) await tx.outbox.insert(entry, now);
  if (flood) await tx.batches.saveFloodState(flood.state);
  if (outbox.length > 0) fx.emit('queued', { outboxIds: outbox.map((e) => e.id) });
  fx.after(() => {
    const log = ctx.logger.child({ batchId: batch.id, alarmIds: summary.entries.slice(0, 50).map((e) => e.alarm.id) });
    if (typeof made === 'string') log.error({ kind: batch.kind, label: batch.label, reason }, `${batch.kind} not sent`);
    else log.info({ kind: batch.kind, label: batch.label, alarms: summary.entries.length, notifications: summary.notifications, reason }, `${batch.kind} sent`);
  });
}

/** The batch's outbox entry: the ordinary notification for one alarm, a listing for more; a string says why there is none. */
async function notification(ctx: PipelineContext, tx: Repositories, batch: Batch, summary: BatchSummary, now: number): Promise<NewOutboxEntry[] | string> {
  const { stages } = ctx;
  if (summary.entries.length === 0) return 'none of its alarms is in the store any more';
  if (summary.entries.length === 1) {
    const { alarm, kinds } = summary.entries[0]!;
    const kind = kinds[kinds.length - 1]!;
    const reason = {
      digest: `digest of ${batch.label}: the only alarm folded`,
      group: `group ${batch.label}: no other alarm arrived within the group wait`,
      ack: `the alarm was ${batch.label}`,
    }[batch.kind];
    const rendered = await renderNotice(ctx, tx, alarm, kind, batch.receivers, reason, now, false);
    if (typeof rendered === 'string') return rendered;
    return rendered.outbox.map((entry) => ({ ...entry, batchId: batch.id }));
  }
  if (!stages.renderBatch) return 'the stages in force cannot render groups';
  try {
    const message = await stages.renderBatch(batch, summary, now);
    if (message.recipients.length === 0) return [];
    return [{ id: newId(now), receivedId: null, alarmId: null, batchId: batch.id, ...message }];
  } catch (error) {
    ctx.logger.child({ batchId: batch.id }).error({ err: error }, `a ${batch.kind} notification could not be made; recorded in its alarms' history`);
    return `the notification could not be made: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** After a digest: has the scope's rate fallen? */
async function floodAfter(ctx: PipelineContext, tx: Repositories, batch: Batch, summary: BatchSummary, now: number): Promise<{ state: FloodState; reason: string } | undefined> {
  const settings = ctx.config.alarms?.floodControl;
  const scope = digestScopeOf(batch);
  const state = scope ? await tx.batches.floodState(scope) : undefined;
  if (!settings || !state || state.floodingSince === undefined) return undefined;
  const after = afterDigest(state, summary.notifications, now - batch.openedAt, now, settings);
  return { state: after.state, reason: after.reason };
}

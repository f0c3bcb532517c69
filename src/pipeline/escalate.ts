import type { Alarm } from '../lifecycle/alarm.js';
import { floodCount } from '../lifecycle/batch.js';
import { timerVerdict } from '../lifecycle/escalation.js';
import { floodScope, type FloodState } from '../lifecycle/flood.js';
import { escalationTimerOf, escalationTimerRow, type Timer } from '../lifecycle/timer.js';
import { resolveReceivers } from '../rules/receivers.js';
import type { ResolvedReceiver } from '../rules/route.js';
import type { Repositories } from '../store/store.js';
import type { AlarmChange } from './alarm-change.js';
import type { PipelineContext } from './context.js';
import { renderNotice } from './notice.js';

/**
 * A level of an escalation policy is due: one notification of kind `escalation` to the
 * level's receivers (schedules resolved at the fire time), rendered from the alarm's
 * latest message as the rules in force route it now. An alarm that no longer needs it
 * (acknowledged, or cleared under a policy that stops on a clear) stops its escalation;
 * a muted alarm holds its due levels until it is free again; a flooding device's levels
 * go into its digest. The timer is already marked fired by the caller.
 */
export async function escalate(ctx: PipelineContext, tx: Repositories, row: Timer & { kind: 'escalate' }, now: number): Promise<{ before: Alarm; change: AlarmChange } | undefined> {
  const { config } = ctx;
  const timer = escalationTimerOf(row);
  const alarm = await tx.alarms.get(timer.alarmId);
  const verdict = timerVerdict(timer, alarm, now, ctx.lateAfter);
  if (!alarm) {
    await tx.timers.cancelEscalations(timer.alarmId, now);
    return undefined;
  }
  if (!verdict.fire) {
    return { before: alarm, change: { alarm, receivedId: alarm.lastEventId, outcome: 'escalation-stopped', reason: verdict.reason, outbox: [], stopEscalation: true } };
  }
  if (alarm.mutedBy) {
    // Held while muted: looked at again a poll interval from now (it fires, late, once the alarm is free).
    await tx.timers.arm({ ...escalationTimerRow(timer), dueAt: now + ctx.lateAfter });
    return undefined;
  }
  const next = verdict.next ? { escalations: [verdict.next] } : {};
  const receivers = resolveReceivers(timer.data.receivers, config.receivers, { schedules: config.schedules, now });
  const emails = receivers.flatMap((r) => r.emails);
  const told = [...alarm.receivers, ...emails.filter((e) => !alarm.receivers.some((r) => r.toLowerCase() === e.toLowerCase()))];
  let floodStates: FloodState[] | undefined;
  // A storm of alarms under one policy would fire its levels by the hundred: a flooding
  // device's levels go into a digest to the level's receivers, like its other notifications.
  const flood = config.alarms?.floodControl;
  if (flood?.enabled && emails.length > 0) {
    const notice = { alarm, receivers, kind: 'escalation' as const, reason: verdict.reason, at: now };
    const previous = await tx.batches.floodState(floodScope(alarm, flood.per));
    const counted = floodCount(notice, { settings: flood, state: () => previous }, now);
    if (counted.held) {
      const updated: Alarm = { ...alarm, receivers: told, notifications: alarm.notifications + 1, lastNotifiedAt: now, countAtLastNotification: alarm.count };
      const reason = `${verdict.reason}; to ${receivers.map(describeReceiver).join(', ')}; ${counted.note ?? 'folded into a digest'}`;
      return { before: alarm, change: { alarm: updated, receivedId: alarm.lastEventId, outcome: 'escalated', reason, outbox: [], ...next, held: [counted.held], floodStates: [counted.state] } };
    }
    floodStates = [counted.state];
  }
  const rendered = await renderNotice(ctx, tx, alarm, 'escalation', receivers, verdict.reason, now, true);
  if (typeof rendered === 'string') {
    return { before: alarm, change: { alarm, receivedId: alarm.lastEventId, outcome: 'escalated', reason: `${verdict.reason}; ${rendered}`, outbox: [], ...next } };
  }
  const updated: Alarm = { ...rendered.alarm, receivers: told, countAtLastNotification: rendered.alarm.count };
  const reason = rendered.outbox.length === 0 ? `${verdict.reason}; no receiver has an address, nothing sent` : `${verdict.reason}; to ${receivers.map(describeReceiver).join(', ')}`;
  return { before: alarm, change: { alarm: updated, receivedId: alarm.lastEventId, outcome: 'escalated', reason, outbox: rendered.outbox, ...next, ...(floodStates ? { floodStates } : {}) } };
}

function describeReceiver(receiver: ResolvedReceiver): string {
  if (receiver.onCall) return `${receiver.name} (on call: ${receiver.onCall.receivers.join(', ') || 'nobody'})`;
  return receiver.name;
}

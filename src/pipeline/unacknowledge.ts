import { commentLogReason, decideUnack, unackLogReason, type AlarmActor, type UnackOutcome } from '../lifecycle/ack.js';
import type { Alarm } from '../lifecycle/alarm.js';
import { resumedEscalations } from '../lifecycle/escalation.js';
import { escalationTimerOf, escalationTimerRow, type Timer } from '../lifecycle/timer.js';
import type { Repositories } from '../store/store.js';
import type { Effects } from './effects.js';

/**
 * Takes back an alarm's acknowledgement in the caller's transaction: the alarm is nobody's
 * again. Its history and the audit log say who took it back; a pending announcement of the
 * ack is cancelled; and the escalation the ack stopped resumes through the timer table,
 * each level that had not fired re-armed with the time it had left when the ack stopped it
 * (lifecycle/escalation.ts resumedEscalations). An alarm whose policy had fired all its
 * levels gets none; the next acknowledgement is recorded and announced like a first.
 */
export async function unacknowledgeIn(tx: Repositories, alarmId: string, actor: AlarmActor, now: number, fx?: Effects, comment?: string): Promise<UnackOutcome> {
  const decided = decideUnack(await tx.alarms.get(alarmId));
  if (decided.outcome !== 'recorded') return decided;
  const alarm: Alarm = decided.alarm;
  await tx.alarms.save(alarm);
  await tx.timers.cancel('announce-ack', alarmId, now);
  const escalations = (await tx.timers.ofAlarm(alarmId)).filter((t): t is Timer & { kind: 'escalate' } => t.kind === 'escalate').map(escalationTimerOf);
  const resumed = resumedEscalations(escalations, alarm, decided.was.at, now);
  for (const level of resumed) await tx.timers.arm(escalationTimerRow(level));
  const reason = `${unackLogReason(decided.was, actor, comment)}${resumed.length > 0 ? `; escalation resumes (next level due in ${Math.round((Math.min(...resumed.map((t) => t.dueAt)) - now) / 1000)} s)` : ''}`;
  await tx.alarms.log(alarmId, { receivedId: '-', at: now, outcome: 'unacknowledged', reason });
  await tx.audit.record({
    at: now,
    actor: actor.by,
    via: actor.channel,
    peer: actor.peer ?? null,
    action: 'alarm.unacknowledge',
    target: alarmId,
    detail: { was: { by: decided.was.by, channel: decided.was.channel, at: decided.was.at }, ...(comment ? { comment } : {}), resumedLevels: resumed.length },
  });
  fx?.emit('alarm-changed', { alarm, outcome: 'unacknowledged', reason });
  if (resumed.length > 0) fx?.emit('timer-armed', { kind: 'escalate', dueAt: Math.min(...resumed.map((t) => t.dueAt)) });
  return decided;
}

/** What a comment did: added to the alarm's history, or no such alarm. */
export type CommentOutcome = { outcome: 'recorded'; alarm: Alarm } | { outcome: 'unknown-alarm' };

/** A comment on an alarm: a line in its history and the audit log, in the caller's transaction. The alarm itself is unchanged. */
export async function commentIn(tx: Repositories, alarmId: string, actor: AlarmActor, text: string, now: number, fx?: Effects): Promise<CommentOutcome> {
  const alarm = await tx.alarms.get(alarmId);
  if (!alarm) return { outcome: 'unknown-alarm' };
  const reason = commentLogReason(actor, text);
  await tx.alarms.log(alarmId, { receivedId: '-', at: now, outcome: 'commented', reason });
  await tx.audit.record({ at: now, actor: actor.by, via: actor.channel, peer: actor.peer ?? null, action: 'alarm.comment', target: alarmId, detail: { comment: text } });
  fx?.emit('alarm-changed', { alarm, outcome: 'commented', reason });
  return { outcome: 'recorded', alarm };
}

import { ackLogReason, decideAck, type AckOutcome } from '../lifecycle/ack.js';
import type { AlarmAck } from '../lifecycle/alarm.js';
import { timerAt } from '../lifecycle/timer.js';
import type { Repositories } from '../store/store.js';
import type { Effects } from './effects.js';

/**
 * Records an acknowledgement in the caller's transaction: the alarm is read in it, so two
 * doors acknowledging at once cannot both win. A recorded ack cancels the alarm's pending
 * escalation levels, goes into its history and the audit log (who, via which door, from
 * where: `peer`), and arms the timer that tells the others. Every door (MQTT, link, reply,
 * CLI, API) comes through here, so every acknowledgement is audited, in the transaction
 * that records it.
 */
export async function acknowledgeIn(tx: Repositories, alarmId: string, ack: AlarmAck, now: number, fx?: Effects, peer?: string | null): Promise<AckOutcome> {
  const decided = decideAck(await tx.alarms.get(alarmId), ack);
  if (decided.outcome !== 'recorded') return decided;
  await tx.alarms.save(decided.alarm);
  await tx.timers.cancelEscalations(alarmId, now);
  await tx.alarms.log(alarmId, { receivedId: ack.ref ?? '-', at: now, outcome: 'acknowledged', reason: ackLogReason(ack) });
  await tx.timers.arm(timerAt('announce-ack', alarmId, alarmId, now));
  await tx.audit.record({
    at: now,
    actor: ack.by,
    via: ack.channel,
    peer: peer ?? null,
    action: 'alarm.acknowledge',
    target: alarmId,
    detail: { ...(ack.comment ? { comment: ack.comment } : {}), ...(ack.ref ? { ref: ack.ref } : {}) },
  });
  fx?.emit('acknowledged', { alarm: decided.alarm, ack });
  fx?.emit('alarm-changed', { alarm: decided.alarm, outcome: 'acknowledged', reason: ackLogReason(ack) });
  fx?.emit('timer-armed', { kind: 'announce-ack', dueAt: now });
  return decided;
}

import { ackLogReason, decideAck, type AckOutcome } from '../lifecycle/ack.js';
import type { AlarmAck } from '../lifecycle/alarm.js';
import type { Repositories } from '../store/store.js';

/**
 * Records an acknowledgement in one transaction: the alarm is read in it, so two doors
 * acknowledging at once cannot both win. A recorded ack cancels the alarm's pending
 * escalation timers and goes into its history.
 */
export async function acknowledgeIn(tx: Repositories, alarmId: string, ack: AlarmAck, now: number): Promise<AckOutcome> {
  const decided = decideAck(await tx.alarms.get(alarmId), ack);
  if (decided.outcome !== 'recorded') return decided;
  await tx.alarms.save(decided.alarm);
  await tx.timers.cancel(alarmId, now, 'acknowledged');
  await tx.alarms.log(alarmId, { receivedId: ack.ref ?? '-', at: now, outcome: 'acknowledged', reason: ackLogReason(ack) });
  return decided;
}

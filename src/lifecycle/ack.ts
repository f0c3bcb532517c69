import type { Alarm, AlarmAck } from './alarm.js';

/** What an acknowledgement did: recorded it, or found the alarm acknowledged already (the first one counts), or no such alarm. */
export type AckOutcome =
  | { outcome: 'recorded'; alarm: Alarm }
  | { outcome: 'already'; alarm: Alarm; ack: AlarmAck }
  | { outcome: 'unknown-alarm' };

/** The one acknowledgement decision, for every door (MQTT, link, reply, CLI, API): the first acknowledgement counts. */
export function decideAck(alarm: Alarm | undefined, ack: AlarmAck): AckOutcome {
  if (!alarm) return { outcome: 'unknown-alarm' };
  if (alarm.ack) return { outcome: 'already', alarm, ack: alarm.ack };
  return { outcome: 'recorded', alarm: { ...alarm, ack } };
}

/** The history line of a recorded acknowledgement. */
export function ackLogReason(ack: AlarmAck): string {
  return `acknowledged by ${ack.by} via ${ack.channel}${ack.comment ? `: ${ack.comment}` : ''}`;
}

/** One alarm to acknowledge, and by whom, when, how. */
export interface AckRequest {
  alarmId: string;
  ack: AlarmAck;
}

/**
 * What every door (MQTT, link, reply, CLI, API) is handed: acknowledge these alarms now,
 * in one transaction (one act of one person: a digest's link acknowledges all it lists).
 */
export type Acknowledge = (requests: readonly AckRequest[]) => Promise<AckOutcome[]>;

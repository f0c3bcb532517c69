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
  /** The remote address the acknowledgement came from, when over the network (for the audit log). */
  peer?: string | null;
}

/**
 * What every door (MQTT, link, reply, CLI, API) is handed: acknowledge these alarms now,
 * in one transaction (one act of one person: a digest's link acknowledges all it lists).
 */
export type Acknowledge = (requests: readonly AckRequest[]) => Promise<AckOutcome[]>;

/** Who did an act on an alarm other than acknowledging it, and through which door. */
export interface AlarmActor {
  by: string;
  channel: AlarmAck['channel'];
  /** The remote address, when the act came over the network (for the audit log). */
  peer?: string | null;
}

/** Taking back an acknowledgement: recorded, or the alarm was not acknowledged, or no such alarm. */
export type UnackOutcome =
  | { outcome: 'recorded'; alarm: Alarm; was: AlarmAck }
  | { outcome: 'not-acknowledged'; alarm: Alarm }
  | { outcome: 'unknown-alarm' };

/**
 * Takes back an alarm's acknowledgement: the alarm is nobody's again, so it can be
 * acknowledged anew and its escalation resumes (pipeline/unacknowledge.ts re-arms the
 * levels the acknowledgement stopped). The announcement flag goes with the ack: a later
 * acknowledgement is announced like the first.
 */
export function decideUnack(alarm: Alarm | undefined): UnackOutcome {
  if (!alarm) return { outcome: 'unknown-alarm' };
  if (!alarm.ack) return { outcome: 'not-acknowledged', alarm };
  const { ack, ackAnnounced: _announced, ...rest } = alarm;
  return { outcome: 'recorded', alarm: rest, was: ack };
}

/** The history line of a withdrawn acknowledgement. */
export function unackLogReason(was: AlarmAck, actor: AlarmActor, comment?: string): string {
  return `acknowledgement by ${was.by} via ${was.channel} withdrawn by ${actor.by} via ${actor.channel}${comment ? `: ${comment}` : ''}`;
}

/** The history line of a comment. */
export function commentLogReason(actor: AlarmActor, text: string): string {
  return `comment by ${actor.by} via ${actor.channel}: ${text}`;
}

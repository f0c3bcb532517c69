import type { TextCut } from '../base/cut-text.js';
import type { Severity } from '../config/schema.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import type { Route } from '../rules/route.js';

/** An alarm over time: every occurrence with the same fingerprint folds into one. */
export interface Alarm {
  id: string;
  fingerprint: string;
  state: 'active' | 'resolved';
  device: AlarmEvent['device'];
  title: string;
  severity: Severity;
  key?: string;
  code?: string;
  value?: number;
  unit?: string;
  fields: Record<string, string>;
  /**
   * The latest occurrence's text: at most `alarms.maxQuotedText` bytes of it, cut at a line
   * as a notification quotes it (then `textCut` says so). The whole stays in the received
   * message (`lastEventId`) while the store keeps that; an alarm need not carry 100 KiB
   * through every change it goes through.
   */
  text: string;
  textCut?: TextCut;
  count: number;
  firstSeen: number;
  lastSeen: number;
  resolvedAt?: number;
  /** Received id of the event that raised it and of the latest one. */
  firstEventId: string;
  lastEventId: string;
  /** How many notifications were sent for it, and when the last one was. */
  notifications: number;
  lastNotifiedAt?: number;
  /** Count at the last notification, so a reminder can say how many were folded since. */
  countAtLastNotification: number;
  receivers: string[];
  rules: string[];
  /** Who acknowledged it, when and how; the first acknowledgement counts. */
  ack?: AlarmAck;
  /**
   * Set when a notification that was due was held back by a silence or an inhibition, and
   * cleared by the next notification: while the alarm is active, the gateway's unmute
   * scheduler notifies it once nothing mutes it any more (lifecycle/mute.ts).
   */
  mutedBy?: AlarmMute;
  /**
   * Set once the acknowledgement was announced to the receivers that were told (or found
   * to need no announcement): the gateway's escalation scheduler picks up acknowledged
   * alarms without it, whichever process or channel recorded the ack.
   */
  ackAnnounced?: boolean;
}

export type AlarmMute =
  /** `until`: when the silence stops holding, as known when the alarm was muted. */
  | { by: 'silence'; silence: string; until?: number }
  /** The inhibiting alarm and the inhibit rule. */
  | { by: 'inhibition'; alarm: string; rule: string };

export interface AlarmAck {
  by: string;
  at: number;
  channel: 'mqtt' | 'cli' | 'mail' | 'link' | 'api' | 'console';
  comment?: string;
  /** What carried it: a message id, an MQTT topic. */
  ref?: string;
}

/** `escalation`: a level of an escalation policy fired; `acknowledged`: the others are told of an ack. */
export type DueKind = 'firing' | 'reminder' | 'resolved' | 'escalation' | 'acknowledged';

/** A notification the lifecycle decided is due now; render/ turns it into a message. */
export interface Due {
  kind: DueKind;
  alarm: Alarm;
  event: AlarmEvent;
  route: Route;
  /** Why it is sent, e.g. "new alarm, routed by rule ups-power". */
  reason: string;
  /** 1 for the first notification of this alarm, 2 for the next, ... */
  sequence: number;
  /** When it became due: the decision's `now` (a timer's, not only an event's). */
  at: number;
}

/** What happened to an event, recorded in the alarm's history whether or not anything was sent. */
export interface Decision {
  alarm?: Alarm;
  due: Due[];
  /** `silenced`, `inhibited`: a notification was due but muted (lifecycle/mute.ts); `unmuted`: a muted alarm notified once nothing mutes it. */
  outcome: 'raised' | 'repeat-folded' | 'reminder' | 'resolved' | 'suppressed' | 'clear-without-alarm' | 'silenced' | 'inhibited' | 'unmuted' | 'escalated' | 'escalation-stopped' | 'ack-announced';
  reason: string;
}

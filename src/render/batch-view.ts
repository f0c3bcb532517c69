import type { Severity } from '../config/schema.js';
import { SEVERITIES } from '../config/schema.js';
import type { AlarmAck } from '../lifecycle/alarm.js';
import type { Batch, BatchSummary } from '../lifecycle/batch.js';
import type { DeviceIdentity } from '../parse/alarm-event.js';
import type { ResolvedReceiver } from '../rules/route.js';
import { locationOf } from './notification-view.js';

/**
 * What the group/digest template set sees (alarms.grouping.template). Documented for
 * template authors in templates/README.md; keep the two in step.
 */
export interface BatchView {
  kind: Batch['kind'];
  isGroup: boolean;
  isDigest: boolean;
  /** The alarms were acknowledged together (one reply or link): the others who were told are told. */
  isAck: boolean;
  batchId: string;
  /** What the batch is about: "site=Plant North" (group) or "device plc-4" (digest). */
  label: string;
  /** The most severe of its alarms. */
  severity: Severity;
  /** The listed alarms, most severe first; at most alarms.grouping.maxListed. */
  alarms: BatchAlarmView[];
  alarmCount: number;
  /** Alarms counted but not listed (over maxListed). */
  unlisted: number;
  /** Notifications the batch stands for (a digest folded this many). */
  notifications: number;
  active: number;
  resolved: number;
  acknowledged: number;
  openedAt: number;
  sentAt: number;
  /** sentAt - openedAt. */
  periodMs: number;
  receivers: ResolvedReceiver[];
  gateway: { hostname: string; domain: string };
  /** The link that acknowledges every alarm of the batch (`api` configured). */
  ackUrl?: string;
  /** The word a reply starts with to acknowledge every listed alarm (`replies` configured). */
  replyAckWord?: string;
}

export interface BatchAlarmView {
  id: string;
  title: string;
  severity: Severity;
  state: 'active' | 'resolved';
  isResolved: boolean;
  device: DeviceIdentity;
  location: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  resolvedAt?: number;
  ack?: AlarmAck;
  /** The notifications of it the batch stands for: "firing", "firing, resolved". */
  kinds: string;
}

export function batchView(batch: Batch, summary: BatchSummary, options: { maxListed: number; sentAt: number; gateway: { hostname: string; domain: string }; ackUrl?: string; replyAckWord?: string }): BatchView {
  const listed = summary.entries.slice(0, options.maxListed);
  const severity = SEVERITIES.find((s) => summary.entries.some((e) => e.alarm.severity === s)) ?? 'info';
  return {
    kind: batch.kind,
    isGroup: batch.kind === 'group',
    isDigest: batch.kind === 'digest',
    isAck: batch.kind === 'ack',
    batchId: batch.id,
    label: batch.label,
    severity,
    alarms: listed.map(({ alarm, kinds }) => ({
      id: alarm.id,
      title: alarm.title,
      severity: alarm.severity,
      state: alarm.state,
      isResolved: alarm.state === 'resolved',
      device: alarm.device,
      location: locationOf(alarm.device),
      count: alarm.count,
      firstSeen: alarm.firstSeen,
      lastSeen: alarm.lastSeen,
      ...(alarm.resolvedAt !== undefined ? { resolvedAt: alarm.resolvedAt } : {}),
      ...(alarm.ack ? { ack: alarm.ack } : {}),
      kinds: kinds.join(', '),
    })),
    alarmCount: summary.entries.length,
    unlisted: Math.max(0, summary.entries.length - listed.length),
    notifications: summary.notifications,
    active: summary.active,
    resolved: summary.resolved,
    acknowledged: summary.acknowledged,
    openedAt: batch.openedAt,
    sentAt: options.sentAt,
    periodMs: Math.max(0, options.sentAt - batch.openedAt),
    receivers: batch.receivers,
    gateway: options.gateway,
    ...(options.ackUrl !== undefined ? { ackUrl: options.ackUrl } : {}),
    ...(options.replyAckWord ? { replyAckWord: options.replyAckWord } : {}),
  };
}

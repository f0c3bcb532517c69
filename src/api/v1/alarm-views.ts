import { z } from 'zod';
import { SEVERITIES } from '../../config/schema.js';
import type { Alarm, AlarmAck, AlarmMute } from '../../lifecycle/alarm.js';
import type { AlarmLogEntry, OutboxSummary } from '../../store/store.js';
import { rfc3339, rfc3339OrNull, Time } from './schemas.js';

/** What API v1 shows of alarms: the schemas (for validation and the OpenAPI document) and the views that fill them. */

export const Severity = z.enum(SEVERITIES);

export const Device = z.object({ id: z.string(), name: z.string(), site: z.string().nullable(), area: z.string().nullable() }).meta({ id: 'Device' });

export const Ack = z
  .object({ by: z.string(), at: Time, channel: z.enum(['mqtt', 'cli', 'mail', 'link', 'api', 'console']), comment: z.string().nullable() })
  .meta({ id: 'Acknowledgement' });

export const Muted = z
  .object({
    by: z.enum(['silence', 'inhibition']),
    silence: z.string().nullable().describe('the silence that holds it'),
    alarm: z.string().nullable().describe('the inhibiting alarm'),
    rule: z.string().nullable().describe('the inhibit rule'),
    until: Time.nullable().describe('when the silence stops holding, as known when the alarm was muted'),
    reason: z.string(),
  })
  .meta({ id: 'Muted' });

export const AlarmSummary = z
  .object({
    id: z.string(),
    state: z.enum(['active', 'resolved']),
    severity: Severity,
    title: z.string(),
    device: Device,
    count: z.number().int(),
    firstSeen: Time,
    lastSeen: Time,
    resolvedAt: Time.nullable(),
    ack: Ack.nullable(),
    muted: Muted.nullable().describe('set while a silence or an inhibition holds its notifications back'),
    notifications: z.number().int().describe('notifications sent for it'),
  })
  .meta({ id: 'AlarmSummary' });

export const AlarmDetail = AlarmSummary.extend({
  fingerprint: z.string(),
  text: z.string().describe("the latest occurrence's text, at most alarms.maxQuotedText bytes of it (cut at a line)"),
  textCut: z
    .object({ shownBytes: z.number().int(), totalBytes: z.number().int() })
    .nullable()
    .describe('set when text is only the start of what the device sent: the UTF-8 bytes shown and those it had (the whole is in the received mail while the store keeps it)'),
  description: z.string().nullable().describe("the device's description from the device map"),
  key: z.string().nullable(),
  code: z.string().nullable(),
  value: z.number().nullable(),
  unit: z.string().nullable(),
  fields: z.record(z.string(), z.string()),
  lastNotifiedAt: Time.nullable(),
  receivers: z.array(z.string()).describe('the addresses that were told'),
  rules: z.array(z.string()),
  firstEventId: z.string(),
  lastEventId: z.string(),
}).meta({ id: 'Alarm' });

export const HistoryEntry = z.object({ at: Time, outcome: z.string(), reason: z.string(), receivedId: z.string() }).meta({ id: 'HistoryEntry' });

export const NotificationState = z
  .object({
    id: z.string(),
    kind: z.string().nullable().describe('firing, reminder, resolved, escalation, acknowledged; group, digest or ack for a notification listing several alarms'),
    batchId: z.string().nullable(),
    status: z.enum(['pending', 'sending', 'sent', 'failed']),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    lastAccount: z.string().nullable(),
    createdAt: Time,
    nextAttemptAt: Time.nullable().describe('while pending'),
    sentAt: Time.nullable(),
    recipients: z.array(z.string()).describe('still to be delivered while pending; all of them once sent'),
    rejectedRecipients: z.array(z.string()),
  })
  .meta({ id: 'Notification' });

export function ackView(ack: AlarmAck | undefined): z.infer<typeof Ack> | null {
  return ack ? { by: ack.by, at: rfc3339(ack.at), channel: ack.channel, comment: ack.comment ?? null } : null;
}

export function mutedView(m: AlarmMute | undefined): z.infer<typeof Muted> | null {
  if (!m) return null;
  if (m.by === 'silence') {
    return { by: 'silence', silence: m.silence, alarm: null, rule: null, until: rfc3339OrNull(m.until), reason: `silenced by ${m.silence}${m.until !== undefined ? ` until ${rfc3339(m.until)}` : ''}` };
  }
  return { by: 'inhibition', silence: null, alarm: m.alarm, rule: m.rule, until: null, reason: `inhibited by alarm ${m.alarm} (inhibit rule ${m.rule})` };
}

export function alarmSummary(a: Alarm): z.infer<typeof AlarmSummary> {
  return {
    id: a.id,
    state: a.state,
    severity: a.severity,
    title: a.title,
    device: { id: a.device.id, name: a.device.name, site: a.device.site ?? null, area: a.device.area ?? null },
    count: a.count,
    firstSeen: rfc3339(a.firstSeen),
    lastSeen: rfc3339(a.lastSeen),
    resolvedAt: rfc3339OrNull(a.resolvedAt),
    ack: ackView(a.ack),
    muted: mutedView(a.mutedBy),
    notifications: a.notifications,
  };
}

export function alarmDetail(a: Alarm): z.infer<typeof AlarmDetail> {
  return {
    ...alarmSummary(a),
    fingerprint: a.fingerprint,
    text: a.text,
    textCut: a.textCut ?? null,
    description: a.device.description ?? null,
    key: a.key ?? null,
    code: a.code ?? null,
    value: a.value ?? null,
    unit: a.unit ?? null,
    fields: a.fields,
    lastNotifiedAt: rfc3339OrNull(a.lastNotifiedAt),
    receivers: a.receivers,
    rules: a.rules,
    firstEventId: a.firstEventId,
    lastEventId: a.lastEventId,
  };
}

export function historyView(e: AlarmLogEntry): z.infer<typeof HistoryEntry> {
  return { at: rfc3339(e.at), outcome: e.outcome, reason: e.reason, receivedId: e.receivedId };
}

export function notificationView(e: OutboxSummary, kind: string | null): z.infer<typeof NotificationState> {
  return {
    id: e.id,
    kind,
    batchId: e.batchId ?? null,
    status: e.status,
    attempts: e.attempts,
    lastError: e.lastError,
    lastAccount: e.lastAccount,
    createdAt: rfc3339(e.createdAt),
    nextAttemptAt: e.status === 'pending' ? rfc3339(e.nextAttemptAt) : null,
    sentAt: rfc3339OrNull(e.sentAt),
    recipients: e.recipients,
    rejectedRecipients: e.rejectedRecipients,
  };
}

/** The kind a rendered notification names in its header (render/notification.ts), read from the head of the message. */
export function kindOfMessage(message: Buffer): string | null {
  const head = message.subarray(0, 16_384).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  return /^X-Annunciator-Kind:[ \t]*([\w-]+)/im.exec(end >= 0 ? head.slice(0, end) : head)?.[1] ?? null;
}

/** A page position (last seen, id) as an opaque cursor, and back (undefined when it is not one). */
export function encodeCursor(position: { lastSeen: number; id: string }): string {
  return Buffer.from(JSON.stringify([position.lastSeen, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { lastSeen: number; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') return { lastSeen: value[0] as number, id: value[1] };
  } catch {
    // Not base64url JSON: not a cursor this API gave.
  }
  return undefined;
}

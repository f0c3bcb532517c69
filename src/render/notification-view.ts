import { cutText } from '../base/cut-text.js';
import type { Severity } from '../config/schema.js';
import type { Alarm, Due, DueKind } from '../lifecycle/alarm.js';
import type { AlarmEvent, DeviceIdentity } from '../parse/alarm-event.js';
import type { ResolvedReceiver } from '../rules/route.js';

/**
 * What a notification template sees. Documented for template authors in
 * templates/README.md; keep the two in step. Times are epoch milliseconds (format them
 * with the formatDate helper), durations milliseconds (the duration helper).
 */
export interface NotificationView {
  kind: DueKind;
  isFiring: boolean;
  isReminder: boolean;
  isResolved: boolean;
  /** A level of an escalation policy fired (`reason` says which and why). */
  isEscalation: boolean;
  /** The alarm was acknowledged (`alarm.ack`: by, at, channel, comment); the others who were told are told. */
  isAcknowledged: boolean;
  /** 1 for the alarm's first notification, 2 for the next, ... */
  sequence: number;
  alarmId: string;
  alarm: Alarm;
  /** The occurrence that made this notification due (for a resolution: the return to normal). */
  event: AlarmEvent;
  device: DeviceIdentity;
  /** The device's site and area that are set, joined by ", " ("" when neither is). */
  location: string;
  severity: Severity;
  title: string;
  /** The alarm's extracted fields in the order they appeared; `label` is the name padded to the longest name, for aligned plain text. */
  fields: NotificationField[];
  count: number;
  firstSeen: number;
  lastSeen: number;
  resolvedAt?: number;
  /** How long the alarm lasted (resolved) or has lasted so far (lastSeen - firstSeen). */
  durationMs: number;
  /** Occurrences since the previous notification (all of them for the first). */
  foldedSinceLast: number;
  /** The text of the device's mail, cut at a line boundary when longer than `alarms.maxQuotedText` (then `textCut` is set). */
  text: string;
  /** Set when `text` is only the start of the device's text. */
  textCut?: TextCut;
  rules: string[];
  reason: string;
  receivers: ResolvedReceiver[];
  gateway: { hostname: string; domain: string };
  /** The acknowledgement link (src/api/), present when the `api` section is configured. */
  ackUrl?: string;
  /** The word a reply starts with to acknowledge (`replies` configured): "ACK". */
  replyAckWord?: string;
}

export interface TextCut {
  /** UTF-8 bytes of the text shown and of the whole text. */
  shownBytes: number;
  totalBytes: number;
  /** The same, for people: "16 KiB", "100 KiB", "1.5 MiB". */
  shown: string;
  total: string;
  /** The device's mail is attached (original.eml): the whole text is there. */
  inAttachment: boolean;
}

/** How the device's text is quoted: at most `maxQuotedText` bytes of it; whether the mail it came in is attached. */
export interface QuoteOptions {
  maxQuotedText: number;
  originalAttached: boolean;
}

export interface NotificationField {
  name: string;
  value: string;
  label: string;
}

export function notificationView(
  due: Due,
  gateway: { hostname: string; domain: string },
  links: { ackUrl?: string; replyAckWord?: string } = {},
  quote: QuoteOptions = { maxQuotedText: Number.POSITIVE_INFINITY, originalAttached: false },
): NotificationView {
  const { alarm, event, route } = due;
  const quoted = cutText(event.text, quote.maxQuotedText);
  const end = due.kind === 'resolved' && alarm.resolvedAt !== undefined ? alarm.resolvedAt : alarm.lastSeen;
  return {
    kind: due.kind,
    isFiring: due.kind === 'firing',
    isReminder: due.kind === 'reminder',
    isResolved: due.kind === 'resolved',
    isEscalation: due.kind === 'escalation',
    isAcknowledged: due.kind === 'acknowledged',
    sequence: due.sequence,
    alarmId: alarm.id,
    alarm,
    // Quoted as `text` is: a template that reads event.text shows no more of a 100 KiB mail,
    // and the view's cleaning (plain-text.ts) does not scan the whole of it.
    event: quoted.cut ? { ...event, text: quoted.text } : event,
    device: alarm.device,
    location: locationOf(alarm.device),
    severity: route.severity,
    title: alarm.title,
    fields: fieldList(alarm.fields),
    count: alarm.count,
    firstSeen: alarm.firstSeen,
    lastSeen: alarm.lastSeen,
    ...(alarm.resolvedAt !== undefined ? { resolvedAt: alarm.resolvedAt } : {}),
    durationMs: Math.max(0, end - alarm.firstSeen),
    foldedSinceLast: foldedSinceLast(alarm),
    text: quoted.text,
    ...(quoted.cut ? { textCut: { ...quoted.cut, shown: formatSize(quoted.cut.shownBytes), total: formatSize(quoted.cut.totalBytes), inAttachment: quote.originalAttached } } : {}),
    rules: route.rules,
    reason: due.reason,
    receivers: route.receivers,
    gateway,
    ...(links.ackUrl !== undefined ? { ackUrl: links.ackUrl } : {}),
    ...(links.replyAckWord !== undefined && due.kind !== 'acknowledged' && !alarm.ack ? { replyAckWord: links.replyAckWord } : {}),
  };
}

/** The device's site and area that are set, joined by ", " ("" when neither is). */
export function locationOf(device: DeviceIdentity): string {
  return [device.site, device.area].filter((part) => part !== undefined && part.trim() !== '').join(', ');
}

/**
 * lifecycle/decide.ts hands render the alarm with this notification counted in
 * `notifications` but `countAtLastNotification` still at the previous one (0 before the
 * first), and records the new count only after rendering: so the difference is what this
 * notification reports for the first time.
 */
function foldedSinceLast(alarm: Alarm): number {
  return Math.max(0, alarm.count - alarm.countAtLastNotification);
}

/**
 * Object key order is insertion order, which is the order the fields appeared, except
 * for integer-like names ("1", "42"), which JavaScript always lists first.
 */
function fieldList(fields: Record<string, string>): NotificationField[] {
  const entries = Object.entries(fields);
  const width = Math.max(0, ...entries.map(([name]) => [...name].length));
  return entries.map(([name, value]) => ({ name, value, label: name + ' '.repeat(width - [...name].length) }));
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, 'KiB'] : [bytes / (1024 * 1024), 'MiB'];
  return `${Number.isInteger(Math.round(value * 10) / 10) ? Math.round(value) : value.toFixed(1)} ${unit}`;
}

import { join } from 'node:path';
import { ackUrl, signAckToken } from '../base/ack-token.js';
import type { RawConfig, Severity } from '../config/schema.js';
import type { Secret } from '../config/secret.js';
import type { Due } from '../lifecycle/alarm.js';
import { fillAddressTemplate } from './address-template.js';
import { headerText } from './header-text.js';
import { composeMime, type MimeText } from './mime-message.js';
import { notificationView } from './notification-view.js';
import { originalAttachment } from './original-attachment.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { PASSTHROUGH_TEMPLATE, TemplateError, type TemplateLibrary } from './templates.js';

export interface NotificationContext {
  relay: RawConfig['relay'];
  hostname: string;
  domain: string;
  /** IANA zone and locale for dates in the message. */
  timeZone: string;
  locale: string;
  /** The device's mail as received, attached when the route asks for it. */
  original?: Buffer;
  /** At most this many bytes of the device's text are quoted (config `alarms.maxQuotedText`); all of it when absent. */
  maxQuotedText?: number;
  /** Set when the `api` section is configured: every notification carries an acknowledgement link. */
  ackLinks?: AckLinkOptions;
  /** Set when `replies` are read: the word a reply starts with to acknowledge. */
  replyAckWord?: string;
}

export interface AckLinkOptions {
  baseUrl: string;
  /** The HMAC key (config `api.linkSecret`). */
  key: Secret;
  /** How long a link stays valid after the notification, ms. */
  lifetime: number;
}

/** The name a link records as who acknowledged; used when the route names no receiver. */
export const ANONYMOUS_LINK_RECEIVER = 'recipient';

/**
 * One link per notification, sent to every receiver alike, so the token can name only one
 * of them: the route's first receiver (the one the rule names first), else "recipient".
 * It expires `lifetime` after the notification became due, so rendering stays pure.
 */
export function notificationAckUrl(due: Due, links: AckLinkOptions): string {
  const receiver = due.route.receivers[0]?.name ?? ANONYMOUS_LINK_RECEIVER;
  const token = signAckToken({ alarmId: due.alarm.id, receiver, expiresAt: due.at + links.lifetime }, links.key.reveal());
  return ackUrl(links.baseUrl, token);
}

export type NotificationErrorCode = 'passthrough-route';

/** A Due that cannot become a notification for a reason other than its template. */
export class NotificationError extends Error {
  constructor(
    readonly code: NotificationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NotificationError';
  }
}

/**
 * A notification written by the gateway about an alarm: From is always the gateway's (from
 * `relay.from`), recipients are the route's receivers, and every notification of one alarm
 * threads under its first one. Pure: the Date comes from the Due, not the clock, so a
 * Due renders the same message whenever it is rendered (MIME boundaries aside).
 *
 * Throws TemplateError (unknown-template, render-failed) or NotificationError. A route
 * whose receivers have no address gives a message with no recipients.
 */
export async function renderNotification(due: Due, templates: TemplateLibrary, ctx: NotificationContext): Promise<OutgoingMessage> {
  const { alarm, event, route } = due;
  if (route.mode === 'passthrough' || route.template === PASSTHROUGH_TEMPLATE) {
    throw new NotificationError('passthrough-route', `alarm ${alarm.id}: the route forwards the device's mail as it came; render it with renderPassthrough`);
  }
  const set = templates.get(route.template);
  if (!set) {
    throw new TemplateError('unknown-template', [{ file: join(templates.dir, route.template), message: `no template set "${route.template}" for alarm ${alarm.id} (${routedBy(due)})` }]);
  }
  // No address at all is an outcome, not an error: the message is still rendered (a
  // preview for `rules test`) and the caller records that nobody was told.
  const recipients = uniqueAddresses(route.receivers.flatMap((r) => r.emails));

  const attachOriginal = route.attachOriginal && ctx.original !== undefined;
  const links = { ...(ctx.ackLinks ? { ackUrl: notificationAckUrl(due, ctx.ackLinks) } : {}), ...(ctx.replyAckWord ? { replyAckWord: ctx.replyAckWord } : {}) };
  const view = notificationView(due, { hostname: ctx.hostname, domain: ctx.domain }, links, { maxQuotedText: ctx.maxQuotedText ?? Number.POSITIVE_INFINITY, originalAttached: attachOriginal });
  const parts = set.render(view, { timeZone: ctx.timeZone, locale: ctx.locale });

  // The same variables as for pass-through, so one relay.from serves both.
  const vars: Record<string, string> = {
    device: alarm.device.name,
    domain: ctx.domain,
    helo: event.peer.helo ?? '',
    sender: event.sender ?? '',
    ip: event.peer.address,
    listener: event.listener,
  };
  const from = notificationFrom(ctx, vars);
  const messageId = (sequence: number): string => `<${idToken(alarm.id)}.${sequence}@${ctx.domain}>`;
  const at = due.at;
  const announcement = due.kind === 'acknowledged';
  const previous = announcement ? due.sequence : due.sequence - 1;

  const message = composeMime({
    from,
    to: recipients,
    subject: withAlarmToken(parts.subject, idToken(alarm.id)),
    text: textPart(parts.text),
    ...(parts.html !== undefined ? { html: textPart(parts.html) } : {}),
    date: new Date(at),
    // An ack announcement is not a notification of the alarm (its sequence stays that of
    // the last one): an id of its own, so clients do not hide it as a duplicate of that one.
    messageId: announcement ? `<${idToken(alarm.id)}.${due.sequence}-ack@${ctx.domain}>` : messageId(due.sequence),
    // Reply to the previous notification, referencing the first too: clients that
    // thread by References keep the whole alarm in one conversation.
    ...(previous >= 1 ? { inReplyTo: messageId(previous), references: [...new Set([messageId(1), messageId(previous)])] } : {}),
    headers: {
      'X-Annunciator-Alarm': headerText(alarm.id),
      'X-Annunciator-Kind': due.kind,
      'X-Annunciator-Severity': route.severity,
      'X-Annunciator-Id': headerText(event.id),
      ...automatedHeaders(route.severity),
    },
    ...(attachOriginal && ctx.original ? { attachments: [originalAttachment(ctx.original, { opaque: event.undecodable !== undefined })] } : {}),
  });
  return { envelopeFrom: from.address, recipients, message };
}

/** Parts longer than this (UTF-16 units, so about bytes for mostly-ASCII text) go out base64-encoded. */
export const BASE64_PART_THRESHOLD = 16 * 1024;

/**
 * A text or HTML part with its transfer encoding chosen by size: a short part stays
 * quoted-printable (or 7bit), readable in the raw mail as alarms always were; a large one
 * is base64, which encodes about twice as fast as quoted-printable (1.9 vs 4.0 ms per
 * 100 KiB with nodemailer's encoders) and is at most 4/3 of the bytes whatever the text.
 */
export function textPart(content: string): MimeText {
  return content.length > BASE64_PART_THRESHOLD ? { content, contentTransferEncoding: 'base64' } : content;
}

/** Headers every gateway-written notification carries. */
export function automatedHeaders(severity: Severity): Record<string, string> {
  return {
    // RFC 3834, and Exchange's own: out-of-office replies to an alarm mail help nobody.
    'Auto-Submitted': 'auto-generated',
    'X-Auto-Response-Suppress': 'All',
    ...(severity === 'critical' ? { Importance: 'high', 'X-Priority': '1 (Highest)' } : {}),
  };
}

/** The gateway's From for a notification: relay.from filled with the variables of the mail or event it is about. */
export function notificationFrom(ctx: Pick<NotificationContext, 'relay'>, vars: Record<string, string>): { name: string; address: string } {
  return { name: headerText(fillAddressTemplate(ctx.relay.from.displayName, vars)), address: fillAddressTemplate(ctx.relay.from.address, vars) };
}

function routedBy(due: Due): string {
  return due.route.isDefault ? 'routed by the default route' : `routed by rule ${due.route.rules.join(' + ')}`;
}

/** Receivers' addresses, each once (compared without case), in the order first named. */
export function uniqueAddresses(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((address) => {
    const key = address.trim().toLowerCase();
    if (key === '' || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A reply names its alarm (or a group's batch) by In-Reply-To, or by the `#TOKEN` in its
 * subject when the client dropped that header (lifecycle/reply-ack.ts): a subject template
 * without the token (templates/short) gets ` [#TOKEN]` appended.
 */
export function withAlarmToken(subject: string, token: string): string {
  // indexOf, not a RegExp built per call: this runs for every notification.
  const needle = `#${token}`;
  for (let at = subject.indexOf(needle); at !== -1; at = subject.indexOf(needle, at + 1)) {
    if (!TOKEN_CHAR.test(subject.charAt(at + needle.length))) return subject;
  }
  return `${subject} [#${token}]`;
}

const TOKEN_CHAR = /^[A-Za-z0-9._-]$/;

/**
 * Alarm ids are ULIDs, but the Message-ID is built from one by hand, so anything that
 * could break out of `<...@...>` is replaced rather than trusted.
 */
export function idToken(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '-');
}

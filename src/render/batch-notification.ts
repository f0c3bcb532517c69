import { join } from 'node:path';
import { ackUrl, signAckToken } from '../base/ack-token.js';
import type { Batch, BatchSummary } from '../lifecycle/batch.js';
import { batchView } from './batch-view.js';
import { headerText } from './header-text.js';
import { composeMime } from './mime-message.js';
import { ANONYMOUS_LINK_RECEIVER, automatedHeaders, idToken, notificationFrom, textPart, uniqueAddresses, withAlarmToken, type AckLinkOptions, type NotificationContext } from './notification.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { TemplateError, type TemplateLibrary } from './templates.js';

export interface BatchNotificationContext extends Pick<NotificationContext, 'relay' | 'hostname' | 'domain' | 'timeZone' | 'locale' | 'ackLinks' | 'replyAckWord'> {
  /** The template set for groups and digests (alarms.grouping.template). */
  template: string;
  maxListed: number;
}

/**
 * The link that acknowledges every alarm of a batch, as notificationAckUrl does for one
 * alarm: the token names the batch's first receiver (else "recipient") and expires
 * `lifetime` after the batch was sent.
 */
export function batchAckUrl(batch: Batch, sentAt: number, links: AckLinkOptions): string {
  const receiver = batch.receivers[0]?.name ?? ANONYMOUS_LINK_RECEIVER;
  const token = signAckToken({ batchId: batch.id, receiver, expiresAt: sentAt + links.lifetime }, links.key.reveal());
  return ackUrl(links.baseUrl, token);
}

/**
 * One notification listing a batch's alarms (a group or a digest), to the batch's
 * receivers. Its Message-ID carries the batch id, so a reply can be matched to every
 * alarm it lists; X-Annunciator-Alarms names the listed ones. Pure, like renderNotification.
 */
export async function renderBatchNotification(batch: Batch, summary: BatchSummary, sentAt: number, templates: TemplateLibrary, ctx: BatchNotificationContext): Promise<OutgoingMessage> {
  const set = templates.get(ctx.template);
  if (!set) throw new TemplateError('unknown-template', [{ file: join(templates.dir, ctx.template), message: `no template set "${ctx.template}" for ${batch.kind} ${batch.id} (alarms.grouping.template)` }]);
  const view = batchView(batch, summary, { maxListed: ctx.maxListed, sentAt, gateway: { hostname: ctx.hostname, domain: ctx.domain }, ...(ctx.ackLinks && batch.kind !== 'ack' ? { ackUrl: batchAckUrl(batch, sentAt, ctx.ackLinks) } : {}), ...(ctx.replyAckWord && batch.kind !== 'ack' ? { replyAckWord: ctx.replyAckWord } : {}) });
  const parts = set.render(view, { timeZone: ctx.timeZone, locale: ctx.locale });
  const first = summary.entries[0]?.alarm;
  const from = notificationFrom(ctx, { device: first?.device.name ?? 'annunciator', domain: ctx.domain, helo: '', sender: '', ip: '', listener: '' });
  const recipients = uniqueAddresses(batch.receivers.flatMap((r) => r.emails));
  const message = composeMime({
    from,
    to: recipients,
    // The batch id is what a reply is matched by (ingest/imap): never left out by a template.
    subject: withAlarmToken(parts.subject, idToken(batch.id)),
    text: textPart(parts.text),
    ...(parts.html !== undefined ? { html: textPart(parts.html) } : {}),
    date: new Date(sentAt),
    messageId: `<${idToken(batch.id)}.${batch.kind}@${ctx.domain}>`,
    headers: {
      'X-Annunciator-Batch': headerText(batch.id),
      'X-Annunciator-Kind': batch.kind,
      'X-Annunciator-Severity': view.severity,
      // Folded by the composer, never cut: it names every alarm the mail lists (at most maxListed).
      'X-Annunciator-Alarms': headerText(view.alarms.map((a) => a.id).join(', '), Number.POSITIVE_INFINITY),
      ...automatedHeaders(view.severity),
    },
  });
  return { envelopeFrom: from.address, recipients, message };
}

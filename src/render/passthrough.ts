import type MailComposerClass from 'nodemailer/lib/mail-composer';
import { requireCommonJs } from '../base/commonjs.js';
import type { RawConfig } from '../config/schema.js';
import type { Received } from '../ingest/received.js';
import type { DecodedMail } from '../parse/decode-mail.js';
import { fillAddressTemplate } from './address-template.js';
import { bodyText, crlfLines, headerText } from './header-text.js';
import { composeMime } from './mime-message.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { deviceName } from '../parse/device-name.js';

/** nodemailer's CommonJS build (src/base/commonjs.ts says why). */
const MailComposer = requireCommonJs<typeof MailComposerClass>('nodemailer/lib/mail-composer');

export interface PassthroughContext {
  relay: RawConfig['relay'];
  /** Who gets it, when a route decided; else relay.recipients, else the envelope. */
  recipients?: string[];
  hostname: string;
  domain: string;
}

/**
 * The device's mail written out anew rather than forwarded byte for byte: CRLF line
 * endings, headers encoded per RFC 2047, Date, Message-ID and From added where missing,
 * recipients from the envelope or the configuration. Whatever the device wrote that is
 * not text, subject, sender or attachment stays behind, which closes SMTP smuggling and
 * header injection at the boundary.
 */
export async function renderPassthrough(received: Received, mail: DecodedMail, context: PassthroughContext): Promise<OutgoingMessage> {
  const { relay } = context;
  const device = deviceName(received, mail);
  const vars: Record<string, string> = {
    device,
    domain: context.domain,
    helo: received.peer.helo ?? '',
    sender: received.envelope.mailFrom ?? '',
    ip: received.peer.address,
    listener: received.listener,
  };
  const fromAddress = mail.from && relay.from.rewrite === 'missing' ? mail.from : { name: fillAddressTemplate(relay.from.displayName, vars), address: fillAddressTemplate(relay.from.address, vars) };
  const recipients = context.recipients ?? relay.recipients ?? received.envelope.rcptTo;
  const envelopeSender = received.envelope.mailFrom;
  const keepSender = envelopeSender && envelopeSender.toLowerCase() !== fromAddress.address.toLowerCase();
  const originalFrom = mail.from && mail.from.address.toLowerCase() !== fromAddress.address.toLowerCase() ? mail.from.address : undefined;

  // A plain 7-bit text body (parse/decode-mail.ts) is passed on as it came: it has only CRLF
  // lines of printable ASCII no longer than SMTP allows, which is what writing it out anew
  // would give, without encoding 100 KiB again. The headers are written anew all the same.
  const plainBody = mail.plainBody && !mail.html && mail.attachments.length === 0 ? mail.plainBody : undefined;
  const from = { name: headerText(fromAddress.name), address: fromAddress.address };
  const date = mail.date ?? new Date(received.receivedAt);
  const messageId = validMessageId(mail.messageId) ?? `<${received.id}@${context.domain}>`;
  const sender = relay.envelopeSender === 'sender' && keepSender ? envelopeSender : undefined;
  const replyTo = relay.envelopeSender === 'reply-to' ? (originalFrom ?? (keepSender ? envelopeSender : undefined)) : undefined;
  const headers: Record<string, string> = {
    'X-Annunciator-Id': received.id,
    'X-Annunciator-Device': headerText(device),
    // An empty text part gets no encoding header of its own; the body spliced in is 7-bit.
    ...(plainBody ? { 'Content-Transfer-Encoding': '7bit' } : {}),
  };
  // The common relayed mail (plain text, nothing attached) has only its headers written anew:
  // one synchronous pass (render/mime-message.ts), the same bytes as nodemailer's composer.
  const built = plainBody
    ? composeMime({ headers, from, to: recipients, subject: headerText(mail.subject), text: '', date, messageId, ...(sender ? { sender } : {}), ...(replyTo ? { replyTo } : {}) })
    : await new MailComposer({
        // Named, not detected per text part (see render/notification.ts).
        textEncoding: 'quoted-printable',
        from,
        to: recipients,
        subject: headerText(mail.subject),
        text: bodyText(mail.text),
        ...(mail.html ? { html: crlfLines(mail.html) } : {}),
        date,
        messageId,
        ...(sender ? { sender } : {}),
        ...(replyTo ? { replyTo } : {}),
        headers,
        attachments: mail.attachments.map((a) => ({
          filename: a.filename ? headerText(a.filename, 200) : undefined,
          contentType: a.contentType,
          content: a.content,
          ...(a.contentId ? { cid: a.contentId.replace(/^<|>$/g, '') } : {}),
          contentDisposition: a.inline ? ('inline' as const) : ('attachment' as const),
        })),
      })
        .compile()
        .build();
  const trace = `Received: from ${headerText(received.peer.helo || 'unknown')} ([${received.peer.address}])\r\n\tby ${context.hostname} (Annunciator) with ${received.peer.secure ? 'ESMTPS' : 'ESMTP'} id ${received.id};\r\n\t${new Date(received.receivedAt).toUTCString().replace('GMT', '+0000')}\r\n`;
  const message = Buffer.concat(plainBody ? [Buffer.from(trace), built, plainBody] : [Buffer.from(trace), built]);
  const offset = plainBody ? offsetIn(received.raw, plainBody) : undefined;
  return { envelopeFrom: fromAddress.address, recipients, message, ...(offset !== undefined ? { bodyOfReceived: { offset, length: plainBody!.length } } : {}) };
}

/** Where `tail` starts in `whole`, when it is the very end of the same bytes (a subarray, not a copy). */
function offsetIn(whole: Buffer, tail: Buffer): number | undefined {
  const sameMemory = tail.buffer === whole.buffer && tail.byteOffset + tail.length === whole.byteOffset + whole.length;
  return sameMemory && tail.byteOffset >= whole.byteOffset ? tail.byteOffset - whole.byteOffset : undefined;
}

function validMessageId(id: string | undefined): string | undefined {
  return id && /^<[^<>\s@]+@[^<>\s@]+>$/.test(id) ? id : undefined;
}

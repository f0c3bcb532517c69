import { simpleParser } from 'mailparser';
import { firstAddress } from './first-address.js';
import { repairUndeclared8bit } from './repair-charset.js';

/**
 * A mail read from a reply mailbox, decoded into what deciding about it needs
 * (lifecycle/reply-ack.ts): who wrote it, what it answers, its first words, and the
 * headers that tell a person's reply from an automatic one.
 */
export interface ReplyMail {
  /** Its Message-ID with the angle brackets, e.g. `<CAF...@mail.gmail.com>`. */
  messageId?: string;
  from?: { name: string; address: string };
  subject: string;
  /** Message ids (with angle brackets) from In-Reply-To and References, in header order. */
  inReplyTo: string[];
  references: string[];
  /** The text part, or the HTML part as text (quotes as `> ` lines). */
  text: string;
  /** Header values, unfolded, by lower-case name, every occurrence top first. */
  headers: ReadonlyMap<string, string[]>;
}

/** Headers kept in `ReplyMail.headers`: those that mark automatic mail, bounces and our own notifications. */
const KEPT_HEADERS = new Set([
  'auto-submitted',
  'precedence',
  'return-path',
  'content-type',
  'x-autoreply',
  'x-autorespond',
  'x-auto-response-suppress',
  'x-annunciator-alarm',
  'x-annunciator-batch',
  'x-annunciator-kind',
  'authentication-results',
  'list-id',
  'list-unsubscribe',
  'x-failed-recipients',
]);

export async function decodeReply(raw: Buffer, fallbackCharset = 'windows-1252'): Promise<ReplyMail> {
  const parsed = await simpleParser(repairUndeclared8bit(raw, fallbackCharset), { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  const headers = new Map<string, string[]>();
  for (const { key, line } of parsed.headerLines) {
    if (!KEPT_HEADERS.has(key)) continue;
    const value = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
    headers.set(key, [...(headers.get(key) ?? []), value]);
  }
  const from = firstAddress(parsed.from);
  return {
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    ...(from ? { from } : {}),
    subject: parsed.subject ?? '',
    inReplyTo: messageIds(parsed.inReplyTo),
    references: messageIds(parsed.references),
    text: parsed.text ?? '',
    headers,
  };
}

function messageIds(value: string | string[] | undefined): string[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((v) => v.match(/<[^<>\s]+>/g) ?? []);
}

import { simpleParser, type AddressObject } from 'mailparser';
import { repairUndeclared8bit } from './repair-charset.js';

/** A device's mail, decoded: text as the device meant it, whatever the wire encoding. */
export interface DecodedMail {
  subject: string;
  /** The text part, or the HTML part rendered as text. */
  text: string;
  html?: string;
  from?: { name: string; address: string };
  date?: Date;
  messageId?: string;
  attachments: DecodedAttachment[];
  /**
   * Set when the device's mail could not be decoded (parse/undecodable-mail.ts): the fields
   * above then describe that, and the raw mail (truncated) is attached.
   */
  undecodable?: UndecodableInfo;
}

export interface UndecodableInfo {
  /** Why the parser gave up. */
  reason: string;
  /** Bytes of the mail as it came. */
  size: number;
  /** The mail as it came, cut to at most UNDECODABLE_ATTACHMENT_LIMIT bytes. */
  original: Buffer;
}

export interface DecodedAttachment {
  filename?: string;
  contentType: string;
  content: Buffer;
  contentId?: string;
  inline: boolean;
}

export async function decodeMail(raw: Buffer, fallbackCharset: string): Promise<DecodedMail> {
  const parsed = await simpleParser(repairUndeclared8bit(raw, fallbackCharset), { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  const from = firstAddress(parsed.from);
  return {
    subject: parsed.subject ?? '',
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : undefined,
    from,
    date: parsed.headers.has('date') && parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : undefined,
    messageId: parsed.messageId,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      contentId: a.contentId,
      inline: a.contentDisposition === 'inline' && !!a.contentId,
    })),
  };
}

function firstAddress(value: AddressObject | AddressObject[] | undefined): DecodedMail['from'] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  for (const group of list) {
    const first = group.value.find((a) => a.address);
    if (first?.address) return { name: first.name ?? '', address: first.address };
  }
  return undefined;
}

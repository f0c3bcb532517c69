import { simpleParser, type AddressObject, type ParsedMail, type StructuredHeader } from 'mailparser';
import { plain7bitText } from './plain-7bit.js';
import { headerEnd, repairUndeclared8bit } from './repair-charset.js';

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
   * The body as it came, when it is plain 7-bit text (decodeMail's fast path): CRLF lines of
   * printable ASCII and TAB, none longer than SMTP's 998 bytes, so it is `text` (CRLF for LF) byte for
   * byte and a relay can pass it on without decoding and encoding it again.
   */
  plainBody?: Buffer;
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
  // The common device mail (one text part, 7-bit) needs only its header block parsed; the
  // body is its text as it came. For a 100 KiB mail that is most of the parse's cost.
  const split = headerEnd(raw);
  const plainBody = split.headerEnd < raw.length && raw[split.headerEnd - 2] === 0x0d ? raw.subarray(split.bodyStart) : undefined;
  if (plainBody) {
    // The header block first: a multipart mail is told by it, without a scan of its body.
    const headers = await parse(raw.subarray(0, split.bodyStart), fallbackCharset);
    if (plainTextPart(headers)) {
      const body = plain7bitText(plainBody);
      if (body !== undefined) {
        // Made when first read: a relay passes plainBody on and never reads the text.
        let text: string | undefined;
        return {
          ...decoded(headers),
          get text(): string {
            return (text ??= body.replaceAll('\r\n', '\n'));
          },
          plainBody,
        };
      }
    }
  }
  return decoded(await parse(raw, fallbackCharset));
}

function parse(raw: Buffer, fallbackCharset: string): Promise<ParsedMail> {
  return simpleParser(repairUndeclared8bit(raw, fallbackCharset), { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
}

function decoded(parsed: ParsedMail): DecodedMail {
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

function isStructured(value: unknown): value is StructuredHeader {
  return typeof value === 'object' && value !== null && typeof (value as StructuredHeader).value === 'string' && typeof (value as StructuredHeader).params === 'object';
}

const ASCII_CHARSETS = /^(us-ascii|ascii|utf-?8|iso-8859-\d+|windows-125\d|latin-?1)$/i;

/**
 * A single text/plain part whose 7-bit body means what it says: no transfer encoding, no
 * format=flowed, an ASCII-based charset, and no Content-Disposition (a single part sent as
 * an attachment is an attachment to the parser, not text).
 */
function plainTextPart(headers: ParsedMail): boolean {
  if (headers.headers.has('content-disposition')) return false;
  const type = headers.headers.get('content-type');
  if (type !== undefined) {
    if (!isStructured(type) || type.value.toLowerCase() !== 'text/plain') return false;
    const { charset, format, ...rest } = type.params as Record<string, string | undefined>;
    if (charset !== undefined && !ASCII_CHARSETS.test(charset)) return false;
    if (format !== undefined && format.toLowerCase() !== 'fixed') return false;
    if (Object.keys(rest).length > 0) return false;
  }
  const encoding = headers.headers.get('content-transfer-encoding');
  return encoding === undefined || (typeof encoding === 'string' && /^(7bit|8bit|binary)$/i.test(encoding.trim()));
}

function firstAddress(value: AddressObject | AddressObject[] | undefined): DecodedMail['from'] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  for (const group of list) {
    const first = group.value.find((a) => a.address);
    if (first?.address) return { name: first.name ?? '', address: first.address };
  }
  return undefined;
}

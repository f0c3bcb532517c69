import type * as Mailsplit from '@zone-eu/mailsplit';
import { MailParser, simpleParser, type AddressObject, type Headers as HeaderMap, type ParsedMail, type StructuredHeader } from 'mailparser';
import { requireCommonJs } from '../base/commonjs.js';
import { firstAddress } from './first-address.js';
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
  const plainBody = split.headerEnd < raw.length && raw[split.headerEnd - 2] === 0x0d && !startsWithLineBreak(raw) ? raw.subarray(split.bodyStart) : undefined;
  if (plainBody) {
    // The header block first: a multipart mail is told by it, without a scan of its body.
    const block = repairUndeclared8bit(raw.subarray(0, split.bodyStart), fallbackCharset);
    const headers = block.length <= HEADER_BLOCK_LIMIT ? headerMap(block) : (await parse(block)).headers;
    if (plainTextPart(headers)) {
      const body = plain7bitText(plainBody);
      if (body !== undefined) return new PlainMail(headerFields(headers), plainBody, body);
    }
  }
  return decoded(await parse(repairUndeclared8bit(raw, fallbackCharset)));
}

/**
 * A plain 7-bit mail decoded from its header block alone. Its text (the body's CRLF lines
 * with LF ends) is made when first read: a relay passes `plainBody` on and never reads it.
 * A class, not a literal with a getter closing over a variable: V8 kept what was stored
 * through such literals past every young collection (as if it had pretenured them), so each
 * 100 KB text waited for a full one (bench/postfix/README.md, "Figures after keeping less per
 * mail").
 * `text` is an own enumerable property, so a spread copy of the mail has it too.
 */
class PlainMail implements DecodedMail {
  readonly subject: string;
  readonly from: DecodedMail['from'];
  readonly date: DecodedMail['date'];
  readonly messageId: DecodedMail['messageId'];
  readonly html = undefined;
  readonly attachments: DecodedAttachment[] = [];
  declare readonly text: string;
  /** The body as plain7bitText read it (CRLF lines), until the text is made from it. */
  #body: string | undefined;
  #text: string | undefined;

  constructor(
    fields: Pick<DecodedMail, 'subject' | 'from' | 'date' | 'messageId'>,
    readonly plainBody: Buffer,
    body: string,
  ) {
    this.subject = fields.subject;
    this.from = fields.from;
    this.date = fields.date;
    this.messageId = fields.messageId;
    this.#body = body;
    Object.defineProperty(this, 'text', { get: PlainMail.#readText, enumerable: true });
  }

  static readonly #readText = function (this: PlainMail): string {
    if (this.#text === undefined) {
      this.#text = this.#body!.replaceAll('\r\n', '\n');
      this.#body = undefined;
    }
    return this.#text;
  };
}

function parse(raw: Buffer): Promise<ParsedMail> {
  return simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
}

// mailparser's own steps for a header block, without its stream pipeline: mailsplit's
// Headers splits and unfolds the lines as the parser's splitter does, and the parser's
// processHeaders decodes them (encoded words, addresses, dates, the first of a repeated
// header) into the map a full parse gives. The pipeline around them cost five times as
// much CPU per device mail (bench/postfix/README.md). processHeaders keeps no state, so
// one parser serves every call; it is never written to.
const { Headers } = requireCommonJs<typeof Mailsplit>('@zone-eu/mailsplit');
const headerParser = new MailParser({ skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true }) as unknown as {
  processHeaders(lines: Mailsplit.HeaderLine[]): HeaderMap;
};

/**
 * Larger header blocks take the full parse, which refuses a block over mailsplit's
 * maxHeadSize (1 MiB, counting each line as at least 64 bytes); up to this size no block
 * can reach that.
 */
const HEADER_BLOCK_LIMIT = 16 * 1024;

function headerMap(block: Buffer): HeaderMap {
  return headerParser.processHeaders(new Headers(block).getList());
}

/** A mail that begins with an empty line has no header block; the full parse says what that means. */
function startsWithLineBreak(raw: Buffer): boolean {
  return raw[0] === 0x0d || raw[0] === 0x0a;
}

/** The header fields as simpleParser sets them from the same map. */
function headerFields(headers: HeaderMap): Pick<DecodedMail, 'subject' | 'from' | 'date' | 'messageId'> {
  const subject = headers.get('subject');
  const date = headers.get('date');
  const messageId = headers.get('message-id');
  return {
    subject: typeof subject === 'string' ? subject : '',
    from: firstAddress(headers.get('from') as AddressObject | AddressObject[] | undefined),
    date: date instanceof Date && !Number.isNaN(date.getTime()) ? date : undefined,
    messageId: typeof messageId === 'string' ? messageId : undefined,
  };
}

function decoded(parsed: ParsedMail): DecodedMail {
  return {
    ...headerFields(parsed.headers ?? new Map()),
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : undefined,
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
function plainTextPart(headers: HeaderMap): boolean {
  if (headers.has('content-disposition')) return false;
  const type = headers.get('content-type');
  if (type !== undefined) {
    if (!isStructured(type) || type.value.toLowerCase() !== 'text/plain') return false;
    const { charset, format, ...rest } = type.params as Record<string, string | undefined>;
    if (charset !== undefined && !ASCII_CHARSETS.test(charset)) return false;
    if (format !== undefined && format.toLowerCase() !== 'fixed') return false;
    if (Object.keys(rest).length > 0) return false;
  }
  const encoding = headers.get('content-transfer-encoding');
  return encoding === undefined || (typeof encoding === 'string' && /^(7bit|8bit|binary)$/i.test(encoding.trim()));
}

import { randomBytes } from 'node:crypto';
import type MimeNodeClass from 'nodemailer/lib/mime-node';
import type * as MimeFuncs from 'nodemailer/lib/mime-funcs';
import type * as QuotedPrintable from 'nodemailer/lib/qp';
import { requireCommonJs } from '../base/commonjs.js';

// nodemailer's CommonJS build (src/base/commonjs.ts says why): its encoders, not its composer.
const MimeNode = requireCommonJs<typeof MimeNodeClass>('nodemailer/lib/mime-node');
const mimeFuncs = requireCommonJs<typeof MimeFuncs>('nodemailer/lib/mime-funcs');
const qp = requireCommonJs<typeof QuotedPrintable>('nodemailer/lib/qp');

/** A text part: base64 when asked for (large parts), else as nodemailer would choose (7bit or quoted-printable). */
export type MimeText = string | { content: string; contentTransferEncoding: 'base64' };

/** An attached file: a `message/rfc822` part goes as it is (7bit or 8bit), any other type base64. */
export interface MimeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** The mail the gateway writes itself: a notification about an alarm or a batch, or the new headers of a relayed plain-text mail. */
export interface MimeMail {
  /** Headers of the gateway's own, written first, in this order. */
  headers: Record<string, string>;
  from: { name: string; address: string };
  sender?: string;
  to?: string[];
  replyTo?: string;
  inReplyTo?: string;
  references?: string[];
  subject: string;
  messageId: string;
  date: Date;
  text: MimeText;
  html?: MimeText;
  attachments?: MimeAttachment[];
  /** The random part of the MIME boundaries (tests pass one to compare with nodemailer's output). */
  baseBoundary?: string;
}

interface Part {
  headers: Array<[string, string]>;
  /** Encoded body, or the parts of a multipart. */
  body: string | Buffer | { boundary: string; parts: Part[] };
}

// Header values encoded as nodemailer's MIME tree encodes them (Q-encoded words, addresses,
// message ids), with no tree: one node serves every call, it keeps no state between them.
const headerEncoder = new MimeNode('text/plain', { textEncoding: 'Q' });

/**
 * The MIME message for `mail`, in one synchronous pass. The same bytes as nodemailer's
 * MailComposer gives for the same input with `textEncoding: 'quoted-printable'` (the test
 * compares them), without its stream per part: composing a notification that way cost
 * ~0.4 ms of the main thread per alarm, about a tenth of the gateway's work per message
 * in alarm mode (bench/postfix, `--cpu-prof`); this takes a fifth of that.
 */
export function composeMime(mail: MimeMail): Buffer {
  const base = mail.baseBoundary ?? randomHex8();
  let nodeId = 0;
  const boundary = (): string => `--_NmP-${base}-Part_${++nodeId}`;

  // The tree nodemailer's MailComposer builds: empty parts are left out; text and html are
  // alternatives; attachments make it mixed. Boundaries are numbered in the order it creates them.
  const alternatives = [...(isEmpty(mail.text) ? [] : [textPart('text/plain', mail.text)]), ...(mail.html === undefined || isEmpty(mail.html) ? [] : [textPart('text/html', mail.html)])];
  const attachments = (mail.attachments ?? []).map(attachmentPart);
  let root: Part;
  if (attachments.length > 1 || (alternatives.length > 0 && attachments.length === 1)) {
    const mixed = boundary();
    const content = alternatives.length > 1 ? [multipart('alternative', boundary(), alternatives)] : alternatives;
    root = multipart('mixed', mixed, [...content, ...attachments]);
  } else if (alternatives.length > 1) {
    root = multipart('alternative', boundary(), alternatives);
  } else {
    root = alternatives[0] ?? attachments[0] ?? { headers: [['Content-Type', 'text/plain']], body: '' };
  }

  const headers = Object.entries(mail.headers).map(([key, value]): [string, string] => [headerKey(key), headerEncoder.encodeHeaderValue(key, value)]);
  headers.push(['From', addressHeader('From', mail.from)]);
  if (mail.sender) headers.push(['Sender', addressHeader('Sender', mail.sender)]);
  if (mail.to?.length) headers.push(['To', addressHeader('To', mail.to)]);
  if (mail.replyTo) headers.push(['Reply-To', addressHeader('Reply-To', mail.replyTo)]);
  if (mail.inReplyTo) headers.push(['In-Reply-To', headerEncoder.encodeHeaderValue('In-Reply-To', mail.inReplyTo)]);
  if (mail.references?.length) headers.push(['References', headerEncoder.encodeHeaderValue('References', mail.references)]);
  headers.push(['Subject', headerEncoder.encodeHeaderValue('Subject', mail.subject)]);
  headers.push(['Message-ID', headerEncoder.encodeHeaderValue('Message-ID', mail.messageId)]);
  headers.push(['Date', mail.date.toUTCString().replace(/GMT/, '+0000')]);
  // Then the root part's transfer encoding, MIME-Version, and its Content-Type last.
  const [contentType, ...contentHeaders] = root.headers;
  root = { ...root, headers: [...headers, ...contentHeaders, ['MIME-Version', '1.0'], contentType!] };

  const chunks: Array<string | Buffer> = [];
  write(root, chunks);
  const last = chunks[chunks.length - 1];
  const lastByte = typeof last === 'string' ? last.charCodeAt(last.length - 1) : last?.[last.length - 1];
  // The message ends with a line break, as nodemailer's LastNewline makes sure.
  if (lastByte === 0x0d) chunks.push('\n');
  else if (lastByte !== 0x0a) chunks.push('\r\n');
  // Text all through (no attachment): one string, one Buffer.
  if (chunks.every((c) => typeof c === 'string')) return Buffer.from(chunks.join(''), 'utf8');
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}

/**
 * An address header as nodemailer encodes it, remembered: a gateway writes the same few
 * senders and receiver lists again and again, and parsing and encoding them was a tenth
 * of composing a notification.
 */
function addressHeader(key: 'From' | 'Sender' | 'To' | 'Reply-To', value: MimeMail['from'] | string | string[]): string {
  const remembered = `${key}\0${typeof value === 'string' ? `s${value}` : `j${JSON.stringify(value)}`}`;
  let encoded = addressHeaders.get(remembered);
  if (encoded === undefined) {
    encoded = headerEncoder.encodeHeaderValue(key, value);
    // Bounded: receivers drawn from an endless variety of addresses must not grow memory.
    if (addressHeaders.size >= 1000) addressHeaders.clear();
    addressHeaders.set(remembered, encoded);
  }
  return encoded;
}

const addressHeaders = new Map<string, string>();

/**
 * Base64 in lines of 76 with no line break after the last, as nodemailer's `wrap(encode(b), 76)`
 * writes it: that wraps with a regular expression, ~0.15 ms for the 40 KB of a large notification.
 */
function base64Lines(bytes: Buffer): string {
  const encoded = bytes.toString('base64');
  if (encoded.length <= 76) return encoded;
  const lines: string[] = [];
  for (let at = 0; at < encoded.length; at += 76) lines.push(encoded.slice(at, at + 76));
  return lines.join('\r\n');
}

// randomBytes costs a call into the system per use; boundaries draw from a pool instead.
let pool = Buffer.alloc(0);
let poolAt = 0;

function randomHex8(): string {
  if (poolAt + 8 > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  poolAt += 8;
  return pool.toString('hex', poolAt - 8, poolAt);
}

// The gateway writes a handful of header names; each is worked out once.
const headerKeys = new Map<string, string>();

/** A header name as nodemailer writes it: words capitalised, `-ID` (and MIME, DKIM, ...) in capitals. */
function headerKey(key: string): string {
  let known = headerKeys.get(key);
  if (known === undefined) {
    known = normalizedHeaderKey(key);
    if (headerKeys.size < 1000) headerKeys.set(key, known);
  }
  return known;
}

function normalizedHeaderKey(key: string): string {
  return key
    .replace(/[\s\x00-\x20\x7f:]/g, '')
    .toLowerCase()
    .replace(/^X-SMTPAPI$|^(MIME|DKIM|ARC|BIMI)\b|^OTP(?=-Token$)|^[a-z]|-(SPF|FBL|ID|MD5)$|-[a-z]/gi, (c) => c.toUpperCase());
}

function isEmpty(text: MimeText): boolean {
  return (typeof text === 'string' ? text : text.content) === '';
}

function multipart(kind: 'mixed' | 'alternative', boundary: string, parts: Part[]): Part {
  return { headers: [['Content-Type', `multipart/${kind}; boundary="${boundary}"`]], body: { boundary, parts } };
}

function textPart(type: 'text/plain' | 'text/html', text: MimeText): Part {
  const contentType: [string, string] = ['Content-Type', `${type}; charset=utf-8`];
  if (typeof text !== 'string') {
    return { headers: [contentType, ['Content-Transfer-Encoding', 'base64']], body: base64Lines(Buffer.from(text.content, 'utf8')) };
  }
  // As nodemailer chooses: plain ASCII with lines of at most 76 goes as it is, else quoted-printable.
  if (mimeFuncs.isPlainText(text) && !mimeFuncs.hasLongerLines(text, 76)) return { headers: [contentType, ['Content-Transfer-Encoding', '7bit']], body: text };
  // nodemailer's stream encoder wraps in 64 KiB slices; a larger part goes base64 rather than
  // wrapped in one piece differently (the gateway's own callers send such parts base64 anyway).
  if (text.length > QP_SLICE) return { headers: [contentType, ['Content-Transfer-Encoding', 'base64']], body: base64Lines(Buffer.from(text, 'utf8')) };
  return { headers: [contentType, ['Content-Transfer-Encoding', 'quoted-printable']], body: qpWrap(qp.encode(Buffer.from(text, 'utf8'))) };
}

const QP_SLICE = 64 * 1024;
const QP_LINE = 76;

/**
 * nodemailer's qp.wrap(encoded, 76) (MIT, nodemailer/lib/qp), the same lines and soft
 * breaks, without its cost where there is nothing to break: it cut a 76-character
 * substring and ran a regular expression on it for every line to find the CRLF that
 * ends most lines of a notification, ~50 KB of garbage per notification. Here a line
 * that ends within 76 characters is found with indexOf and copied; any other goes
 * through nodemailer's own steps, ported unchanged (the test compares the two).
 */
export function qpWrap(str: string, lineLength = QP_LINE): string {
  if (str.length <= lineLength) return str;
  const len = str.length;
  const lineMargin = Math.floor(lineLength / 3);
  const out: string[] = [];
  let pos = 0;
  while (pos < len) {
    const crlf = str.indexOf('\r\n', pos);
    if (crlf >= 0 && crlf + 2 <= pos + lineLength) {
      out.push(str.slice(pos, crlf + 2));
      pos = crlf + 2;
      continue;
    }
    let line = str.substr(pos, lineLength);
    if (line.endsWith('\n')) {
      out.push(line);
      pos += line.length;
      continue;
    }
    let match = line.substr(-lineMargin).match(/\n.*?$/);
    if (match) {
      line = line.substr(0, line.length - (match[0].length - 1));
      out.push(line);
      pos += line.length;
      continue;
    }
    if (line.length > lineLength - lineMargin && (match = line.substr(-lineMargin).match(/[ \t.,!?][^ \t.,!?]*$/))) {
      line = line.substr(0, line.length - (match[0].length - 1));
    } else if (/[=][\da-f]{0,2}$/i.test(line)) {
      if ((match = line.match(/[=][\da-f]{0,1}$/i))) line = line.substr(0, line.length - match[0].length);
      while (line.length > 3 && line.length < len - pos && !/^(?:=[\da-f]{2}){1,4}$/i.test(line) && (match = line.match(/[=][\da-f]{2}$/gi))) {
        const code = parseInt(match[0].substr(1, 2), 16);
        if (code < 128) break;
        line = line.substr(0, line.length - 3);
        if (code >= 0xc0) break;
      }
    }
    if (!line.length) line = str.substr(pos, lineLength);
    if (pos + line.length < len && !line.endsWith('\n')) {
      if (line.length === lineLength && /[=][\da-f]{2}$/i.test(line)) line = line.substr(0, line.length - 3);
      else if (line.length === lineLength) line = line.substr(0, line.length - 1);
      pos += line.length;
      line += '=\r\n';
    } else {
      pos += line.length;
    }
    out.push(line);
  }
  return out.join('');
}

function attachmentPart(file: MimeAttachment): Part {
  const named = `${file.contentType}; name=${quotedIfNeeded(file.filename)}`;
  const disposition: [string, string] = ['Content-Disposition', `attachment; filename=${quotedIfNeeded(file.filename)}`];
  if (/^message\//i.test(file.contentType)) {
    return { headers: [['Content-Type', named], ['Content-Transfer-Encoding', fitsSevenBit(file.content) ? '7bit' : '8bit'], disposition], body: file.content };
  }
  return { headers: [['Content-Type', named], ['Content-Transfer-Encoding', 'base64'], disposition], body: base64Lines(file.content) };
}

/** A file name as a parameter value: quoted when it holds anything a token may not. */
function quotedIfNeeded(name: string): string {
  return /^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith('-') ? name : JSON.stringify(name);
}

/** ASCII only, no NUL, no line over 998 octets (RFC 5322): what `7bit` may describe. */
function fitsSevenBit(content: Buffer): boolean {
  let lineLength = 0;
  for (const byte of content) {
    if (byte === 0 || byte > 0x7f) return false;
    if (byte === 0x0a || byte === 0x0d) lineLength = 0;
    else if (++lineLength > 998) return false;
  }
  return true;
}

function write(part: Part, out: Array<string | Buffer>): void {
  out.push(part.headers.map(([key, value]) => mimeFuncs.foldLines(`${key}: ${value}`, 76)).join('\r\n') + '\r\n\r\n');
  const body = part.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    if (body.length > 0) out.push(body);
    return;
  }
  body.parts.forEach((child, i) => {
    out.push(`${i > 0 ? '\r\n' : ''}--${body.boundary}\r\n`);
    write(child, out);
  });
  out.push(`\r\n--${body.boundary}--\r\n`);
}

const LF = 0x0a;
const DASH = 0x2d;
/** Bytes of a line kept for looking at: a header name and value start, a boundary line (RFC 2046 allows 70 + 4). */
const LINE_KEEP = 1024;
/** Characters of one Content-Type or Content-Transfer-Encoding header kept, folded lines included. */
const HEADER_KEEP = 4096;

export interface StructureLimits {
  /** Lines of one header block (the message's own, or a MIME part's). */
  maxHeaderLines: number;
  /** Bytes of one header block, line endings included. */
  maxHeaderSize: number;
  /** How deep MIME parts nest: a single-part message is 0, a text part of multipart/mixed 1. */
  maxMimeDepth: number;
  /** MIME parts in the message, the message itself included. */
  maxMimeParts: number;
}

export interface StructureViolation {
  limit: keyof StructureLimits;
  max: number;
  /** The SMTP reply: 552 for a header block too large, 554 for MIME structure. */
  code: 552 | 554;
  /** The reply text after the code, with its enhanced status code. */
  reply: string;
  /** For the log line: why the message was refused. */
  reason: string;
}

interface OpenMultipart {
  boundary: string;
  /** Depth of the multipart part itself; its children are one deeper. */
  depth: number;
}

/**
 * Follows the MIME structure of a message while DATA streams in, cheaply (one pass, memory
 * bounded by the limits), and says which limit it broke, if any: so a message built to
 * choke a MIME parser (20,000 header lines, parts nested 5,000 deep, 50,000 parts) is
 * refused at the end of DATA with a reply that names the limit, instead of being taken
 * with 250 and failing later.
 *
 * It splits lines on LF (as the parser does) and counts generously: it descends into every
 * message/rfc822 part that is not base64 or quoted-printable encoded, where the parser
 * descends only into inline ones.
 */
export class MimeStructure {
  violation: StructureViolation | undefined;
  private readonly line = Buffer.allocUnsafe(LINE_KEEP);
  private kept = 0;
  private lineLength = 0;
  private inHeader = true;
  private depth = 0;
  private parts = 1;
  private headerLines = 0;
  private headerBytes = 0;
  /** The header being read, when it is one whose value matters; its value so far. */
  private capturing: 'content-type' | 'content-transfer-encoding' | undefined;
  private contentType = '';
  private encoding = '';
  private readonly open: OpenMultipart[] = [];

  constructor(private readonly limits: StructureLimits) {}

  write(chunk: Buffer): void {
    let start = 0;
    while (!this.violation && start < chunk.length) {
      // A body with no multipart open around it is opaque to the end: nothing left to follow.
      if (!this.inHeader && this.open.length === 0) return;
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf + 1;
      this.append(chunk, start, end);
      if (lf === -1) return;
      this.endLine();
      start = end;
    }
  }

  /** The data is complete: a last line without a line ending counts too. */
  end(): void {
    if (!this.violation && this.lineLength > 0) this.endLine();
  }

  private append(chunk: Buffer, start: number, end: number): void {
    this.lineLength += end - start;
    // In a body only a line that begins with "--" can matter: its first two bytes tell.
    if (!this.inHeader && this.kept < 2) {
      const copied = chunk.copy(this.line, this.kept, start, Math.min(end, start + 2 - this.kept));
      this.kept += copied;
      start += copied;
    }
    const wanted = this.inHeader || this.startsWithDashes() ? LINE_KEEP : this.kept;
    if (this.kept < wanted && start < end) this.kept += chunk.copy(this.line, this.kept, start, Math.min(end, start + wanted - this.kept));
    // A header line without an end must not grow past the limit unseen.
    if (this.inHeader && this.headerBytes + this.lineLength > this.limits.maxHeaderSize) this.headerTooLarge();
  }

  private startsWithDashes(): boolean {
    return this.kept >= 2 && this.line[0] === DASH && this.line[1] === DASH;
  }

  private endLine(): void {
    const length = this.lineLength;
    const whole = length <= LINE_KEEP;
    const dashes = this.startsWithDashes();
    this.lineLength = 0;
    if (!this.inHeader && !dashes) {
      this.kept = 0;
      return;
    }
    const text = this.line.toString('latin1', 0, this.kept);
    this.kept = 0;
    // A delimiter of an open multipart ends a part wherever it comes, in a header block too.
    if (whole && dashes && this.open.length > 0 && this.delimiter(text)) return;
    if (this.inHeader) this.headerLine(text, length);
  }

  private headerLine(text: string, length: number): void {
    this.headerLines += 1;
    this.headerBytes += length;
    if (this.headerLines > this.limits.maxHeaderLines) {
      return this.fail('maxHeaderLines', 552, `5.3.4 A header block has more than ${this.limits.maxHeaderLines} lines (limit maxHeaderLines)`, `a header block of more than ${this.limits.maxHeaderLines} lines`);
    }
    if (this.headerBytes > this.limits.maxHeaderSize) return this.headerTooLarge();
    const content = text.replace(/\r?\n$/, '');
    if (content === '') return this.endHeader();
    if (content[0] === ' ' || content[0] === '\t') {
      this.keep(content);
      return;
    }
    const name = /^([^:\s]+)[ \t]*:/.exec(content)?.[1]?.toLowerCase();
    this.capturing = name === 'content-type' || name === 'content-transfer-encoding' ? name : undefined;
    this.keep(content.slice(content.indexOf(':') + 1));
  }

  private keep(value: string): void {
    if (this.capturing === 'content-type' && this.contentType.length < HEADER_KEEP) this.contentType = (this.contentType + value).slice(0, HEADER_KEEP);
    if (this.capturing === 'content-transfer-encoding' && this.encoding.length < HEADER_KEEP) this.encoding = (this.encoding + value).slice(0, HEADER_KEEP);
  }

  /** The end of a part's header block: what its content type says comes next. */
  private endHeader(): void {
    const type = /^\s*([^\s;]+)/.exec(this.contentType)?.[1]?.toLowerCase() ?? '';
    const encoding = this.encoding.trim().toLowerCase();
    const boundary = type.startsWith('multipart/') ? boundaryOf(this.contentType) : undefined;
    this.inHeader = false;
    if (boundary) {
      this.open.push({ boundary, depth: this.depth });
    } else if (type === 'message/rfc822' && (encoding === '' || ['7bit', '8bit', 'binary'].includes(encoding))) {
      // The embedded message's own header block follows at once.
      this.newPart(this.depth + 1);
    }
  }

  /** Whether `text` is a delimiter line of an open multipart; if so, follows it. */
  private delimiter(text: string): boolean {
    const line = text.replace(/[ \t]*\r?\n$/, '');
    for (let i = this.open.length - 1; i >= 0; i -= 1) {
      const { boundary, depth } = this.open[i]!;
      if (line === `--${boundary}`) {
        this.open.length = i + 1;
        this.newPart(depth + 1);
        return true;
      }
      if (line === `--${boundary}--`) {
        // The epilogue of this multipart follows: a body, nothing more to look at in it.
        this.open.length = i;
        this.inHeader = false;
        return true;
      }
    }
    return false;
  }

  private newPart(depth: number): void {
    this.parts += 1;
    this.depth = depth;
    this.inHeader = true;
    this.headerLines = 0;
    this.headerBytes = 0;
    this.capturing = undefined;
    this.contentType = '';
    this.encoding = '';
    if (depth > this.limits.maxMimeDepth) {
      return this.fail('maxMimeDepth', 554, `5.6.0 MIME parts nested more than ${this.limits.maxMimeDepth} levels deep (limit maxMimeDepth)`, `MIME parts nested more than ${this.limits.maxMimeDepth} levels deep`);
    }
    if (this.parts > this.limits.maxMimeParts) {
      return this.fail('maxMimeParts', 554, `5.6.0 More than ${this.limits.maxMimeParts} MIME parts (limit maxMimeParts)`, `more than ${this.limits.maxMimeParts} MIME parts`);
    }
  }

  private headerTooLarge(): void {
    this.fail('maxHeaderSize', 552, `5.3.4 A header block is larger than ${this.limits.maxHeaderSize} bytes (limit maxHeaderSize)`, `a header block larger than ${this.limits.maxHeaderSize} bytes`);
  }

  private fail(limit: keyof StructureLimits, code: 552 | 554, reply: string, reason: string): void {
    this.violation ??= { limit, max: this.limits[limit], code, reply, reason };
  }
}

/**
 * The boundary parameter of a Content-Type value: `boundary=x`, `boundary="x"`, or split
 * into RFC 2231 sections (`boundary*0="a"; boundary*1="b"`, `boundary*=''x`), which parsers
 * join and so must this.
 */
export function boundaryOf(contentType: string): string | undefined {
  const sections = new Map<number, string>();
  let plain: string | undefined;
  const parameter = /;\s*boundary(\*(\d+))?(\*)?\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/gi;
  for (const match of contentType.matchAll(parameter)) {
    let value = match[4] !== undefined ? match[4].replace(/\\(.)/g, '$1') : (match[5] ?? '');
    if (match[3]) {
      // Extended value: charset'language'percent-encoded, the prefix in the first section only.
      if (match[2] === undefined || match[2] === '0') value = value.replace(/^[^']*'[^']*'/, '');
      value = value.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (match[2] !== undefined) sections.set(Number(match[2]), value);
    else plain ??= value;
  }
  if (sections.size > 0) {
    let joined = '';
    for (let i = 0; sections.has(i); i += 1) joined += sections.get(i);
    if (joined) return joined;
  }
  return plain || undefined;
}

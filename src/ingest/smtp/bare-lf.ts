const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

type LineEnd = 'crlf' | 'lf' | 'start';

/**
 * Message data from a device that ends lines the Unix way, rewritten for smtp-server, which
 * reads only CRLF: every bare LF becomes CRLF, so `<LF>.<LF>` ends DATA like `<CR><LF>.<CR><LF>`.
 *
 * Devices end every line one way: all CRLF, or all bare LF. A line holding a single dot
 * between two different line endings (`<LF>.<CR><LF>`, `<CR><LF>.<LF>`) is what no device
 * sends and what SMTP smuggling is made of, so it does not end DATA: it is passed on
 * dot-stuffed (`..`), and the message goes on with a line holding one dot.
 *
 * One instance per DATA: state carries over chunk boundaries, so the result is the same
 * however the input is cut. Its output has CRLF line endings only, on which it is the
 * identity (running it twice changes nothing).
 */
export class BareLfData {
  /** How the previous line ended; `start` for the first line of the data. */
  private previousEnd: LineEnd = 'start';
  private atLineStart = true;
  private lastWasCr = false;
  /** A dot (and maybe a CR after it) at the start of a line, held until what follows shows whether it ends DATA. */
  private held: '' | '.' | '.\r' = '';
  /** Lines holding a single dot between two different line endings, in this DATA so far. */
  mixedDotLines = 0;

  transform(chunk: Buffer): Buffer {
    // Most devices end lines with CRLF: up to the last of its lines that do, a chunk is its
    // own output, found by a native search for LF instead of a loop over every byte.
    const clean = this.cleanPrefix(chunk);
    if (clean > 0) {
      this.previousEnd = 'crlf';
      this.atLineStart = true;
      this.lastWasCr = false;
      if (clean === chunk.length) return chunk;
    }
    // A chunk mostly ends inside a line: that part is passed on as it is too, so a 64 KiB read
    // is not copied for the sake of its last few bytes.
    const rest = clean === 0 ? chunk : chunk.subarray(clean);
    if (this.passesUnchanged(rest)) {
      this.atLineStart = false;
      this.lastWasCr = rest[rest.length - 1] === CR;
      return chunk;
    }
    return clean === 0 ? this.rewrite(rest) : Buffer.concat([chunk.subarray(0, clean), this.rewrite(rest)]);
  }

  /**
   * Whether the byte-wise rewrite would give `part` back as it is: nothing held, no LF in it
   * (a CR alone is kept), and no dot that starts a line. Then only where the line stands changes.
   */
  private passesUnchanged(part: Buffer): boolean {
    return part.length > 0 && this.held === '' && !(this.atLineStart && part[0] === DOT) && part.indexOf(LF) === -1;
  }

  /**
   * The length of the chunk's start that the byte-wise rewrite would leave as it is: up to
   * and including the last LF before which every LF follows a CR, when nothing is held and
   * the previous line did not end with a bare LF (a dot line after one may be a mixed one).
   */
  private cleanPrefix(chunk: Buffer): number {
    if (this.held !== '' || this.previousEnd === 'lf') return 0;
    let end = 0;
    for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
      if (!(lf === 0 ? this.lastWasCr : chunk[lf - 1] === CR)) break;
      end = lf + 1;
    }
    return end;
  }

  private rewrite(chunk: Buffer): Buffer {
    // At most two output bytes per input byte, plus the held dot and CR.
    const out = Buffer.allocUnsafe(chunk.length * 2 + 2);
    let o = 0;
    const dotLine = (end: 'crlf' | 'lf') => {
      const mixed = (end === 'crlf' && this.previousEnd === 'lf') || (end === 'lf' && this.previousEnd === 'crlf');
      if (mixed) {
        this.mixedDotLines += 1;
        out[o++] = DOT;
      }
      out[o++] = DOT;
      out[o++] = CR;
      out[o++] = LF;
      this.previousEnd = end;
      this.atLineStart = true;
      this.held = '';
    };
    for (const byte of chunk) {
      if (this.held === '.') {
        if (byte === CR) {
          this.held = '.\r';
          continue;
        }
        if (byte === LF) {
          dotLine('lf');
          continue;
        }
        out[o++] = DOT;
        this.held = '';
        this.atLineStart = false;
      } else if (this.held === '.\r') {
        if (byte === LF) {
          dotLine('crlf');
          continue;
        }
        out[o++] = DOT;
        out[o++] = CR;
        this.held = '';
        this.atLineStart = false;
        this.lastWasCr = true;
      }
      if (this.atLineStart && byte === DOT) {
        this.held = '.';
        continue;
      }
      if (byte === LF) {
        if (!this.lastWasCr) out[o++] = CR;
        out[o++] = LF;
        this.previousEnd = this.lastWasCr ? 'crlf' : 'lf';
        this.atLineStart = true;
        this.lastWasCr = false;
        continue;
      }
      out[o++] = byte;
      this.atLineStart = false;
      this.lastWasCr = byte === CR;
    }
    return out.subarray(0, o);
  }
}

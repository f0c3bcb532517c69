import type { Transform, TransformCallback } from 'node:stream';
import { requireCommonJs } from '../base/commonjs.js';

/**
 * The part of nodemailer's SMTP `DataStream` (smtp-connection/data-stream.js) this module
 * hooks into: a Transform that stuffs dots at the starts of lines and makes every line end
 * CRLF, with byte counters that the send result reports.
 */
interface DataStreamInternals extends Transform {
  inByteCount: number;
  outByteCount: number;
  /** The last byte of the previous chunk; `false` before the first. */
  lastByte: number | false;
}

type TransformMethod = (this: DataStreamInternals, chunk: Buffer | string, encoding: BufferEncoding, done: TransformCallback) => void;

/**
 * A bare CR, a bare LF, or a dot at the start of a line: what makes DataStream insert bytes.
 * Conservative at the chunk's edges (a CR as its last byte, an LF as its first), where the
 * original decides by the neighbouring chunk.
 */
const NEEDS_ESCAPING = /\r(?!\n)|(?<!\r)\n|\n\./;

/** Whether DataStream would pass `chunk` on unchanged, given the byte before it. */
export function passesUnchanged(chunk: Buffer, lastByte: number | false): boolean {
  const first = chunk[0];
  if (lastByte === 0x0d ? first !== 0x0a : first === 0x2e && (lastByte === false || lastByte === 0x0a)) return false;
  // A one-byte string of the chunk: V8's regular expressions scan it at native speed.
  return !NEEDS_ESCAPING.test(chunk.toString('latin1'));
}

let installed = false;

/**
 * nodemailer's DataStream looks at every byte of a message in JavaScript, to stuff dots and
 * mend line ends. The gateway's mail is already CRLF with no line starting with a dot
 * nearly always: a 100 KiB message cost the delivery thread ~1.7 ms there, most of its
 * time. This checks a chunk with one regular expression first, and passes it on as the
 * original would when nothing needs inserting; anything else still goes through the
 * original, so what reaches the upstream does not change (test/deliver/data-stream-fast-path.test.ts
 * compares both). If an upgrade of nodemailer moves the class, nothing is hooked.
 */
export function installDataStreamFastPath(): boolean {
  if (installed) return true;
  const DataStream = requireCommonJs<{ prototype?: { _transform?: TransformMethod } } | undefined>('nodemailer/lib/smtp-connection/data-stream');
  const original = DataStream?.prototype?._transform;
  if (typeof original !== 'function' || !DataStream?.prototype) return false;
  DataStream.prototype._transform = function fastTransform(this: DataStreamInternals, chunk, encoding, done) {
    if (Buffer.isBuffer(chunk) && chunk.length > 0 && typeof this.inByteCount === 'number' && passesUnchanged(chunk, this.lastByte)) {
      this.inByteCount += chunk.length;
      this.outByteCount += chunk.length;
      this.lastByte = chunk[chunk.length - 1]!;
      this.push(chunk);
      done();
      return;
    }
    original.call(this, chunk, encoding, done);
  };
  installed = true;
  return true;
}

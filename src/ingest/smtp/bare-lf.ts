const CR = 0x0d;
const LF = 0x0a;

export interface LineEndingState {
  /** The previous chunk ended with CR, so an LF at the start of this one is not bare. */
  lastWasCr: boolean;
}

/**
 * Turns every bare LF into CRLF across a stream of chunks, so a device that ends lines
 * (and its DATA with `\n.\n`) the Unix way is understood like one that speaks SMTP.
 */
export function crlfFromBareLf(chunk: Buffer, state: LineEndingState): Buffer {
  const isBare = (i: number): boolean => chunk[i] === LF && (i === 0 ? !state.lastWasCr : chunk[i - 1] !== CR);
  let bare = 0;
  for (let i = 0; i < chunk.length; i += 1) if (isBare(i)) bare += 1;
  let result = chunk;
  if (bare > 0) {
    result = Buffer.allocUnsafe(chunk.length + bare);
    let o = 0;
    for (let i = 0; i < chunk.length; i += 1) {
      if (isBare(i)) result[o++] = CR;
      result[o++] = chunk[i]!;
    }
  }
  if (chunk.length > 0) state.lastWasCr = chunk[chunk.length - 1] === CR;
  return result;
}

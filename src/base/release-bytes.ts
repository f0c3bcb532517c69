/**
 * Gives the memory of a large Buffer back now, instead of when V8 next collects the old
 * generation. A mail in flight at C=50 lives long enough to be promoted, and the bytes of a
 * promoted Buffer are freed only by a mark-compact: V8 starts one for external memory at
 * 64 MB above the last, so a busy gateway carried tens of MB of dead mail bytes per thread.
 *
 * `ArrayBuffer.prototype.transfer(0)` detaches the buffer and frees what it held; every view
 * of it reads as empty from then on. So: only for bytes the caller owns alone (the store's
 * "handed out once" values, a copy a thread received), after their last use. A Buffer that
 * does not span its whole ArrayBuffer (a slice, a small Buffer from Node's shared pool) is
 * left alone, and so are small ones, which die young anyway.
 */
export function releaseBytes(bytes: Uint8Array): void {
  if (bytes.byteLength < RELEASE_FROM) return;
  const buffer = bytes.buffer as DetachableArrayBuffer;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength || buffer.detached) return;
  buffer.transfer(0);
}

/** Smaller Buffers are not worth the call: they mostly die before a scavenge keeps them. */
export const RELEASE_FROM = 16 * 1024;

/** ES2024's `detached` and `transfer` (every supported Node has them; the project's lib is ES2023). */
interface DetachableArrayBuffer extends ArrayBuffer {
  readonly detached: boolean;
  transfer(newByteLength?: number): ArrayBuffer;
}

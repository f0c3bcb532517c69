/** Where a text was cut: the UTF-8 bytes kept, and those it had. */
export interface TextCut {
  shownBytes: number;
  totalBytes: number;
}

/**
 * At most `maxBytes` UTF-8 bytes of `text`, cut at its last line break before that (never
 * inside a character); `cut` says so when anything was left out.
 */
export function cutText(text: string, maxBytes: number): { text: string; cut?: TextCut } {
  // Cheap early outs: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= maxBytes) return { text };
  const totalBytes = Buffer.byteLength(text, 'utf8');
  if (totalBytes <= maxBytes) return { text };
  // Only the start is encoded: maxBytes + 2 UTF-16 units make at least maxBytes + 2 bytes, of
  // which the first maxBytes + 1 are the text's own even when the slice ends inside a
  // surrogate pair (a device's 100 KiB text was encoded whole, twice per alarm, to keep 16 KiB).
  const bytes = Buffer.from(text.slice(0, maxBytes + 2), 'utf8');
  let end = maxBytes;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  const head = bytes.toString('utf8', 0, end);
  const lastBreak = Math.max(head.lastIndexOf('\n'), head.lastIndexOf('\r'));
  const shown = (lastBreak > 0 ? head.slice(0, lastBreak) : head).replace(/[\r\n]+$/, '');
  return { text: shown, cut: { shownBytes: Buffer.byteLength(shown, 'utf8'), totalBytes } };
}

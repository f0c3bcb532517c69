import { isUtf8 } from 'node:buffer';

/**
 * Devices write 8-bit text without saying which character set it is in (ISO-8859-1 or
 * Windows-1252 in practice: "Störung" as raw 0xF6). Such bytes are not valid UTF-8, so
 * a parser would show U+FFFD. This transcodes the header block, and the body of a
 * single-part text message that declares no charset, from the fallback charset to UTF-8.
 * Valid UTF-8 and declared charsets are left as they are.
 */
export function repairUndeclared8bit(raw: Buffer, fallbackCharset: string): Buffer {
  const split = headerEnd(raw);
  const header = raw.subarray(0, split.headerEnd);
  const separator = raw.subarray(split.headerEnd, split.bodyStart);
  const body = raw.subarray(split.bodyStart);

  const headerNeedsRepair = has8bit(header) && !isUtf8(header);
  const fixedHeader = headerNeedsRepair ? transcode(header, fallbackCharset) : header;

  const headerText = fixedHeader.toString('utf8');
  const contentType = /^content-type:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/im.exec(headerText)?.[1] ?? '';
  const isSinglePartText = contentType === '' || /^\s*text\//i.test(contentType);
  const declaresCharset = /charset\s*=/i.test(contentType);
  const bodyNeedsRepair = isSinglePartText && !declaresCharset && has8bit(body) && !isUtf8(body);
  if (!headerNeedsRepair && !bodyNeedsRepair) return raw;
  return Buffer.concat([fixedHeader, separator, bodyNeedsRepair ? transcode(body, fallbackCharset) : body]);
}

function has8bit(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte >= 0x80) return true;
  return false;
}

// Node 20's TextDecoder decodes the windows-1252 family as plain Latin-1, turning 0x80-0x9F
// into C1 controls; devices mean the Windows characters there (€, „, ", –, ...).
const WINDOWS_1252_C1 = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

function transcode(bytes: Buffer, charset: string): Buffer {
  const decoder = new TextDecoder(charset);
  let text = decoder.decode(bytes);
  if (decoder.encoding === 'windows-1252') text = text.replace(/[\u0080-\u009f]/g, (c) => WINDOWS_1252_C1[c.charCodeAt(0) - 0x80] ?? c);
  return Buffer.from(text, 'utf8');
}

/** Index of the end of the header block and the start of the body (CRLF or bare LF). */
export function headerEnd(raw: Buffer): { headerEnd: number; bodyStart: number } {
  for (let i = 0; i < raw.length; i += 1) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a) return { headerEnd: i + 1, bodyStart: i + 2 };
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return { headerEnd: i + 1, bodyStart: i + 3 };
  }
  return { headerEnd: raw.length, bodyStart: raw.length };
}

import type { MimeAttachment } from './mime-message.js';

const FILENAME = 'original.eml';

/**
 * The device's mail as an attachment. A message/rfc822 part may not be transfer-encoded
 * (RFC 2046 5.2.1), so its bytes go out as they are: line breaks become CRLF (a bare LF or
 * CR from a PLC is what SMTP smuggling is made of). Should it still not be valid 8bit
 * MIME (a NUL byte, a line over 998 octets) it is attached base64-encoded as an opaque
 * file under the same name, which mail clients open just the same.
 */
export function originalAttachment(original: Buffer, options: { opaque?: boolean } = {}): MimeAttachment {
  // A mail the gateway could not decode goes as an opaque file, so that no server or client on the way parses it either.
  if (options.opaque) return { filename: FILENAME, contentType: 'application/octet-stream', content: original };
  // latin1 maps bytes to code units one to one, so this touches line breaks and nothing else.
  const text = original.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  const valid8bit = !text.includes('\u0000') && text.split('\r\n').every((line) => line.length <= 998);
  return valid8bit
    ? { filename: FILENAME, contentType: 'message/rfc822', content: Buffer.from(text, 'latin1') }
    : { filename: FILENAME, contentType: 'application/octet-stream', content: original };
}

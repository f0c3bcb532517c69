import type { Received } from '../ingest/received.js';
import { decodeMail, type DecodedMail } from './decode-mail.js';
import { deviceName } from './device-name.js';

/** The most of an undecodable mail's bytes its notification carries: enough to see what it is, not a second bomb. */
export const UNDECODABLE_ATTACHMENT_LIMIT = 256 * 1024;

/**
 * A device's mail, decoded; or, when the parser fails on it (after the device was told
 * 250), a mail that says so, with the raw mail attached, so that it still reaches people
 * as an alarm ("undecodable mail from <device>") instead of being dropped.
 */
export async function decodeDeviceMail(received: Received, fallbackCharset: string): Promise<DecodedMail> {
  try {
    return await decodeMail(received.raw, fallbackCharset);
  } catch (error) {
    return undecodableMail(received, error instanceof Error ? error.message : String(error));
  }
}

/** The title of the alarm an undecodable mail raises. */
export function undecodableTitle(device: string): string {
  return `Undecodable mail from ${device}`;
}

/** What an undecodable mail becomes: its reason and origin as text, its first bytes as an opaque attachment. */
export function undecodableMail(received: Received, reason: string): DecodedMail {
  const device = deviceName(received, { subject: '', text: '', attachments: [] });
  const size = received.raw.length;
  // A copy: the received message's buffer is not kept alive by a slice of it.
  const original = Buffer.from(received.raw.subarray(0, UNDECODABLE_ATTACHMENT_LIMIT));
  const attached = original.length < size ? `its first ${original.length} of ${size} bytes are attached` : `all ${size} bytes are attached`;
  const text = [
    `The gateway accepted a mail from ${device} (250, queued as ${received.id}) but could not decode it: ${reason}.`,
    '',
    `Client: ${received.peer.address}${received.peer.helo ? `, HELO ${received.peer.helo}` : ''}`,
    `Envelope sender: ${received.envelope.mailFrom ?? '<>'}`,
    `The mail as it came: ${attached} as original.eml.`,
  ].join('\n');
  return {
    subject: undecodableTitle(device),
    text,
    // Opaque, so that no mail client or server on the way parses what the gateway could not.
    attachments: [{ filename: 'original.eml', contentType: 'application/octet-stream', content: original, inline: false }],
    undecodable: { reason, size, original },
  };
}

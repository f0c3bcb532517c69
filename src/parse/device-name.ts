import type { Received } from '../ingest/received.js';
import type { DecodedMail } from './decode-mail.js';

/**
 * A short name for the device: the display name it gave, else the envelope sender's
 * local part, else its HELO name, else its address.
 */
export function deviceName(received: Received, mail: DecodedMail): string {
  const candidates = [mail.from?.name, (mail.from?.address ?? received.envelope.mailFrom ?? '').split('@')[0], received.peer.helo, received.peer.address.replace(/[.:]/g, '-')];
  const chosen = candidates.find((c) => c && c.trim() !== '') ?? 'device';
  // eslint-disable-next-line no-control-regex
  return chosen.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 64) || 'device';
}

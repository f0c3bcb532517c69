import { readFileSync } from 'node:fs';
import { loadConfigOrReport } from './load-config-or-report.js';
import { newId } from '../base/ids.js';
import { openStore } from '../store/open-store.js';
import { StoreError } from '../store/store-error.js';
import { EXIT, usageError } from './exit-codes.js';
import { cutAtLoneDot, fromHeader, hasHeader, headerRecipients, withHeaderFirst, withoutHeader } from './sendmail-input.js';
import { userName } from './user-name.js';

export interface SendOptions {
  /** -f / -r: the envelope sender. */
  from?: string;
  /** -F: the sender's full name, for a message without a From header. */
  fullName?: string;
  /** -t: recipients from the To, Cc and Bcc headers too; Bcc is removed. */
  readRecipients?: boolean;
  /** -i, or -oi: a line with a single dot does not end the input. */
  ignoreDots?: boolean;
  /** -o OPTION: sendmail options; `i` is -i, the others (-oem, -odi, ...) change nothing here. */
  options?: string[];
}

/**
 * Queues a message from standard input straight into the store's inbox, like the
 * sendmail command of a Postfix box: it works whether or not the gateway is running,
 * and the gateway picks it up within its poll interval. It takes the flags scripts and
 * devices pass to sendmail: -t, -i, -oi, -f, -r, -F, and other -o options (ignored).
 */
export async function sendCommand(configFile: string, recipients: string[], options: SendOptions = {}): Promise<number> {
  const config = loadConfigOrReport(configFile);
  if (!config) return EXIT.failure;
  const ignoreDots = options.ignoreDots === true || (options.options ?? []).includes('i');
  let raw: Buffer = readFileSync(0);
  if (!ignoreDots) raw = cutAtLoneDot(raw) ?? raw;
  if (raw.length === 0) {
    process.stderr.write('annunciator send: standard input is empty\n');
    return EXIT.dataErr;
  }

  let rcptTo = [...recipients];
  if (options.readRecipients) {
    for (const address of await headerRecipients(raw)) if (!rcptTo.some((a) => a.toLowerCase() === address.toLowerCase())) rcptTo.push(address);
    raw = withoutHeader(raw, 'Bcc');
  }
  if (rcptTo.length === 0) rcptTo = [...(config.relay.recipients ?? [])];
  if (rcptTo.length === 0) {
    if (options.readRecipients) {
      process.stderr.write('annunciator send: no recipients: the To, Cc and Bcc headers name none (-t), no arguments name any, and relay.recipients is not set\n');
      return EXIT.dataErr;
    }
    return usageError('send', 'no recipients: name them as arguments, use -t to take them from the headers, or set relay.recipients in the configuration');
  }
  if (options.fullName !== undefined && !hasHeader(raw, 'From')) {
    // As Postfix does: -F only names the sender of a message that does not say who it is from.
    raw = withHeaderFirst(raw, fromHeader(options.fullName, options.from ?? `${userName()}@${config.gateway.domain}`));
  }

  const limit = Math.max(...config.listeners.map((l) => l.limits.maxMessageSize));
  if (raw.length > limit) {
    process.stderr.write(`annunciator send: message of ${raw.length} bytes exceeds the size limit of ${limit} bytes\n`);
    return EXIT.dataErr;
  }
  const store = openStore(config);
  try {
    const id = newId();
    await store.accept({
      id,
      receivedAt: Date.now(),
      listener: 'cli',
      peer: { address: '127.0.0.1', port: 0, helo: 'localhost', secure: false },
      envelope: { mailFrom: options.from ?? null, rcptTo },
      raw,
    });
    process.stdout.write(`queued as ${id}\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    // As sendmail does when it cannot queue: EX_TEMPFAIL, try again later.
    process.stderr.write(`annunciator send: the store cannot take the message now: ${error.message}\n`);
    return EXIT.tempFail;
  } finally {
    await store.close();
  }
}

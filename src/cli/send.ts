import { readFileSync } from 'node:fs';
import { usageError } from './exit-codes.js';
import { loadConfigOrReport } from './load-config-or-report.js';
import { newId } from '../base/ids.js';
import { openStore } from '../store/open-store.js';
import { StoreError } from '../store/store-error.js';

/**
 * Queues a message from standard input straight into the store's inbox, like the
 * sendmail command of a Postfix box: it works whether or not the gateway is running,
 * and the gateway picks it up within its poll interval.
 */
export async function sendCommand(configFile: string, recipients: string[], from: string | undefined): Promise<number> {
  const config = loadConfigOrReport(configFile);
  if (!config) return 1;
  const rcptTo = recipients.length > 0 ? recipients : (config.relay.recipients ?? []);
  if (rcptTo.length === 0) {
    return usageError('send', 'no recipients: name them as arguments or set relay.recipients in the configuration');
  }
  const raw = readFileSync(0);
  if (raw.length === 0) {
    process.stderr.write('annunciator send: standard input is empty\n');
    return 65;
  }
  const limit = Math.max(...config.listeners.map((l) => l.limits.maxMessageSize));
  if (raw.length > limit) {
    process.stderr.write(`annunciator send: message of ${raw.length} bytes exceeds the size limit of ${limit} bytes\n`);
    return 65;
  }
  const store = openStore(config);
  try {
    const id = newId();
    await store.accept({
      id,
      receivedAt: Date.now(),
      listener: 'cli',
      peer: { address: '127.0.0.1', port: 0, helo: 'localhost', secure: false },
      envelope: { mailFrom: from ?? null, rcptTo },
      raw,
    });
    process.stdout.write(`queued as ${id}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    // As sendmail does when it cannot queue: EX_TEMPFAIL, try again later.
    process.stderr.write(`annunciator send: the store cannot take the message now: ${error.message}\n`);
    return 75;
  } finally {
    await store.close();
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { OutboxSummary } from '../../src/store/store.js';
import { sendAsDevice } from './device-client.js';
import { FakeClock } from './fake-clock.js';
import { freePort } from './free-port.js';
import { REPO_ROOT } from './gateway-process.js';
import { configFrom, eventually, runGateway, type TestDir } from './gateway.js';

export interface DeviceMailIn {
  from: string;
  to: string;
  subject: string;
  body?: string;
}

export interface StoredAlarms {
  /** The configuration the CLI runs with: the shipped one with its rules, the store in the test's folder. */
  configFile: string;
  dataDir: string;
  /** In the order the mails were sent. */
  alarms: Alarm[];
  /** Pending after one failed attempt each: the upstream refuses connections. */
  outbox: OutboxSummary[];
}

/**
 * Alarms in a real store for the commands that read them: the whole gateway (shipped
 * rules, alarms.timeZone Europe/Berlin) runs on a fake clock that starts at `start`, the
 * mails arrive over SMTP one fake second apart, and every notification stays pending
 * because the upstream port refuses connections (retry in an hour). The gateway is stopped
 * before this returns, so the commands are the only ones using the store.
 */
export async function alarmsInStore(dir: TestDir, start: number, mails: DeviceMailIn[]): Promise<StoredAlarms> {
  const raw = parse(readFileSync(join(REPO_ROOT, 'config/annunciator.yaml'), 'utf8')) as Record<string, unknown>;
  const dataDir = join(dir.path, 'data');
  raw.gateway = { ...(raw.gateway as object), dataDir };
  raw.log = { level: 'error', format: 'json' };
  raw.listeners = [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }];
  raw.http = { listen: { address: '127.0.0.1', port: 0 } };
  raw.alarms = { ...(raw.alarms as object), rulesDir: join(REPO_ROOT, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false };
  raw.delivery = {
    retry: { initialDelay: '1h', maxDelay: '1h', maxAge: '2d', jitter: 0 },
    accounts: [{ name: 'down', host: '127.0.0.1', port: await freePort(), security: 'none' }],
  };
  const configFile = dir.write('cli-alarms.yaml', stringify(raw));
  const clock = new FakeClock(start);
  const gateway = await runGateway(configFrom(dir, raw), undefined, { clock });
  try {
    const alarms: Alarm[] = [];
    for (const mail of mails) {
      const sent = await sendAsDevice({ port: gateway.port, mailFrom: mail.from, rcptTo: [mail.to], data: Buffer.from(`Subject: ${mail.subject}\r\n\r\n${mail.body ?? mail.subject}\r\n`) });
      if (!/^250 /.test(sent.dataReply ?? '')) throw new Error(`the gateway refused ${mail.subject}: ${sent.dataReply}`);
      const alarm = await eventually(async () => (await gateway.store.alarms.list(['active'])).find((a) => a.title === mail.subject), 10_000, `the alarm "${mail.subject}"`);
      alarms.push(alarm);
      await clock.advance(1000);
    }
    const outbox = await eventually(
      async () => {
        const entries = await gateway.store.outbox.list(['pending', 'sending', 'failed', 'sent']);
        return entries.length >= mails.length && entries.every((e) => e.status === 'pending' && e.attempts >= 1) && entries;
      },
      10_000,
      'a failed first attempt of every notification',
    );
    return { configFile, dataDir, alarms, outbox };
  } finally {
    await gateway.stop();
  }
}

/** Runs `fn` on the store the CLI commands use, opened for it alone and closed after. */
export async function withStoredStore<T>(stored: StoredAlarms, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = SqliteStore.open(stored.dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

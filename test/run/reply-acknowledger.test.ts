import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { ReplyAccountConfig } from '../../src/config/types.js';
import { Secret } from '../../src/config/secret.js';
import { ReplyAcknowledger } from '../../src/run/reply-acknowledger.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { createLogger } from '../../src/log/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { testDir } from '../helpers/gateway.js';
import { alarmRecord } from '../helpers/alarm-factory.js';
import { acknowledge, acknowledger, alarmsWith, commitPipeline } from '../helpers/store.js';

const dir = testDir();
after(() => dir.remove());
const NOW = Date.UTC(2026, 10, 24, 3, 20, 0);

const ACCOUNT: ReplyAccountConfig = {
  name: 'plant',
  host: '127.0.0.1',
  port: 993,
  security: 'tls',
  auth: { type: 'login', user: 'alarms', password: new Secret('pw') },
  tls: { minVersion: 'TLSv1.2', ca: [] },
  connectionTimeout: 1000,
  folder: 'INBOX',
  processed: { flags: ['$AnnunciatorDone', '\\Seen'] },
  pollInterval: 60_000,
  reconnect: { initialDelay: 1000, maxDelay: 60_000 },
  ackWords: ['ACK', 'OK', 'ACKNOWLEDGE'],
  allowFrom: [],
};

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, {
    device: { id: 'plc-line4', name: 'PLC Line 4', matchedBy: 'sender' },
    title: 'Motor M12 overtemperature',
    severity: 'critical',
    firstSeen: NOW - 600_000,
    notifications: 2,
    countAtLastNotification: 1,
    receivers: ['maintenance@example.com'],
    rules: ['motors'],
    ...overrides,
  });
}

function reply(alarmId: string, from: string, text: string): Buffer {
  return Buffer.from(
    [`From: ${from}`, 'Subject: Re: Motor M12 overtemperature', 'Message-ID: <r1@mail.example.com>', `In-Reply-To: <${alarmId}.2@gw.test>`, '', text, ''].join('\r\n'),
  );
}

/** `view`: what the acknowledger reads through (by default the store itself). */
function setup(name: string, view: (store: SqliteStore) => Pick<Store, 'alarms'> = (store) => store) {
  const store = SqliteStore.open(join(dir.path, name));
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    format: 'json',
    destination: new Writable({
      write(chunk: Buffer, _e, callback) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    }),
  });
  const acknowledged: Alarm[] = [];
  const ingest = new ReplyAcknowledger({ account: ACCOUNT, domain: 'gw.test', store: view(store), acknowledge: acknowledger(store, acknowledged), logger, now: () => NOW });
  return { store, lines, acknowledged, ingest };
}

/** An alarm with its first notification to maintenance and a level-1 escalation to tom in the outbox. */
async function seed(store: SqliteStore, id: string): Promise<void> {
  await store.accept({ id: `R-${id}`, receivedAt: NOW - 600_000, listener: 'lan', peer: { address: '10.0.0.4', port: 1, secure: false }, envelope: { mailFrom: 'plc@plant.local', rcptTo: [] }, raw: Buffer.from('x') });
  const entry = (n: number, recipients: string[]) => ({ id: `O-${id}-${n}`, receivedId: `R-${id}`, alarmId: id, envelopeFrom: 'alarms@gw.test', recipients, message: Buffer.from('m') });
  await commitPipeline(store, `R-${id}`, { alarm: alarm(id), outcome: 'raised', reason: 'new alarm', outbox: [entry(1, ['maintenance@example.com']), entry(2, [' Tom.Keller@Example.com'])] }, NOW - 600_000);
}

describe('ReplyAcknowledger: a reply read from the mailbox', () => {
  it('store.alarmRecipients: every address an outbox entry of the alarm went to, lower-case, once', async () => {
    const { store } = setup('recipients');
    await seed(store, 'A1');
    assert.deepEqual(await store.alarms.recipients('A1'), ['maintenance@example.com', 'tom.keller@example.com']);
    assert.deepEqual(await store.alarms.recipients('NONE'), []);
    await store.close();
  });

  it('acknowledges when an escalation receiver replies, and calls the gateway hook once', async () => {
    const { store, lines, acknowledged, ingest } = setup('ack');
    await seed(store, 'A1');
    await ingest.handle({ uid: 7, source: reply('A1', 'Tom Keller <tom.keller@example.com>', 'ACK on my way'), truncated: false });
    const stored = (await store.alarms.get('A1'))!;
    assert.deepEqual(stored.ack, { by: 'Tom Keller <tom.keller@example.com>', at: NOW, channel: 'mail', comment: 'on my way', ref: '<r1@mail.example.com>' });
    assert.deepEqual(acknowledged.map((a) => a.id), ['A1']);
    const line = lines.find((l) => l.msg === 'alarm acknowledged by reply')!;
    assert.equal(line.alarmId, 'A1');
    assert.equal(line.uid, 7);
    assert.equal(line.account, 'plant');
    assert.deepEqual(ingest.stats, { read: 1, acknowledged: 1, ignored: {} });

    // The same reply again (e.g. its flags were lost): the first ack stays, nothing is announced twice.
    await ingest.handle({ uid: 7, source: reply('A1', 'Tom Keller <tom.keller@example.com>', 'ACK on my way'), truncated: false });
    assert.equal(acknowledged.length, 1);
    assert.deepEqual(ingest.stats.ignored, { 'already-acknowledged': 1 });
    assert.equal((await store.alarms.history('A1')).filter((h) => h.outcome === 'acknowledged').length, 1);
    await store.close();
  });

  it('a reply that loses the race to another channel is logged as already acknowledged', async () => {
    // The CLI acknowledges between the decision and the write.
    let reads = 0;
    const { store, lines, acknowledged, ingest } = setup('race', (store) => ({
      alarms: alarmsWith(store.alarms, async (id) => {
        reads += 1;
        const found = await store.alarms.get(id);
        if (reads === 1) await acknowledge(store, id, { by: 'anna', at: NOW - 1, channel: 'cli' }, NOW - 1);
        return found;
      }),
    }));
    await seed(store, 'A1');
    await ingest.handle({ uid: 8, source: reply('A1', 'maintenance@example.com', 'OK'), truncated: false });
    assert.equal((await store.alarms.get('A1'))?.ack?.by, 'anna');
    assert.equal(acknowledged.length, 0);
    const line = lines.find((l) => l.reason === undefined && typeof l.msg === 'string' && l.msg.includes('acknowledged meanwhile by another channel'));
    assert.equal(line?.alarmId, 'A1');
    assert.equal(line?.ackedVia, 'cli');
    await store.close();
  });

  it('logs a stranger as a warning naming the alarm, and does not acknowledge', async () => {
    const { store, lines, ingest } = setup('stranger');
    await seed(store, 'A1');
    await ingest.handle({ uid: 9, source: reply('A1', 'mallory@evil.example', 'ACK'), truncated: false });
    assert.equal((await store.alarms.get('A1'))?.ack, undefined);
    const line = lines.find((l) => l.reason === 'stranger')!;
    assert.equal(line.level, 40);
    assert.equal(line.alarmId, 'A1');
    assert.equal(line.from, 'mallory@evil.example');
    await store.close();
  });
});

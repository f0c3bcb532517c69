import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';
import { shippedConfig } from '../helpers/shipped-config.js';

const gate = await postgresGate();
const shipped = shippedConfig();

function header(message: UpstreamMessage | undefined, name: string): string {
  const value = message?.parsed.headers.get(name);
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

/**
 * The whole gateway (SMTP in, the shipped rules and templates, SMTP out) with its store on
 * a real PostgreSQL, reached through a TCP proxy the test can cut: what a device sees while
 * the database is away, and that the gateway carries on when it is back.
 */
describe('the gateway on PostgreSQL', { skip: gate.skip }, () => {
  const dir = testDir();
  let db: TestDatabase;
  let proxy: TcpProxy;
  let upstream: Upstream;
  let gateway: RunningGateway;

  const sendCorpus = async (file: string): Promise<void> => {
    const mail = loadCorpus().find((m) => m.file === file)!;
    const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
  };

  const send = (subject: string, body = 'UPS on battery') =>
    sendAsDevice({ port: gateway.port, mailFrom: 'plc-line4@plant.local', rcptTo: ['maintenance@example.com'], data: Buffer.from(`Subject: ${subject}\r\n\r\n${body}\r\n`, 'utf8') });

  const settled = async (): Promise<void> => {
    await eventually(async () => (await gateway.store.inbox.pending(1)).length === 0, 20_000, 'inbox drained');
    await eventually(async () => (await gateway.store.outbox.list(['pending', 'sending'])).length === 0, 20_000, 'outbox drained');
  };

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
    const { host, port, user, database } = db.connection();
    proxy = new TcpProxy({ host, port });
    await proxy.start();
    upstream = await startUpstream({ security: 'none' });
    cpSync(join(REPO_ROOT, 'rules'), join(dir.path, 'rules'), { recursive: true });
    gateway = await runGateway(
      configFrom(dir, {
        ...shipped,
        gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
        store: { url: `postgres://${user}@127.0.0.1:${proxy.port}/${database}`, security: 'none' },
        log: { level: 'error', format: 'json' },
        listeners: loopbackListeners(),
        alarms: { ...(shipped.alarms as object), rulesDir: join(dir.path, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false },
        delivery: relayDelivery(upstream.port),
      }),
    );
  });
  after(async () => {
    await gateway?.stop();
    await proxy?.cut();
    await upstream?.close();
    await db?.drop();
    dir.remove();
  });

  it('runs on PostgreSQL: a mail in gives its notification out, repeats fold into one alarm, the clear resolves it', async () => {
    assert.ok(gateway.store instanceof PostgresStore);
    for (let i = 0; i < 3; i += 1) await sendCorpus('ups-on-battery.eml');
    await settled();
    const [firing, ...more] = upstream.messages;
    assert.equal(more.length, 0, upstream.messages.map((m) => m.parsed.subject).join(' / '));
    assert.equal(header(firing, 'x-annunciator-kind'), 'firing');
    const alarmId = header(firing, 'x-annunciator-alarm');
    assert.equal((await gateway.store.alarms.get(alarmId))?.count, 3);
    // The rows are in the database, not in the process.
    const [row] = await db.query<{ state: string; count: string }>(`SELECT state, data->>'count' AS count FROM alarms WHERE id = $1`, [alarmId]);
    assert.deepEqual(row, { state: 'active', count: '3' });
    await sendCorpus('ups-back-on-line.eml');
    await settled();
    assert.deepEqual(upstream.messages.map((m) => header(m, 'x-annunciator-kind')), ['firing', 'resolved']);
    assert.equal(header(upstream.messages[1], 'x-annunciator-alarm'), alarmId, 'one alarm');
    assert.equal((await gateway.store.alarms.get(alarmId))?.state, 'resolved');
    assert.deepEqual((await gateway.store.alarms.history(alarmId)).map((l) => l.outcome), ['raised', 'repeat-folded', 'repeat-folded', 'resolved']);
    const mail = await db.query<{ state: string }>(`SELECT state FROM received ORDER BY received_at`);
    assert.deepEqual(mail.map((m) => m.state), ['processed', 'processed', 'processed', 'processed']);
  });

  it('while the database is unreachable devices hear 451, never 250; when it is back the mail sent again goes through', async () => {
    const before = upstream.messages.length;
    await proxy.cut();
    try {
      const refused = await send('ALARM Line 2 pump P1 dry run');
      assert.match(refused.dataReply ?? '', /^451 /, refused.replies.join(' | '));
      await eventually(() => gateway.store.health().ok === false, 10_000, 'health down');
    } finally {
      await proxy.start();
    }
    const retried = await send('ALARM Line 2 pump P1 dry run');
    assert.match(retried.dataReply ?? '', /^250 /, retried.replies.join(' | '));
    await settled();
    const sent = upstream.messages.slice(before);
    assert.deepEqual(
      sent.map((m) => m.parsed.subject?.includes('P1') && header(m, 'x-annunciator-kind')),
      ['firing'],
      'one notification: the refused attempt left nothing behind',
    );
    assert.deepEqual(gateway.store.health(), { ok: true });
  });

  it('an alarm whose subject carries a NUL byte is kept and notified, not lost', async () => {
    const before = upstream.messages.length;
    const subject = Buffer.from('ALARM Line 5 valve V7\u0000 stuck', 'utf8').toString('base64');
    assert.match((await send(`=?UTF-8?B?${subject}?=`)).dataReply ?? '', /^250 /);
    await settled();
    const sent = upstream.messages.slice(before);
    assert.equal(sent.length, 1, 'notified');
    const alarm = await gateway.store.alarms.get(header(sent[0], 'x-annunciator-alarm'));
    assert.ok(alarm?.title.includes('V7'), alarm?.title);
    const [rejected] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM received WHERE state = 'rejected'`);
    assert.equal(rejected?.n, 0);
  });
});

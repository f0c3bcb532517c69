import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { signAckToken } from '../../src/base/ack-token.js';
import { escapeHtml } from '../../src/api/ack-page.js';
import { startHttpServer, type HttpServer } from '../../src/api/server.js';
import { Secret } from '../../src/config/secret.js';
import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { createLogger } from '../../src/log/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { testDir } from '../helpers/gateway.js';
import { alarmRecord } from '../helpers/alarm-factory.js';
import { acknowledger, commitPipeline } from '../helpers/store.js';

const dir = testDir();
const KEY = 'a-link-secret-of-more-than-32-bytes-for-tests';
const T0 = Date.UTC(2026, 10, 24, 2, 14, 7);
const HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>';

function received(id: string): Received {
  return { id, receivedAt: T0, listener: 'lan', peer: { address: '127.0.0.1', port: 2525, secure: false }, envelope: { mailFrom: null, rcptTo: [] }, raw: Buffer.from('x') };
}

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, {
    device: { id: 'plc-line4', name: 'PLC Line 4', site: 'Line4', area: 'Hall 1', matchedBy: 'sender' },
    title: 'Motor M12 overtemperature',
    severity: 'critical',
    count: 3,
    firstSeen: T0,
    lastSeen: T0 + 60_000,
    firstEventId: 'R1',
    lastEventId: 'R1',
    notifications: 1,
    countAtLastNotification: 1,
    ...overrides,
  });
}

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

describe('the acknowledgement link server', () => {
  const store = SqliteStore.open(join(dir.path, 'data'));
  const logLines: LogLine[] = [];
  const logger = createLogger({ level: 'info', format: 'json', destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as LogLine);
        done();
      },
    }),
  });
  let clock = T0 + 120_000;
  let server: HttpServer;
  let base: string;
  const acknowledged: Alarm[] = [];
  const token = (alarmId: string, receiver = 'line4-oncall', expiresAt = T0 + 7 * 86_400_000, key = KEY): string => signAckToken({ alarmId, receiver, expiresAt }, key);

  before(async () => {
    await store.accept(received('R1'));
    await commitPipeline(store, 'R1', { alarm: alarm('A1'), outcome: 'raised', reason: 'new', outbox: [] }, T0);
    await store.accept(received('R2'));
    await commitPipeline(store, 'R2', { alarm: alarm('A2', { fingerprint: 'fp-A2', title: HOSTILE, device: { id: 'x', name: '"Dev" <b>', matchedBy: 'sender' } }), outcome: 'raised', reason: 'new', outbox: [] }, T0);
    server = await startHttpServer({
      listen: { address: '127.0.0.1', port: 0 },
      linkKey: new Secret(KEY),
      store,
      acknowledge: acknowledger(store, acknowledged),
      logger,
      format: { timeZone: 'Europe/Berlin', locale: 'en-GB' },
      now: () => clock,
    });
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    await server.close();
    await store.close();
    dir.remove();
  });

  function assertSecurityHeaders(response: Response): void {
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /style-src 'unsafe-inline'/);
    assert.match(csp, /form-action 'self'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  }

  it('GET shows the alarm and a confirm form, and acknowledges nothing', async () => {
    const response = await fetch(`${base}/ack/${token('A1')}`);
    assert.equal(response.status, 200);
    assertSecurityHeaders(response);
    const html = await response.text();
    assert.match(html, /Motor M12 overtemperature/);
    assert.match(html, /PLC Line 4 \(Line4, Hall 1\)/);
    assert.match(html, /critical/);
    assert.match(html, /<th>State<\/th><td>active<\/td>/);
    assert.match(html, /<th>Count<\/th><td>3<\/td>/);
    assert.match(html, /<th>First seen<\/th><td>Tue 24 Nov 2026 03:14:07 CET<\/td>/);
    assert.match(html, /<th>Acknowledged<\/th><td>not yet<\/td>/);
    assert.match(html, /<form method="post">/);
    assert.match(html, /<button type="submit">/);
    assert.equal((await store.alarms.get('A1'))?.ack, undefined, 'a GET (a mail scanner following the link) must not acknowledge');
    const head = await fetch(`${base}/ack/${token('A1')}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await store.alarms.get('A1'))?.ack, undefined);
  });

  it('POST acknowledges with channel link, by the receiver in the token', async () => {
    clock = T0 + 300_000;
    const response = await fetch(`${base}/ack/${token('A1')}`, { method: 'POST', body: new URLSearchParams(), redirect: 'manual' });
    assert.equal(response.status, 200);
    assertSecurityHeaders(response);
    const html = await response.text();
    assert.match(html, /Acknowledged by <b>line4-oncall<\/b>/);
    const ack = (await store.alarms.get('A1'))?.ack;
    assert.deepEqual(ack, { by: 'line4-oncall', channel: 'link', at: T0 + 300_000, ref: 'link' });
    assert.deepEqual((await store.alarms.history('A1')).map((l) => l.outcome), ['raised', 'acknowledged']);
    assert.deepEqual(acknowledged.map((a) => a.id), ['A1']);
    assert.ok(logLines.some((l) => l.msg === 'alarm acknowledged by link'));
  });

  it('a second POST keeps the first acknowledgement and says so; GET shows who acknowledged', async () => {
    clock = T0 + 400_000;
    const response = await fetch(`${base}/ack/${token('A1', 'tom')}`, { method: 'POST' });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /already acknowledged by <b>line4-oncall<\/b>/);
    assert.equal((await store.alarms.get('A1'))?.ack?.by, 'line4-oncall');
    assert.equal(acknowledged.length, 1);
    const page = await (await fetch(`${base}/ack/${token('A1', 'tom')}`)).text();
    assert.match(page, /Already acknowledged by <b>line4-oncall<\/b>/);
    assert.doesNotMatch(page, /<form/);
  });

  it('refuses a forged token with 403 and a clear message, and logs it', async () => {
    const before = logLines.length;
    for (const method of ['GET', 'POST']) {
      const response = await fetch(`${base}/ack/${token('A2', 'mallory', T0 + 86_400_000, 'not-the-gateway-key-but-long-enough!!')}`, { method });
      assert.equal(response.status, 403);
      assertSecurityHeaders(response);
      assert.match(await response.text(), /not issued by this gateway, or it was changed\. Nothing was acknowledged/);
    }
    assert.equal((await store.alarms.get('A2'))?.ack, undefined);
    const refusals = logLines.slice(before).filter((l) => l.reason === 'bad-signature');
    assert.equal(refusals.length, 2);
    assert.match(refusals[0]!.msg, /refused \(bad-signature\)/);
  });

  it('refuses a malformed token with 403', async () => {
    const response = await fetch(`${base}/ack/not-a-token`);
    assert.equal(response.status, 403);
    assert.match(await response.text(), /damaged or incomplete/);
  });

  it('refuses an expired token with 410', async () => {
    const response = await fetch(`${base}/ack/${token('A2', 'line4-oncall', clock - 1)}`, { method: 'POST' });
    assert.equal(response.status, 410);
    assertSecurityHeaders(response);
    assert.match(await response.text(), /has expired\. Nothing was acknowledged/);
    assert.equal((await store.alarms.get('A2'))?.ack, undefined);
    assert.ok(logLines.some((l) => l.reason === 'expired'));
  });

  it('answers 404 for an alarm not in the store, and for other paths', async () => {
    const missing = await fetch(`${base}/ack/${token('NO-SUCH-ALARM')}`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /no alarm NO-SUCH-ALARM/);
    const other = await fetch(`${base}/`);
    assert.equal(other.status, 404);
    assertSecurityHeaders(other);
  });

  it('refuses other methods with 405', async () => {
    const response = await fetch(`${base}/ack/${token('A1')}`, { method: 'DELETE' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD, POST');
  });

  it('escapes a hostile title and device name', async () => {
    const html = await (await fetch(`${base}/ack/${token('A2', '<i>eve</i>')}`)).text();
    assert.doesNotMatch(html, /<script>|<img|<i>eve/);
    assert.ok(html.includes(escapeHtml(HOSTILE)));
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src&#61;x onerror&#61;alert(1)&gt;'));
    assert.ok(html.includes('&quot;Dev&quot; &lt;b&gt;'));
    assert.ok(html.includes('&lt;i&gt;eve&lt;/i&gt;'));
  });
});

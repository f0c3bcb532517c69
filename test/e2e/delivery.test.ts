import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, afterEach, describe, it } from 'node:test';
import { createCa, createSelfSigned } from '../helpers/certs.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { freePort, heldPort } from '../helpers/free-port.js';
import { baseConfig, configFrom, eventually, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { startTokenEndpoint } from '../helpers/token-endpoint.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import type { OutboxSummary } from '../../src/store/store.js';

const ca = createCa();
const PASSWORD = 'app-password-123';

function alarm(subject: string): Buffer {
  return Buffer.from(`Subject: ${subject}\r\n\r\nMotor M12 winding temperature 142 C.\r\n`);
}

async function sendAlarm(gateway: RunningGateway, subject: string, rcptTo = ['oncall@example.com']): Promise<void> {
  const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo, data: alarm(subject) });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

function account(name: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, host: 'localhost', port, security: 'tls', auth: { user: 'alarms@example.com', password: { env: 'PW' } }, tls: { ca: ['ca.pem'] }, ...extra };
}

interface Harness {
  dir: TestDir;
  gateway: RunningGateway;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `clock`: a fake clock for the retry schedule (delivery.retry: 50 ms, doubling, at most 200 ms). */
async function gatewayWith(accounts: Record<string, unknown>[], env: NodeJS.ProcessEnv = { PW: PASSWORD }, retry?: Record<string, unknown>, clock?: FakeClock): Promise<Harness> {
  const dir = testDir();
  dir.write('ca.pem', ca.cert);
  const raw = baseConfig(dir, { delivery: { accounts, ...(retry ? { retry } : {}) } });
  const gateway = await runGateway(configFrom(dir, raw, env), undefined, clock ? { clock } : {});
  cleanups.push(() => dir.remove(), () => gateway.stop());
  return { dir, gateway };
}

async function upstreamWith(options: Parameters<typeof startUpstream>[0], port?: number): Promise<Upstream> {
  const upstream = await startUpstream(options, port);
  // Closed after every gateway of the test has stopped, whichever started first: a gateway
  // still holding a pooled connection would keep smtp-server's close waiting 30 s for it.
  cleanups.unshift(() => upstream.close());
  return upstream;
}

/** The one outbox entry of a test, once the pipeline has queued it. */
async function onlyEntry(gateway: RunningGateway): Promise<OutboxSummary> {
  const entries = await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed']);
  assert.ok(entries.length <= 1, `expected one outbox entry, found ${entries.length}`);
  return entries[0] ?? ({ status: 'queued', attempts: 0, lastError: null, lastAccount: null, rejectedRecipients: [] } as unknown as OutboxSummary);
}

/** The one entry once `attempts` attempts are recorded and it waits for the next (real I/O settles; the clock stands still). */
function pendingAfter(gateway: RunningGateway, attempts: number): Promise<OutboxSummary> {
  return eventually(async () => {
    const entry = await onlyEntry(gateway);
    return entry.status === 'pending' && entry.attempts === attempts ? entry : undefined;
  }, 10_000, `attempt ${attempts} recorded`);
}

/** The outbox worker sleeps at least this long (outbox-worker.ts): a wake-up computed a moment before the due time lands this much after it. */
const WAKE_FLOOR = 5;

/** Moves the clock to just before the entry's next attempt, checks nothing was tried, then onto it (within the worker's wake floor). */
async function untilNextAttempt(clock: FakeClock, gateway: RunningGateway, entry: OutboxSummary): Promise<void> {
  assert.ok(entry.nextAttemptAt > clock.now(), 'the next attempt lies ahead');
  await clock.advance(entry.nextAttemptAt - clock.now() - 1);
  assert.equal((await onlyEntry(gateway)).attempts, entry.attempts, 'not tried again before the retry delay');
  await clock.advance(1 + WAKE_FLOOR);
}

describe('delivery through upstream providers', () => {
  after(() => undefined);

  it('relays through STARTTLS (587-style) with LOGIN authentication', async () => {
    const upstream = await upstreamWith({ security: 'starttls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: PASSWORD } });
    const { gateway } = await gatewayWith([account('m365', upstream.port, { security: 'starttls', auth: { type: 'login', user: 'alarms@example.com', password: { env: 'PW' } } })]);
    await sendAlarm(gateway, 'starttls alarm');
    const [message] = await upstream.waitForMessages(1);
    assert.equal(message?.parsed.subject, 'starttls alarm');
    assert.equal(message?.authMethod, 'LOGIN');
    await eventually(async () => (await onlyEntry(gateway)).status === 'sent', 5000, 'entry marked sent');
  });

  it('refuses to send to a STARTTLS account when the upstream does not offer STARTTLS', async () => {
    const upstream = await upstreamWith({ security: 'none', auth: undefined });
    const { gateway } = await gatewayWith([account('lan', upstream.port, { security: 'starttls', auth: undefined })]);
    await sendAlarm(gateway, 'must not go in plaintext');
    const entry = await eventually(async () => {
      const e = await onlyEntry(gateway);
      return e.attempts >= 1 && e.status === 'pending' && e.lastError ? e : undefined;
    });
    assert.match(entry.lastError ?? '', /STARTTLS|TLS/i);
    assert.equal(upstream.messages.length, 0);
  });

  it('signs in with OAuth2 (XOAUTH2) using a token from the token endpoint', async () => {
    const tokens = await startTokenEndpoint({ clientId: 'client-1', clientSecret: 'client-secret', refreshToken: 'refresh-1' });
    cleanups.push(() => tokens.close());
    const upstream = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', accessToken: () => tokens.currentToken() } });
    const { gateway } = await gatewayWith(
      [
        account('gmail', upstream.port, {
          auth: { type: 'oauth2', user: 'alarms@example.com', clientId: 'client-1', clientSecret: { env: 'CS' }, refreshToken: { env: 'RT' }, tokenUrl: tokens.url, scope: 'https://mail.example/.default' },
        }),
      ],
      { CS: 'client-secret', RT: 'refresh-1' },
    );
    await sendAlarm(gateway, 'oauth alarm 1');
    await upstream.waitForMessages(1);
    await sendAlarm(gateway, 'oauth alarm 2');
    const messages = await upstream.waitForMessages(2);
    assert.ok(messages.every((m) => m.authMethod === 'XOAUTH2'));
    assert.equal(tokens.requests[0]?.get('scope'), 'https://mail.example/.default');
    assert.equal(tokens.requests.length, 1, 'the access token is reused until it expires');
  });

  it('does not deliver to an upstream whose certificate it cannot verify', async () => {
    const upstream = await upstreamWith({ security: 'tls', tls: createSelfSigned('mail.plant.local'), auth: { user: 'alarms@example.com', pass: PASSWORD } });
    const { gateway } = await gatewayWith([account('plant', upstream.port, { tls: {} })]);
    await sendAlarm(gateway, 'self-signed upstream');
    const entry = await eventually(async () => {
      const e = await onlyEntry(gateway);
      return e.status === 'pending' && e.lastError ? e : undefined;
    });
    assert.match(entry.lastError ?? '', /self.signed|certificate/i);
    assert.equal(upstream.messages.length, 0);
    assert.equal(upstream.authFailures, 0, 'no credentials were sent to the unverified server');
  });

  it('delivers to a self-signed upstream once its certificate is pinned, and refuses a different one', async () => {
    const real = createSelfSigned('mail.plant.local');
    const impostor = createSelfSigned('mail.plant.local');
    const upstream = await upstreamWith({ security: 'tls', tls: real, auth: { user: 'alarms@example.com', pass: PASSWORD } });
    const pin = (cert: string, dir: TestDir) => ({ sha256: new X509Certificate(cert).fingerprint256, certificate: dir.write(`pin-${Math.random()}.pem`, cert) });

    const wrongDir = testDir();
    cleanups.push(() => wrongDir.remove());
    const wrong = await gatewayWith([account('plant', upstream.port, { tls: { pin: pin(impostor.cert, wrongDir) } })]);
    await sendAlarm(wrong.gateway, 'pinned to the impostor');
    const entry = await eventually(async () => {
      const e = await onlyEntry(wrong.gateway);
      return e.status === 'pending' && e.lastError ? e : undefined;
    });
    assert.match(entry.lastError ?? '', /certificate|pinned|self.signed/i);
    assert.equal(upstream.messages.length, 0);

    const rightDir = testDir();
    cleanups.push(() => rightDir.remove());
    const right = await gatewayWith([account('plant', upstream.port, { tls: { pin: pin(real.cert, rightDir) } })]);
    await sendAlarm(right.gateway, 'pinned to the real one');
    const [message] = await upstream.waitForMessages(1);
    assert.equal(message?.parsed.subject, 'pinned to the real one');
  });

  it('retries after 451 at the retry delays and delivers exactly once when the upstream recovers', async () => {
    const clock = new FakeClock();
    const upstream = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: PASSWORD }, dataReply: (attempt) => (attempt <= 2 ? 451 : 250) });
    const { gateway } = await gatewayWith([account('provider', upstream.port)], undefined, undefined, clock);
    await sendAlarm(gateway, 'greylisted alarm');
    const first = await pendingAfter(gateway, 1);
    // From the attempt (its outcome's updatedAt), not from where advance() left the clock: a fast
    // send is recorded while the fake clock still stands at the due time of the timer it fired.
    assert.equal(first.nextAttemptAt - first.updatedAt, 50, 'retry.initialDelay');
    await untilNextAttempt(clock, gateway, first);
    const second = await pendingAfter(gateway, 2);
    assert.equal(second.nextAttemptAt - second.updatedAt, 100, 'doubled');
    assert.equal(upstream.dataAttempts, 2);
    await untilNextAttempt(clock, gateway, second);
    await upstream.waitForMessages(1);
    const entry = await eventually(async () => ((await onlyEntry(gateway)).status === 'sent' ? await onlyEntry(gateway) : undefined));
    assert.equal(entry.attempts, 3);
    // Many retry delays later: nothing is sent again.
    await clock.advance(5_000);
    assert.equal(upstream.messages.length, 1, 'delivered exactly once');
    assert.equal(upstream.dataAttempts, 3);
    assert.equal((await onlyEntry(gateway)).attempts, 3);
  });

  it('relays a 100 KiB mail with its body byte for byte, on the first try and on a retry', async () => {
    const clock = new FakeClock();
    // The first DATA is deferred, every later one taken: mail A goes out on its retry (read
    // from the store file), mail B at once (handed from memory right after its accept).
    const upstream = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: PASSWORD }, dataReply: (attempt) => (attempt === 1 ? 451 : 250) });
    const { gateway } = await gatewayWith([account('provider', upstream.port)], undefined, undefined, clock);
    const body = (name: string) => Buffer.from(Array.from({ length: 2000 }, (_, i) => `${name} line ${String(i).padStart(4, '0')}: winding temperature 142 C, limit 130 C\r\n`).join(''));
    const mail = (name: string) => Buffer.concat([Buffer.from(`Subject: large ${name}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`), body(name)]);
    assert.ok(mail('A').length > 100 * 1024);
    const accepted: Buffer[] = [];
    gateway.events.on('received', ({ received }) => accepted.push(received.raw));
    assert.match((await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['oncall@example.com'], data: mail('A') })).dataReply ?? '', /^250 /);
    const deferred = await pendingAfter(gateway, 1);
    assert.match((await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['oncall@example.com'], data: mail('B') })).dataReply ?? '', /^250 /);
    await upstream.waitForMessages(1);
    await clock.advance(deferred.nextAttemptAt - clock.now() + WAKE_FLOOR);
    const delivered = await upstream.waitForMessages(2);
    const bodyOf = (raw: Buffer) => raw.subarray(raw.indexOf('\r\n\r\n') + 4);
    const byName = new Map(delivered.map((m) => [m.parsed.subject, m.raw]));
    assert.ok(bodyOf(byName.get('large B')!).equals(body('B')), 'B, sent at once');
    assert.ok(bodyOf(byName.get('large A')!).equals(body('A')), 'A, sent on its retry');
    // Processed and committed, each mail's bytes were given back at once (the outbox reads its own).
    assert.deepEqual(accepted.map((raw) => raw.byteLength), [0, 0]);
  });

  it('fails an entry at once when the upstream answers 5xx', async () => {
    const upstream = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: PASSWORD }, dataReply: () => 554 });
    const { gateway } = await gatewayWith([account('provider', upstream.port)]);
    await sendAlarm(gateway, 'refused alarm');
    const entry = await eventually(async () => ((await onlyEntry(gateway)).status === 'failed' ? await onlyEntry(gateway) : undefined));
    assert.equal(entry.attempts, 1);
    assert.match(entry.lastError ?? '', /554|refused/i);
  });

  it('holds mail while the upstream is down and delivers when it comes up', async () => {
    const clock = new FakeClock();
    const down = await heldPort();
    const port = down.port;
    const { gateway } = await gatewayWith([account('provider', port)], undefined, undefined, clock);
    await sendAlarm(gateway, 'sent during an outage');
    const first = await pendingAfter(gateway, 1);
    await untilNextAttempt(clock, gateway, first);
    const second = await pendingAfter(gateway, 2);
    assert.match(second.lastError ?? '', /ECONNRESET|ECONNECTION|closed|connect/i);
    await down.release();
    const upstream = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: PASSWORD } }, port);
    assert.equal(upstream.messages.length, 0);
    await untilNextAttempt(clock, gateway, second);
    const [message] = await upstream.waitForMessages(1);
    assert.equal(message?.parsed.subject, 'sent during an outage');
  });

  it('fails over to the second account when the first cannot be used', async () => {
    const broken = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: 'another password' } });
    const backup = await upstreamWith({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: PASSWORD } });
    const down = await freePort();
    const { gateway } = await gatewayWith([account('down', down), account('bad-auth', broken.port), account('backup', backup.port)]);
    await sendAlarm(gateway, 'failover alarm');
    const [message] = await backup.waitForMessages(1);
    assert.equal(message?.parsed.subject, 'failover alarm');
    assert.equal(broken.messages.length, 0);
    assert.equal(broken.authFailures, 1);
    const entry = await eventually(async () => ((await onlyEntry(gateway)).status === 'sent' ? await onlyEntry(gateway) : undefined));
    assert.equal(entry.lastAccount, 'backup');
    assert.equal(entry.attempts, 1);
  });

  it('delivers to accepted recipients once and retries only the one that was deferred', async () => {
    const clock = new FakeClock();
    let busy = true;
    const upstream = await upstreamWith({
      security: 'tls',
      tls: ca.issue('localhost'),
      auth: { user: 'alarms@example.com', pass: PASSWORD },
      rcptReply: (address) => (address === 'busy@example.com' && busy ? 450 : address === 'gone@example.com' ? 550 : 250),
    });
    const { gateway } = await gatewayWith([account('provider', upstream.port)], undefined, undefined, clock);
    await sendAlarm(gateway, 'three recipients', ['ok@example.com', 'busy@example.com', 'gone@example.com']);
    await upstream.waitForMessages(1);
    assert.deepEqual(upstream.messages[0]?.rcptTo, ['ok@example.com']);
    const deferred = await pendingAfter(gateway, 1);
    busy = false;
    await untilNextAttempt(clock, gateway, deferred);
    await upstream.waitForMessages(2);
    assert.deepEqual(upstream.messages[1]?.rcptTo, ['busy@example.com']);
    const entry = await eventually(async () => ((await onlyEntry(gateway)).status === 'sent' ? await onlyEntry(gateway) : undefined));
    assert.deepEqual(entry.rejectedRecipients, ['gone@example.com']);
  });

  it('gives up after the maximum age and marks the entry failed', async () => {
    const clock = new FakeClock();
    const MAX_AGE = 300;
    const port = await freePort();
    const { gateway } = await gatewayWith([account('provider', port)], { PW: PASSWORD }, { initialDelay: '50ms', maxDelay: '100ms', maxAge: `${MAX_AGE}ms`, jitter: 0 }, clock);
    const start = clock.now();
    await sendAlarm(gateway, 'nobody home');
    // Each attempt at its retry time: pending while younger than the maximum age.
    let entry = await pendingAfter(gateway, 1);
    while (entry.nextAttemptAt - start < MAX_AGE) {
      await untilNextAttempt(clock, gateway, entry);
      const attempts = entry.attempts + 1;
      entry = await eventually(async () => {
        const e = await onlyEntry(gateway);
        return e.attempts === attempts && e.status !== 'sending' ? e : undefined;
      }, 10_000, `attempt ${attempts} recorded`);
      if (entry.status === 'failed') break;
      assert.equal(entry.status, 'pending', `attempt ${attempts} at ${clock.now() - start} ms`);
    }
    if (entry.status !== 'failed') {
      await untilNextAttempt(clock, gateway, entry);
      entry = await eventually(async () => ((await onlyEntry(gateway)).status === 'failed' ? await onlyEntry(gateway) : undefined), 10_000, 'the entry to fail');
    }
    assert.ok(clock.now() - start >= MAX_AGE, `not given up before the maximum age (${clock.now() - start} ms)`);
    assert.match(entry.lastError ?? '', /gave up after \d+ attempts/);
  });
});

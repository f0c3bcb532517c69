import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ImapFlow } from 'imapflow';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { GatewayConfig } from '../../src/config/types.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice, sendDeviceAlarm } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { dovecotOrSkipReason, startDovecot, type DovecotUser, type TestDovecot } from '../helpers/dovecot.js';
import { configFrom, drainedOutbox, eventually, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { writeMotorEscalationRules } from '../helpers/motor-escalation.js';
import { peerGate } from '../helpers/real-peers.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';
import { shippedConfig } from '../helpers/shipped-config.js';

/**
 * Acknowledging by replying to a notification, end to end: the gateway relays alarms to a
 * real SMTP upstream, the test plays the engineer and writes the reply into a real Dovecot
 * mailbox (IMAP APPEND, as the engineer's provider would deliver it), and the gateway reads
 * it over IMAP (implicit TLS or STARTTLS, verified against the test's CA).
 */

const found = dovecotOrSkipReason();
// Skipped, saying why, when Dovecot is missing; under CI (CI=true) that fails instead.
const dovecotGate = peerGate('skip' in found ? found.skip : false);

const corpus = loadCorpus();
const shipped = shippedConfig();

const USERS = {
  escalation: { user: 'alarms-escalation@plant.test', password: 'Esc-4f9d1c' },
  restart: { user: 'alarms-restart@plant.test', password: 'Rst-77a0e3' },
  refused: { user: 'alarms-refused@plant.test', password: 'Ref-c0ffee' },
  group: { user: 'alarms-group@plant.test', password: 'Grp-5e1f2a' },
} satisfies Record<string, DovecotUser>;

interface Captured {
  logger: Logger;
  lines: Record<string, unknown>[];
  text: () => string;
}

/** The gateway's JSON log lines, kept for assertions. */
function captureLogs(): Captured {
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw += chunk.toString('utf8');
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination: stream }), lines, text: () => raw };
}

/** The motor alarm escalates to tom at `level1` and to the plant-oncall schedule at `level2`; `delivery` overrides relayDelivery's. */
function replyConfig(dir: TestDir, upstreamPort: number, replies: Record<string, unknown>[], level1: string, level2: string, delivery: Record<string, unknown> = {}): GatewayConfig {
  const rulesDir = writeMotorEscalationRules(dir.path, level1, level2);
  const raw = {
    ...shipped,
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'info', format: 'json' },
    listeners: loopbackListeners(),
    relay: { from: { address: 'alarms@plant.test', displayName: 'Plant alarms', rewrite: 'always' } },
    alarms: { ...(shipped.alarms as object), rulesDir, templatesDir: join(REPO_ROOT, 'templates'), watch: false },
    replies,
    delivery: relayDelivery(upstreamPort, delivery),
  };
  return configFrom(dir, raw, passwords);
}

/** Each account's password comes from its own environment variable, as in production. */
const passwords: Record<string, string> = {};
function account(dovecot: TestDovecot, user: DovecotUser, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const variable = `ANNUNCIATOR_TEST_IMAP_PASSWORD_${Object.keys(passwords).length + 1}`;
  passwords[variable] = user.password;
  return {
    name: user.user.split('@')[0],
    host: '127.0.0.1',
    port: dovecot.imapsPort,
    security: 'tls',
    auth: { user: user.user, password: { env: variable } },
    tls: { ca: [dovecot.caFile] },
    // Far longer than any wait below: a prompt pickup can only be IDLE's doing.
    pollInterval: '30s',
    reconnect: { initialDelay: '200ms', maxDelay: '1s' },
    ...extra,
  };
}

async function sendMotorAlarm(gateway: RunningGateway): Promise<void> {
  const mail = corpus.find((m) => m.file === 's7-tmail-no-date.eml')!;
  const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

function header(message: UpstreamMessage, name: string): string {
  const value = message.parsed.headers.get(name);
  return typeof value === 'string' ? value : '';
}

const ofKind = (upstream: Upstream, kind: string): UpstreamMessage[] => upstream.messages.filter((m) => header(m, 'x-annunciator-kind') === kind);

async function motorAlarm(gateway: RunningGateway) {
  return (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === 'plc-line4');
}

let replyCount = 0;

/** A reply as a mail client writes it: In-Reply-To/References to the notification, the text on top, the notification quoted below. */
async function composeReply(notification: UpstreamMessage, from: string, text: string): Promise<{ raw: Buffer; messageId: string }> {
  replyCount += 1;
  const messageId = `<reply-${replyCount}.${Date.now()}@mail.example.com>`;
  const references = notification.parsed.references;
  const earlier = Array.isArray(references) ? references : references ? [references] : [];
  const quoted = (notification.parsed.text ?? '').split(/\r?\n/).map((line) => `> ${line}`).join('\n');
  const raw = await new MailComposer({
    from,
    to: notification.parsed.from?.text ?? 'alarms@plant.test',
    subject: `Re: ${notification.parsed.subject ?? ''}`,
    inReplyTo: notification.parsed.messageId,
    references: [...earlier, notification.parsed.messageId!],
    messageId,
    date: new Date(),
    text: `${text}\n\nOn ${new Date().toUTCString()}, Plant alarms wrote:\n${quoted}\n`,
  })
    .compile()
    .build();
  return { raw, messageId };
}

/** Delivers a mail into the mailbox as the provider would (IMAP APPEND); its UID. */
async function deliver(dovecot: TestDovecot, user: DovecotUser, raw: Buffer, folder = 'INBOX'): Promise<number> {
  const client = dovecot.client(user);
  await client.connect();
  try {
    const appended = await client.append(folder, raw);
    assert.ok(appended && appended.uid, 'APPEND gives the new UID (UIDPLUS)');
    return appended.uid;
  } finally {
    await client.logout();
  }
}

async function withMailbox<T>(dovecot: TestDovecot, user: DovecotUser, use: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = dovecot.client(user);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.logout();
  }
}

/** The flags of each message in `folder`, by UID. */
function flagsIn(dovecot: TestDovecot, user: DovecotUser, folder = 'INBOX'): Promise<Map<number, Set<string>>> {
  return withMailbox(dovecot, user, async (client) => {
    const lock = await client.getMailboxLock(folder);
    try {
      const out = new Map<number, Set<string>>();
      if ((client.mailbox && client.mailbox.exists) === 0) return out;
      for await (const message of client.fetch('1:*', { uid: true, flags: true })) out.set(message.uid, message.flags ?? new Set());
      return out;
    } finally {
      lock.release();
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const MIN = 60_000;


/** Polls an async check (IMAP look-ups) until it holds. */
async function eventuallyAsync(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('acknowledgement by replying to the notification (IMAP, real Dovecot)', { skip: dovecotGate.skip }, () => {
  let dovecot: TestDovecot;
  before(async () => {
    dovecotGate.assertPresent();
    if ('skip' in found) return;
    dovecot = await startDovecot(found.binary, Object.values(USERS));
  });
  after(async () => {
    await dovecot?.stop();
  });

  // The gateway's schedule (escalation levels, groups) runs on a fake clock; the IMAP side
  // (IDLE, polls, reconnects) stays on real time, as it is about the peer.
  describe('a receiver replies "ACK on my way" while the alarm escalates', () => {
    const dir = testDir();
    const clock = new FakeClock();
    let upstream: Upstream;
    let gateway: RunningGateway;
    const logs = captureLogs();
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
      // Polls once a minute of the fake clock: hours pass in a few hundred timer firings.
      gateway = await runGateway(replyConfig(dir, upstream.port, [account(dovecot, USERS.escalation)], '15m', '1h', { pollInterval: '1m' }), logs.logger, { clock });
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('ignores a stranger, then acknowledges on the receiver\'s reply, picked up by IDLE; level 2 never goes out', async () => {
      const watcher = gateway.replies[0]!.watcher;
      await eventually(() => watcher.connected, 10_000, 'the reply watcher to log in and open INBOX');
      await sendMotorAlarm(gateway);
      await upstream.waitForMessages(1, 10_000);
      await clock.advance(15 * MIN - 1);
      assert.equal(await drainedOutbox(gateway), 1, 'level 1 not before it is due');
      await clock.advance(1);
      await upstream.waitForMessages(2, 10_000);
      const alarm = (await motorAlarm(gateway))!;
      const level1 = ofKind(upstream, 'escalation')[0]!;
      assert.ok(level1.rcptTo.includes('tom.keller@example.com'));
      assert.match(level1.parsed.subject ?? '', new RegExp(`#${alarm.id}$`));

      // A stranger's "ACK": logged, marked processed, nothing acknowledged.
      const stranger = await composeReply(level1, 'Mallory <mallory@evil.example>', 'ACK');
      const strangerUid = await deliver(dovecot, USERS.escalation, stranger.raw);
      const refused = await eventually(() => logs.lines.find((l) => l.reason === 'stranger' && l.alarmId === alarm.id), 5_000, 'the stranger to be logged');
      assert.equal(refused.messageId, stranger.messageId);
      assert.equal(refused.level, 40, 'a stranger is a warning');
      await eventuallyAsync(async () => (await flagsIn(dovecot, USERS.escalation)).get(strangerUid)?.has('$AnnunciatorDone') === true, 5_000, 'the stranger\'s mail to be marked processed');
      assert.equal((await gateway.store.alarms.get(alarm.id))?.ack, undefined, 'a stranger does not acknowledge');

      // Tom answers the escalation mail he got.
      const reply = await composeReply(level1, 'Tom Keller <tom.keller@example.com>', 'ACK on my way');
      const appendedAt = Date.now();
      const uid = await deliver(dovecot, USERS.escalation, reply.raw);
      const acked = await eventually(async () => (await gateway.store.alarms.get(alarm.id))?.ack, 5_000, 'the reply to acknowledge the alarm');
      const latency = Date.now() - appendedAt;
      assert.ok(latency < 3_000, `picked up by IDLE in ${latency} ms (the poll interval is 30 s)`);
      assert.equal(acked.channel, 'mail');
      assert.equal(acked.by, 'Tom Keller <tom.keller@example.com>');
      assert.equal(acked.ref, reply.messageId);
      assert.equal(acked.comment, 'on my way');
      assert.ok((await gateway.store.timers.get('escalate', `${alarm.id}:2`))?.cancelledAt !== undefined, 'level 2 is cancelled with the ack');
      const history = await gateway.store.alarms.history(alarm.id);
      assert.ok(history.some((h) => h.outcome === 'acknowledged' && h.receivedId === reply.messageId && h.reason === 'acknowledged by Tom Keller <tom.keller@example.com> via mail: on my way'), JSON.stringify(history));

      // The others are told, as for any acknowledgement: by a timer due now, which fires when the
      // gateway's clock moves on (at the latest at the timer runner's next poll, 1 min).
      await clock.advance(MIN);
      await eventually(() => ofKind(upstream, 'acknowledged')[0], 10_000, 'the acknowledgement to be announced');
      const told = ofKind(upstream, 'acknowledged')[0]!;
      assert.match(told.parsed.subject ?? '', /^\[ACK by Tom Keller <tom\.keller@example\.com>\] /);
      assert.deepEqual([...told.rcptTo].sort(), ['maintenance@example.com', 'tom.keller@example.com']);

      const flags = await flagsIn(dovecot, USERS.escalation);
      assert.ok(flags.get(uid)?.has('$AnnunciatorDone') && flags.get(uid)?.has('\\Seen'), `processed flags on the reply: ${[...(flags.get(uid) ?? [])].join(' ')}`);
      const line = logs.lines.find((l) => l.msg === 'alarm acknowledged by reply');
      assert.equal(line?.alarmId, alarm.id);
      assert.equal(line?.channel, 'mail');

      // Past level 2's due time: nothing more than the three notifications so far.
      await clock.advance(2 * 60 * MIN);
      assert.equal(await drainedOutbox(gateway), 3, 'nothing queued after the announcement');
      assert.equal(ofKind(upstream, 'escalation').length, 1, 'level 2 never goes out');
      assert.equal(upstream.messages.length, 3);
      assert.ok(!logs.text().includes(USERS.escalation.password), 'the IMAP password is never logged');
    });
  });

  describe('a restart (STARTTLS, processed replies moved to a folder)', () => {
    const dir = testDir();
    let upstream: Upstream;
    let gateway: RunningGateway | undefined;
    let config: GatewayConfig;
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
      await withMailbox(dovecot, USERS.restart, async (client) => {
        await client.mailboxCreate('Acknowledged');
      });
      config = replyConfig(dir, upstream.port, [account(dovecot, USERS.restart, { port: dovecot.imapPort, security: 'starttls', processed: { move: 'Acknowledged' } })], '30s', '60s');
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('reads a reply that arrived while it was down at start, and never applies it twice', async () => {
      gateway = await runGateway(config);
      await sendMotorAlarm(gateway);
      const [firing] = await upstream.waitForMessages(1, 10_000);
      const alarm = (await motorAlarm(gateway))!;
      await gateway.stop();
      gateway = undefined;

      // While the gateway is down, maintenance answers the first notification.
      const reply = await composeReply(firing!, 'maintenance@example.com', 'OK - Tom is on site');
      await deliver(dovecot, USERS.restart, reply.raw);

      gateway = await runGateway(config);
      const acked = await eventually(async () => (await gateway!.store.alarms.get(alarm.id))?.ack, 10_000, 'the reply to be read at start');
      assert.equal(acked.by, 'maintenance@example.com');
      assert.equal(acked.comment, 'Tom is on site');
      await eventuallyAsync(async () => (await flagsIn(dovecot, USERS.restart, 'INBOX')).size === 0, 5_000, 'the reply to leave INBOX');
      const moved = await flagsIn(dovecot, USERS.restart, 'Acknowledged');
      assert.equal(moved.size, 1, 'moved to the processed folder');
      assert.ok([...moved.values()][0]!.has('\\Seen'));

      await gateway.stop();
      gateway = await runGateway(config);
      const watcher = gateway.replies[0]!.watcher;
      await eventually(() => watcher.stats.sweeps >= 1, 10_000, 'a sweep after the restart');
      assert.equal(gateway.replies[0]!.stats.read, 0, 'the processed reply is not read again');
      assert.equal((await gateway.store.alarms.history(alarm.id)).filter((h) => h.outcome === 'acknowledged').length, 1);
    });
  });

  describe('a server without IDLE', () => {
    const dir = testDir();
    const user = { user: 'alarms-polled@plant.test', password: 'Pol-5e1f22' };
    let noIdle: TestDovecot;
    let upstream: Upstream;
    let gateway: RunningGateway;
    const logs = captureLogs();
    before(async () => {
      if ('skip' in found) return;
      noIdle = await startDovecot(found.binary, [user], { capabilities: 'IMAP4rev1 LITERAL+ SASL-IR ID ENABLE UIDPLUS MOVE NAMESPACE CHILDREN LIST-EXTENDED ESEARCH' });
      upstream = await startUpstream({ security: 'none' });
      gateway = await runGateway(replyConfig(dir, upstream.port, [account(noIdle, user, { pollInterval: '500ms' })], '30s', '60s'), logs.logger);
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      await noIdle?.stop();
      dir.remove();
    });

    it('is polled every pollInterval', async () => {
      const watching = await eventually(() => logs.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('watching INBOX')), 10_000, 'the watcher to open INBOX');
      assert.equal(watching.idle, false);
      assert.match(watching.msg as string, /no IDLE on this server: polling/);
      await sendMotorAlarm(gateway);
      const [firing] = await upstream.waitForMessages(1, 10_000);
      const alarm = (await motorAlarm(gateway))!;
      const reply = await composeReply(firing!, 'maintenance@example.com', 'ack');
      await deliver(noIdle, user, reply.raw);
      const acked = await eventually(async () => (await gateway.store.alarms.get(alarm.id))?.ack, 5_000, 'the poll to find the reply');
      assert.equal(acked.ref, reply.messageId);
      assert.ok(gateway.replies[0]!.watcher.stats.sweeps >= 2);
    });
  });

  describe('a mailbox that refuses the login, and one whose certificate is not trusted', () => {
    const dir = testDir();
    let upstream: Upstream;
    let gateway: RunningGateway;
    const logs = captureLogs();
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
      const wrong = { ...USERS.refused, password: 'not-the-password' };
      const untrusted = { ...account(dovecot, USERS.refused), name: 'untrusted', tls: {} };
      gateway = await runGateway(replyConfig(dir, upstream.port, [account(dovecot, wrong), untrusted], '30s', '60s'), logs.logger);
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('logs the failures, retries with backoff, and the gateway keeps relaying alarms', async () => {
      const refusals = () => logs.lines.filter((l) => l.account === 'alarms-refused' && typeof l.msg === 'string' && l.msg.startsWith('the reply mailbox refused the login'));
      await eventually(() => refusals().length >= 2 || undefined, 20_000, 'two refused logins');
      const [first, second] = refusals();
      assert.equal(first!.level, 50);
      assert.equal(first!.attempt, 1);
      assert.equal(second!.attempt, 2);
      assert.ok((first!.retryInMs as number) > 0);
      assert.equal(first!.user, USERS.refused.user);

      const untrusted = await eventually(() => logs.lines.find((l) => l.account === 'untrusted' && l.msg === 'reply mailbox connection failed or was lost; reconnecting'), 10_000, 'the untrusted certificate to be refused');
      assert.match(JSON.stringify(untrusted.err), /certificate/i);

      await sendMotorAlarm(gateway);
      await upstream.waitForMessages(1, 10_000);
      assert.equal(gateway.replies.some((r) => r.watcher.connected), false);
      assert.ok(!logs.text().includes('not-the-password') && !logs.text().includes(USERS.refused.password), 'no password in the logs');
    });
  });

  describe('a reply to a group notification', () => {
    const dir = testDir();
    const clock = new FakeClock();
    let upstream: Upstream;
    let gateway: RunningGateway;
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
      const rulesDir = join(dir.path, 'rules');
      mkdirSync(rulesDir, { recursive: true });
      writeFileSync(join(rulesDir, 'group.yaml'), 'rules:\n  - name: hall-a\n    when: { fact: device.id, operator: matches, value: "^press-" }\n    then: { receivers: [shift-team], group: { by: [site], wait: 1s } }\n');
      const raw = {
        gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
        log: { level: 'error', format: 'json' },
        listeners: loopbackListeners(),
        receivers: [{ name: 'shift-team', email: 'schicht@example.com' }],
        devices: ['press-1', 'press-2'].map((id) => ({ id, name: id, match: { senders: [`${id}@plant.local`] }, site: 'Hall A' })),
        alarms: { rulesDir, templatesDir: join(REPO_ROOT, 'templates'), watch: false },
        replies: [account(dovecot, USERS.group)],
        delivery: relayDelivery(upstream.port),
      };
      gateway = await runGateway(configFrom(dir, raw, passwords), undefined, { clock });
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('acknowledges every alarm the group listed', async () => {
      await eventually(() => gateway.replies[0]!.watcher.connected, 10_000, 'the reply watcher to log in');
      for (const device of ['press-1', 'press-2']) await sendDeviceAlarm(gateway.port, device, 'Guard door open');
      await eventually(async () => (await gateway.store.alarms.list(['active'])).length === 2 && (await gateway.store.batches.nextDueAt()) !== undefined, 10_000, 'both alarms held for the group');
      await clock.advance(999);
      assert.equal(await drainedOutbox(gateway), 0, 'held for the group wait (1 s)');
      await clock.advance(1);
      const [group] = await upstream.waitForMessages(1, 10_000);
      assert.equal(header(group!, 'x-annunciator-kind'), 'group');
      const ids = header(group!, 'x-annunciator-alarms').split(', ');
      assert.match(group!.parsed.text ?? '', /Reply to this mail with ACK as the first word to acknowledge every alarm listed/);
      assert.equal(ids.length, 2);
      const reply = await composeReply(group!, 'Schicht <schicht@example.com>', 'OK, both doors checked');
      await deliver(dovecot, USERS.group, reply.raw);
      for (const id of ids) {
        const ack = await eventually(async () => (await gateway.store.alarms.get(id))?.ack, 5_000, `alarm ${id} acknowledged`);
        assert.equal(ack.channel, 'mail');
        assert.equal(ack.by, 'Schicht <schicht@example.com>');
        assert.equal(ack.comment, 'both doors checked');
      }
    });
  });
});

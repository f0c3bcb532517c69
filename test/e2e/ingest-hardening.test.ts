import assert from 'node:assert/strict';
import { smtpReplies } from '../helpers/smtp-replies.js';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * What the SMTP listener must refuse, or at least never drop, whatever a device (or someone
 * on the plant LAN posing as one) sends: through the running gateway, over real sockets,
 * with the alarm pipeline and a real SMTP upstream behind it.
 */

/** 127.0.0.2 is the bare-LF device; every other loopback address speaks SMTP as it should. */
const BARE_LF_DEVICE = '127.0.0.2';
const CRLF_DEVICE = '127.0.0.3';

function gatewayConfig(dir: TestDir, upstreamPort: number, listener: Record<string, unknown> = {}): Record<string, unknown> {
  const rules = join(dir.path, 'rules');
  mkdirSync(rules, { recursive: true });
  return {
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'error', format: 'json' },
    listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.0/8'], compat: { bareLf: [BARE_LF_DEVICE] }, ...listener }],
    receivers: [{ name: 'oncall', email: 'oncall@example.com' }],
    alarms: { rulesDir: rules, templatesDir: join(REPO_ROOT, 'templates'), timeZone: 'Europe/Berlin', watch: false, defaultRoute: { receivers: ['oncall'] } },
    delivery: relayDelivery(upstreamPort),
  };
}

/** Waits until every accepted message went through the pipeline and its notifications out. */
async function settled(gateway: RunningGateway): Promise<void> {
  await eventually(async () => (await gateway.store.inbox.pending(1)).length === 0, 10_000, 'inbox drained');
  await eventually(async () => (await gateway.store.outbox.list(['pending', 'sending'])).length === 0, 10_000, 'outbox drained');
}

async function alarmsOf(gateway: RunningGateway, device: string): Promise<Alarm[]> {
  return (await gateway.store.alarms.list(['active', 'resolved'], 1000)).filter((a) => a.device.id === device);
}

/**
 * One SMTP session from `localAddress`: greeting, EHLO, MAIL, RCPT and DATA, each answered
 * before the next; then `data` written as it is (it carries its own end of data) followed
 * by QUIT. Resolves with every final reply line once the gateway closes the connection.
 */
async function session(port: number, localAddress: string, mailFrom: string, data: Buffer | string): Promise<string[]> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  const { finals, closed, until: replies } = smtpReplies(socket);
  socket.on('error', () => {});
  // A bound, not a wait: a gateway that answers what it should ends the session long before.
  const deadline = setTimeout(() => {
    finals.push('(no close from the gateway within 10 s)');
    socket.destroy();
  }, 10_000);
  try {
    await replies(1);
    for (const command of ['EHLO device.plant.local', `MAIL FROM:<${mailFrom}>`, 'RCPT TO:<alarms@plant.local>', 'DATA']) {
      const before = finals.length;
      socket.write(`${command}\r\n`);
      await replies(before + 1);
    }
    assert.match(finals.at(-1) ?? '', /^354 /, finals.join(' | '));
    socket.write(Buffer.concat([Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1'), Buffer.from('QUIT\r\n')]));
    await replies(Number.POSITIVE_INFINITY);
    return finals;
  } finally {
    clearTimeout(deadline);
    socket.destroy();
  }
}

const accepted = (finals: string[]): string[] => finals.filter((l) => /^250 .*queued as/.test(l));

describe('end of DATA: only what devices send ends a message', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, gatewayConfig(dir, upstream.port)));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  /** A mail whose body hides a second transaction between `open` and `close`, then ends properly. */
  const smuggling = (sender: string, open: string, close: string): string =>
    `From: ${sender}\r\nSubject: Pump P3 dry run\r\n\r\nDI-3 ON${open}` +
    `MAIL FROM:<smuggled@evil.example>\r\nRCPT TO:<alarms@plant.local>\r\nDATA\r\nFrom: smuggled@evil.example\r\nSubject: Smuggled alarm\r\n\r\nforged${close}` +
    'trailer\r\n.\r\n';

  for (const [name, open, close] of [
    ['<LF>.<CR><LF>', '\n.\r\n', '\n.\r\n'],
    ['<CR><LF>.<LF>', '\r\n.\n', '\r\n.\n'],
  ] as const) {
    it(`from the bare-LF device, ${name} does not end DATA: one message, one alarm, nothing for the smuggled sender`, async () => {
      const sender = `io-${name.length}-${open.length}@plant.local`;
      const finals = await session(gateway.port, BARE_LF_DEVICE, sender, smuggling(sender, open, close));
      assert.equal(accepted(finals).length, 1, finals.join(' | '));
      assert.equal(finals.filter((l) => /^354 /.test(l)).length, 1, `a second DATA was answered: ${finals.join(' | ')}`);
      assert.match(finals.at(-1) ?? '', /^221 /, 'the QUIT after the one real end of data is answered');
      await settled(gateway);
      const alarms = await alarmsOf(gateway, sender);
      assert.equal(alarms.length, 1);
      assert.equal(alarms[0]?.title, 'Pump P3 dry run');
      assert.match(alarms[0]?.text ?? '', /MAIL FROM:<smuggled@evil\.example>/, 'the smuggled commands are text of the one message');
      assert.deepEqual(await alarmsOf(gateway, 'smuggled@evil.example'), []);
      assert.equal(upstream.messages.filter((m) => m.parsed.subject?.includes('Smuggled')).length, 0);
    });
  }

  it('from a device without bare-LF leniency, the mixed sequences do not end DATA either', async () => {
    const sender = 'crlf-plc@plant.local';
    const finals = await session(gateway.port, CRLF_DEVICE, sender, smuggling(sender, '\n.\r\n', '\r\n.\n'));
    assert.equal(accepted(finals).length, 1, finals.join(' | '));
    await settled(gateway);
    assert.equal((await alarmsOf(gateway, sender)).length, 1);
    assert.deepEqual(await alarmsOf(gateway, 'smuggled@evil.example'), []);
  });

  it('the bare-LF device from the corpus still works: <LF>.<LF> ends its mail', async () => {
    const mail = loadCorpus().find((m) => m.file === 'remote-io-di-bare-lf.eml')!;
    assert.equal(mail.behaviour, 'bare-lf');
    const result = await sendAsDevice({ port: gateway.port, localAddress: BARE_LF_DEVICE, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: 'bare-lf' });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
    await settled(gateway);
    const [alarm] = await alarmsOf(gateway, mail.mailFrom);
    assert.ok(alarm, 'an alarm from the bare-LF device');
    assert.match(alarm.text, /DI-3 changed OFF->ON/);
  });

  it('a device outside the bare-LF list: <LF>.<LF> is content, and only <CR><LF>.<CR><LF> ends the mail', async () => {
    const sender = 'not-lenient@plant.local';
    const finals = await session(gateway.port, CRLF_DEVICE, sender, 'Subject: Valve V7 open\n\nfirst part\n.\nsecond part\r\n.\r\n');
    assert.equal(accepted(finals).length, 1, finals.join(' | '));
    await settled(gateway);
    const [alarm] = await alarmsOf(gateway, sender);
    assert.ok(alarm);
    const received = await gateway.store.inbox.get(alarm.lastEventId);
    assert.match(received?.raw.toString('latin1') ?? '', /first part\n\.\nsecond part\r\n$/);
  });
});

/** Mails built to choke a MIME parser, as the reliability run sent them. */
const BOMBS = {
  headerLines: (sender: string): Buffer => Buffer.from(`From: ${sender}\r\nSubject: header lines\r\n${Array.from({ length: 20_000 }, (_, i) => `X-Pad-${i}: v\r\n`).join('')}\r\nbody\r\n`),
  nesting: (sender: string): Buffer => {
    let text = `From: ${sender}\r\nSubject: nesting\r\n`;
    for (let i = 0; i < 5000; i += 1) text += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    text += 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
    for (let i = 4999; i >= 0; i -= 1) text += `--b${i}--\r\n`;
    return Buffer.from(text);
  },
  parts: (sender: string): Buffer => {
    const parts = Array.from({ length: 50_000 }, (_, i) => `--sep\r\n\r\n${i}\r\n`).join('');
    return Buffer.from(`From: ${sender}\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=sep\r\n\r\n${parts}--sep--\r\n`);
  },
};

describe('parser bombs are refused at the end of DATA with a reply that names the limit', () => {
  const dir = testDir();
  const logLines: string[] = [];
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    const { default: pino } = await import('pino');
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, gatewayConfig(dir, upstream.port)), pino({ level: 'warn' }, { write: (line: string) => logLines.push(line) }));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  for (const [bomb, reply, limit] of [
    ['headerLines', /^552 5\.3\.4 A header block has more than 1000 lines \(limit maxHeaderLines\)/, 'maxHeaderLines'],
    ['nesting', /^554 5\.6\.0 MIME parts nested more than 20 levels deep \(limit maxMimeDepth\)/, 'maxMimeDepth'],
    ['parts', /^554 5\.6\.0 More than 200 MIME parts \(limit maxMimeParts\)/, 'maxMimeParts'],
  ] as const) {
    it(`${bomb}: refused (${limit}), logged with why, nothing kept, nothing raised`, async () => {
      const sender = `bomb-${bomb.toLowerCase()}@plant.local`;
      const result = await sendAsDevice({ port: gateway.port, localAddress: CRLF_DEVICE, mailFrom: sender, rcptTo: ['alarms@plant.local'], data: BOMBS[bomb](sender) });
      assert.match(result.dataReply ?? '', reply, result.replies.join(' | '));
      const logged = logLines.find((l) => l.includes(`"limit":"${limit}"`));
      assert.ok(logged, logLines.join('\n'));
      assert.match(logged, /refused message: .*over the limit/);
      assert.match(logged, new RegExp(`"from":"${sender}"`));
      await settled(gateway);
      assert.deepEqual(await alarmsOf(gateway, sender), []);
      assert.equal(upstream.messages.length, 0);
    });
  }

  it('the same session goes on: a device mail after a refused one is taken', async () => {
    const mail = loadCorpus().find((m) => m.file === 'datalogger-csv-attachment.eml')!;
    const result = await sendAsDevice({ port: gateway.port, localAddress: CRLF_DEVICE, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
    await settled(gateway);
    assert.equal((await alarmsOf(gateway, mail.mailFrom)).length, 1);
  });
});

describe('a mail taken with 250 that the parser then fails on is never dropped in silence', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;
  // The operator raised the header limits above what the parser takes: such mail is taken, then cannot be decoded.
  const raised = { limits: { maxHeaderLines: 50_000, maxHeaderSize: '4MiB' } };

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, gatewayConfig(dir, upstream.port, raised)));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('raises "Undecodable mail from <device>" to the default receivers, with the mail (truncated) attached opaquely', async () => {
    const sender = 'press-9@plant.local';
    const bomb = BOMBS.headerLines(sender);
    const result = await sendAsDevice({ port: gateway.port, localAddress: CRLF_DEVICE, mailFrom: sender, rcptTo: ['alarms@plant.local'], data: bomb });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
    const [notice] = await upstream.waitForMessages(1);
    assert.match(notice?.parsed.subject ?? '', /Undecodable mail from press-9/);
    assert.deepEqual(notice?.rcptTo, ['oncall@example.com']);
    assert.match(notice?.parsed.text ?? '', /could not decode it: Max header size for a MIME node exceeded/);
    const attachment = notice?.parsed.attachments.find((a) => a.filename === 'original.eml');
    assert.ok(attachment, 'the mail is attached');
    // On the wire (mailparser reports the type it guesses from the file name).
    assert.match(notice?.raw.toString('latin1') ?? '', /\r\nContent-Type: application\/octet-stream; name=original\.eml\r\n/);
    assert.equal(attachment.content.length, 256 * 1024, 'truncated to 256 KiB');
    assert.deepEqual(attachment.content, bomb.subarray(0, 256 * 1024));

    await settled(gateway);
    const [alarm] = await alarmsOf(gateway, sender);
    assert.equal(alarm?.title, 'Undecodable mail from press-9');
    const [raisedLine] = await gateway.store.alarms.history(alarm!.id);
    assert.match(raisedLine?.reason ?? '', new RegExp(`^the mail \\(${bomb.length} bytes\\) could not be decoded: Max header size`));
    // The message itself stays in the store, in full, as it came.
    assert.equal((await gateway.store.inbox.get(alarm!.lastEventId))?.raw.length, bomb.length);
  });
});

describe('without an alarms section, an undecodable mail is relayed as a notice with the mail attached', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    const config = gatewayConfig(dir, upstream.port, { limits: { maxMimeParts: 5000 } });
    delete config.alarms;
    gateway = await runGateway(configFrom(dir, config));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('goes to the envelope recipients, saying why, with the mail attached', async () => {
    const sender = 'packer-2@plant.local';
    // 1,500 parts: within the listener's raised limit, beyond the parser's 1,000.
    const parts = Array.from({ length: 1500 }, (_, i) => `--sep\r\n\r\n${i}\r\n`).join('');
    const mail = Buffer.from(`From: ${sender}\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=sep\r\n\r\n${parts}--sep--\r\n`);
    const result = await sendAsDevice({ port: gateway.port, localAddress: CRLF_DEVICE, mailFrom: sender, rcptTo: ['shift@example.com'], data: mail });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
    const [notice] = await upstream.waitForMessages(1);
    assert.deepEqual(notice?.rcptTo, ['shift@example.com']);
    assert.match(notice?.parsed.subject ?? '', /^Undecodable mail from packer-2$/);
    assert.match(notice?.parsed.text ?? '', /could not decode it: Max allowed child nodes exceeded/);
    const attachment = notice?.parsed.attachments.find((a) => a.filename === 'original.eml');
    assert.match(notice?.raw.toString('latin1') ?? '', /\r\nContent-Type: application\/octet-stream; name=original\.eml\r\n/);
    assert.deepEqual(attachment?.content, mail, 'small enough to be attached whole');
  });
});

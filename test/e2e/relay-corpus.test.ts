import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCa } from '../helpers/certs.js';
import { loadCorpus, normaliseText } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { baseConfig, configFrom, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

describe('every corpus mail reaches an implicit-TLS, authenticated upstream as the device meant it', () => {
  const dir = testDir();
  const ca = createCa();
  const corpus = loadCorpus();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: 's3cret-app-password' } });
    const caFile = dir.write('ca.pem', ca.cert);
    const config = configFrom(
      dir,
      baseConfig(dir, {
        delivery: {
          accounts: [
            {
              name: 'provider',
              host: 'localhost',
              port: upstream.port,
              security: 'tls',
              auth: { type: 'plain', user: 'alarms@example.com', password: { env: 'UPSTREAM_PASSWORD' } },
              tls: { ca: [caFile] },
            },
          ],
        },
      }),
      { UPSTREAM_PASSWORD: 's3cret-app-password' },
    );
    gateway = await runGateway(config);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('accepts each mail with 250, however the device talks', async () => {
    for (const mail of corpus) {
      const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour, useHelo: mail.file.startsWith('s7') });
      assert.match(result.dataReply ?? '', /^250 /, `${mail.file}: ${result.replies.join(' | ')}`);
    }
  });

  it('delivers each one upstream, authenticated, with subject and text decoded as meant', async () => {
    const messages = await upstream.waitForMessages(corpus.length);
    assert.equal(messages.length, corpus.length);
    for (const mail of corpus) {
      const got = messages.find((m) => m.parsed.subject === mail.subject);
      assert.ok(got, `${mail.file}: no upstream message with subject ${JSON.stringify(mail.subject)}; got ${messages.map((m) => m.parsed.subject).join(' / ')}`);
      assert.equal(normaliseText(got.parsed.text ?? ''), normaliseText(mail.text), `${mail.file}: text`);
      assert.deepEqual(got.rcptTo, mail.rcptTo, `${mail.file}: recipients from the envelope`);
      assert.equal(got.user, 'alarms@example.com');
      assert.equal(got.mailFrom, 'alarms@example.com', 'envelope sender is the account');
      assert.ok(got.parsed.date instanceof Date && !Number.isNaN(got.parsed.date.getTime()), `${mail.file}: Date header`);
      assert.match(got.parsed.messageId ?? '', /^<[^@\s]+@[^@\s]+>$/, `${mail.file}: Message-ID`);
      assert.ok(got.parsed.from?.value[0]?.address, `${mail.file}: From header`);
      const wire = got.raw.toString('latin1');
      assert.doesNotMatch(wire, /[^\r]\n|\r[^\n]/, `${mail.file}: only CRLF line endings`);
      assert.doesNotMatch(wire.split('\r\n\r\n')[0] ?? '', /[\x80-\xff]/, `${mail.file}: headers are 7-bit (RFC 2047 encoded)`);
    }
  });

  it('keeps the device date and Message-ID where it gave them, and adds them where it did not', () => {
    const ups = upstream.messages.find((m) => m.parsed.subject?.startsWith('UPS-HALL2: On battery'));
    assert.equal(ups?.parsed.messageId, '<1764036847.0109@ups-hall2>');
    assert.equal(ups?.parsed.date?.toISOString(), '2026-11-24T02:14:07.000Z');
    const s7 = upstream.messages.find((m) => m.parsed.subject === 'ALARM Line4 Motor M12 overtemperature');
    assert.match(s7?.parsed.messageId ?? '', /@gw\.test>$/);
  });

  it('gives a From to a mail that had none: the device name at the gateway domain', () => {
    const horse = upstream.messages.find((m) => m.parsed.subject === 'a Horse');
    assert.equal(horse?.parsed.from?.value[0]?.address, 'plc@gw.test');
    assert.match((horse?.parsed.headers.get('sender') as { text?: string } | undefined)?.text ?? '', /plc@plant\.local/, 'envelope sender kept as Sender');
  });

  it('keeps attachments and the HTML part', () => {
    const logger = upstream.messages.find((m) => m.parsed.subject === 'Cold room 3 temperature alarm');
    assert.equal(logger?.parsed.attachments[0]?.filename, 'cold-room-3.csv');
    assert.equal(logger?.parsed.attachments[0]?.content.toString(), 'time,temp\n03:00,7.8\n03:05,8.6\n03:10,9.1\n03:15,9.4\n');
    const hmi = upstream.messages.find((m) => m.parsed.subject === 'Alarm 4711 active');
    assert.match(String(hmi?.parsed.html), /<b>oil pressure low<\/b>/);
  });
});

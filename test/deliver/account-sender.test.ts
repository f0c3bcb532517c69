import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Nodemailer from 'nodemailer';
import { requireCommonJs } from '../../src/base/commonjs.js';
import { createSender, type AccountSender } from '../../src/deliver/account-sender.js';
import type { SmtpAccount } from '../../src/config/types.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const nodemailer = requireCommonJs<typeof Nodemailer>('nodemailer');

/** An SMTP account on a plaintext loopback upstream, as the config loader makes one. */
function account(port: number): SmtpAccount {
  return { name: 'lan', type: 'smtp', host: '127.0.0.1', port, security: 'none', tls: { minVersion: 'TLSv1.2', ca: [] }, connectionTimeout: 5000 };
}

describe('the SMTP sender hands finished messages to the pool (a real SMTP server on loopback)', () => {
  let upstream: Upstream;
  let sender: AccountSender;
  before(async () => {
    upstream = await startUpstream({ security: 'none', rcptReply: (address) => (address.startsWith('gone@') ? 550 : 250) });
    sender = createSender(account(upstream.port), 'gw.test', 2);
  });
  after(async () => {
    sender.close();
    await upstream.close();
  });

  it('delivers the bytes as they are, dot-stuffed on the wire and unstuffed by the server', async () => {
    const message = Buffer.from('Subject: probe\r\nMessage-ID: <probe@plant>\r\n\r\nline one\r\n.starts with a dot\r\n..two dots\r\nlast line\r\n');
    const result = await sender.send({ id: 'O1', envelopeFrom: 'gw@plant.example', recipients: ['ops@example.com'], message });
    assert.deepEqual(result.accepted, ['ops@example.com']);
    assert.match(result.response, /^250/);
    const [received] = await upstream.waitForMessages(1);
    assert.ok(received!.raw.equals(message), JSON.stringify(received!.raw.toString('latin1')));
    assert.equal(received!.mailFrom, 'gw@plant.example');
  });

  it('ends a message whose last line has no line break with one, as Mailer did', async () => {
    await sender.send({ id: 'O2', envelopeFrom: 'gw@plant.example', recipients: ['ops@example.com'], message: Buffer.from('Subject: no end\r\n\r\nno line break') });
    const messages = await upstream.waitForMessages(2);
    assert.equal(messages[1]!.raw.toString('latin1'), 'Subject: no end\r\n\r\nno line break\r\n');
  });

  it('sends what nodemailer\'s sendMail sends for the same envelope and bytes: international domains, a recipient named twice, no final line break', async () => {
    const request = { envelopeFrom: 'Wache <gw@plant.example>', recipients: ['wache@jõgeva.ee', 'ops@example.com', 'OPS@example.com', 'ops@example.com'], message: Buffer.from('Subject: idn\r\n\r\n.x\r\nend') };
    await sender.send({ id: 'O3', ...request });
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: upstream.port, secure: false, ignoreTLS: true, name: 'gw.test' });
    try {
      await mailer.sendMail({ envelope: { from: request.envelopeFrom, to: request.recipients }, raw: request.message });
    } finally {
      mailer.close();
    }
    const [ours, theirs] = (await upstream.waitForMessages(4)).slice(2);
    assert.deepEqual({ from: ours!.mailFrom, to: ours!.rcptTo, raw: ours!.raw.toString('latin1') }, { from: theirs!.mailFrom, to: theirs!.rcptTo, raw: theirs!.raw.toString('latin1') });
    assert.equal(ours!.rcptTo.length, 2, 'an address named again, in any case, is one recipient');
  });

  it('reports a recipient the upstream refused while it took the message for the others', async () => {
    const result = await sender.send({ id: 'O4', envelopeFrom: 'gw@plant.example', recipients: ['gone@example.com', 'ops@example.com'], message: Buffer.from('Subject: partly\r\n\r\nx\r\n') });
    assert.deepEqual(result.accepted, ['ops@example.com']);
    assert.equal(result.rejected.length, 1);
    assert.equal(result.rejected[0]!.address, 'gone@example.com');
    assert.equal(result.rejected[0]!.responseCode, 550);
  });

  it('fails with the upstream\'s error when every recipient is refused', async () => {
    await assert.rejects(
      sender.send({ id: 'O5', envelopeFrom: 'gw@plant.example', recipients: ['gone@example.com'], message: Buffer.from('Subject: refused\r\n\r\nx\r\n') }),
      (error: { code?: string; responseCode?: number }) => error.code === 'EENVELOPE' && error.responseCode === 550,
    );
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SmtpAccount } from '../../src/config/types.js';
import { startThreadedSenders } from '../../src/deliver/threaded-senders.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

function account(port: number): SmtpAccount {
  return { name: 'lan', type: 'smtp', host: '127.0.0.1', port, security: 'none', tls: { minVersion: 'TLSv1.2', ca: [] }, connectionTimeout: 5000 };
}

const message = (id: string): Buffer => Buffer.from(`Subject: ${id}\r\nMessage-ID: <${id}@plant>\r\n\r\nbody of ${id}\r\n`);

describe('the delivery thread (a real SMTP server on loopback)', () => {
  let upstream: Upstream;
  before(async () => {
    upstream = await startUpstream({ security: 'none', rcptReply: (address) => (address.startsWith('gone@') ? 550 : 250) });
  });
  after(() => upstream.close());

  it('sends handed over together and one after another all arrive, each answered on its own', async () => {
    const [sender] = startThreadedSenders([account(upstream.port)], 'gw.test', 2);
    const first = ['T1', 'T2', 'T3'].map((id) => sender!.send({ id, envelopeFrom: 'gw@plant.example', recipients: ['ops@example.com'], message: message(id) }));
    await Promise.resolve();
    const refused = sender!.send({ id: 'T4', envelopeFrom: 'gw@plant.example', recipients: ['gone@example.com'], message: message('T4') });
    const results = await Promise.allSettled([...first, refused]);
    assert.deepEqual(
      results.slice(0, 3).map((r) => r.status === 'fulfilled' && r.value.accepted),
      [['ops@example.com'], ['ops@example.com'], ['ops@example.com']],
    );
    // One refused recipient: nodemailer fails the send, the thread reports the SMTP reply.
    assert.equal(results[3]!.status, 'rejected');
    assert.equal((results[3] as PromiseRejectedResult).reason.responseCode, 550);
    const subjects = (await upstream.waitForMessages(3)).map((m) => m.parsed.subject).sort();
    assert.deepEqual(subjects.slice(-3), ['T1', 'T2', 'T3']);
    sender!.close();
  });

  it('a close in the same turn as sends: each send settles (sent, or failed for the outbox to retry), none waits forever', async () => {
    const before = upstream.messages.length;
    const [sender] = startThreadedSenders([account(upstream.port)], 'gw.test', 2);
    const sends = ['C1', 'C2'].map((id) => sender!.send({ id, envelopeFrom: 'gw@plant.example', recipients: ['ops@example.com'], message: message(id) }));
    sender!.close();
    const results = await Promise.allSettled(sends);
    // The outbox worker closes its senders only after its deliveries ended; this is the
    // careless caller: each send hears back.
    for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /delivery thread ended|closed/i);
    const delivered = results.filter((r) => r.status === 'fulfilled').length;
    await upstream.waitForMessages(before + delivered);
    assert.equal(upstream.messages.length - before, delivered);
  });
});

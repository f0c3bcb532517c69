import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendAsDevice } from '../helpers/device-client.js';
import { baseConfig, configFrom, eventually, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { smtpDialog, type smtpReplies } from '../helpers/smtp-replies.js';

/**
 * `listeners[].limits.idleTimeout` (docs/configuration.md: "silence before the connection
 * is closed"; docs/operations.md: "an idle timeout"). smtp-server has no clock to inject,
 * so the timeout is configured short and the test awaits the socket's close event; the
 * session deadline stays at its default of ten minutes, so only silence can end these
 * sessions within the tests' own time limit.
 */

const IDLE = '300ms';
/** smtp-server's reply; it carries no enhanced status code, even after EHLO. */
const TIMEOUT_REPLY = '421 Timeout - closing connection';


/** Says nothing more and waits for the server to close the connection: the replies it sent meanwhile. */
async function silentUntilClosed(session: { socket: Socket; replies: ReturnType<typeof smtpReplies> }): Promise<string[]> {
  const before = session.replies.finals.length;
  if (!session.replies.closed()) await once(session.socket, 'close');
  return session.replies.finals.slice(before);
}

describe('the SMTP idle timeout', { timeout: 20_000 }, () => {
  const dir = testDir();
  let gateway: RunningGateway;

  before(async () => {
    gateway = await runGateway(configFrom(dir, baseConfig(dir, { listener: { limits: { idleTimeout: IDLE } } })));
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('closes a session that says nothing after the greeting with 421', async () => {
    const session = await smtpDialog(gateway.port, []);
    assert.match(session.replies.finals[0] ?? '', /^220 /);
    assert.deepEqual(await silentUntilClosed(session), [TIMEOUT_REPLY]);
  });

  it('closes a session that falls silent in the middle of an envelope', async () => {
    const session = await smtpDialog(gateway.port, ['EHLO plc', 'MAIL FROM:<plc@plant.local>', 'RCPT TO:<ops@plant.local>']);
    assert.match(session.replies.finals.at(-1) ?? '', /^250 /);
    assert.deepEqual(await silentUntilClosed(session), [TIMEOUT_REPLY]);
  });

  it('closes a session that falls silent in the middle of DATA, and the half message is not stored or delivered', async () => {
    const session = await smtpDialog(gateway.port, ['EHLO plc', 'MAIL FROM:<plc@plant.local>', 'RCPT TO:<ops@plant.local>', 'DATA']);
    assert.match(session.replies.finals.at(-1) ?? '', /^354 /);
    session.socket.write('Subject: half a message\r\n\r\nThe PLC lost its link after this line\r\n');
    assert.deepEqual(await silentUntilClosed(session), [TIMEOUT_REPLY]);

    // A whole mail after it is taken and delivered: then the outbox holds that one alone,
    // nothing of this session or of the ones the tests before cut off.
    const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['ops@plant.local'], data: Buffer.from('Subject: a whole message\r\n\r\nok\r\n') });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
    const entries = await eventually(async () => {
      const all = await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed']);
      return all.length > 0 && all.every((e) => e.status === 'sent') ? all : undefined;
    }, 10_000, 'the whole message to be delivered');
    assert.equal(entries.length, 1, 'one notification: the one of the whole message');
    const files = readdirSync(join(dir.path, 'files'));
    assert.equal(files.length, 1, files.join(', '));
    assert.equal((await gateway.store.inbox.pending(10)).length, 0);
  });
});

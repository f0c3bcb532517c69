import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

/** A loopback TCP server that plays one role on every connection; close() also ends the connections it holds open. */
async function playServer(onConnection: (socket: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    port: address.port,
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** An SMTP server in plain text that offers no STARTTLS and keeps the connection open after any command. */
function plainSmtp(socket: Socket): void {
  socket.write('220 mail.plant.local ESMTP\r\n');
  let buffer = '';
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    let end;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (/^EHLO /i.test(line)) socket.write('250-mail.plant.local\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n');
      else socket.write('502 5.5.2 not here\r\n');
    }
  });
}

// The point of each case is that the command exits: one still running after this long is
// killed and the test fails on `killed`, instead of hanging the file.
const KILL_AFTER = 30_000;

describe('annunciator trust: failures end the command with the reason', () => {
  let plain: Awaited<ReturnType<typeof playServer>>;
  let silent: Awaited<ReturnType<typeof playServer>>;
  before(async () => {
    plain = await playServer(plainSmtp);
    silent = await playServer(() => {});
  });
  after(async () => {
    await plain.close();
    await silent.close();
  });
  // trust reads no configuration unless it pins, so none is named here.
  const trust = (...args: string[]) => runCli(['trust', ...args], { killAfter: KILL_AFTER, env: { ANNUNCIATOR_CONFIG: '/nonexistent/annunciator.yaml' } });

  it('--starttls against a server that does not offer STARTTLS: exits 69 saying so', async () => {
    const result = await trust(`127.0.0.1:${plain.port}`, '--starttls');
    assert.equal(result.killed, false, 'the command hung and was killed');
    assert.equal(result.code, 69, result.stderr);
    assert.equal(result.stderr, `annunciator trust: 127.0.0.1:${plain.port} does not offer STARTTLS (it offers SIZE 10240000, 8BITMIME); without --starttls the port is tried with implicit TLS\n`);
    assert.equal(result.stdout, '');
  });

  it('--starttls against a server that never greets: exits 69 after --timeout, naming the stage', async () => {
    const result = await trust(`127.0.0.1:${silent.port}`, '--starttls', '--timeout', '300');
    assert.equal(result.killed, false, 'the command hung and was killed');
    assert.equal(result.code, 69, result.stderr);
    assert.equal(result.stderr, `annunciator trust: no SMTP greeting from 127.0.0.1:${silent.port} within 300 ms\n`);
  });

  it('implicit TLS against a server that never answers: exits 69 after --timeout', async () => {
    const result = await trust(`127.0.0.1:${silent.port}`, '--timeout', '300');
    assert.equal(result.killed, false, 'the command hung and was killed');
    assert.equal(result.code, 69, result.stderr);
    assert.equal(result.stderr, `annunciator trust: no TLS handshake from 127.0.0.1:${silent.port} within 300 ms\n`);
  });

  it('implicit TLS on a port that speaks plaintext: says so and suggests --starttls, not an OpenSSL error', async () => {
    const result = await trust(`127.0.0.1:${plain.port}`);
    assert.equal(result.killed, false, 'the command hung and was killed');
    assert.equal(result.code, 69, result.stderr);
    assert.equal(result.stderr, `annunciator trust: 127.0.0.1:${plain.port}: this port speaks plaintext, not TLS; try --starttls\n`);
    assert.doesNotMatch(result.stderr, /SSL routines|wrong version number/);
  });

  it('a refused connection exits 69 with the reason', async () => {
    const closed = await playServer(() => {});
    const port = closed.port;
    await closed.close();
    const result = await trust(`127.0.0.1:${port}`, '--starttls');
    assert.equal(result.killed, false, 'the command hung and was killed');
    assert.equal(result.code, 69);
    assert.match(result.stderr, new RegExp(`^annunciator trust: 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
  });
});

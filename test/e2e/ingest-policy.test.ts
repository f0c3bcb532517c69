import assert from 'node:assert/strict';
import { smtpReplies } from '../helpers/smtp-replies.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startSmtpListener } from '../../src/ingest/smtp/smtp-listener.js';
import { silentLogger } from '../../src/log/logger.js';
import { createCa } from '../helpers/certs.js';
import { greetingFrom, sendAsDevice } from '../helpers/device-client.js';
import { baseConfig, configFrom, eventually, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';

const alarm = Buffer.from('Subject: Pump P3 dry run\r\n\r\nDI-3 ON\r\n');

describe('trusted-LAN policy and limits of the SMTP listener', () => {
  const dir = testDir();
  let gateway: RunningGateway;

  before(async () => {
    gateway = await runGateway(
      configFrom(
        dir,
        baseConfig(dir, {
          listener: { limits: { maxMessageSize: '64KiB', maxConnectionsPerClient: 3, maxRecipients: 3, sessionTimeout: '1500ms' } },
        }),
      ),
    );
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('refuses a client outside the trusted networks with 554 at connect and relays nothing', async () => {
    const { line, socket } = await greetingFrom(gateway.port, '127.0.0.2');
    socket.destroy();
    assert.match(line, /^554 /);
    const result = await sendAsDevice({ port: gateway.port, localAddress: '127.0.0.2', mailFrom: 'x@evil.example', rcptTo: ['victim@example.com'], data: alarm });
    assert.equal(result.dataReply, undefined);
    assert.equal((await gateway.store.inbox.pending(10)).length, 0);
  });

  it('refuses a message over the size limit with 552 and stores nothing of it', async () => {
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(70 * 1024, 'A\r\n')]);
    const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['a@example.com'], data: big });
    assert.match(result.dataReply ?? '', /^552 /);
    assert.ok((await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).every((e) => !e.recipients.includes('a@example.com')));
  });

  it('advertises the size limit in EHLO', async () => {
    const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['ok@example.com'], data: alarm });
    assert.ok(result.replies.some((l) => new RegExp(`^250[- ]SIZE ${64 * 1024}$`).test(l)), result.replies.join(' | '));
  });

  it('answers VRFY and EXPN with 500/502 and never reveals a mailbox', async () => {
    const transcript = await rawSession(gateway.port, ['EHLO plc', 'VRFY root', 'EXPN staff', 'QUIT']);
    assert.match(transcript[2] ?? '', /^50[02] /);
    assert.match(transcript[3] ?? '', /^50[02] /);
  });

  it('limits recipients per message with 452', async () => {
    const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['a1@example.com', 'a2@example.com', 'a3@example.com', 'a4@example.com'], data: alarm });
    assert.ok(result.replies.some((l) => l.startsWith('452 ')), result.replies.join(' | '));
  });

  it('limits connections per client address with 421', async () => {
    const held = await Promise.all([1, 2, 3].map(() => greetingFrom(gateway.port)));
    for (const h of held) assert.match(h.line, /^220 /);
    const fourth = await greetingFrom(gateway.port);
    assert.match(fourth.line, /^421 /);
    for (const h of [...held, fourth]) h.socket.destroy();
  });

  it('ends a session that outlives the session deadline, even when the client keeps talking', async () => {
    // The sockets the test before closed may not have been seen closed by the listener yet.
    const { socket } = await eventually(async () => {
      const attempt = await greetingFrom(gateway.port);
      if (/^220 /.test(attempt.line)) return attempt;
      attempt.socket.destroy();
      return undefined;
    }, 5000, 'a greeting once the per-client slots are free');
    // NOOPs restart the idle timer; only the session deadline ends this.
    const keepAlive = setInterval(() => socket.write('NOOP\r\n'), 200);
    const closed = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('close', () => resolve(text));
    });
    clearInterval(keepAlive);
    assert.match(closed, /421 .*session time limit/);
  });

  it('accepts HELO, MAIL FROM with a space, and a mail with no headers but a subject', async () => {
    const result = await sendAsDevice({ port: gateway.port, useHelo: true, mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'], data: alarm });
    assert.match(result.dataReply ?? '', /^250 .*queued as [0-9A-Z]{26}/);
  });

  it('writes an accepted message, with its envelope, as an .eml file through a file account (what the embedded default uses)', async () => {
    const subject = `Tank T4 overflow ${Date.now()}`;
    const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['eml@example.com'], data: Buffer.from(`Subject: ${subject}\r\n\r\nDI-7 ON\r\n`) });
    assert.match(result.dataReply ?? '', /^250 /);
    const files = join(dir.path, 'files');
    const written = await eventually(
      () => (existsSync(files) ? readdirSync(files).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(files, f), 'latin1')).find((text) => text.includes(subject)) : undefined),
      5000,
      `an .eml file holding "${subject}"`,
    );
    assert.match(written, /^X-Annunciator-Envelope-From: <[^>]*>\r\nX-Annunciator-Envelope-To: <eml@example\.com>\r\n/);
    assert.match(written, new RegExp(`^Subject: ${subject}\r$`, 'm'));
    assert.match(written, /\r\n\r\nDI-7 ON\r\n/);
  });
});

describe('the total connection limit', () => {
  const dir = testDir();
  const logLines: string[] = [];
  let gateway: RunningGateway;
  before(async () => {
    const { default: pino } = await import('pino');
    const logger = pino({ level: 'warn' }, { write: (line: string) => logLines.push(line) });
    // Clients from several loopback addresses, none of them near its per-client limit.
    const listener = { trustedNetworks: ['127.0.0.0/8'], limits: { maxConnections: 5, maxConnectionsPerClient: 4 } };
    gateway = await runGateway(configFrom(dir, baseConfig(dir, { listener })), logger);
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('serves 5 of 12 connections from 4 addresses and answers the other 7 with 421, which are not served', async () => {
    const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const opened = await Promise.all(Array.from({ length: 12 }, (_, i) => greetingFrom(gateway.port, sources[i % sources.length])));
    try {
      const served = opened.filter((o) => /^220 /.test(o.line));
      const refused = opened.filter((o) => /^421 /.test(o.line));
      assert.equal(served.length, 5, opened.map((o) => o.line).join(' | '));
      assert.equal(refused.length, 7, opened.map((o) => o.line).join(' | '));
      for (const r of refused) assert.match(r.line, /^421 gw\.test Too many connected clients \(limit 5\)/);
      // A refused connection is closed: a command written to it gets no reply.
      for (const r of refused) assert.equal(await replyTo(r.socket, 'EHLO late.plant.local'), undefined);
      // The served ones are SMTP sessions.
      for (const s of served) assert.match((await replyTo(s.socket, 'EHLO plc.plant.local')) ?? '', /^250 /);
      assert.ok(logLines.some((l) => /too many connections in total \(421\)/.test(l) && /"limit":5/.test(l) && /"peer":"127\.0\.0\.[2-5]"/.test(l)), logLines.join('\n'));
    } finally {
      for (const o of opened) o.socket.destroy();
    }
  });

  it('serves new connections again once the held ones are closed', async () => {
    const next = await eventually(async () => {
      const attempt = await greetingFrom(gateway.port, '127.0.0.6');
      if (/^220 /.test(attempt.line)) return attempt;
      attempt.socket.destroy();
      return undefined;
    }, 5000, 'a connection served after the others closed');
    next.socket.destroy();
  });
});

/** Writes one command and resolves with the final reply line, or undefined when the connection closes first. */
function replyTo(socket: Socket, command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) return resolve(undefined);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const final = buffer.split(/\r?\n/).find((l) => /^\d{3} /.test(l) && !/^220 /.test(l));
      if (final) {
        socket.off('data', onData);
        resolve(final);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(undefined));
    socket.write(`${command}\r\n`, (error) => {
      if (error) resolve(undefined);
    });
  });
}

describe('early talkers and bare LF are lenient for trusted clients only', () => {
  const dir = testDir();
  let strict: RunningGateway;

  before(async () => {
    strict = await runGateway(configFrom(dir, baseConfig(dir, { listener: { compat: { earlyTalkers: false, bareLf: false } } })));
  });
  after(async () => {
    await strict?.stop();
    dir.remove();
  });

  it('without leniency an early talker gets 421, so the lenient path is what makes the Controllino work', async () => {
    const result = await sendAsDevice({ port: strict.port, behaviour: 'early-pipelining', mailFrom: 'plc@plant.local', rcptTo: ['a@example.com'], data: alarm, timeoutMs: 3000 }).catch(
      (error: Error) => ({ replies: [error.message], dataReply: undefined }),
    );
    assert.ok(result.replies.some((l) => /421 .*talk too soon/i.test(l)), result.replies.join(' | '));
  });

  // Strict mode sends no reply for a bare-LF end of data: smtp-server reads CRLF only, so
  // <LF>.<LF> is message content and DATA stays open. What the device sees is 354 to DATA
  // and then silence until it gives up; any other outcome (a refusal, a reply, a closed
  // connection) fails this test.
  it('without leniency a bare-LF end of data is not taken as the end: 354, then no reply, and nothing stored', async () => {
    await assert.rejects(
      // Every line of the message ends with a bare LF too, as such a device writes it: with the
      // CRLF lines of `alarm` the end would be <CR><LF>.<LF>, which no mode takes as the end.
      sendAsDevice({ port: strict.port, behaviour: 'bare-lf', mailFrom: 'plc@plant.local', rcptTo: ['a@example.com'], data: Buffer.from(alarm.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'), timeoutMs: 1500 }),
      (error: Error) => {
        // greeting, EHLO, MAIL, RCPT, DATA: the 6th final reply, to the end of data, never comes.
        assert.match(error.message, /^device timed out waiting for reply 6; got: /);
        const finals = error.message.replace(/^[^:]*: /, '').split(' | ').filter((l) => /^\d{3} /.test(l));
        assert.deepEqual(finals.map((l) => l.slice(0, 3)), ['220', '250', '250', '250', '354'], error.message);
        return true;
      },
    );
    assert.equal((await strict.store.inbox.pending(10)).length, 0);
    assert.deepEqual(await strict.store.outbox.list(['pending', 'sending', 'sent', 'failed']), []);
  });
});

describe('AUTH and STARTTLS on a listener that also serves clients outside the LAN', () => {
  const dir = testDir();
  const ca = createCa();
  let gateway: RunningGateway;

  before(async () => {
    const leaf = ca.issue('localhost');
    const config = configFrom(
      dir,
      baseConfig(dir, {
        listener: {
          trustedNetworks: ['127.0.0.1/32'],
          tls: { cert: dir.write('gw.pem', leaf.cert), key: dir.write('gw.key', leaf.key) },
          auth: { users: [{ username: 'hmi-7', password: { env: 'HMI_PASSWORD' } }] },
        },
      }),
      { HMI_PASSWORD: 'correct horse' },
    );
    gateway = await runGateway(config);
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  const client = (pass: string, opts: { ignoreTLS?: boolean } = {}) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: gateway.port,
      localAddress: '127.0.0.2',
      secure: false,
      ignoreTLS: opts.ignoreTLS ?? false,
      requireTLS: !opts.ignoreTLS,
      tls: { ca: [ca.cert], servername: 'localhost' },
      auth: { user: 'hmi-7', pass },
    } as Parameters<typeof nodemailer.createTransport>[0]);

  it('relays for an authenticated client from outside after STARTTLS', async () => {
    const info = await client('correct horse').sendMail({ from: 'hmi-7@plant.local', to: 'ops@example.com', subject: 'auth ok', text: 'x' });
    assert.match(info.response, /^250 /);
  });

  it('refuses a wrong password with 535', async () => {
    await assert.rejects(client('wrong').sendMail({ from: 'hmi-7@plant.local', to: 'ops@example.com', subject: 'x', text: 'x' }), (e: { responseCode?: number }) => e.responseCode === 535);
  });

  // As Postfix's smtpd_tls_auth_only: a device that sees AUTH offered in the clear may send
  // its password before it learns that it must STARTTLS first, so it is not offered.
  it('offers AUTH only after STARTTLS: not in the plaintext EHLO, and refused there even with the right password', async () => {
    const socket = netConnect({ port: gateway.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const finals = () => text.split('\r\n').filter((line) => /^\d{3} /.test(line));
    try {
      await eventually(() => finals().length >= 1, 5000, 'the greeting');
      socket.write('EHLO hmi\r\n');
      await eventually(() => finals().length >= 2, 5000, 'the EHLO reply');
      const ehlo = text.split('\r\n').filter((line) => line.startsWith('250'));
      assert.ok(ehlo.some((line) => /^250[- ]STARTTLS$/.test(line)), ehlo.join(' | '));
      assert.ok(!ehlo.some((line) => /^250[- ]AUTH\b/.test(line)), `AUTH offered in the clear: ${ehlo.join(' | ')}`);
      socket.write(`AUTH PLAIN ${Buffer.from('\0hmi-7\0correct horse').toString('base64')}\r\n`);
      await eventually(() => finals().length >= 3, 5000, 'the AUTH reply');
      assert.match(finals()[2] ?? '', /^5\d\d /, finals().join(' | '));
      socket.write('MAIL FROM:<hmi-7@plant.local>\r\n');
      await eventually(() => finals().length >= 4, 5000, 'the MAIL FROM reply');
      assert.match(finals()[3] ?? '', /^530 /, 'not authenticated: refused as any outsider');
    } finally {
      socket.destroy();
    }
  });

  it('refuses an unauthenticated client from outside: 530 at MAIL FROM', async () => {
    const result = await sendAsDevice({ port: gateway.port, localAddress: '127.0.0.2', mailFrom: 'x@evil.example', rcptTo: ['victim@example.com'], data: alarm });
    assert.ok(result.replies.some((l) => l.startsWith('530 ')), result.replies.join(' | '));
    assert.equal(result.dataReply, undefined);
  });

  // The handshake happens on the plaintext port after STARTTLS, as a device does it. The
  // client offers TLS 1.1 only, with OpenSSL's security level lowered so that it really
  // offers it; the listener must refuse with a protocol_version alert (70), i.e. because of
  // its minimum version. (Without the minimum, OpenSSL's own security level would still
  // fail the handshake, but with a different alert; that is not what this test checks.)
  it('refuses TLS 1.1 after STARTTLS: the listener requires TLS 1.2 or newer', async () => {
    await assert.rejects(startTls(gateway.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', ca: [ca.cert] }), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', `expected the listener to refuse TLS 1.1 with a protocol_version alert, got ${error.code}: ${error.message}`);
      return true;
    });
  });

  it('negotiates TLS 1.2 after STARTTLS and goes on speaking SMTP (control for the refusal above)', async () => {
    const socket = await startTls(gateway.port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'DEFAULT@SECLEVEL=0', ca: [ca.cert] });
    try {
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      const replies = await exchange(socket, 'EHLO x');
      assert.match(replies.at(-1) ?? '', /^250 /);
      assert.ok(replies.some((l) => /^250[- ]AUTH /.test(l)), replies.join(' | '));
    } finally {
      socket.destroy();
    }
  });
});

/** Reads the reply lines to one command (all lines up to the final `ddd ` line). */
function exchange(socket: Socket | TLSSocket, command?: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const lines: string[] = [];
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let i;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        lines.push(line);
        if (/^\d{3} /.test(line)) {
          done();
          return resolve(lines);
        }
      }
    };
    const onEnd = () => {
      done();
      reject(new Error(`connection closed after ${JSON.stringify(lines)}`));
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('error', onEnd);
    socket.on('close', onEnd);
    if (command) socket.write(`${command}\r\n`);
  });
}

/** Connects in plaintext, says EHLO and STARTTLS, then runs the TLS handshake on that socket. */
async function startTls(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  const plain = netConnect({ port, host: '127.0.0.1' });
  try {
    assert.match((await exchange(plain)).at(-1) ?? '', /^220 /);
    const ehlo = await exchange(plain, 'EHLO x');
    assert.ok(ehlo.some((l) => /^250[- ]STARTTLS$/.test(l)), ehlo.join(' | '));
    assert.match((await exchange(plain, 'STARTTLS')).at(-1) ?? '', /^220 /);
  } catch (error) {
    plain.destroy();
    throw error;
  }
  return new Promise<TLSSocket>((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket: plain, servername: 'localhost' });
    secure.once('secureConnect', () => resolve(secure));
    secure.once('error', (error) => {
      secure.destroy();
      reject(error);
    });
  });
}

describe('a store that cannot commit', () => {
  it('answers 451 so the device retries, and logs why', async () => {
    const lines: string[] = [];
    const dir = testDir();
    const config = configFrom(dir, baseConfig(dir));
    const { default: pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const listener = await startSmtpListener({
      listener: config.listeners[0]!,
      hostname: 'gw.test',
      logger,
      commit: async () => {
        throw new Error('SQLITE_FULL: database or disk is full');
      },
    });
    try {
      const result = await sendAsDevice({ port: listener.address().port, mailFrom: 'plc@plant.local', rcptTo: ['a@example.com'], data: alarm });
      assert.match(result.dataReply ?? '', /^451 /);
      assert.ok(lines.some((l) => /could not commit/.test(l) && /SQLITE_FULL/.test(l)));
    } finally {
      await listener.close();
      dir.remove();
    }
    void silentLogger;
  });
});

/** Sends commands one by one over plaintext and returns the final reply line to each (greeting first). */
async function rawSession(port: number, commands: string[]): Promise<string[]> {
  const { connect } = await import('node:net');
  const socket = connect({ port, host: '127.0.0.1' });
  const { finals, until: waitFor } = smtpReplies(socket);
  await waitFor(1);
  for (const [i, command] of commands.entries()) {
    socket.write(`${command}\r\n`);
    if (command === 'QUIT') break;
    await waitFor(i + 2);
  }
  socket.destroy();
  return finals;
}

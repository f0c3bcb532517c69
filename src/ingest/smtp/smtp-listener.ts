import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { SMTPServer as SMTPServerClass, SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { requireCommonJs } from '../../base/commonjs.js';
import { newId } from '../../base/ids.js';
import { TrustedNetworks, unmapIpv4 } from '../../base/trusted-networks.js';
import type { ListenerConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import { RateLimitedLog } from '../../log/rate-limited-log.js';
import type { Received } from '../received.js';
import { ClientSlots, connectionRefusal } from './client-slots.js';
import { MimeStructure } from './mime-structure.js';
import { acceptBareLfData, greetWithoutDelay, holdEarlyCommands, isPatchableConnection } from './lenient-connection.js';

/** smtp-server's CommonJS build (src/base/commonjs.ts says why). */
const { SMTPServer } = requireCommonJs<{ SMTPServer: typeof SMTPServerClass }>('smtp-server');

/** Where accepted messages go; durable when it resolves, or it rejects. */
export type CommitReceived = (received: Received) => Promise<void>;

export interface SmtpListenerOptions {
  listener: ListenerConfig;
  hostname: string;
  logger: Logger;
  commit: CommitReceived;
  /** Recipient domains the gateway relays to; undefined relays to any. */
  allowedRecipientDomains?: readonly string[];
  now?: () => number;
  /** Hears every refusal this listener answers (metrics count them); the log line stays here. */
  refused?: (refusal: SmtpRefusal) => void;
}

/** A reply that refused a device: at which step, the reply code, and why in a word (a bounded set, fit for a metric label). */
export interface SmtpRefusal {
  listener: string;
  stage: 'connect' | 'auth' | 'mail' | 'rcpt' | 'data' | 'session';
  code: number;
  reason: string;
}

export interface SmtpListener {
  readonly name: string;
  address(): AddressInfo;
  close(): Promise<void>;
}

class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One SMTP listener: trusted-LAN devices relay without AUTH, everybody else must
 * authenticate or is refused; each accepted message is committed before `250`.
 */
export async function startSmtpListener(options: SmtpListenerOptions): Promise<SmtpListener> {
  const { listener, logger, commit } = options;
  const now = options.now ?? Date.now;
  const trusted = new TrustedNetworks(listener.trustedNetworks);
  const slots = new ClientSlots();
  const limits = listener.limits;
  const log = logger.child({ listener: listener.name });
  // A failing store fails every device's mail: one line a minute per cause, with the count.
  const commitFailures = new RateLimitedLog(log, 60_000, now);
  const isTrusted = (session: SMTPServerSession): boolean => trusted.contains(session.remoteAddress);
  const earlyTalkers = leniencyFor(listener.compat.earlyTalkers);
  const bareLfClients = leniencyFor(listener.compat.bareLf);
  const peer = (session: SMTPServerSession) => ({ peer: unmapIpv4(session.remoteAddress), session: session.id });
  /** Tells the hook of a refusal and gives the reply to send. */
  const refuse = (stage: SmtpRefusal['stage'], code: number, reason: string, text: string): SmtpReply => {
    options.refused?.({ listener: listener.name, stage, code, reason });
    return new SmtpReply(code, text);
  };

  const disabledCommands = ['VRFY'];
  if (!listener.auth) disabledCommands.push('AUTH');
  if (!listener.tls) disabledCommands.push('STARTTLS');
  const authOnlyOverTls = listener.auth !== undefined && listener.tls !== undefined && !listener.auth.allowPlaintext;

  // Connections are counted and refused here, when the socket is accepted, rather than in
  // onConnect: a refused socket then never becomes an SMTP session (nothing of it is
  // parsed or served) and the count does not depend on when smtp-server adds a session
  // to, or drops it from, its own set.
  const refusals = new RateLimitedLog(log, 60_000, now);
  const refuseAtTheDoor = (socket: Socket, address: string, refusal: { scope: 'total' | 'client'; limit: number }): void => {
    const total = refusal.scope === 'total';
    options.refused?.({ listener: listener.name, stage: 'connect', code: 421, reason: total ? 'too-many-connections' : 'too-many-connections-from-client' });
    refusals.warn(
      total ? 'connections|total' : `connections|${address}`,
      { peer: address, port: socket.remotePort, open: total ? slots.total : slots.count(address), limit: refusal.limit },
      total ? 'refused connection: too many connections in total (421)' : 'refused connection: too many connections from this client (421)',
    );
    // No EHLO yet, so no enhanced status code (RFC 2034, section 3).
    const text = total ? `Too many connected clients (limit ${refusal.limit}), try again in a moment` : `Too many connections from your address (limit ${refusal.limit}), try again later`;
    socket.on('error', () => {});
    // Read and drop whatever an early talker sends, so closing does not reset the
    // connection before the client has read the reply.
    socket.resume();
    socket.end(`421 ${options.hostname} ${text}\r\n`);
    const linger = setTimeout(() => socket.destroy(), 5000);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  };

  class GatewaySmtpServer extends SMTPServer {
    override connect(socket: Socket, socketOptions: unknown): void {
      const address = unmapIpv4(socket.remoteAddress ?? '');
      const refusal = connectionRefusal(slots, address, limits);
      if (refusal) return refuseAtTheDoor(socket, address, refusal);
      slots.acquire(address);
      socket.once('close', () => slots.release(address));
      super.connect(socket, socketOptions as Parameters<SMTPServerClass['connect']>[1]);
      // super.connect() just added this socket's connection; patch it before any data is read.
      const connection = [...this.connections].pop();
      const deadline = setTimeout(() => {
        log.warn({ peer: address }, 'session time limit reached, closing the connection');
        options.refused?.({ listener: listener.name, stage: 'session', code: 421, reason: 'session-time-limit' });
        if (isPatchableConnection(connection)) {
          connection.send(421, `${options.hostname} session time limit reached, closing connection`);
          connection.close();
        } else {
          socket.destroy();
        }
      }, limits.sessionTimeout);
      deadline.unref();
      socket.once('close', () => clearTimeout(deadline));
      if (!trusted.contains(address)) return;
      const earlyTalker = earlyTalkers(address);
      const bareLf = bareLfClients(address);
      if (!earlyTalker && !bareLf) return;
      if (!isPatchableConnection(connection)) {
        log.error('smtp-server internals changed: early-talker and bare-LF leniency are off');
        return;
      }
      if (earlyTalker) {
        holdEarlyCommands(connection);
        greetWithoutDelay(connection);
      }
      if (bareLf) {
        acceptBareLfData(connection, () =>
          log.warn({ peer: address }, 'a line holding only a dot between a bare LF and a CRLF did not end DATA (SMTP smuggling?); it stays in the message as content'),
        );
      }
    }
  }

  const server = new GatewaySmtpServer({
    name: options.hostname,
    banner: 'Annunciator',
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: listener.auth?.allowPlaintext ?? false,
    disabledCommands,
    hideSTARTTLS: !listener.tls,
    ...(listener.tls ? { key: listener.tls.key, cert: listener.tls.cert, minVersion: listener.tls.minVersion } : {}),
    size: limits.maxMessageSize,
    rejectOversized: true,
    // maxRecipients is enforced in onRcptTo and the connection limits in connect(), where
    // the refusal can be logged with the peer; smtp-server would refuse silently.
    socketTimeout: limits.idleTimeout,
    closeTimeout: 5000,
    lenientAddressParsing: true,

    onConnect(session, callback) {
      const address = unmapIpv4(session.remoteAddress);
      if (!isTrusted(session) && !listener.auth) {
        log.warn({ peer: address }, 'refused connection: client is outside the trusted networks (554)');
        return callback(refuse('connect', 554, 'untrusted-network', '5.7.1 Access denied: this relay serves the plant network only'));
      }
      log.debug(peer(session), 'connection');
      // As Postfix's smtpd_tls_auth_only: AUTH is offered only once the session is encrypted.
      // Offered in the plaintext EHLO, a device may send its password in the clear before it
      // hears 538; not offered, it never does.
      if (authOnlyOverTls) session.disabledCommands = [...disabledCommands, 'AUTH'];
      callback();
    },

    onSecure(_socket, session, callback) {
      if (authOnlyOverTls) session.disabledCommands = disabledCommands;
      callback();
    },

    onAuth(auth: SMTPServerAuthentication, session, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) {
      const user = listener.auth?.users.find((u) => u.username === auth.username);
      if (!user || !auth.password || !sameSecret(user.password.reveal(), auth.password)) {
        log.warn({ ...peer(session), user: auth.username }, 'authentication failed (535)');
        return callback(refuse('auth', 535, 'auth-failed', '5.7.8 Authentication credentials invalid'));
      }
      log.info({ ...peer(session), user: auth.username }, 'authenticated');
      callback(null, { user: auth.username });
    },

    onMailFrom(address: SMTPServerAddress, session, callback) {
      if (!isTrusted(session) && !session.user) {
        log.warn({ ...peer(session), from: address.address }, 'refused MAIL FROM: not authenticated and outside the trusted networks (530)');
        return callback(refuse('mail', 530, 'auth-required', '5.7.0 Authentication required'));
      }
      callback();
    },

    onRcptTo(address: SMTPServerAddress, session, callback) {
      // MAIL FROM already refused such a client, so smtp-server answers its RCPT with 503;
      // this guard keeps the relay closed should that order ever change.
      if (!isTrusted(session) && !session.user) {
        log.warn({ ...peer(session), to: address.address }, 'refused RCPT TO: relay access denied (550)');
        return callback(refuse('rcpt', 550, 'relay-denied', '5.7.1 Relay access denied'));
      }
      const known = session.envelope.rcptTo.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
      if (!known && session.envelope.rcptTo.length >= limits.maxRecipients) {
        log.warn({ ...peer(session), to: address.address, limit: limits.maxRecipients }, 'refused RCPT TO: too many recipients (452)');
        return callback(refuse('rcpt', 452, 'too-many-recipients', '4.5.3 Too many recipients'));
      }
      const domain = address.address.split('@').pop()?.toLowerCase() ?? '';
      if (options.allowedRecipientDomains && !options.allowedRecipientDomains.some((d) => d.toLowerCase() === domain)) {
        log.warn({ ...peer(session), to: address.address }, 'refused RCPT TO: recipient domain not allowed (550)');
        return callback(refuse('rcpt', 550, 'recipient-domain', `5.7.1 Relaying to ${domain || 'that address'} is not allowed`));
      }
      callback();
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      const structure = new MimeStructure(limits);
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        structure.write(chunk);
        // Past a limit the message is refused at its end; keep no more of it in memory.
        if (size <= limits.maxMessageSize && !structure.violation) chunks.push(chunk);
        else chunks.length = 0;
      });
      stream.on('end', () => {
        if (stream.sizeExceeded || size > limits.maxMessageSize) {
          log.warn({ ...peer(session), size, limit: limits.maxMessageSize }, 'refused message: over the size limit (552)');
          return callback(refuse('data', 552, 'size-limit', `5.3.4 Message exceeds the size limit of ${limits.maxMessageSize} bytes`));
        }
        structure.end();
        const violation = structure.violation;
        if (violation) {
          log.warn(
            { ...peer(session), from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null, rcpt: session.envelope.rcptTo.map((r) => r.address), size, limit: violation.limit, max: violation.max },
            `refused message: ${violation.reason}, over the limit ${violation.limit} (${violation.code})`,
          );
          return callback(refuse('data', violation.code, violation.limit, violation.reply));
        }
        const received: Received = {
          id: newId(),
          receivedAt: now(),
          listener: listener.name,
          peer: {
            address: unmapIpv4(session.remoteAddress),
            port: session.remotePort,
            helo: session.hostNameAppearsAs || undefined,
            authUser: typeof session.user === 'string' ? session.user : undefined,
            secure: session.secure,
          },
          envelope: {
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address || null : null,
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
          },
          raw: Buffer.concat(chunks, size),
        };
        // A commit that throws instead of rejecting must still give 451, not crash the stream.
        Promise.resolve()
          .then(() => commit(received))
          .then(
          () => {
            log.info(
              { msgId: received.id, ...peer(session), helo: received.peer.helo, from: received.envelope.mailFrom, rcpt: received.envelope.rcptTo, size },
              'accepted message',
            );
            callback(null, `2.0.0 Ok: queued as ${received.id}`);
          },
          (error: unknown) => {
            const code = (error as { code?: unknown } | null)?.code;
            commitFailures.error(`commit|${typeof code === 'string' ? code : 'error'}`, { ...peer(session), err: error }, 'could not commit the message to the store; device told to retry (451)');
            callback(refuse('data', 451, 'store-failure', '4.3.0 Temporary storage failure, try again later'));
          },
        );
      });
    },
  });

  server.on('error', (error: Error) => log.warn({ err: error }, 'smtp connection error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(listener.port, listener.address, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const bound = server.server.address() as AddressInfo;
  log.info({ address: bound.address, port: bound.port, trustedNetworks: listener.trustedNetworks, starttls: !!listener.tls, auth: !!listener.auth }, 'smtp listener ready');

  return {
    name: listener.name,
    address: () => server.server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Which trusted clients a leniency applies to: all (`true`), none, or those in the listed networks. */
function leniencyFor(setting: boolean | readonly string[]): (address: string) => boolean {
  if (typeof setting === 'boolean') return () => setting;
  const networks = new TrustedNetworks(setting);
  return (address) => networks.contains(address);
}

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { KeyAndCert } from './certs.js';

export interface UpstreamMessage {
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
  user?: string;
  authMethod?: string;
}

export type UpstreamAuth = { user: string; pass: string } | { user: string; accessToken: () => string };

export interface UpstreamOptions {
  security: 'tls' | 'starttls' | 'none';
  tls?: KeyAndCert;
  auth?: UpstreamAuth;
  /** Reply code for each DATA (called per message); 250 when absent. */
  dataReply?: (attempt: number) => number;
  /** Reply code per RCPT TO address; 250 when absent. */
  rcptReply?: (address: string) => number;
  /** Awaited after the data of a message arrived, before its reply: holds a delivery mid-way. */
  beforeDataReply?: () => Promise<void>;
  /**
   * The highest TLS version the server offers (none by default). Below TLSv1.2 the server
   * also takes TLS 1.0 and lowers OpenSSL's security level to 0, without which OpenSSL
   * would not speak the old version at all: a legacy mail server that offers only that.
   */
  maxTlsVersion?: SecureVersion;
}

export interface Upstream {
  port: number;
  messages: UpstreamMessage[];
  dataAttempts: number;
  authFailures: number;
  waitForMessages(count: number, timeoutMs?: number): Promise<UpstreamMessage[]>;
  close(): Promise<void>;
}

function tlsVersions(max: SecureVersion | undefined): { minVersion: SecureVersion; maxVersion?: SecureVersion; ciphers?: string } {
  if (max === undefined) return { minVersion: 'TLSv1.2' };
  if (max === 'TLSv1' || max === 'TLSv1.1') return { minVersion: 'TLSv1', maxVersion: max, ciphers: 'DEFAULT@SECLEVEL=0' };
  return { minVersion: 'TLSv1.2', maxVersion: max };
}

interface SessionAuth {
  user?: string;
  method?: string;
}

/**
 * A real SMTP server on loopback playing a mail provider: implicit TLS (465-style),
 * STARTTLS required (587-style) or plaintext, with PLAIN/LOGIN or XOAUTH2 required.
 */
export async function startUpstream(options: UpstreamOptions, port = 0): Promise<Upstream> {
  const messages: UpstreamMessage[] = [];
  const waiters: Array<() => void> = [];
  let dataAttempts = 0;
  let authFailures = 0;
  const auths = new WeakMap<SMTPServerSession, SessionAuth>();
  const server = new SMTPServer({
    secure: options.security === 'tls',
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    ...tlsVersions(options.maxTlsVersion),
    logger: false,
    disableReverseLookup: true,
    hideSTARTTLS: options.security !== 'starttls',
    disabledCommands: options.security === 'starttls' ? [] : ['STARTTLS'],
    authOptional: !options.auth,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    onAuth(auth, session, callback) {
      const expected = options.auth;
      const ok =
        expected !== undefined &&
        auth.username === expected.user &&
        ('pass' in expected ? auth.password === expected.pass && auth.method !== 'XOAUTH2' : auth.method === 'XOAUTH2' && auth.accessToken === expected.accessToken());
      if (!ok) {
        authFailures += 1;
        return callback(Object.assign(new Error('5.7.8 Authentication failed'), { responseCode: 535 }));
      }
      auths.set(session, { user: auth.username, method: auth.method });
      callback(null, { user: auth.username });
    },
    onMailFrom(_address, session, callback) {
      if (options.security === 'starttls' && !session.secure) {
        return callback(Object.assign(new Error('5.7.0 Must issue a STARTTLS command first'), { responseCode: 530 }));
      }
      callback();
    },
    onRcptTo(address, _session, callback) {
      const code = options.rcptReply?.(address.address) ?? 250;
      if (code >= 400) return callback(Object.assign(new Error(`${code === 450 ? '4.2.1 Mailbox busy' : '5.1.1 No such user'}`), { responseCode: code }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        await options.beforeDataReply?.();
        dataAttempts += 1;
        const code = options.dataReply?.(dataAttempts) ?? 250;
        if (code >= 400) return callback(Object.assign(new Error(code >= 500 ? '5.6.0 Message refused' : '4.3.2 Try again later'), { responseCode: code }));
        const raw = Buffer.concat(chunks);
        const auth = auths.get(session);
        simpleParser(raw)
          .then((parsed) => {
            messages.push({
              mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              rcptTo: session.envelope.rcptTo.map((r) => r.address),
              raw,
              parsed,
              user: auth?.user,
              authMethod: auth?.method,
            });
            for (const wake of waiters.splice(0)) wake();
            callback(null, '2.0.0 Ok: queued upstream');
          })
          .catch((error: Error) => callback(error));
      });
    },
  });
  server.on('error', () => {});
  server.listen(port, '127.0.0.1');
  await once(server.server, 'listening');
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    get dataAttempts() {
      return dataAttempts;
    },
    get authFailures() {
      return authFailures;
    },
    async waitForMessages(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`upstream got ${messages.length} of ${count} messages within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return messages;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

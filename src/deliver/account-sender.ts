import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type MailMessage from 'nodemailer/lib/mailer/mail-message';
import type MimeNodeClass from 'nodemailer/lib/mime-node';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { requireCommonJs } from '../base/commonjs.js';
import { upstreamTlsOptions } from '../base/tls-policy.js';
import { oauth2ClientOptions } from '../config/oauth2-client.js';
import type { Account, FileAccount, SmtpAccount } from '../config/types.js';
import { installDataStreamFastPath } from './data-stream-fast-path.js';

/** nodemailer's CommonJS build (src/base/commonjs.ts says why). */
const nodemailer = requireCommonJs<typeof Nodemailer>('nodemailer');
const MimeNode = requireCommonJs<typeof MimeNodeClass>('nodemailer/lib/mime-node');
installDataStreamFastPath();

export interface SendRequest {
  id: string;
  envelopeFrom: string;
  recipients: string[];
  message: Buffer;
}

export interface SendResult {
  accepted: string[];
  /** Recipients the upstream refused while it took the message for others. */
  rejected: { address: string; responseCode?: number; reason: string }[];
  response: string;
}

/** One outgoing account: an upstream SMTP server, or a directory of .eml files. */
export interface AccountSender {
  readonly name: string;
  readonly description: string;
  send(request: SendRequest): Promise<SendResult>;
  close(): void;
}

/** `connections`: how many upstream connections an SMTP account may keep open and reuse. */
export function createSender(account: Account, hostname: string, connections: number): AccountSender {
  return account.type === 'file' ? new FileSender(account) : new SmtpSender(account, hostname, connections);
}

class SmtpSender implements AccountSender {
  readonly name: string;
  readonly description: string;
  // Kept for the life of the gateway, so an OAuth2 access token is reused until it expires.
  private readonly transport: Transporter<SMTPPool.SentMessageInfo>;

  constructor(
    private readonly account: SmtpAccount,
    hostname: string,
    connections: number,
  ) {
    this.name = account.name;
    this.description = `${account.host}:${account.port} (${account.security})`;
    const auth = account.auth;
    // Pooled: a burst of alarms reuses authenticated connections instead of paying a
    // TCP, TLS and AUTH round trip per message.
    this.transport = nodemailer.createTransport({
      pool: true,
      maxConnections: connections,
      maxMessages: 100,
      host: account.host,
      port: account.port,
      name: hostname,
      secure: account.security === 'tls',
      requireTLS: account.security === 'starttls',
      ignoreTLS: account.security === 'none',
      tls: upstreamTlsOptions(account),
      connectionTimeout: account.connectionTimeout,
      greetingTimeout: account.connectionTimeout,
      socketTimeout: Math.max(account.connectionTimeout, 60_000),
      logger: false,
      debug: false,
      ...(auth?.type === 'oauth2'
        ? {
            auth: { type: 'OAuth2' as const, ...oauth2ClientOptions(auth) },
          }
        : auth
          ? { auth: { user: auth.user, pass: auth.password.reveal() }, authMethod: auth.type.toUpperCase() }
          : {}),
    });
  }

  async send(request: SendRequest): Promise<SendResult> {
    // Providers only take an envelope sender the account owns; a login that is not an
    // address (a LAN relay's "alarms") cannot be one.
    const login = this.account.auth?.user;
    const from = this.account.envelopeFrom ?? (login?.includes('@') ? login : request.envelopeFrom);
    const info = await new Promise<SMTPPool.SentMessageInfo>((resolve, reject) => {
      this.transport.transporter.send(finishedMail(smtpEnvelope(from, request.recipients), request.message, request.id), (error, sent) => (error || !sent ? reject(error ?? new Error('the SMTP pool gave no result')) : resolve(sent)));
    });
    const rejectedErrors = (info as { rejectedErrors?: { recipient?: string; responseCode?: number; response?: string; message?: string }[] }).rejectedErrors ?? [];
    const rejected = (info.rejected ?? []).map((address) => {
      const detail = rejectedErrors.find((e) => e.recipient === address);
      return { address, responseCode: detail?.responseCode, reason: detail?.response ?? detail?.message ?? 'rejected' };
    });
    return { accepted: info.accepted ?? [], rejected, response: info.response };
  }

  close(): void {
    this.transport.close();
  }
}

interface SmtpEnvelope {
  from: string | false;
  to: string[];
}

/** The gateway sends to the same few lists again and again. */
const envelopes = new Map<string, SmtpEnvelope>();

/**
 * The envelope as nodemailer's composer makes it of `{ envelope: { from, to } }`: addresses
 * parsed, international domains in punycode, repeated recipients dropped. Worked out by
 * nodemailer itself, once per sender and list of recipients.
 */
function smtpEnvelope(from: string, to: string[]): SmtpEnvelope {
  const key = JSON.stringify([from, to]);
  let envelope = envelopes.get(key);
  if (!envelope) {
    const made = new MimeNode().setEnvelope({ from, to }).getEnvelope();
    envelope = { from: made.from, to: made.to };
    if (envelopes.size >= 1000) envelopes.clear();
    envelopes.set(key, envelope);
  }
  // A copy: the connection keeps what it is handed for the length of the send.
  return { from: envelope.from, to: [...envelope.to] };
}

/**
 * A finished message as the pool takes it from nodemailer's Mailer, without Mailer composing
 * it again: the gateway's messages are bytes already, and Mailer's way with a raw message is
 * a composer, a MimeNode with a fresh boundary and message id, and a pipeline of streams, per
 * message. What the pool reads of a mail (smtp-pool, pool-resource) is this: the envelope, a
 * message id for its log, and the bytes as a stream. The line break that Mailer's stream adds
 * where the last line has none, SMTP's DATA encoder adds the same way
 * (test/deliver/account-sender.test.ts compares both on a real SMTP server).
 */
function finishedMail(envelope: SmtpEnvelope, message: Buffer, id: string): MailMessage<SMTPPool.SentMessageInfo> {
  const messageId = `<${id}@annunciator>`;
  const mail = {
    data: {},
    message: {
      getEnvelope: () => envelope,
      messageId: () => messageId,
      getHeader: (name: string) => (name.toLowerCase() === 'message-id' ? messageId : undefined),
      createReadStream: () => Readable.from([message], { objectMode: false }),
    },
  };
  // The pool's parameter is Mailer's class; it reads only the members above (see the comment).
  return mail as unknown as MailMessage<SMTPPool.SentMessageInfo>;
}

/** Writes each message as `<outbox id>.eml`: the embedded default, so a new user sees results without credentials. */
class FileSender implements AccountSender {
  readonly name: string;
  readonly description: string;

  constructor(private readonly account: FileAccount) {
    this.name = account.name;
    this.description = `directory ${account.directory}`;
  }

  async send(request: SendRequest): Promise<SendResult> {
    mkdirSync(this.account.directory, { recursive: true });
    const target = join(this.account.directory, `${request.id}.eml`);
    const temporary = `${target}.tmp`;
    const envelope = `X-Annunciator-Envelope-From: <${request.envelopeFrom}>\r\nX-Annunciator-Envelope-To: ${request.recipients.map((r) => `<${r}>`).join(', ')}\r\n`;
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, envelope);
      writeSync(fd, request.message);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, target);
    return { accepted: request.recipients, rejected: [], response: `written to ${target}` };
  }

  close(): void {}
}

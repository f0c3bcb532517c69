import { ImapFlow, type ImapFlowOptions, type SearchObject } from 'imapflow';
import type { ConnectionOptions } from 'node:tls';
import { retryDelay } from '../../base/backoff.js';
import { upstreamTlsOptions } from '../../base/tls-policy.js';
import type { ReplyAccountConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import { AccessTokenSource } from './access-token.js';

/** One mail of the reply folder, as fetched: at most `FETCH_LIMIT` bytes of it. */
export interface FetchedReply {
  uid: number;
  source: Buffer;
  /** The mail is longer than what was fetched (the text comes first; attachments are not needed). */
  truncated: boolean;
}

/**
 * Decides about one reply and acts on it. Resolving lets the watcher mark it processed;
 * throwing leaves it unmarked, to be tried again at the next sweep.
 */
export type ReplyHandler = (reply: FetchedReply) => Promise<void>;

export interface ReplyWatcherOptions {
  account: ReplyAccountConfig;
  logger: Logger;
  handle: ReplyHandler;
  random?: () => number;
}

/** The first 1 MiB of a reply is read: its text, before any attachment, is all that counts. */
export const FETCH_LIMIT = 1024 * 1024;
/** How long stop() lets the message in hand finish and the server hear LOGOUT. */
const STOP_GRACE = 2000;

/** A configuration the server cannot honour (no such folder, flags it will not keep): retried, but at the longest delay. */
class MailboxProblem extends Error {}

/**
 * Watches one IMAP folder for replies: connects (implicit TLS, STARTTLS required, or plain
 * to a trusted server), opens the folder, hands every reply not yet processed to the
 * handler and marks it processed (flags, then a move when configured), then waits in IDLE
 * where the server has it (a new mail wakes it at once) and polls every `pollInterval`
 * as well (the only way where it has no IDLE). A failed connection, login or folder is
 * retried with exponential backoff and jitter, logged each time; the gateway runs on.
 */
export class ReplyWatcher {
  private client: ImapFlow | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly tls: ConnectionOptions;
  private readonly tokens: AccessTokenSource | undefined;
  private readonly random: () => number;
  /** Wakes the wait between sweeps: a new mail, the poll timer, a lost connection, stop(). */
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  private connectedNow = false;
  readonly stats = { connects: 0, failures: 0, sweeps: 0, handled: 0, handlerErrors: 0 };

  constructor(private readonly options: ReplyWatcherOptions) {
    const { account } = options;
    this.tls = upstreamTlsOptions(account);
    this.tokens = account.auth.type === 'oauth2' ? new AccessTokenSource(account.auth) : undefined;
    this.random = options.random ?? Math.random;
  }

  /** Logged in with the folder open. */
  get connected(): boolean {
    return this.connectedNow && (this.client?.usable ?? false);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops within a few seconds: the reply in hand may finish, then LOGOUT, else the socket is closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    for (const done of [...this.stopWaiters]) done();
    if (!this.loop) return;
    if (!(await settlesWithin(this.loop, STOP_GRACE))) {
      this.client?.close();
      await settlesWithin(this.loop, STOP_GRACE);
    }
  }

  private wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  private readonly stopWaiters = new Set<() => void>();

  private async run(): Promise<void> {
    const { account, logger } = this.options;
    let attempt = 0;
    let renewToken = false;
    while (!this.stopped) {
      try {
        await this.session(renewToken, () => {
          // Only a session that got as far as its first sweep resets the backoff: a server
          // that takes the login and then fails the folder must not be hammered.
          attempt = 0;
        });
      } catch (error) {
        if (this.stopped) break;
        this.stats.failures += 1;
        const problem = isAuthFailure(error) ? 'auth' : error instanceof MailboxProblem ? 'mailbox' : 'other';
        attempt += 1;
        renewToken = problem === 'auth' && this.tokens !== undefined;
        const delay = problem === 'mailbox' ? account.reconnect.maxDelay : this.backoff(attempt);
        const fields = { account: account.name, host: account.host, port: account.port, attempt, retryInMs: delay, err: describeError(error) };
        if (problem === 'auth') {
          logger.error({ ...fields, user: account.auth.user }, `the reply mailbox refused the login of ${account.auth.user} (check the ${account.auth.type === 'oauth2' ? 'OAuth2 credentials' : 'password'}); retrying`);
        } else if (problem === 'mailbox') {
          logger.error({ ...fields, folder: account.folder }, `reply mailbox unusable: ${(error as Error).message}; retrying`);
        } else {
          logger.warn(fields, 'reply mailbox connection failed or was lost; reconnecting');
        }
        await this.pause(delay);
        continue;
      }
      if (this.stopped) break;
      // The session ended without an error: the server closed the connection.
      attempt += 1;
      const delay = this.backoff(attempt);
      logger.warn({ account: account.name, attempt, retryInMs: delay }, 'reply mailbox connection closed by the server; reconnecting');
      await this.pause(delay);
    }
  }

  private backoff(attempt: number): number {
    const { initialDelay, maxDelay } = this.options.account.reconnect;
    return retryDelay(attempt, { initialDelay, maxDelay, factor: 2, jitter: 0.2 }, this.random);
  }

  /** Sleeps `ms` between connection attempts; only stop() cuts it short. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.stopWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopWaiters.add(done);
    });
  }

  /** One connection: login, open the folder, sweep, wait, sweep, ... until it is lost or stopped. */
  private async session(renewToken: boolean, onFirstSweep: () => void): Promise<void> {
    const { account, logger } = this.options;
    const client = new ImapFlow(await this.clientOptions(renewToken));
    this.client = client;
    let closed = false;
    client.on('error', (error: unknown) => logger.debug({ account: account.name, err: describeError(error) }, 'reply mailbox connection error'));
    client.on('close', () => {
      closed = true;
      this.wake();
    });
    client.on('exists', () => this.wake());
    try {
      if (this.stopped) return;
      await client.connect();
      this.stats.connects += 1;
      const mailbox = await client.mailboxOpen(account.folder).catch((error: unknown) => {
        // The server said no (no such folder, no right to it); anything else is the connection.
        if ((error as { responseStatus?: string }).responseStatus === 'NO') {
          throw new MailboxProblem(`folder "${account.folder}" cannot be opened (${describeError(error).response ?? describeError(error).message})`);
        }
        throw error;
      });
      await this.checkMailbox(client, mailbox.permanentFlags);
      const idle = client.capabilities.has('IDLE');
      this.connectedNow = true;
      logger.info(
        { account: account.name, host: account.host, port: account.port, security: account.security, folder: account.folder, messages: mailbox.exists, idle, pollInterval: account.pollInterval },
        `watching ${account.folder} for replies (${idle ? 'IDLE' : 'no IDLE on this server: polling'})`,
      );
      let first = true;
      while (!this.stopped && !closed && client.usable) {
        this.wakePending = false;
        await this.sweep(client);
        if (first) {
          first = false;
          onFirstSweep();
        }
        if (this.stopped || closed || !client.usable) break;
        // A mail that arrived during the sweep: sweep again at once.
        if (this.wakePending) continue;
        const woke = this.waitForWake(account.pollInterval);
        // IDLE until something happens; the next command (the sweep's SEARCH) ends it.
        if (idle) void client.idle().catch(() => undefined);
        await woke;
      }
    } finally {
      this.connectedNow = false;
      this.client = undefined;
      if (!closed && client.usable) {
        await settlesWithin(client.logout(), STOP_GRACE);
      }
      client.close();
    }
  }

  private async clientOptions(renewToken: boolean): Promise<ImapFlowOptions> {
    const { account } = this.options;
    const auth = account.auth.type === 'oauth2'
      ? { user: account.auth.user, accessToken: await this.tokens!.get(renewToken) }
      : { user: account.auth.user, pass: account.auth.password.reveal(), loginMethod: account.auth.type === 'plain' ? 'AUTH=PLAIN' : 'LOGIN' };
    return {
      host: account.host,
      port: account.port,
      secure: account.security === 'tls',
      // STARTTLS required: a stripped capability must fail the connection, not send the password in clear.
      doSTARTTLS: account.security === 'starttls' ? true : account.security === 'none' ? false : undefined,
      tls: this.tls,
      auth,
      logger: false,
      emitLogs: false,
      disableAutoIdle: true,
      connectionTimeout: account.connectionTimeout,
      greetingTimeout: account.connectionTimeout,
      // Quiet between polls (no IDLE) or in IDLE: longer than the poll, so the watchdog only catches a dead server.
      socketTimeout: Math.max(5 * 60_000, account.pollInterval + 60_000),
      // Servers end an IDLE after 30 minutes (RFC 2177): restart it well before.
      maxIdleTime: Math.min(account.pollInterval, 25 * 60_000),
      clientInfo: { name: 'annunciator' },
      maxLiteralSize: 64 * 1024 * 1024,
    };
  }

  /**
   * A keyword the folder will not keep would be dropped silently (imapflow sets only
   * permitted flags), and every reply read again at each sweep; a missing move target
   * would fail every reply. Both are said at connect time.
   */
  private async checkMailbox(client: ImapFlow, permanentFlags: Set<string> | undefined): Promise<void> {
    const { account } = this.options;
    const keywords = account.processed.flags.filter((f) => !f.startsWith('\\'));
    if (keywords.length > 0 && permanentFlags && !permanentFlags.has('\\*')) {
      const refused = keywords.filter((k) => ![...permanentFlags].some((f) => f.toLowerCase() === k.toLowerCase()));
      if (refused.length > 0) {
        throw new MailboxProblem(`the server does not keep the keyword ${refused.join(', ')} in "${account.folder}" (PERMANENTFLAGS ${[...permanentFlags].join(' ')}); use processed.flags [\\Seen, \\Flagged] or processed.move`);
      }
    }
    if (account.processed.move !== undefined) {
      const folders = await client.list();
      if (!folders.some((f) => f.path === account.processed.move)) {
        throw new MailboxProblem(`processed.move names folder "${account.processed.move}", which the mailbox does not have: create it`);
      }
    }
  }

  /** Every reply not processed yet, oldest first: handled, then marked. */
  private async sweep(client: ImapFlow): Promise<void> {
    const { account, logger, handle } = this.options;
    this.stats.sweeps += 1;
    const found = await client.search(unprocessedQuery(account), { uid: true });
    const uids = (found || []).sort((a, b) => a - b);
    for (const uid of uids) {
      if (this.stopped || !client.usable) return;
      const message = await client.fetchOne(String(uid), { uid: true, size: true, source: { maxLength: FETCH_LIMIT } }, { uid: true });
      if (!message || !message.source) continue; // expunged meanwhile
      try {
        await handle({ uid, source: message.source, truncated: (message.size ?? 0) > message.source.length });
      } catch (error) {
        this.stats.handlerErrors += 1;
        logger.error({ account: account.name, uid, err: describeError(error) }, 'a reply could not be processed; left unmarked and tried again at the next sweep');
        continue;
      }
      this.stats.handled += 1;
      await this.markProcessed(client, uid);
    }
  }

  private async markProcessed(client: ImapFlow, uid: number): Promise<void> {
    const { account, logger } = this.options;
    const flagged = await client.messageFlagsAdd(String(uid), account.processed.flags, { uid: true });
    if (!flagged) logger.warn({ account: account.name, uid, flags: account.processed.flags }, 'the server did not confirm the processed flags');
    if (account.processed.move !== undefined) {
      const moved = await client.messageMove(String(uid), account.processed.move, { uid: true });
      if (!moved) throw new MailboxProblem(`reply ${uid} could not be moved to "${account.processed.move}"`);
    }
  }

  /** Resolves on wake() (or one already pending) or after `ms`. */
  private waitForWake(ms: number): Promise<void> {
    if (this.stopped || this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const wakeUp = (): void => {
        this.wakePending = false;
        done();
      };
      const done = (): void => {
        clearTimeout(timer);
        if (this.wakeUp === wakeUp) this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = wakeUp;
    });
  }
}

/** Without a move: mails lacking any of the processed flags. With one: every mail left in the folder. */
export function unprocessedQuery(account: Pick<ReplyAccountConfig, 'processed'>): SearchObject {
  if (account.processed.move !== undefined) return { deleted: false };
  const lacking = account.processed.flags.map((flag): SearchObject => {
    switch (flag.toLowerCase()) {
      case '\\seen':
        return { seen: false };
      case '\\flagged':
        return { flagged: false };
      case '\\answered':
        return { answered: false };
      default:
        return { unKeyword: flag };
    }
  });
  return lacking.length === 1 ? { ...lacking[0]!, deleted: false } : { or: lacking, deleted: false };
}

/** The credentials were refused; not a server's temporary failure ([UNAVAILABLE]), which is retried like a lost connection. */
function isAuthFailure(error: unknown): boolean {
  const e = error as { authenticationFailed?: boolean; serverResponseCode?: string } | undefined;
  if (e?.serverResponseCode === 'UNAVAILABLE') return false;
  return e?.authenticationFailed === true || e?.serverResponseCode === 'AUTHENTICATIONFAILED';
}

/** What a log line may say of an error: never the client's options (the password is in them). */
function describeError(error: unknown): { message: string; code?: string; response?: string } {
  const e = error as { message?: string; code?: string; responseText?: string; serverResponseCode?: string } | undefined;
  return {
    message: e?.message ?? String(error),
    ...(e?.code ? { code: e.code } : {}),
    ...(e?.responseText ? { response: e.responseText } : {}),
  };
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
}

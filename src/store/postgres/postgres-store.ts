import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import type { Client, Pool } from 'pg';
import { systemClock, type Clock } from '../../base/clock.js';
import type { PostgresConnection } from '../../config/types.js';
import type { Received } from '../../ingest/received.js';
import type { Logger } from '../../log/logger.js';
import { StoreError } from '../store-error.js';
import type { AcceptOptions, PeerSeen, Repositories, Store, StoreHealth, TransactionOptions } from '../store.js';
import { PgAlarms } from './alarms.js';
import { PgBatches } from './batches.js';
import { poolConfig, type PoolSettings } from './connection.js';
import { PgPeers, peersSeen } from './peers.js';
import { VERSION } from '../../base/version.js';
import { toStoreError } from './errors.js';
import { INSERT_CHUNK, PgInbox } from './inbox.js';
import { migrate, type MigrationResult } from './migrate.js';
import { PgOutbox } from './outbox.js';
import { Session } from './sql.js';
import { PgSilences } from './silences.js';
import { PgAudit } from './audit.js';
import { PgLoginSessions } from './login-sessions.js';
import { PgTimers } from './timers.js';
import { PgMqttSessions } from './mqtt-sessions.js';
import { PgTopics } from './topics.js';
import { autocommit, OneAtATime } from '../one-at-a-time.js';
import { CommitTiming, type CommitObserver } from '../commit-timing.js';

export interface PostgresStoreOptions {
  connection: PostgresConnection;
  /** The schema the tables live in; the role's default search_path (`public`) when absent. Tests give each store its own. */
  schema?: string;
  /** This gateway's name among its peers and in claims (outbox.claimed_by): host name and process id by default. */
  gateway?: string;
  /**
   * How long a beat on the control connection (peers.ts) may take before that connection,
   * and the lead with it, count as lost (ms, 3 s): a leader cut off gives the lead up (a
   * beat plus this) before the server's keepalives free the lock for another (about 6 s).
   */
  controlTimeout?: number;
  /** For the time in health(); tests hand in a fake clock. */
  clock?: Clock;
  /** Where the store says when the database stops and starts answering. */
  logger?: Logger;
  /** Connections at most (4). */
  poolSize?: number;
  /** How long opening a connection may take (ms, 5 s): a device waits this long at most for its 451 while the database is unreachable. */
  connectTimeout?: number;
  /** The server ends a session idle inside a transaction this long (ms, 60 s), releasing its locks: a gateway wedged mid-transaction cannot block the others. */
  idleInTransactionTimeout?: number;
}

interface Waiting {
  received: Received;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Down {
  reason: string;
  code: string;
  since: number;
}

/** Faults that say nothing about the database being reachable: the same work succeeds when tried again. */
const RETRYABLE = new Set(['PG_40001', 'PG_40P01', 'PG_55P03']);

/**
 * The store on PostgreSQL, for gateways that share one database (the embedded SQLite file
 * stays the default). Opened without connecting: the first call connects, migrates the
 * schema (migrate.ts, once across gateways starting together) and then does its work; a
 * database that cannot be reached fails that call with a StoreError fault (devices hear
 * 451) and the next call tries again.
 *
 * Transactions: BEGIN ... COMMIT on one pooled connection; every commit is durable as
 * PostgreSQL makes it (synchronous_commit on: flushed to the WAL, and to a synchronous
 * standby when the cluster has one; a session whose role has it off gets it on).
 *
 * What `fn` reads is what its writes are based on: PostgreSQL runs this in READ COMMITTED,
 * where each statement sees what was committed when it started, so a read-then-write would
 * lose an update made in between by another connection or gateway. The SQLite store has one
 * writer; here the repositories lock what the pipeline reads in order to change it (locks.ts):
 * the alarm of a fingerprint (its row, or an advisory lock while there is none), an alarm by
 * id, a batch while an item joins it or it goes out, flood counters, topic state, a silence
 * being ended. Guarded updates (`inbox.complete`, `timers.fire`, `batches.markSent`)
 * need no read lock: the second of two waits for the first and finds nothing to do. Reads
 * that only inform (the inhibiting alarms, the current silences) are not locked: with
 * several gateways they may miss a change committed a moment before, as a message that
 * arrived a moment later would have.
 *
 * In this process the transactions still run one at a time, as in SQLite. Correctness does
 * not rest on that (the locks above do the work, across gateways too); it keeps the inbox
 * runner and the timer runner of one gateway from taking the same locks in different
 * orders and deadlocking each other. With several gateways a deadlock is possible and
 * PostgreSQL breaks it by failing one transaction (40P01): a fault, so its work is tried
 * again later, as after any store failure.
 *
 * `accept` does not wait for those transactions: the inbox hand-off runs on a connection of
 * its own, one group commit at a time; messages that arrive meanwhile go into the next.
 */
export class PostgresStore implements Store {
  readonly backend = 'postgres';
  readonly #options: PostgresStoreOptions;
  readonly #gateway: string;
  readonly #clock: Clock;
  readonly #inTransaction = new AsyncLocalStorage<true>();
  #pool: Promise<Pool> | undefined;
  #ready: Promise<Pool> | undefined;
  #migration: MigrationResult | undefined;
  readonly #serial = new OneAtATime();
  #acceptTail: Promise<unknown> = Promise.resolve();
  #accepting: Waiting[] = [];
  #acceptScheduled = false;
  #down: Down | undefined;
  #closing: Promise<void> | undefined;

  readonly inbox: Repositories['inbox'];
  readonly alarms: Repositories['alarms'];
  readonly timers: Repositories['timers'];
  readonly batches: Repositories['batches'];
  readonly silences: Repositories['silences'];
  readonly outbox: Repositories['outbox'];
  readonly topics: Repositories['topics'];
  readonly mqttSessions: Repositories['mqttSessions'];
  readonly audit: Repositories['audit'];
  readonly loginSessions: Repositories['loginSessions'];
  readonly peers: PgPeers;

  constructor(options: PostgresStoreOptions) {
    this.#options = options;
    this.#gateway = options.gateway ?? `${hostname()}-${process.pid}`;
    this.peers = new PgPeers({
      gateway: this.#gateway,
      version: VERSION,
      connect: () => this.controlConnection(),
      statementTimeout: options.controlTimeout ?? 3000,
      now: () => this.#clock.now(),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.#clock = options.clock ?? systemClock;
    this.inbox = autocommit('inbox', REPOSITORY_CLASSES.inbox.prototype, (fn) => this.transaction(fn));
    this.alarms = autocommit('alarms', REPOSITORY_CLASSES.alarms.prototype, (fn) => this.transaction(fn));
    this.timers = autocommit('timers', REPOSITORY_CLASSES.timers.prototype, (fn) => this.transaction(fn));
    this.batches = autocommit('batches', REPOSITORY_CLASSES.batches.prototype, (fn) => this.transaction(fn));
    this.silences = autocommit('silences', REPOSITORY_CLASSES.silences.prototype, (fn) => this.transaction(fn));
    this.outbox = autocommit('outbox', REPOSITORY_CLASSES.outbox.prototype, (fn) => this.transaction(fn));
    this.topics = autocommit('topics', REPOSITORY_CLASSES.topics.prototype, (fn) => this.transaction(fn));
    this.mqttSessions = autocommit('mqttSessions', REPOSITORY_CLASSES.mqttSessions.prototype, (fn) => this.transaction(fn));
    this.audit = autocommit('audit', REPOSITORY_CLASSES.audit.prototype, (fn) => this.transaction(fn));
    this.loginSessions = autocommit('loginSessions', REPOSITORY_CLASSES.loginSessions.prototype, (fn) => this.transaction(fn));
  }

  /** Connects and migrates now rather than on the first call; what the migration did. */
  async open(): Promise<MigrationResult> {
    await this.ready();
    return this.#migration!;
  }

  /** The durability setting in force on the store's connections and the schema version, for tests and `store status`. */
  async settings(): Promise<{ synchronousCommit: string; schemaVersion: number }> {
    const session = await this.session();
    try {
      const [row] = await session.rows<{ synchronous_commit: string; version: number }>(
        `SELECT current_setting('synchronous_commit') AS synchronous_commit, (SELECT max(version) FROM schema_migrations) AS version`,
      );
      return { synchronousCommit: row!.synchronous_commit, schemaVersion: row!.version };
    } finally {
      session.release();
    }
  }

  /** The gateways that beat in the last `withinMs` ms, the leader first: for `store status`. */
  async gateways(withinMs: number): Promise<PeerSeen[]> {
    const session = await this.session();
    try {
      return await peersSeen(session, withinMs);
    } finally {
      session.release();
    }
  }

  health(): StoreHealth {
    const down = this.#down;
    if (!down) return { ok: true };
    return { ok: false, reason: down.reason, code: down.code, since: down.since, needsRestart: false };
  }

  readonly #commits = new CommitTiming();

  observeCommits(observer: CommitObserver): () => void {
    return this.#commits.observe(observer);
  }

  transaction<T>(fn: (tx: Repositories) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#commits.time('transaction', () => this.#transaction(fn, options?.awaitFlush ?? true));
  }

  #transaction<T>(fn: (tx: Repositories) => Promise<T>, awaitFlush: boolean): Promise<T> {
    if (this.#inTransaction.getStore()) return Promise.reject(new Error('store: a transaction cannot open another one; use its tx'));
    return this.serially(() => this.runTransaction(fn, awaitFlush));
  }

  private async runTransaction<T>(fn: (tx: Repositories) => Promise<T>, awaitFlush = true): Promise<T> {
    const session = await this.session();
    let result: T;
    try {
      // PostgreSQL's asynchronous commit is that: committed and visible, flushed by its WAL writer soon after.
      await session.control(awaitFlush ? 'BEGIN' : 'BEGIN; SET LOCAL synchronous_commit = off');
      result = await this.#inTransaction.run(true, () => fn(this.repositories(session)));
      // A statement failed and fn went on: PostgreSQL would turn the COMMIT into a ROLLBACK without a word.
      if (session.failure !== undefined) throw session.failure;
      // A connection lost during COMMIT leaves its outcome unknown: reported as a fault, the
      // work is done again (a message the device sends again is counted as an occurrence).
      await session.control('COMMIT');
    } catch (error) {
      if (!session.broken) await session.control('ROLLBACK').catch(() => undefined);
      this.failed(error);
      throw error;
    } finally {
      session.release();
    }
    this.succeeded();
    return result;
  }

  /**
   * Group commit: messages accepted while a commit is under way are inserted together in
   * the next one, one statement, so concurrent sessions share one WAL flush.
   */
  accept(received: Received, options?: AcceptOptions): Promise<void> {
    return this.#commits.time('accept', () => this.#accept(received, options?.committed));
  }

  #accept(received: Received, committed: (() => void) | undefined): Promise<void> {
    if (this.#closing) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      // Durable at its commit: committed is told as it resolves.
      this.#accepting.push({
        received,
        resolve: () => {
          committed?.();
          resolve();
        },
        reject,
      });
      if (this.#acceptScheduled) return;
      this.#acceptScheduled = true;
      // After the I/O callbacks of this turn: every session whose data arrived in it joins.
      setImmediate(() => {
        const next = this.#acceptTail.then(() => this.commitAccepted());
        this.#acceptTail = next.catch(() => undefined);
      });
    });
  }

  private async commitAccepted(): Promise<void> {
    this.#acceptScheduled = false;
    const waiting = this.#accepting.splice(0);
    if (waiting.length === 0) return;
    try {
      await this.insertTogether(waiting.map((w) => w.received));
    } catch (error) {
      // The store failing fails them all; one bad row must not fail the others: each alone, in a commit of its own.
      if (waiting.length === 1 || StoreError.isFault(error)) {
        for (const w of waiting) w.reject(error);
        return;
      }
      for (const w of waiting) {
        try {
          await this.insertTogether([w.received]);
          w.resolve();
        } catch (alone) {
          w.reject(alone);
        }
      }
      return;
    }
    for (const w of waiting) w.resolve();
  }

  private async insertTogether(received: Received[]): Promise<void> {
    const session = await this.session();
    // Up to INSERT_CHUNK messages are one statement, which commits by itself; more need a transaction around the statements.
    const wrap = received.length > INSERT_CHUNK;
    try {
      if (wrap) await session.control('BEGIN');
      await new PgInbox(session, this.#gateway).insertMany(received);
      if (wrap) await session.control('COMMIT');
    } catch (error) {
      if (wrap && !session.broken) await session.control('ROLLBACK').catch(() => undefined);
      this.failed(error);
      throw error;
    } finally {
      session.release();
    }
    this.succeeded();
  }

  /** PostgreSQL's autovacuum makes the space pruning frees reusable; giving it back to the file system would need VACUUM FULL, which locks the tables. */
  async compact(): Promise<void> {}

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.peers.leave();
      await this.#serial.drained();
      await this.#acceptTail;
      const pool = await this.#pool?.catch(() => undefined);
      await pool?.end();
    })();
    return this.#closing;
  }

  /** A pooled connection, the schema migrated; a StoreError fault when the database cannot be reached. */
  private async session(): Promise<Session> {
    if (this.#closing) throw closedError();
    return this.connect(await this.ready());
  }

  private ready(): Promise<Pool> {
    this.#ready ??= this.connectAndMigrate().catch((error: unknown) => {
      // Tried again on the next call: the database may be back by then.
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  private async connectAndMigrate(): Promise<Pool> {
    this.#pool ??= this.createPool();
    const pool = await this.#pool;
    const session = await this.connect(pool);
    try {
      this.#migration = await migrate(session.client, this.#options.schema !== undefined ? { schema: this.#options.schema } : {});
    } catch (error) {
      const mapped = session.fail(error);
      this.failed(mapped);
      throw mapped;
    } finally {
      session.release();
    }
    if (this.#migration.applied.length > 0) {
      this.#options.logger?.info({ applied: this.#migration.applied, version: this.#migration.version }, 'store: database schema migrated');
    }
    this.succeeded();
    return pool;
  }

  private async connect(pool: Pool): Promise<Session> {
    try {
      return new Session(await pool.connect());
    } catch (error) {
      const mapped = toStoreError(error, true);
      this.failed(mapped);
      throw mapped;
    }
  }

  private poolSettings(): PoolSettings {
    return {
      connection: this.#options.connection,
      ...(this.#options.schema !== undefined ? { schema: this.#options.schema } : {}),
      size: this.#options.poolSize ?? 4,
      connectTimeout: this.#options.connectTimeout ?? 5000,
      idleInTransactionTimeout: this.#options.idleInTransactionTimeout ?? 60_000,
    };
  }

  /**
   * The control connection of peers.ts, outside the pool, on the migrated schema. Its TCP
   * keepalives are short on both sides, so that the server ends the session (and frees the
   * lead) within seconds of this host going silent, not after the kernel's two hours.
   */
  private async controlConnection(): Promise<Client> {
    await this.ready();
    const { default: pg } = await import('pg');
    const config = poolConfig(this.poolSettings(), pg.types);
    const client = new pg.Client({
      ...config,
      keepAliveInitialDelayMillis: 2000,
      options: `${config.options ?? ''} -c tcp_keepalives_idle=3 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3`,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw toStoreError(error, true);
    }
    return client;
  }

  private async createPool(): Promise<Pool> {
    // Loaded on first use: a gateway on SQLite never loads the PostgreSQL client.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool(poolConfig(this.poolSettings(), pg.types));
    // A connection that breaks while idle in the pool (the server restarted) is dropped by the pool; say so.
    pool.on('error', (error) => this.failed(toStoreError(error)));
    pool.on('connect', (client) => {
      // Queued before any statement of ours on this connection. `off` would let COMMIT return
      // before the WAL is flushed: a 250 for mail a crash of the database loses.
      client.query(`SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'`).catch(() => undefined);
    });
    return pool;
  }

  /** The database failed: health() says so, logged once until it works again. Deadlocks and the like say nothing about it. */
  private failed(error: unknown): void {
    if (!(error instanceof StoreError) || !StoreError.isFault(error) || RETRYABLE.has(error.code)) return;
    if (this.#down) return;
    const { host, port, database } = this.#options.connection;
    this.#down = {
      reason: `the database ${database} on ${host}:${port} fails (${error.message}): devices are told to retry (451) and the work waits in the store until it answers again`,
      code: error.code,
      since: this.#clock.now(),
    };
    this.#options.logger?.error({ err: error, code: error.code }, `store: ${this.#down.reason}`);
  }

  private succeeded(): void {
    const down = this.#down;
    if (!down) return;
    this.#down = undefined;
    this.#options.logger?.info({ code: down.code, downForMs: this.#clock.now() - down.since }, 'store: the database answers again; taking work again');
  }

  private repositories(session: Session): Repositories {
    return {
      inbox: new PgInbox(session, this.#gateway),
      alarms: new PgAlarms(session, this.#gateway),
      timers: new PgTimers(session, this.#gateway),
      batches: new PgBatches(session),
      silences: new PgSilences(session),
      outbox: new PgOutbox(session, this.#gateway),
      topics: new PgTopics(session),
      mqttSessions: new PgMqttSessions(session, this.#gateway),
      audit: new PgAudit(session),
      loginSessions: new PgLoginSessions(session),
    };
  }

  /** One transaction at a time in this process, in the order asked (see the class comment for why). */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    return this.#serial.run(task);
  }
}

const REPOSITORY_CLASSES = { inbox: PgInbox, alarms: PgAlarms, timers: PgTimers, batches: PgBatches, silences: PgSilences, outbox: PgOutbox, topics: PgTopics, mqttSessions: PgMqttSessions, audit: PgAudit, loginSessions: PgLoginSessions } as const;

function closedError(): Error {
  return new Error('store: closed');
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { systemClock, type Clock } from '../../base/clock.js';
import type { Received } from '../../ingest/received.js';
import type { Logger } from '../../log/logger.js';
import type { AcceptOptions, Repositories, Store, StoreHealth, TransactionOptions } from '../store.js';
import { SqliteAlarms } from './alarms.js';
import { SqliteBatches } from './batches.js';
import { isInMemory, SqliteConnection, type Statement } from './connection.js';
import { Db } from './db.js';
import { FileHealth } from './file-health.js';
import { SqliteInbox } from './inbox.js';
import { migrate } from './migrate.js';
import { SqliteMqttSessions } from './mqtt-sessions.js';
import { StoreError } from '../store-error.js';
import { SqliteOutbox } from './outbox.js';
import { SqliteSilences } from './silences.js';
import { SqliteAudit } from './audit.js';
import { SqliteLoginSessions } from './login-sessions.js';
import { SqliteTimers } from './timers.js';
import { SqliteTopics } from './topics.js';
import { WalSync, type SyncFile } from './wal-sync.js';
import { BackgroundCheckpoints } from './background-checkpoints.js';
import { autocommit, OneAtATime } from '../one-at-a-time.js';
import { CommitTiming, type CommitObserver } from '../commit-timing.js';

export interface SqliteStoreOptions {
  /** Drives the file health watch (file-health.ts); tests hand in a fake clock. */
  clock?: Clock;
  /** Where the store says when it stops and starts taking work again. */
  logger?: Logger;
  /** How often the file is looked at (ms); 1 s. */
  healthInterval?: number;
  /** Flushes the WAL (wal-sync.ts); tests hand in one they can hold or fail. */
  syncFile?: SyncFile;
  /**
   * Checkpoints in a thread of their own (background-checkpoints.ts) rather than in the
   * commit that fills the WAL: the gateway's store; the CLI's short-lived ones leave it off.
   */
  backgroundCheckpoints?: boolean;
}

/** Free space below which a full store does not count as having room again. */
const ROOM_TO_GROW = 1024 * 1024;

interface Waiting {
  received: Received;
  committed: (() => void) | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The store in one SQLite file (WAL, every commit flushed to the disk before it is
 * reported, by wal-sync.ts off the event loop). One connection, one writer:
 * transactions run one after another, each with `BEGIN IMMEDIATE`, so what a transaction
 * reads cannot change under it before it commits, in this process or another (the CLI).
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  readonly file: string;
  readonly #connection: SqliteConnection;
  readonly #repositories: Repositories & { inbox: SqliteInbox };
  readonly #inTransaction = new AsyncLocalStorage<true>();
  readonly #serial = new OneAtATime();
  /** The repositories' connection, which counts the rows they change. */
  readonly #db: Db;
  #accepting: Waiting[] = [];
  #acceptScheduled = false;
  /** Undefined for an in-memory database: there is no file to watch. */
  readonly #health: FileHealth | undefined;
  /** Undefined for an in-memory database: nothing to flush. */
  readonly #durable: WalSync | undefined;
  readonly #checkpoints: BackgroundCheckpoints | undefined;

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

  /** Opens (and creates or migrates) `annunciator.db` in `dataDir`. */
  static open(dataDir: string, options: SqliteStoreOptions = {}): SqliteStore {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteStore(SqliteStore.fileIn(dataDir), options);
  }

  /** The store's file in `dataDir` (what `store backup` copies). */
  static fileIn(dataDir: string): string {
    return join(dataDir, 'annunciator.db');
  }

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    // The CLI and the gateway share the file; wait for each other's short transactions (5 s).
    this.#connection = SqliteConnection.open(file, { busyTimeout: 5000 });
    this.#connection.pragma('journal_mode = WAL');
    // NORMAL: a commit writes its WAL frames without fsync (safe against kill -9); WalSync
    // flushes them in the thread pool before the commit is reported (the durability a `250`
    // promises), so the event loop never waits for the disk.
    this.#connection.pragma('synchronous = NORMAL');
    this.#connection.pragma('foreign_keys = ON');
    // Pages that retention frees go back to the file system (compact()). Switching needs a
    // VACUUM, which rewrites the file: once, instantly for a new one.
    const incremental = 2;
    if ((this.#connection.pragma('auto_vacuum', { simple: true }) as number) !== incremental) {
      this.#connection.pragma('auto_vacuum = INCREMENTAL');
      this.#connection.exec('VACUUM');
    }
    migrate(this.#connection);
    const db = (this.#db = new Db(this.#connection));
    this.#repositories = {
      inbox: new SqliteInbox(db),
      alarms: new SqliteAlarms(db),
      timers: new SqliteTimers(db),
      batches: new SqliteBatches(db),
      silences: new SqliteSilences(db),
      outbox: new SqliteOutbox(db),
      topics: new SqliteTopics(db),
      mqttSessions: new SqliteMqttSessions(db),
      audit: new SqliteAudit(db),
      loginSessions: new SqliteLoginSessions(db),
    };
    this.inbox = autocommit('inbox', this.#repositories.inbox, (fn) => this.transaction(fn));
    this.alarms = autocommit('alarms', this.#repositories.alarms, (fn) => this.transaction(fn));
    this.timers = autocommit('timers', this.#repositories.timers, (fn) => this.transaction(fn));
    this.batches = autocommit('batches', this.#repositories.batches, (fn) => this.transaction(fn));
    this.silences = autocommit('silences', this.#repositories.silences, (fn) => this.transaction(fn));
    this.outbox = autocommit('outbox', this.#repositories.outbox, (fn) => this.transaction(fn));
    this.topics = autocommit('topics', this.#repositories.topics, (fn) => this.transaction(fn));
    this.mqttSessions = autocommit('mqttSessions', this.#repositories.mqttSessions, (fn) => this.transaction(fn));
    this.audit = autocommit('audit', this.#repositories.audit, (fn) => this.transaction(fn));
    this.loginSessions = autocommit('loginSessions', this.#repositories.loginSessions, (fn) => this.transaction(fn));
    const inMemory = isInMemory(file);
    this.#durable = inMemory ? undefined : new WalSync(`${file}-wal`, options.syncFile);
    this.#checkpoints = inMemory || !options.backgroundCheckpoints ? undefined : new BackgroundCheckpoints(file, this.#connection, { logger: options.logger });
    this.#health = inMemory
        ? undefined
        : new FileHealth(file, { clock: options.clock ?? systemClock, logger: options.logger, interval: options.healthInterval ?? 1000, roomToGrow: () => this.roomToGrow() });
  }

  health(): StoreHealth {
    return this.#health?.health() ?? { ok: true };
  }

  /** The durability settings in force, for tests and `store status`. */
  settings(): { journalMode: string; synchronous: number; autoVacuum: number; schemaVersion: number; walAutocheckpoint: number } {
    return {
      walAutocheckpoint: this.#connection.pragma('wal_autocheckpoint', { simple: true }) as number,
      journalMode: this.#connection.pragma('journal_mode', { simple: true }) as string,
      synchronous: this.#connection.pragma('synchronous', { simple: true }) as number,
      autoVacuum: this.#connection.pragma('auto_vacuum', { simple: true }) as number,
      schemaVersion: this.#connection.pragma('user_version', { simple: true }) as number,
    };
  }

  readonly #commits = new CommitTiming();

  observeCommits(observer: CommitObserver): () => void {
    return this.#commits.observe(observer);
  }

  transaction<T>(fn: (tx: Repositories) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#commits.time('transaction', () => this.#transaction(fn, options?.awaitFlush ?? true));
  }

  async #transaction<T>(fn: (tx: Repositories) => Promise<T>, awaitFlush: boolean): Promise<T> {
    if (this.#inTransaction.getStore()) throw new Error('store: a transaction cannot open another one; use its tx');
    const { result, wrote } = await this.serially(async () => {
      const refused = this.#health?.refusal();
      if (refused) throw refused;
      const changesBefore = this.#db.changes;
      let result: T;
      try {
        this.exec('BEGIN IMMEDIATE');
        result = await this.#inTransaction.run(true, () => fn(this.#repositories));
        this.exec('COMMIT');
      } catch (error) {
        this.rollback();
        this.#health?.failed(error);
        throw error;
      }
      this.#db.committed();
      const wrote = this.#db.changes > changesBefore;
      if (this.#health?.watchingWrites) this.#health.committed(wrote, false);
      return { result, wrote };
    });
    // Outside the one-at-a-time section: the next transaction runs while this flush does.
    // Not awaited, it still runs: a failure is the store's health (451 to devices), not this caller's.
    if (wrote) {
      if (awaitFlush) await this.flushed();
      else this.flushed().catch(() => undefined);
    }
    return result;
  }

  /** Resolves when every commit so far is on the disk. */
  private async flushed(): Promise<void> {
    if (!this.#durable) return;
    try {
      await this.#durable.afterCommit();
    } catch (error) {
      this.#health?.failed(error);
      throw error;
    }
  }

  /**
   * Group commit: messages accepted while a commit or another transaction is under way
   * are inserted together in the next one, so concurrent sessions share one fsync.
   */
  accept(received: Received, options?: AcceptOptions): Promise<void> {
    return this.#commits.time('accept', () => this.#accept(received, options?.committed));
  }

  #accept(received: Received, committed: (() => void) | undefined): Promise<void> {
    // Refused at once while the store cannot take mail: the device hears 451 without waiting.
    const refused = this.#health?.refusal();
    if (refused) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.#accepting.push({ received, committed, resolve, reject });
      if (this.#acceptScheduled) return;
      this.#acceptScheduled = true;
      // After the I/O callbacks of this turn: every session whose data arrived in it joins.
      setImmediate(() => {
        void this.serially(async () => this.commitAccepted());
      });
    });
  }

  private commitAccepted(): void {
    this.#acceptScheduled = false;
    const waiting = this.#accepting.splice(0);
    if (waiting.length === 0) return;
    const refused = this.#health?.refusal();
    if (refused) {
      for (const w of waiting) w.reject(refused);
      return;
    }
    let committed: Waiting[];
    try {
      this.insertTogether(waiting.map((w) => w.received));
      committed = waiting;
    } catch (error) {
      this.#health?.failed(error);
      // The store failing fails them all; one bad row must not fail the others: each alone, in a commit of its own.
      if (waiting.length === 1 || StoreError.isFault(error)) {
        for (const w of waiting) w.reject(error);
        return;
      }
      committed = [];
      for (const w of waiting) {
        try {
          this.insertTogether([w.received]);
          committed.push(w);
        } catch (alone) {
          w.reject(alone);
        }
      }
    }
    if (committed.length === 0) return;
    // Committed, but into the file the path still names? If not, nobody reads it again: 451, not 250.
    const moved = this.#health?.confirmIdentity();
    if (moved) {
      for (const w of committed) w.reject(moved);
      return;
    }
    this.#health?.committed(true, true);
    for (const w of committed) w.committed?.();
    // Not awaited: the next group is written while this one is flushed.
    this.flushed().then(
      () => {
        for (const w of committed) w.resolve();
      },
      (error: unknown) => {
        for (const w of committed) w.reject(error);
      },
    );
  }

  private insertTogether(received: Received[]): void {
    this.exec('BEGIN IMMEDIATE');
    try {
      for (const r of received) this.#repositories.inbox.insertNow(r);
      this.exec('COMMIT');
    } catch (error) {
      this.rollback();
      throw error;
    }
    this.#db.committed();
  }

  /** BEGIN IMMEDIATE, COMMIT, ROLLBACK prepared once: compiling them for every transaction cost ~8 % of CPU under load. */
  readonly #control = new Map<string, Statement>();

  private exec(sql: 'BEGIN IMMEDIATE' | 'COMMIT' | 'ROLLBACK'): void {
    try {
      let statement = this.#control.get(sql);
      if (!statement) {
        statement = this.#connection.prepare(sql);
        this.#control.set(sql, statement);
      }
      statement.run();
    } catch (error) {
      throw StoreError.wrap(error);
    }
  }

  private rollback(): void {
    this.#db.rolledBack();
    try {
      if (this.#connection.inTransaction) this.exec('ROLLBACK');
    } catch {
      // A failed rollback (the file gone) leaves nothing committed either.
    }
  }

  async compact(): Promise<void> {
    await this.serially(async () => {
      try {
        // A bounded step (about 4 MiB of pages) at a time, so a large prune does not stall the inbox.
        this.#connection.pragma('incremental_vacuum(1000)');
      } catch (error) {
        throw StoreError.wrap(error);
      }
    });
  }


  /** Whether a write that needs new pages could succeed: below SQLite's page limit, and space on the disk. */
  private roomToGrow(): boolean {
    if (!this.#connection.open) return true;
    const pages = this.#connection.pragma('page_count', { simple: true }) as number;
    const limit = this.#connection.pragma('max_page_count', { simple: true }) as number;
    const pageSize = this.#connection.pragma('page_size', { simple: true }) as number;
    // Room for a commit of some size, not a page or two: with incremental auto-vacuum a write
    // also needs pointer-map pages, and a state that flips every second says nothing.
    if (limit - pages < ROOM_TO_GROW / pageSize) return false;
    const disk = statfsSync(dirname(this.file));
    return disk.bavail * disk.bsize >= ROOM_TO_GROW;
  }

  #maxPages: number | undefined;

  /**
   * For tests only: caps the database at `pages` pages (SQLite raises a cap below the
   * file's size to its size), so that every write needing a new page fails with
   * SQLITE_FULL exactly as on a full disk; `undefined` lifts the cap.
   */
  limitPagesForTest(pages: number | undefined): void {
    this.#maxPages ??= this.#connection.pragma('max_page_count', { simple: true }) as number;
    this.#connection.pragma(`max_page_count = ${Math.max(1, Math.floor(pages ?? this.#maxPages))}`);
  }

  async close(): Promise<void> {
    this.#health?.close();
    await this.serially(async () => {
      // Commits reported or about to be are flushed before the descriptor goes.
      await this.#durable?.idle();
      this.#durable?.close();
      await this.#checkpoints?.close();
      if (this.#connection.open) this.#connection.close();
    });
  }

  /** For tests: the checkpoint thread, to end it as a crash would. */
  get checkpointsForTest(): BackgroundCheckpoints | undefined {
    return this.#checkpoints;
  }

  /** WAL flushes so far (one covers every commit made before it started), for tests and the bench. */
  get flushes(): number {
    return this.#durable?.syncs ?? 0;
  }

  /** One at a time on the one connection, in the order asked. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    return this.#serial.run(task);
  }

  /**
   * Resolves once no transaction runs or waits and every commit is on the disk: true when
   * it had to wait. Tests on a fake clock settle on it, since a flush is real I/O that a
   * few turns of the event loop may not cover.
   */
  async settled(): Promise<boolean> {
    let waited = false;
    while (this.#serial.queued > 0 || this.#durable?.busy) {
      waited = true;
      await this.#serial.drained();
      await this.#durable?.idle();
    }
    return waited;
  }
}

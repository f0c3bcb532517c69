import Database from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Received } from '../../ingest/received.js';
import type { Repositories, Store } from '../store.js';
import { SqliteAlarms } from './alarms.js';
import { SqliteBatches } from './batches.js';
import { Db } from './db.js';
import { SqliteInbox } from './inbox.js';
import { migrate } from './migrate.js';
import { StoreError } from '../store-error.js';
import { SqliteOutbox } from './outbox.js';
import { SqliteSilences } from './silences.js';
import { SqliteTimers } from './timers.js';
import { SqliteTopics } from './topics.js';

interface Waiting {
  received: Received;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The store in one SQLite file (WAL, every commit fsync'd). One connection, one writer:
 * transactions run one after another, each with `BEGIN IMMEDIATE`, so what a transaction
 * reads cannot change under it before it commits, in this process or another (the CLI).
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  readonly file: string;
  readonly #connection: Database.Database;
  readonly #repositories: Repositories & { inbox: SqliteInbox };
  readonly #inTransaction = new AsyncLocalStorage<true>();
  #tail: Promise<unknown> = Promise.resolve();
  #accepting: Waiting[] = [];
  #acceptScheduled = false;

  readonly inbox: Repositories['inbox'];
  readonly alarms: Repositories['alarms'];
  readonly timers: Repositories['timers'];
  readonly batches: Repositories['batches'];
  readonly silences: Repositories['silences'];
  readonly outbox: Repositories['outbox'];
  readonly topics: Repositories['topics'];

  /** Opens (and creates or migrates) `annunciator.db` in `dataDir`. */
  static open(dataDir: string): SqliteStore {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteStore(join(dataDir, 'annunciator.db'));
  }

  constructor(file: string) {
    this.file = file;
    this.#connection = new Database(file);
    this.#connection.pragma('journal_mode = WAL');
    // FULL makes every commit fsync the WAL: the durability a `250` promises.
    this.#connection.pragma('synchronous = FULL');
    this.#connection.pragma('foreign_keys = ON');
    // The CLI and the gateway share the file; wait for each other's short transactions.
    this.#connection.pragma('busy_timeout = 5000');
    // Pages that retention frees go back to the file system (compact()). Switching needs a
    // VACUUM, which rewrites the file: once, instantly for a new one.
    const incremental = 2;
    if ((this.#connection.pragma('auto_vacuum', { simple: true }) as number) !== incremental) {
      this.#connection.pragma('auto_vacuum = INCREMENTAL');
      this.#connection.exec('VACUUM');
    }
    migrate(this.#connection);
    const db = new Db(this.#connection);
    this.#repositories = {
      inbox: new SqliteInbox(db),
      alarms: new SqliteAlarms(db),
      timers: new SqliteTimers(db),
      batches: new SqliteBatches(db),
      silences: new SqliteSilences(db),
      outbox: new SqliteOutbox(db),
      topics: new SqliteTopics(db),
    };
    this.inbox = this.autocommit(this.#repositories.inbox);
    this.alarms = this.autocommit(this.#repositories.alarms);
    this.timers = this.autocommit(this.#repositories.timers);
    this.batches = this.autocommit(this.#repositories.batches);
    this.silences = this.autocommit(this.#repositories.silences);
    this.outbox = this.autocommit(this.#repositories.outbox);
    this.topics = this.autocommit(this.#repositories.topics);
  }

  /** The durability settings in force, for tests and `store status`. */
  settings(): { journalMode: string; synchronous: number; autoVacuum: number; schemaVersion: number } {
    return {
      journalMode: this.#connection.pragma('journal_mode', { simple: true }) as string,
      synchronous: this.#connection.pragma('synchronous', { simple: true }) as number,
      autoVacuum: this.#connection.pragma('auto_vacuum', { simple: true }) as number,
      schemaVersion: this.#connection.pragma('user_version', { simple: true }) as number,
    };
  }

  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    if (this.#inTransaction.getStore()) return Promise.reject(new Error('store: a transaction cannot open another one; use its tx'));
    return this.serially(async () => {
      this.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.#inTransaction.run(true, () => fn(this.#repositories));
        this.exec('COMMIT');
        return result;
      } catch (error) {
        this.rollback();
        throw error;
      }
    });
  }

  /**
   * Group commit: messages accepted while a commit or another transaction is under way
   * are inserted together in the next one, so concurrent sessions share one fsync.
   */
  accept(received: Received): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#accepting.push({ received, resolve, reject });
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
    try {
      this.insertTogether(waiting.map((w) => w.received));
      for (const w of waiting) w.resolve();
    } catch (error) {
      if (waiting.length === 1) {
        waiting[0]!.reject(error);
        return;
      }
      // One bad row must not fail the others: each alone, in a commit of its own.
      for (const w of waiting) {
        try {
          this.insertTogether([w.received]);
          w.resolve();
        } catch (alone) {
          w.reject(alone);
        }
      }
    }
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
  }

  /** BEGIN IMMEDIATE, COMMIT, ROLLBACK prepared once: compiling them for every transaction cost ~8 % of CPU under load. */
  readonly #control = new Map<string, Database.Statement>();

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

  async close(): Promise<void> {
    await this.serially(async () => {
      if (this.#connection.open) this.#connection.close();
    });
  }

  /** One at a time on the one connection, in the order asked. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    // A failed task must not stop the ones after it; its caller sees the failure.
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** The repository with each call run as a transaction of its own. */
  private autocommit<R extends object>(repository: R): R {
    return new Proxy(repository, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => this.transaction(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      },
    });
  }
}

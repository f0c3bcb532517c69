import type { RunResult, SqliteConnection, Statement } from './connection.js';
import { StoreError } from '../store-error.js';
import { RECENT_BYTES_PER_TABLE, RecentBytes } from './recent-bytes.js';

/** A connection with its prepared statements: preparing on every call cost ~5% of CPU under load. */
export class Db {
  readonly #statements = new Map<string, Statement>();

  constructor(readonly connection: SqliteConnection) {}

  statement(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.connection.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Rows changed through run() so far: whether a transaction wrote, without asking SQLite twice per transaction. */
  changes = 0;

  run(sql: string, ...params: unknown[]): RunResult {
    try {
      const result = this.statement(sql).run(...params);
      this.changes += result.changes;
      return result;
    } catch (error) {
      throw StoreError.wrap(error);
    }
  }

  /** Up to `limit` ids of `table` that begin with `prefix`, in order: a range on the primary key, not LIKE, which would read every id (and treats _ and % as wildcards). */
  idsWithPrefix(table: 'alarms' | 'outbox', prefix: string, limit: number): string[] {
    return this.all<{ id: string }>(`SELECT id FROM ${table} WHERE id >= ? AND id < ? ORDER BY id LIMIT ?`, prefix, `${prefix}\uffff`, limit).map((r) => r.id);
  }

  get<Row>(sql: string, ...params: unknown[]): Row | undefined {
    try {
      return this.statement(sql).get<Row>(...params);
    } catch (error) {
      throw StoreError.wrap(error);
    }
  }

  all<Row>(sql: string, ...params: unknown[]): Row[] {
    try {
      return this.statement(sql).all<Row>(...params);
    } catch (error) {
      throw StoreError.wrap(error);
    }
  }

  readonly #caches: RecentBytes[] = [];

  /** A cache of large values this connection's transactions write (RecentBytes), told how each ends. */
  recentBytes(budget = RECENT_BYTES_PER_TABLE): RecentBytes {
    const cache = new RecentBytes(budget);
    this.#caches.push(cache);
    return cache;
  }

  /** The transaction under way committed (SqliteStore calls this after COMMIT). */
  committed(): void {
    for (const cache of this.#caches) cache.committed();
  }

  /** The transaction under way rolled back. */
  rolledBack(): void {
    for (const cache of this.#caches) cache.discarded();
  }

  /** `?, ?, ?` for an IN list. */
  static placeholders(count: number): string {
    return Array.from({ length: count }, () => '?').join(', ');
  }
}

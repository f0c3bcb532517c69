import type { QueryResultRow } from 'pg';
import type { Sql } from './sql.js';

/**
 * Reads what a transaction is about to change, locked until it commits, so that what it
 * reads is what its writes are based on: the guarantee the SQLite store gets from having
 * one writer, kept here with several connections and several gateways on one database.
 *
 * `select` must end in FOR UPDATE. A row that exists is locked by it; a transaction that
 * changed it meanwhile is waited for, and PostgreSQL then reads the row as committed (READ
 * COMMITTED re-checks a locked row's WHERE against its newest version: an alarm resolved
 * meanwhile is no longer the active one). A row that does not exist yet cannot be locked,
 * and two transactions that both find none would both create it (two active alarms of one
 * fingerprint; flood counters, topic state or a batch written twice, one write lost).
 * Then a transaction-scoped advisory lock on `key` stands for the missing row, and the
 * row is read again in a statement of its own: taken after the lock, its snapshot sees
 * whatever the lock's previous holder committed. Every path that creates such a row reads
 * through here first, so the one that creates it holds the advisory lock until it commits.
 *
 * The common case (the row exists: a repeat of an active alarm) costs one statement.
 */
export async function readLocked<Row extends QueryResultRow>(sql: Sql, key: string, select: string, params: readonly unknown[]): Promise<Row[]> {
  const found = await sql.rows<Row>(select, params);
  if (found.length > 0) return found;
  await lockKey(sql, key);
  return sql.rows<Row>(select, params);
}

/** A transaction-scoped advisory lock on `key` (64-bit hash; released by COMMIT or ROLLBACK). */
export async function lockKey(sql: Sql, key: string): Promise<void> {
  await sql.rows(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`annunciator:${key}`]);
}

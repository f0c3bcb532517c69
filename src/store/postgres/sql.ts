import { createHash } from 'node:crypto';
import type { PoolClient, QueryResultRow } from 'pg';
import { brokeConnection, toStoreError } from './errors.js';

/** What the repositories run their statements through: one connection, inside one transaction. */
export interface Sql {
  rows<Row extends QueryResultRow>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /** The number of rows the statement changed; `unprepared` for a text built for one call (a multi-row INSERT). */
  count(text: string, params?: readonly unknown[], unprepared?: 'unprepared'): Promise<number>;
}

/** Up to `limit` ids of `table` that begin with `prefix`, in order: LIKE on the "C"-collated key is a range scan of its index; \, % and _ are escaped so no character is a wildcard. */
export async function idsWithPrefix(sql: Sql, table: 'alarms' | 'outbox', prefix: string, limit: number): Promise<string[]> {
  const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return (await sql.rows<{ id: string }>(`SELECT id FROM ${table} WHERE id LIKE $1 ESCAPE '\\' ORDER BY id LIMIT $2`, [pattern, limit])).map((r) => r.id);
}

/**
 * Statements on one pooled connection, prepared once per connection under a name derived
 * from their text (a statement's plan is reused on every call, as SQLite's prepared
 * statements are).
 *
 * After a statement fails, PostgreSQL refuses every further statement of the transaction
 * (and turns its COMMIT into a ROLLBACK, silently): the session remembers the first
 * failure, throws it again for any later statement (so a caller sees the cause, not
 * "current transaction is aborted"), and the store never commits a transaction that had
 * one, even when `fn` caught it and returned.
 */
export class Session implements Sql {
  #failure: unknown;
  /**
   * A checked-out connection reports a reset or a server shutdown as an 'error' event,
   * which nobody would hear (the pool listens only while it is idle): an uncaught
   * exception. Kept as the session's failure; the statement under way fails as well.
   */
  readonly #onError = (error: Error): void => {
    this.#failure ??= toStoreError(error);
  };

  constructor(readonly client: PoolClient) {
    client.on('error', this.#onError);
  }

  /** Records a failure from outside the session's statements (the migration); the store's error for it. */
  fail(error: unknown): unknown {
    const mapped = toStoreError(error);
    this.#failure ??= mapped;
    return mapped;
  }

  /** Gives the connection back to the pool, or closes it when it is broken. */
  release(): void {
    this.client.off('error', this.#onError);
    this.client.release(this.broken ? true : undefined);
  }

  /** The first statement that failed in this session's transaction, if one did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Whether the connection is broken and must be dropped, not given back to the pool. */
  get broken(): boolean {
    return brokeConnection(this.#failure);
  }

  async rows<Row extends QueryResultRow>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.run<Row>(text, params)).rows;
  }

  async count(text: string, params: readonly unknown[] = [], unprepared?: 'unprepared'): Promise<number> {
    return (await this.run(text, params, unprepared === undefined)).rowCount ?? 0;
  }

  /** BEGIN, COMMIT, ROLLBACK: no parameters, nothing to prepare. */
  async control(text: 'BEGIN' | 'BEGIN; SET LOCAL synchronous_commit = off' | 'COMMIT' | 'ROLLBACK'): Promise<void> {
    try {
      await this.client.query(text);
    } catch (error) {
      this.#failure ??= toStoreError(error);
      throw this.#failure;
    }
  }

  private async run<Row extends QueryResultRow>(text: string, params: readonly unknown[], prepare = true) {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return await this.client.query<Row>({ ...(prepare ? { name: statementName(text) } : {}), text, values: params.map(textSafe) });
    } catch (error) {
      this.#failure = toStoreError(error);
      throw this.#failure;
    }
  }
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `a${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * PostgreSQL's text cannot hold U+0000, which a device's HELO, a mail's subject or a
 * grouping label built from it can carry; refusing it would lose the alarm, so it is
 * stored as U+FFFD. (JSON documents keep it exactly: JSON.stringify writes it as the
 * escape `\u0000`, which the json type stores as written.)
 */
function textSafe(value: unknown): unknown {
  return typeof value === 'string' && value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PostgresConnection } from '../../src/config/types.js';
import { peerGate, type PeerGate } from './real-peers.js';

/**
 * The real PostgreSQL the store tests run against: the server on 127.0.0.1:5432 (user
 * `postgres`, trust authentication), or the one `ANNUNCIATOR_TEST_POSTGRES` names
 * (`postgres://user@host:port`). Each test file works in a throwaway database of its own
 * (`annunciator_test_<random>`), dropped at the end; each store in it can have a schema of
 * its own, so tests start from an empty store without creating a database each.
 */
export const POSTGRES_URL = process.env.ANNUNCIATOR_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  readonly name: string;
  /** The connection settings of a store in this database. */
  connection(overrides?: Partial<PostgresConnection>): PostgresConnection;
  /** The `store` section of a gateway's configuration on this database (loopback, so no TLS). */
  storeSection(): { url: string; security: 'none' };
  /** A fresh schema name (`s1`, `s2`, ...). */
  schema(): string;
  /** A statement as the superuser, in this database. */
  query<Row extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<Row[]>;
  drop(): Promise<void>;
}

/** Whether PostgreSQL answers at POSTGRES_URL: false, or why not (for the skip message or, under CI, the failure). */
export async function postgresMissing(): Promise<string | false> {
  const client = new pg.Client({ connectionString: `${POSTGRES_URL}/postgres`, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return false;
  } catch (error) {
    return `no PostgreSQL answers at ${POSTGRES_URL} (${(error as Error).message}); start one, or set ANNUNCIATOR_TEST_POSTGRES`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The gate for a PostgreSQL suite: skipped outside CI when none answers, a failure under CI (real-peers.ts). */
export async function postgresGate(): Promise<PeerGate> {
  return peerGate(await postgresMissing());
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `annunciator_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${POSTGRES_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  const inDatabase = new pg.Pool({ connectionString: `${POSTGRES_URL}/${name}`, max: 2 });
  // pool.end() resolves before its connections have closed: the DROP ... WITH (FORCE) in
  // drop() may then terminate one ("terminating connection due to administrator command"),
  // and an 'error' nobody listens for would end the test file as an uncaught exception.
  inDatabase.on('error', () => undefined);
  let schemas = 0;
  return {
    name,
    connection: (overrides = {}) => ({
      host: url.hostname,
      port: Number(url.port || 5432),
      database: name,
      user: decodeURIComponent(url.username) || 'postgres',
      url: `${POSTGRES_URL}/${name}`,
      ...overrides,
    }),
    storeSection: () => ({ url: `postgres://${decodeURIComponent(url.username) || 'postgres'}@${url.hostname}:${url.port || 5432}/${name}`, security: 'none' }),
    schema: () => `s${++schemas}`,
    query: async (text, params) => (await inDatabase.query(text, params)).rows,
    drop: async () => {
      await inDatabase.end();
      const client = new pg.Client({ connectionString: `${POSTGRES_URL}/postgres` });
      await client.connect();
      try {
        // The gateways' sessions end as their stop() closes them; FORCE would terminate one still
        // closing, and its client would raise that in the test process after the test.
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [name]);
          if (rows[0]?.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

import { fileURLToPath } from 'node:url';
import { readMigrationFiles, type Migration } from '../migration-files.js';
import type { ClientBase } from 'pg';

/** The schema as numbered SQL files (`0001-schema.sql` ...); a file's number is the version it makes. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export type { Migration };

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readMigrationFiles(dir);
}

/**
 * The advisory lock every migrator takes (a fixed key: "annunci" in ASCII): two gateways starting at once against an empty database migrate it once; the
 * second waits for the first to commit, then finds nothing left to do.
 */
export const MIGRATION_LOCK = 0x616e6e756e6369n;

export interface MigrationResult {
  /** The schema version now. */
  version: number;
  /** The versions this call applied (none when another migrator got there first). */
  applied: number[];
}

/**
 * Brings the database (the first schema on the connection's search_path, created when
 * `schema` names it) to the newest
 * schema in one transaction, holding the migration lock: either every pending migration is
 * applied and recorded in `schema_migrations`, or none. A database from a newer annunciator
 * is refused rather than misread, and so is one whose recorded migrations have other names
 * than this build's files (a different or edited history).
 */
export async function migrate(client: ClientBase, options: { schema?: string; migrations?: Migration[] } = {}): Promise<MigrationResult> {
  const migrations = options.migrations ?? readMigrations();
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()})`);
    // The caller checked the name (connection.ts SCHEMA_NAME): a plain identifier.
    if (options.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = (await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
    const newest = migrations.length;
    const current = done.at(-1)?.version ?? 0;
    if (current > newest) throw new Error(`store schema version ${current} is newer than this annunciator understands (${newest})`);
    for (const row of done) {
      const ours = migrations[row.version - 1];
      if (ours?.name !== row.name) throw new Error(`store schema: version ${row.version} was applied as ${row.name}, but this annunciator's is ${ours?.name ?? 'missing'}`);
    }
    const applied: number[] = [];
    for (const migration of migrations.slice(current)) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { version: newest, applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The schema version recorded in the database; 0 before the first migration. */
export async function schemaVersion(client: ClientBase): Promise<number> {
  const exists = (await client.query<{ found: string | null }>(`SELECT to_regclass('schema_migrations')::text AS found`)).rows[0]?.found;
  if (!exists) return 0;
  const [row] = (await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations')).rows;
  return row?.version ?? 0;
}

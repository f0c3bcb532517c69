import type Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The schema as numbered SQL files (`0001-inbox-outbox.sql` ...); a file's number is the version it makes. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((name) => /^\d{4}-[\w-]+\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 4)), name, sql: readFileSync(`${dir}/${name}`, 'utf8') }));
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) throw new Error(`store migrations: ${migration.name} should be numbered ${String(index + 1).padStart(4, '0')}`);
  });
  return migrations;
}

/**
 * Brings the database to the newest schema in one transaction; `user_version` records the
 * version. A database from a newer annunciator is refused rather than misread.
 */
export function migrate(connection: Database.Database, migrations = readMigrations()): number {
  const current = connection.pragma('user_version', { simple: true }) as number;
  const newest = migrations.length;
  if (current > newest) {
    throw new Error(`store schema version ${current} is newer than this annunciator understands (${newest})`);
  }
  connection
    .transaction(() => {
      for (const migration of migrations.slice(current)) connection.exec(migration.sql);
      connection.pragma(`user_version = ${newest}`);
    })
    .immediate();
  return newest;
}

import type { SqliteConnection } from './connection.js';
import { fileURLToPath } from 'node:url';
import { readMigrationFiles, type Migration } from '../migration-files.js';

/** The schema as numbered SQL files (`0001-inbox-outbox.sql` ...); a file's number is the version it makes. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export type { Migration };

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readMigrationFiles(dir);
}

/**
 * Brings the database to the newest schema in one transaction; `user_version` records the
 * version. A database from a newer annunciator is refused rather than misread.
 */
export function migrate(connection: SqliteConnection, migrations = readMigrations()): number {
  const current = connection.pragma('user_version', { simple: true }) as number;
  const newest = migrations.length;
  if (current > newest) {
    throw new Error(`store schema version ${current} is newer than this annunciator understands (${newest})`);
  }
  connection.transaction(() => {
    for (const migration of migrations.slice(current)) connection.exec(migration.sql);
    connection.pragma(`user_version = ${newest}`);
  });
  return newest;
}

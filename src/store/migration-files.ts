import { readdirSync, readFileSync } from 'node:fs';

/** One numbered SQL file of a backend's schema; its number is the version it makes. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A backend's migrations (`0001-name.sql` ...), in order; a gap or a duplicate number is refused. */
export function readMigrationFiles(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((name) => /^\d{4}-[\w-]+\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 4)), name, sql: readFileSync(`${dir}/${name}`, 'utf8') }));
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) throw new Error(`store migrations: ${migration.name} should be numbered ${String(index + 1).padStart(4, '0')}`);
  });
  return migrations;
}

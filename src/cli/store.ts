import { ConfigError, loadStoreLocation } from '../config/load.js';
import { loadConfigOrReport } from './load-config-or-report.js';
import { printJson } from './output.js';
import { openStore } from '../store/open-store.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { BackupError, backupSqliteStore } from '../store/sqlite/backup.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { StoreError } from '../store/store-error.js';
import type { Store } from '../store/store.js';

const MESSAGES_COUNTED = 1000;

interface StoreStatus {
  backend: string;
  /** The SQLite file, or the PostgreSQL URL (it holds no password). */
  location: string;
  schemaVersion: number;
  /** How a commit is made durable. */
  durability: string;
  /** Messages not processed yet (counted up to 1,000: the interface lists them with their bytes) and notifications not sent yet. */
  pending: { messages: number; notifications: number };
  health: ReturnType<Store['health']>;
}

/**
 * `annunciator store migrate`: brings the configured store to this version's schema now
 * (the gateway does it when it starts; this is for doing it first, e.g. before starting
 * several gateways of a new version). 75 (EX_TEMPFAIL) when the database cannot be reached.
 */
export async function storeMigrateCommand(configFile: string): Promise<number> {
  return withConfiguredStore(configFile, async (store) => {
    if (store instanceof PostgresStore) {
      const { version, applied } = await store.open();
      process.stdout.write(applied.length > 0 ? `migrated to schema version ${version} (applied ${applied.join(', ')})\n` : `schema version ${version}: up to date\n`);
    } else if (store instanceof SqliteStore) {
      process.stdout.write(`schema version ${store.settings().schemaVersion}: up to date\n`);
    }
    return 0;
  });
}

/** `annunciator store status`: the backend, where it is, its schema, how commits are made durable, and what waits in it. */
export async function storeStatusCommand(configFile: string, options: { json?: boolean }): Promise<number> {
  return withConfiguredStore(configFile, async (store, location) => {
    let schemaVersion = 0;
    let durability = '';
    if (store instanceof PostgresStore) {
      const settings = await store.settings();
      schemaVersion = settings.schemaVersion;
      durability = `synchronous_commit=${settings.synchronousCommit}`;
    } else if (store instanceof SqliteStore) {
      const settings = store.settings();
      schemaVersion = settings.schemaVersion;
      // synchronous=normal: the WAL is fdatasync'd by the store (wal-sync.ts) before a commit is reported, not by SQLite in the commit.
      durability = `journal_mode=${settings.journalMode}, synchronous=${['off', 'normal', 'full', 'extra'][settings.synchronous] ?? settings.synchronous}, the WAL flushed before a commit is reported`;
    }
    const status: StoreStatus = {
      backend: store.backend,
      location,
      schemaVersion,
      durability,
      pending: { messages: (await store.inbox.pending(MESSAGES_COUNTED)).length, notifications: (await store.outbox.list(['pending', 'sending'])).length },
      health: store.health(),
    };
    if (options.json) {
      printJson(status);
      return 0;
    }
    process.stdout.write(
      [
        `backend:        ${status.backend}`,
        `location:       ${status.location}`,
        `schema version: ${status.schemaVersion}`,
        `durability:     ${status.durability}`,
        `waiting:        ${status.pending.messages >= MESSAGES_COUNTED ? `${MESSAGES_COUNTED} or more` : status.pending.messages} messages, ${status.pending.notifications} notifications`,
        `health:         ${status.health.ok ? 'ok' : status.health.reason}`,
        '',
      ].join('\n'),
    );
    return 0;
  });
}

async function withConfiguredStore(configFile: string, command: (store: Store, location: string) => Promise<number>): Promise<number> {
  const config = loadConfigOrReport(configFile);
  if (!config) return 1;
  const store = openStore(config);
  const location = config.store.postgres?.url ?? (store instanceof SqliteStore ? store.file : config.gateway.dataDir);
  try {
    return await command(store, location);
  } catch (error) {
    if (!StoreError.isFault(error)) throw error;
    // As sendmail does when it cannot reach its queue: EX_TEMPFAIL, try again later.
    process.stderr.write(`annunciator store: the store cannot be reached now: ${(error as Error).message}\n`);
    return 75;
  } finally {
    await store.close();
  }
}

/**
 * `annunciator store backup FILE`: a checked copy of the SQLite store, taken while the
 * gateway runs. Reads only where the store is from the configuration, not its secrets, so a
 * cron job runs it as the service user with no credentials. 0 when FILE holds the copy; 1
 * when the configuration is unusable, the store is PostgreSQL, or the backup failed (FILE
 * is then as it was).
 */
export function storeBackupCommand(configFile: string, file: string): number {
  let location: ReturnType<typeof loadStoreLocation>;
  try {
    location = loadStoreLocation(configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  if (location.backend === 'postgres') {
    process.stderr.write('annunciator store backup: the store is PostgreSQL (store.url): back it up with the database\'s own tools (pg_dump, or the server\'s base backups)\n');
    return 1;
  }
  try {
    const report = backupSqliteStore(SqliteStore.fileIn(location.dataDir), file);
    const mib = (report.bytes / (1024 * 1024)).toFixed(1);
    process.stdout.write(
      `backup of ${report.source} written to ${report.target}: ${mib} MiB, schema ${report.schemaVersion}, ` +
        `${report.alarms} alarm${report.alarms === 1 ? '' : 's'}, ${report.outbox} outbox entr${report.outbox === 1 ? 'y' : 'ies'}, integrity ok, ${report.durationMs} ms\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof BackupError) {
      process.stderr.write(`annunciator store backup: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

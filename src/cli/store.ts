import { ConfigError, loadStoreLocation } from '../config/load.js';
import { loadConfigOrReport } from './load-config-or-report.js';
import { printJson } from './output.js';
import { openStore } from '../store/open-store.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { BackupError, backupSqliteStore } from '../store/sqlite/backup.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { StoreError } from '../store/store-error.js';
import type { PeerSeen, Store } from '../store/store.js';

const MESSAGES_COUNTED = 1000;
/** Gateways seen within this long are listed by `store status`. */
const PEERS_WITHIN = 3_600_000;
/** A gateway silent for longer than this is shown as gone (it beats every 2 s). */
const PEER_SILENT_AFTER = 10_000;

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
  /** PostgreSQL: the gateway that leads (timers, reply watchers, retained MQTT state), null when none does now. */
  leader?: string | null;
  /** PostgreSQL: the gateways seen in the last hour, the leader first. */
  gateways?: PeerSeen[];
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
    let gateways: PeerSeen[] | undefined;
    if (store instanceof PostgresStore) {
      const settings = await store.settings();
      schemaVersion = settings.schemaVersion;
      durability = `synchronous_commit=${settings.synchronousCommit}`;
      gateways = await store.gateways(PEERS_WITHIN);
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
      ...(gateways ? { leader: gateways.find((g) => g.leading)?.gateway ?? null, gateways } : {}),
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
        ...(gateways ? peerLines(status.leader ?? null, gateways) : []),
        '',
      ].join('\n'),
    );
    return 0;
  });
}

/** Who leads and the gateways seen, one line each: `gw-a  leads  seen 0.4 s ago  version 1.2.0  up since ...`. */
function peerLines(leader: string | null, gateways: PeerSeen[]): string[] {
  const lines = [`leader:         ${leader ?? 'none now (a gateway takes the lead within seconds of one running)'}`, `gateways:       ${gateways.length === 0 ? 'none seen in the last hour' : `${gateways.length} seen in the last hour`}`];
  for (const g of gateways) {
    const role = g.leading ? 'leads' : g.seenMsAgo > PEER_SILENT_AFTER ? 'gone' : 'active';
    lines.push(`  ${g.gateway}  ${role}  seen ${formatAgo(g.seenMsAgo)} ago  version ${g.version}  up since ${new Date(g.startedAt).toISOString()}`);
  }
  return lines;
}

function formatAgo(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
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

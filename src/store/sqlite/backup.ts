import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SqliteConnection } from './connection.js';

export interface BackupReport {
  /** The store file that was copied. */
  source: string;
  /** Where the copy is now. */
  target: string;
  bytes: number;
  /** The copy's `user_version`: the migrations it has. */
  schemaVersion: number;
  alarms: number;
  outbox: number;
  durationMs: number;
}

/** Why a backup was not made; nothing at the target changed. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/**
 * Copies the SQLite store at `source` to `target` while a gateway may be writing to it.
 *
 * `VACUUM INTO` reads one snapshot in one read transaction: in WAL mode the gateway goes on
 * committing meanwhile and the copy holds exactly what was committed when it began. (The
 * backup API would start over whenever another process writes, so under steady traffic it
 * might never finish.) The copy is written to a temporary file beside the target, checked
 * with `PRAGMA integrity_check`, flushed to disk and only then renamed over the target: the
 * target is either the old file or a whole, checked new one, never half a backup.
 */
export function backupSqliteStore(source: string, target: string, now: () => number = Date.now): BackupReport {
  const started = now();
  if (!existsSync(source)) throw new BackupError(`no store at ${source}: has the gateway run with this configuration (gateway.dataDir)?`);
  const targetPath = resolve(target);
  if (existsSync(targetPath) && statSync(targetPath).isDirectory()) throw new BackupError(`${targetPath} is a directory: name the backup file`);
  const targetDir = dirname(targetPath);
  if (!existsSync(targetDir)) throw new BackupError(`the folder ${targetDir} does not exist`);
  const sourcePath = realpathSync(source);
  const targetReal = existsSync(targetPath) ? realpathSync(targetPath) : join(realpathSync(targetDir), basename(targetPath));
  if ([sourcePath, `${sourcePath}-wal`, `${sourcePath}-shm`].includes(targetReal)) throw new BackupError(`${targetPath} is the store itself: name another file`);

  const temporary = join(targetDir, `.${basename(targetPath)}.${randomBytes(6).toString('hex')}.tmp`);
  let connection: SqliteConnection | undefined;
  try {
    // The gateway's write transactions are short; wait for one instead of failing.
    connection = SqliteConnection.open(sourcePath, { fileMustExist: true, busyTimeout: 10000 });
    connection.prepare('VACUUM INTO ?').run(temporary);
    connection.close();
    connection = undefined;

    const copy = SqliteConnection.open(temporary, { readonly: true });
    let schemaVersion: number;
    let alarms: number;
    let outbox: number;
    try {
      const check = copy.pragma('integrity_check') as Array<{ integrity_check: string }>;
      if (check.length !== 1 || check[0]?.integrity_check !== 'ok') {
        throw new BackupError(`the copy failed its integrity check: ${check.map((row) => row.integrity_check).slice(0, 5).join('; ')}`);
      }
      schemaVersion = copy.pragma('user_version', { simple: true }) as number;
      alarms = count(copy, 'alarms');
      outbox = count(copy, 'outbox');
    } finally {
      copy.close();
    }

    // Readable by whom the store is readable by, not by whatever the umask allows: it holds the same mail.
    chmodSync(temporary, statSync(sourcePath).mode & 0o666);
    syncFile(temporary);
    renameSync(temporary, targetPath);
    // The rename itself survives a power cut only once the folder is on disk too.
    syncFile(targetDir);
    return { source: sourcePath, target: targetPath, bytes: statSync(targetPath).size, schemaVersion, alarms, outbox, durationMs: now() - started };
  } catch (error) {
    connection?.close();
    for (const leftover of [temporary, `${temporary}-journal`, `${temporary}-wal`, `${temporary}-shm`]) {
      try {
        unlinkSync(leftover);
      } catch {
        // Not there: nothing to tidy.
      }
    }
    if (error instanceof BackupError) throw error;
    const code = (error as { code?: unknown }).code;
    throw new BackupError(`backup of ${sourcePath} to ${targetPath} failed: ${(error as Error).message}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: error });
  }
}

/** Rows of a table, or 0 when a store of an older schema has no such table. */
function count(connection: SqliteConnection, table: 'alarms' | 'outbox'): number {
  const exists = connection.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  if (!exists) return 0;
  return connection.prepare(`SELECT count(*) AS n FROM ${table}`).get<{ n: number }>()?.n ?? 0;
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

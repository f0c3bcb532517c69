/**
 * One SQLite connection over Node's built-in `node:sqlite` (`DatabaseSync`, Node >= 22.13):
 * nothing to compile at install time and no native addon tied to one Node ABI. The store,
 * its backup and the tests use this, never `node:sqlite` directly, so that the driver's
 * differences are handled here once:
 * - errors carry SQLite's extended result code as a number (`errcode`); here they get the
 *   name StoreError and the file health watch know (`SQLITE_FULL`, `SQLITE_IOERR_FSYNC`);
 * - there is no default busy timeout (set on open);
 * - `undefined` binds as NULL (Node 22 refuses it; better-sqlite3 bound NULL);
 * - Node 22 prints "SQLite is an experimental feature" on load: suppressed, that warning only.
 *
 * Rows come back with a null prototype and BLOBs as Uint8Array (`asBuffer`).
 */

/** The part of `node:sqlite` used here, typed by hand: the project's @types/node predates it. */
interface StatementSync {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface DatabaseSync {
  readonly isOpen: boolean;
  readonly isTransaction: boolean;
  prepare(sql: string): StatementSync;
  exec(sql: string): void;
  close(): void;
}
interface NodeSqlite {
  DatabaseSync: new (file: string, options?: { open?: boolean; readOnly?: boolean; enableForeignKeyConstraints?: boolean; timeout?: number }) => DatabaseSync;
}

/** The Node that has `node:sqlite` without a flag; package.json `engines` says the same. */
export const NODE_SQLITE_SINCE = '22.13.0';

let driver: NodeSqlite | undefined;

/**
 * `node:sqlite`, loaded on first use rather than imported: on a Node without it an import
 * fails at link time (ERR_UNKNOWN_BUILTIN_MODULE) before any code could say what to do.
 */
export function nodeSqlite(): NodeSqlite {
  if (driver) return driver;
  // process.getBuiltinModule exists from Node 20.16 / 22.3 on; older ones have no node:sqlite either.
  const load = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const loaded = load ? withoutSqliteWarning(() => load('node:sqlite') as NodeSqlite | undefined) : undefined;
  if (!loaded?.DatabaseSync) {
    throw new Error(`the SQLite store needs Node.js ${NODE_SQLITE_SINCE} or later (node:sqlite); this is Node.js ${process.version}`);
  }
  driver = loaded;
  return driver;
}

/** The one ExperimentalWarning node:sqlite emits on Node 22 (and 23), not any other warning. */
export function isSqliteExperimentalWarning(warning: unknown, type?: unknown): boolean {
  const name = typeof type === 'string' ? type : typeof type === 'object' && type !== null ? (type as { type?: unknown }).type : (warning as { name?: unknown } | null)?.name;
  const text = typeof warning === 'string' ? warning : (warning as { message?: unknown } | null)?.message;
  return name === 'ExperimentalWarning' && typeof text === 'string' && text.startsWith('SQLite is an experimental feature');
}

function withoutSqliteWarning<T>(load: () => T): T {
  const emitWarning = process.emitWarning;
  // Node emits it synchronously while the module loads, through the public process.emitWarning.
  process.emitWarning = function (this: typeof process, warning: string | Error, ...rest: unknown[]): void {
    if (isSqliteExperimentalWarning(warning, rest[0])) return;
    (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return load();
  } finally {
    process.emitWarning = emitWarning;
  }
}

export interface OpenOptions {
  /** Opens read-only; the file must exist. */
  readonly?: boolean;
  /** Refuses to create the file (better-sqlite3's `fileMustExist`). */
  fileMustExist?: boolean;
  /** How long a statement waits for another connection's lock (ms); 5 s. */
  busyTimeout?: number;
}

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement {
  run(...params: unknown[]): RunResult;
  get<Row = Record<string, unknown>>(...params: unknown[]): Row | undefined;
  all<Row = Record<string, unknown>>(...params: unknown[]): Row[];
}

export class SqliteConnection {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  static open(file: string, options: OpenOptions = {}): SqliteConnection {
    const { DatabaseSync } = nodeSqlite();
    // SQLite creates a missing file on open unless read-only; the URI mode `rw` refuses to.
    const path = options.fileMustExist && !options.readonly && !isInMemory(file) ? readWriteUri(file) : file;
    try {
      // Foreign keys as SQLite defaults them (off; the store turns them on): node:sqlite defaults them on.
      const db = new DatabaseSync(path, { readOnly: options.readonly ?? false, enableForeignKeyConstraints: false, timeout: options.busyTimeout ?? 5000 });
      return new SqliteConnection(db);
    } catch (error) {
      throw sqliteError(error);
    }
  }

  get open(): boolean {
    return this.#db.isOpen;
  }

  get inTransaction(): boolean {
    return this.#db.isTransaction;
  }

  prepare(sql: string): Statement {
    let statement: StatementSync;
    try {
      statement = this.#db.prepare(sql);
    } catch (error) {
      throw sqliteError(error);
    }
    return {
      run(...params) {
        try {
          const result = statement.run(...bindable(params));
          return { changes: Number(result.changes), lastInsertRowid: result.lastInsertRowid };
        } catch (error) {
          throw sqliteError(error);
        }
      },
      get<Row>(...params: unknown[]) {
        try {
          return statement.get(...bindable(params)) as Row | undefined;
        } catch (error) {
          throw sqliteError(error);
        }
      },
      all<Row>(...params: unknown[]) {
        try {
          return statement.all(...bindable(params)) as Row[];
        } catch (error) {
          throw sqliteError(error);
        }
      },
    };
  }

  exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (error) {
      throw sqliteError(error);
    }
  }

  /**
   * `PRAGMA text`: the rows it returns, or with `simple` the first column of the first row
   * (as better-sqlite3's `pragma()` did).
   */
  pragma(text: string, options: { simple: true }): unknown;
  pragma(text: string, options?: { simple?: false }): Array<Record<string, unknown>>;
  pragma(text: string, options: { simple?: boolean } = {}): unknown {
    const rows = this.prepare(`PRAGMA ${text}`).all();
    if (!options.simple) return rows;
    const first = rows[0];
    return first === undefined ? undefined : Object.values(first)[0];
  }

  /** Runs `fn` in one transaction (`BEGIN IMMEDIATE` by default): committed if it returns, rolled back if it throws. */
  transaction<T>(fn: () => T, mode: 'DEFERRED' | 'IMMEDIATE' | 'EXCLUSIVE' = 'IMMEDIATE'): T {
    this.exec(`BEGIN ${mode}`);
    try {
      const result = fn();
      this.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isOpen && this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

/** A BLOB as the Buffer the store hands on (node:sqlite returns a Uint8Array), without copying. */
export function asBuffer(blob: Uint8Array): Buffer {
  return Buffer.isBuffer(blob) ? blob : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
}

function bindable(params: unknown[]): unknown[] {
  return params.includes(undefined) ? params.map((value) => (value === undefined ? null : value)) : params;
}

/** An SQLite error with the name of its extended result code (`code: 'SQLITE_IOERR_FSYNC'`), as StoreError expects. */
export interface SqliteError extends Error {
  code: string;
  errcode?: number;
}

/** node:sqlite's error (`code: 'ERR_SQLITE_ERROR'`, `errcode` a number), named by its result code; other errors as they are. */
export function sqliteError(error: unknown): unknown {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'ERR_SQLITE_ERROR' || typeof errcode !== 'number') return error;
  const named = new Error(error.message, { cause: error }) as SqliteError;
  named.code = sqliteCodeName(errcode);
  named.errcode = errcode;
  return named;
}

/** SQLite's primary result codes by number (sqlite3.h). */
const PRIMARY = ['OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT', 'IOERR', 'CORRUPT', 'NOTFOUND', 'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG', 'CONSTRAINT', 'MISMATCH', 'MISUSE', 'NOLFS', 'AUTH', 'FORMAT', 'RANGE', 'NOTADB', 'NOTICE', 'WARNING'];

/** Extended result codes: for a primary code, the names of `code | (n << 8)` for n = 1, 2, ... (sqlite3.h). */
const EXTENDED: Record<string, Array<string | undefined>> = {
  ERROR: ['MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT'],
  IOERR: ['READ', 'SHORT_READ', 'WRITE', 'FSYNC', 'DIR_FSYNC', 'TRUNCATE', 'FSTAT', 'UNLOCK', 'RDLOCK', 'DELETE', 'BLOCKED', 'NOMEM', 'ACCESS', 'CHECKRESERVEDLOCK', 'LOCK', 'CLOSE', 'DIR_CLOSE', 'SHMOPEN', 'SHMSIZE', 'SHMLOCK', 'SHMMAP', 'SEEK', 'DELETE_NOENT', 'MMAP', 'GETTEMPPATH', 'CONVPATH', 'VNODE', 'AUTH', 'BEGIN_ATOMIC', 'COMMIT_ATOMIC', 'ROLLBACK_ATOMIC', 'DATA', 'CORRUPTFS', 'IN_PAGE'],
  LOCKED: ['SHAREDCACHE', 'VTAB'],
  BUSY: ['RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  CANTOPEN: ['NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  CORRUPT: ['VTAB', 'SEQUENCE', 'INDEX'],
  READONLY: ['RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  ABORT: [undefined, 'ROLLBACK'],
  CONSTRAINT: ['CHECK', 'COMMITHOOK', 'FOREIGNKEY', 'FUNCTION', 'NOTNULL', 'PRIMARYKEY', 'TRIGGER', 'UNIQUE', 'VTAB', 'ROWID', 'PINNED', 'DATATYPE'],
  NOTICE: ['RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  WARNING: ['AUTOINDEX'],
  AUTH: ['USER'],
};

/** `SQLITE_IOERR_FSYNC` for 1034: the names better-sqlite3 gave errors, which StoreError and the file health watch test. */
export function sqliteCodeName(errcode: number): string {
  const primary = PRIMARY[errcode & 0xff];
  if (primary === undefined) return `SQLITE_UNKNOWN_${errcode}`;
  const extended = errcode >> 8;
  if (extended === 0) return `SQLITE_${primary}`;
  const name = EXTENDED[primary]?.[extended - 1];
  return name ? `SQLITE_${primary}_${name}` : `SQLITE_${primary}`;
}

/** Whether `file` names an in-memory database rather than a file. */
export function isInMemory(file: string): boolean {
  return file === '' || file === ':memory:' || file.startsWith('file::memory:');
}

/** `file` as a URI SQLite opens read-write without ever creating it. */
export function readWriteUri(file: string): string {
  return `file:${encodeURI(file).replace(/[?#]/g, encodeURIComponent)}?mode=rw`;
}

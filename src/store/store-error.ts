/**
 * The store itself failed (disk full, I/O error, the file gone or read-only, the database
 * unreachable): nothing about the message or alarm at hand was decided, the transaction
 * rolls back, and the work is tried again later. `code` is the backend's (`SQLITE_FULL`).
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /**
   * Whether `error` is the store failing (disk full, I/O error, the file gone or read-only,
   * busy, out of memory), not the data at hand (a constraint, a value too big): a message
   * whose processing failed so is not to blame and waits for the store to recover.
   */
  static isFault(error: unknown): boolean {
    if (!(error instanceof StoreError)) return false;
    if (error.code.startsWith('PG_')) return isPostgresFault(error.code.slice(3));
    return FAULT_CODES.some((code) => error.code === code || error.code.startsWith(`${code}_`));
  }

  static wrap(error: unknown): unknown {
    if (error instanceof StoreError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return new StoreError(`store: ${(error as Error).message}`, code, { cause: error });
    return error;
  }
}

/** SQLite's result codes (and their extended codes `SQLITE_IOERR_WRITE`, ...) that say the store failed. */
const FAULT_CODES = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL'];

/**
 * PostgreSQL's faults, by the store's code `PG_<what>`: `CONNECTION` (no answer, refused,
 * reset, timed out: postgres/errors.ts) or an SQLSTATE whose class or code says the server
 * cannot do the work now, whatever the data: connection exceptions (08), insufficient
 * resources (53: disk full, out of memory, too many connections), operator intervention
 * (57: shutting down, starting up, query cancelled), system errors (58: I/O), internal
 * errors (XX), a serialization failure or deadlock (40001, 40P01: the same work succeeds
 * when tried again), a lock wait or idle transaction timed out (55P03, 25P03), and a
 * read-only transaction (25006: a replica after a failover, until the new primary is found).
 */
function isPostgresFault(what: string): boolean {
  if (what === 'CONNECTION') return true;
  return ['08', '53', '57', '58', 'XX'].includes(what.slice(0, 2)) || ['40001', '40P01', '55P03', '25P03', '25006'].includes(what);
}

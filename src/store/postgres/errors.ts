import { StoreError } from '../store-error.js';

/** Node's codes for a connection that could not be made or broke (DNS, TCP, TLS). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
  'ETLS',
]);

/** What node-postgres says when the connection broke or never came (its errors carry no code). */
const CONNECTION_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Connection closed|server does not support SSL|self[- ]signed certificate|certificate|Hostname\/IP does not match/i;

/**
 * The store's error for what node-postgres threw: a server error keeps its SQLSTATE
 * (`PG_23505`, `PG_57P01`); a connection that failed or broke is `PG_CONNECTION`.
 * StoreError.isFault says which of them are the database failing (devices hear 451, the
 * work waits) rather than the data at hand. Anything else (a bug) is returned as it is.
 *
 * `connecting`: the error came from opening a connection, so whatever it is, the database
 * cannot be reached (a refused certificate, password or database name included: an
 * operator fixes those, and meanwhile the gateway must answer 451, not 5xx).
 */
export function toStoreError(error: unknown, connecting = false): unknown {
  if (error instanceof StoreError) return error;
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && 'severity' in error ? code : undefined;
  if (connecting || (!sqlState && ((typeof code === 'string' && CONNECTION_CODES.has(code)) || CONNECTION_MESSAGES.test(error.message)))) {
    const why = sqlState ? `${error.message} (SQLSTATE ${sqlState})` : error.message;
    return new StoreError(`store: the database cannot be reached: ${why}`, 'PG_CONNECTION', { cause: error });
  }
  if (sqlState) return new StoreError(`store: ${error.message}`, `PG_${sqlState}`, { cause: error });
  return error;
}

/** Whether the connection a failed statement ran on is broken, so it must not go back to the pool. */
export function brokeConnection(error: unknown): boolean {
  return error instanceof StoreError && (error.code === 'PG_CONNECTION' || error.code.startsWith('PG_08') || error.code.startsWith('PG_57P'));
}

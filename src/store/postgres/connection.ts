import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { CustomTypesConfig, PoolConfig } from 'pg';
import { upstreamTlsOptions } from '../../base/tls-policy.js';
import type { PostgresConnection } from '../../config/types.js';

export interface PoolSettings {
  connection: PostgresConnection;
  /** The schema the tables live in (search_path); the role's default (`public`) when absent. */
  schema?: string;
  /** Connections at most. */
  size: number;
  /** How long opening a connection may take before the attempt counts as failed (ms). */
  connectTimeout: number;
  /** Sessions left idle inside a transaction this long are ended by the server, releasing their locks (ms). */
  idleInTransactionTimeout: number;
}

const OID_INT8 = 20;

/** `store.schema` names one schema (letters, digits, underscore): it goes into the connection's options unquoted. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * node-postgres settings for the store. Certificates are checked as for the upstream
 * accounts (base/tls-policy.ts: verification always on, extra CAs, minimum version, or a
 * pinned certificate). node-postgres sets the TLS server name to the host it connects to,
 * so a configured `tls.servername` is what the certificate is checked against instead.
 */
export function poolConfig(settings: PoolSettings, pgTypes: CustomTypesConfig): PoolConfig {
  const { connection, schema } = settings;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`store: schema name "${schema}" is not a plain lower-case identifier`);
  const password = connection.password;
  const options = [`-c idle_in_transaction_session_timeout=${settings.idleInTransactionTimeout}`, ...(schema ? [`-c search_path=${schema}`] : [])];
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    // A function, so the secret is revealed only while connecting and never sits in the pool's settings.
    ...(password ? { password: () => password.reveal() } : {}),
    ssl: connection.tls ? tlsOptions(connection.tls) : false,
    max: settings.size,
    connectionTimeoutMillis: settings.connectTimeout,
    idleTimeoutMillis: 30_000,
    // Idle connections do not keep the process alive (a store left open in a test, a CLI command).
    allowExitOnIdle: true,
    // A database host that vanished (power, network) is noticed on idle connections too.
    keepAlive: true,
    application_name: 'annunciator',
    options: options.join(' '),
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === OID_INT8 ? parseInt8 : pgTypes.getTypeParser(oid, format))) as CustomTypesConfig['getTypeParser'] },
  };
}

function tlsOptions(tls: NonNullable<PostgresConnection['tls']>): ConnectionOptions {
  const options = upstreamTlsOptions({ tls });
  if (tls.pin || !tls.servername) return options;
  const servername = tls.servername;
  return { ...options, checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(servername, cert) };
}

/** Times and counts are bigint: numbers, exact up to 2^53 (a millisecond time until the year 287,396). */
export function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`store: ${value} does not fit a JavaScript number`);
  return n;
}

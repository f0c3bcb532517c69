import type { RawConfig } from './schema.js';
import type { Secret, SecretSource } from './secret.js';
import type { StoreConfig } from './types.js';
import { isLoopback } from './replies.js';
import { resolveUpstreamTls } from './upstream-tls.js';

interface Resolvers {
  at: (path: ReadonlyArray<PropertyKey>, message: string) => void;
  secret: (source: SecretSource, path: ReadonlyArray<PropertyKey>) => Secret | undefined;
  readPem: (p: string, path: ReadonlyArray<PropertyKey>) => Buffer | undefined;
}

/**
 * The `store` section: retention, and with `url` the PostgreSQL database instead of the
 * SQLite file. The URL names user, host, port and database only: the password is a secret
 * like every other (env or file), and TLS is `security` and `tls`, checked as for the
 * upstream accounts.
 */
export function resolveStore(raw: RawConfig['store'], { at, secret, readPem }: Resolvers): StoreConfig {
  const path = ['store'];
  if (raw.url === undefined) {
    if (raw.password) at([...path, 'password'], 'is for a PostgreSQL store: set store.url too, or remove it');
    return { retention: raw.retention };
  }
  let url: URL | undefined;
  try {
    url = new URL(raw.url);
  } catch {
    at([...path, 'url'], 'is not a URL: postgres://user@host:5432/database');
  }
  if (!url) return { retention: raw.retention };
  const problem = (message: string): StoreConfig => {
    at([...path, 'url'], message);
    return { retention: raw.retention };
  };
  if (url.password) return problem('holds a password: give it as store.password ({ env: VARIABLE } or { file: path }), never in the URL');
  if (url.search || url.hash) return problem('takes no parameters: TLS is store.security and store.tls, the password store.password');
  const host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  const user = decodeURIComponent(url.username);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!host) return problem('names no host: postgres://user@host:5432/database');
  if (!user) return problem('names no user: postgres://user@host:5432/database');
  if (!database || database.includes('/')) return problem('names no database: postgres://user@host:5432/database');
  // As for MQTT and IMAP: the password crosses the wire in clear only to this host, or when the operator says the wire is trusted.
  if (raw.security === 'none' && !isLoopback(host) && !raw.allowPlaintext) {
    at([...path, 'security'], 'none sends the password and every alarm in clear: use tls, or (a database on a trusted wire only) set allowPlaintext: true');
  }
  const tls = resolveUpstreamTls(raw.tls, path, { at, readPem });
  const password = raw.password ? secret(raw.password, [...path, 'password']) : undefined;
  return {
    retention: raw.retention,
    postgres: {
      host,
      port: url.port ? Number(url.port) : 5432,
      database,
      user,
      ...(password ? { password } : {}),
      ...(raw.security === 'tls' ? { tls } : {}),
      url: raw.url,
    },
  };
}

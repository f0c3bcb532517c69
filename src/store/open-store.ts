import type { Clock } from '../base/clock.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** What watches the store (the SQLite file; time in the PostgreSQL store's health). */
  clock?: Clock;
  logger?: Logger;
  /** SQLite: checkpoints in a thread of their own (the gateway's store; the CLI's short-lived ones leave it off). */
  backgroundCheckpoints?: boolean;
}

/**
 * The configured store: PostgreSQL when `store.url` is set, else the SQLite file in
 * `gateway.dataDir`. The PostgreSQL store connects on its first call (postgres-store.ts).
 */
export function openStore(config: Pick<GatewayConfig, 'gateway' | 'store'>, options: OpenStoreOptions = {}): Store {
  const postgres = config.store.postgres;
  const { backgroundCheckpoints, ...common } = options;
  if (postgres) return new PostgresStore({ connection: postgres, ...common, ...(config.gateway.name ? { gateway: config.gateway.name } : {}) });
  return SqliteStore.open(config.gateway.dataDir, { ...common, ...(backgroundCheckpoints ? { backgroundCheckpoints } : {}) });
}

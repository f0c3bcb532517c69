import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/** Loads the configuration for a command, or prints why it cannot and returns undefined. */
export function loadConfigOrReport(configFile: string): GatewayConfig | undefined {
  try {
    return loadConfig(configFile);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}

/** Runs a command against the configured store, closing it afterwards; 1 when the configuration is unusable. */
export async function withStore(configFile: string, command: (store: Store, config: GatewayConfig) => Promise<number>): Promise<number> {
  const config = loadConfigOrReport(configFile);
  if (!config) return 1;
  const store = openStore(config);
  try {
    return await command(store, config);
  } finally {
    await store.close();
  }
}

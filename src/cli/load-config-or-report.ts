import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';

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

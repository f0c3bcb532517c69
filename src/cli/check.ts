import { ConfigError, loadConfig } from '../config/load.js';

export function checkCommand(configFile: string): number {
  try {
    const config = loadConfig(configFile);
    const listeners = config.listeners.map((l) => `${l.name} ${l.address}:${l.port}`).join(', ');
    const accounts = config.delivery.accounts.map((a) => (a.type === 'file' ? `${a.name} (files in ${a.directory})` : `${a.name} (${a.host}:${a.port} ${a.security})`)).join(', ');
    process.stdout.write(`${config.file}: OK\n  listeners: ${listeners}\n  accounts: ${accounts}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

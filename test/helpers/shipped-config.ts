import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './built-cli.js';
import { loopbackListeners, type TestDir } from './gateway.js';

/**
 * The shipped configuration (config/annunciator.yaml) with the shipped rules copied into
 * `dir`, on loopback with data in `dir`: the gateway a new user runs, for end-to-end tests.
 * `extra` sections are added or replace the shipped ones.
 */
export function shippedAlarmsConfig(dir: TestDir, extra: Record<string, unknown>): Record<string, unknown> {
  const { http: _shippedHttp, ...shipped } = shippedConfig();
  cpSync(join(REPO_ROOT, 'rules'), join(dir.path, 'rules'), { recursive: true });
  return {
    ...shipped,
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'error', format: 'json' },
    listeners: loopbackListeners(),
    alarms: { ...(shipped.alarms as object), rulesDir: join(dir.path, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false },
    // The shipped HTTP server on a free port (the older `api` section of a test replaces it).
    ...(extra.api ? {} : { http: { listen: { address: '127.0.0.1', port: 0 } } }),
    ...extra,
  };
}

/** config/annunciator.yaml as the gateway ships it, but its HTTP server on a free port (tests run side by side). */
export function shippedConfig(): Record<string, unknown> {
  const shipped = parse(readFileSync(join(REPO_ROOT, 'config/annunciator.yaml'), 'utf8')) as Record<string, unknown>;
  return { ...shipped, http: { ...(shipped.http as object), listen: { address: '127.0.0.1', port: 0 } } };
}

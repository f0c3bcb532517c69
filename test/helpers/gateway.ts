import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { FakeClock } from './fake-clock.js';
import { createLogger, silentLogger, type Logger } from '../../src/log/logger.js';

export interface TestDir {
  path: string;
  write(name: string, content: string | Buffer): string;
  remove(): void;
}

/** A fresh temporary directory (under `parent`, by default the system's). */
export function testDir(prefix = 'annunciator-test-', parent = tmpdir()): TestDir {
  const path = mkdtempSync(join(parent, prefix));
  return {
    path,
    write(name, content) {
      const file = join(path, name);
      writeFileSync(file, content);
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** A configuration object for a gateway on an ephemeral loopback port, data in `dir`. */
export function baseConfig(dir: TestDir, overrides: { listener?: Record<string, unknown>; delivery?: Record<string, unknown>; relay?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'error', format: 'json' },
    listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32', '::1/128'], ...overrides.listener }],
    relay: { ...overrides.relay },
    delivery: {
      retry: { initialDelay: '50ms', maxDelay: '200ms', maxAge: '1h', jitter: 0 },
      pollInterval: '100ms',
      accounts: [{ name: 'files', type: 'file', directory: join(dir.path, 'files') }],
      ...overrides.delivery,
    },
  };
}

/** Delivery to a loopback SMTP upstream without TLS, with short retries and polls for tests. */
export function relayDelivery(upstreamPort: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    retry: { initialDelay: '50ms', maxDelay: '200ms', maxAge: '1h', jitter: 0 },
    pollInterval: '100ms',
    accounts: [{ name: 'lan-relay', host: '127.0.0.1', port: upstreamPort, security: 'none' }],
    ...overrides,
  };
}

/** One SMTP listener on an ephemeral loopback port that trusts 127.0.0.1 (devices are played from there). */
export function loopbackListeners(): Record<string, unknown>[] {
  return [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }];
}

export function configFrom(dir: TestDir, raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  const file = dir.write('annunciator.yaml', stringify(raw));
  return parseConfig(stringify(raw), file, env);
}

export interface RunningGateway extends App {
  /** The first SMTP listener's port. */
  port: number;
}

/** Builds and starts the whole gateway in this process, as `annunciator start` does; `options.clock` for a fake clock. */
export async function runGateway(
  config: GatewayConfig,
  logger: Logger = process.env.ANNUNCIATOR_TEST_LOG ? createLogger({ level: process.env.ANNUNCIATOR_TEST_LOG, format: 'json' }) : silentLogger(),
  options: Omit<AppOptions, 'logger'> = {},
): Promise<RunningGateway> {
  const app = createApp(config, { ...options, logger });
  // A fake clock's advance waits for the commits and flushes the timers it fires start.
  if (options.clock instanceof FakeClock && app.store instanceof SqliteStore) {
    const store = app.store;
    options.clock.waitFor(() => store.settled());
  }
  await app.start();
  return Object.assign(app, { port: app.listeners[0]?.address().port ?? 0 });
}

/** Polls `check` (which may be async) until it returns a value, for state that settles asynchronously. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every notification queued so far in any state, once nothing is pending or being sent: what a fake-clock test checks after an advance. */
export async function drainedOutbox(gateway: App, timeoutMs = 30_000): Promise<number> {
  await eventually(async () => (await gateway.store.outbox.list(['pending', 'sending'])).length === 0, timeoutMs, 'the outbox to drain');
  return (await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).length;
}

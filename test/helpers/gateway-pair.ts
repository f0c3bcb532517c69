import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.js';
import type { GatewayProcess } from './gateway-process.js';
import type { MqttHarness } from './mqtt-example.js';
import type { TestDatabase } from './postgres.js';

/** One of several `annunciator start` processes on one database. */
export interface PairPeer {
  name: string;
  /** Its SMTP listener's port. */
  port: number;
  /** Its configuration file. */
  file: string;
  process: GatewayProcess | undefined;
}

/**
 * Writes a configuration per name from the MQTT example harness, all on the test database:
 * each with its own name, data directory, SMTP port and MQTT client id (a member of the
 * shared group), state publishing off; `extra` adds or replaces top-level sections.
 */
export async function peerConfigs(h: MqttHarness, db: TestDatabase, names: string[], extra: Record<string, unknown> = {}): Promise<PairPeer[]> {
  const [mqtt] = h.raw.mqtt as Array<Record<string, unknown>>;
  const peers: PairPeer[] = [];
  for (const name of names) {
    const port = await freePort();
    const raw = {
      ...h.raw,
      gateway: { ...(h.raw.gateway as object), name, dataDir: join(h.dir.path, `data-${name}`) },
      log: { level: 'info', format: 'json' },
      listeners: [{ name: 'lan', address: '127.0.0.1', port, trustedNetworks: ['127.0.0.1/32'] }],
      store: db.storeSection(),
      mqtt: [{ ...mqtt, clientId: `${h.clientId}-${name}`, publish: { enabled: false } }],
      ...extra,
    };
    peers.push({ name, port, file: h.dir.write(`${name}.yaml`, stringify(raw)), process: undefined });
  }
  return peers;
}

/** The gateway holding the leader lock now, by its row in `gateways`. */
export async function leaderOf(db: TestDatabase): Promise<string | undefined> {
  return (await db.query<{ name: string }>(`SELECT name FROM gateways g WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = g.backend_pid)`))[0]?.name;
}

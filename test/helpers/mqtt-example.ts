import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loopbackListeners, relayDelivery, testDir, type TestDir } from './gateway.js';
import { REPO_ROOT } from './gateway-process.js';

const example = parse(readFileSync(join(REPO_ROOT, 'config/examples/mqtt.yaml'), 'utf8')) as Record<string, unknown> & {
  mqtt: Array<Record<string, unknown> & { subscriptions: Array<Record<string, unknown> & { topic: string }> }>;
};

export interface MqttHarness {
  root: string;
  clientId: string;
  dir: TestDir;
  raw: Record<string, unknown>;
}

/**
 * The shipped MQTT example, under a topic root of its own (the shared broker may serve
 * other runs) and with a client id of its own (its persistent session must be this test's).
 */
export function mqttExampleHarness(brokerUrl: string, upstreamPort: number, overrides: Record<string, unknown> = {}): MqttHarness {
  const root = `t${randomBytes(4).toString('hex')}`;
  const clientId = `annunciator-${root}`;
  const dir = testDir();
  const [brokerConfig] = example.mqtt;
  const raw = {
    ...example,
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'error', format: 'json' },
    listeners: loopbackListeners(),
    alarms: { ...(example.alarms as object), rulesDir: join(REPO_ROOT, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false },
    mqtt: [
      {
        ...brokerConfig,
        url: brokerUrl,
        clientId,
        reconnect: { initialDelay: '100ms', maxDelay: '1s' },
        subscriptions: brokerConfig!.subscriptions.map((s) => ({ ...s, topic: `${root}/${s.topic}` })),
        publish: { prefix: `${root}/annunciator`, qos: 1 },
        ...overrides,
      },
    ],
    delivery: relayDelivery(upstreamPort),
  };
  return { root, clientId, dir, raw };
}

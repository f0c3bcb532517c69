import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { MqttBrokerConfig } from '../../src/config/types.js';
import { MINIMAL_CONFIG_YAML, refusalOf } from '../helpers/config-yaml.js';
import { testDir } from '../helpers/gateway.js';

const dir = testDir();
after(() => dir.remove());

function broker(lines: string, store = ''): MqttBrokerConfig {
  return parseConfig(yaml(lines, store), join(dir.path, 'annunciator.yaml'), {}).mqtt[0]!;
}

function yaml(lines: string, store: string): string {
  const mqtt = `mqtt:\n  - url: mqtt://127.0.0.1:1883\n${lines}    subscriptions:\n      - { topic: 'plant/{device}/alarm', format: text }\n`;
  return `${MINIMAL_CONFIG_YAML}alarms:\n  defaultRoute:\n    receivers: [oncall]\nreceivers:\n  - { name: oncall, email: oncall@example.com }\n${mqtt}${store ? `store:\n  url: ${store}\n  security: none\n` : ''}`;
}

const PG = 'postgres://annunciator@127.0.0.1:5432/annunciator';

describe('mqtt[].shareGroup: how a broker is subscribed', () => {
  it('one gateway on the SQLite file subscribes plainly, as client "annunciator"', () => {
    assert.deepEqual(broker(''), { ...broker(''), clientId: 'annunciator', subscribe: { kind: 'all' } });
    assert.deepEqual(broker('    protocolVersion: 5\n').subscribe, { kind: 'all' });
  });

  it('on PostgreSQL with MQTT 5: the shared group "annunciator", a client id per host', () => {
    const b = broker('    protocolVersion: 5\n', PG);
    assert.deepEqual(b.subscribe, { kind: 'shared', group: 'annunciator' });
    assert.equal(b.clientId, `annunciator-${hostname()}`);
    assert.equal(broker('    protocolVersion: 5\n    clientId: gw-a\n', PG).clientId, 'gw-a', 'a configured client id stays');
    assert.deepEqual(broker('    protocolVersion: 5\n    shareGroup: plant7\n', PG).subscribe, { kind: 'shared', group: 'plant7' });
  });

  it('on PostgreSQL with MQTT 3.1.1 (or shareGroup false): only the leader subscribes, under the one client id', () => {
    assert.deepEqual(broker('', PG).subscribe, { kind: 'leader' });
    assert.equal(broker('', PG).clientId, 'annunciator');
    assert.deepEqual(broker('    protocolVersion: 5\n    shareGroup: false\n', PG).subscribe, { kind: 'leader' });
    assert.deepEqual(broker('    shareGroup: g\n', PG).subscribe, { kind: 'shared', group: 'g' }, 'brokers that take $share/ from 3.1.1 clients');
  });

  it('refuses a group name that would change the filter', () => {
    for (const bad of ['a/b', 'a+', '#', '$g', 'a b']) {
      const problems = refusalOf(() => parseConfig(yaml(`    shareGroup: '${bad}'\n`, PG), join(dir.path, 'annunciator.yaml'), {}));
      assert.ok(problems.some((p) => p.key === 'mqtt[0].shareGroup'), JSON.stringify(problems));
    }
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatProblem, parseConfig, type ConfigProblem } from '../../src/config/load.js';
import { runCli } from '../helpers/cli.js';
import { MINIMAL_CONFIG_YAML, refusalOf } from '../helpers/config-yaml.js';
import { testDir } from '../helpers/gateway.js';

/**
 * The MQTT rules of the configuration that docs/configuration.md and docs/mqtt.md promise:
 * `mqtt[].password` is sent only over TLS or to a broker on this host, and needs a
 * `username`; `mqtt` needs the alarms section and `alarms.defaultRoute.receivers` (an MQTT
 * event has no recipients of its own). Each refusal names the file, line, key and problem,
 * as every other configuration problem does.
 */

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');

const ALARMS = `alarms:
  defaultRoute:
    receivers: [oncall]
receivers:
  - { name: oncall, email: oncall@example.com }
`;

/** MINIMAL, then `alarms` (and receivers), then one broker whose keys are `broker` plus a subscription. */
function config(broker: string, alarms = ALARMS): string {
  return `${MINIMAL_CONFIG_YAML}${alarms}mqtt:\n${broker}    subscriptions:\n      - { topic: 'plant/{device}/alarm', format: text }\n`;
}

/** The line (1-based) of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `"${needle}" is in the configuration`);
  return index + 1;
}

function onlyProblem(text: string): ConfigProblem {
  const problems = refusalOf(() => parseConfig(text, FILE, { MQTT_PW: 'secret' }));
  assert.equal(problems.length, 1, JSON.stringify(problems));
  const [problem] = problems;
  assert.equal(problem!.file, FILE);
  return problem!;
}

function accepted(text: string): void {
  parseConfig(text, FILE, { MQTT_PW: 'secret' });
}

describe('mqtt[].password: sent only over TLS or to this host, and with a username', () => {
  it('refuses a password over plain mqtt:// to another host, at the url', () => {
    const text = config('  - url: mqtt://broker.plant.local:1883\n    username: annunciator\n    password: { env: MQTT_PW }\n');
    const p = onlyProblem(text);
    assert.equal(p.key, 'mqtt[0].url');
    assert.equal(p.message, 'credentials are only sent over TLS (mqtts:// or wss://), or to a broker on this host');
    assert.equal(p.line, lineOf(text, 'url: mqtt://broker.plant.local'));
    assert.equal(formatProblem(p), `${FILE}:${p.line}:${p.column}: mqtt[0].url: ${p.message}`);
  });

  it('refuses a password over plain ws:// to another host as well', () => {
    const text = config('  - url: ws://10.1.2.3:9001/mqtt\n    username: annunciator\n    password: { env: MQTT_PW }\n');
    const p = onlyProblem(text);
    assert.equal(p.key, 'mqtt[0].url');
    assert.equal(p.line, lineOf(text, 'url: ws://'));
  });

  it('takes a password over mqtts:// or wss://, or in the clear to 127.0.0.1, localhost or [::1]; and mqtt:// anywhere without one', () => {
    for (const url of ['mqtts://broker.plant.local:8883', 'wss://broker.plant.local/mqtt', 'mqtt://127.0.0.1:1883', 'mqtt://localhost:1883', 'ws://[::1]:9001']) {
      accepted(config(`  - url: ${url}\n    username: annunciator\n    password: { env: MQTT_PW }\n`));
    }
    accepted(config('  - url: mqtt://broker.plant.local:1883\n    username: annunciator\n'));
  });

  // The host is the URL's parsed host, not a prefix of its text: each of these names another host.
  it('refuses a password in the clear to a host that only begins like a local one', () => {
    for (const url of ['mqtt://localhost.evil.example:1883', 'mqtt://127.0.0.1.nip.io:1883', 'mqtt://127.0.0.1@broker.evil.example:1883']) {
      const p = onlyProblem(config(`  - url: ${url}\n    username: annunciator\n    password: { env: MQTT_PW }\n`));
      assert.equal(p.key, 'mqtt[0].url', url);
    }
  });

  it('refuses a password without a username, at the broker (the username key is missing)', () => {
    const text = config('  - url: mqtts://broker.plant.local:8883\n    password: { env: MQTT_PW }\n');
    const p = onlyProblem(text);
    assert.equal(p.key, 'mqtt[0].username');
    assert.equal(p.message, 'is required with a password');
    assert.equal(p.line, lineOf(text, 'url: mqtts://'), 'points at the broker, the deepest key that exists');
  });
});

describe('mqtt needs the alarm pipeline and the default route receivers', () => {
  it('refuses mqtt when alarms.defaultRoute.receivers is empty, at that key', () => {
    const text = config('  - url: mqtts://broker.plant.local:8883\n', 'alarms:\n  defaultRoute:\n    receivers: []\n');
    const p = onlyProblem(text);
    assert.equal(p.key, 'alarms.defaultRoute.receivers');
    assert.equal(p.message, 'MQTT events have no recipients of their own: name the receivers of alarms no rule routes');
    assert.equal(p.line, lineOf(text, 'receivers: []'));
  });

  it('refuses mqtt when the default route names no receivers at all, pointing at the default route (its first key, as for any missing key)', () => {
    const text = config('  - url: mqtts://broker.plant.local:8883\n', 'alarms:\n  defaultRoute:\n    template: default\n');
    const p = onlyProblem(text);
    assert.equal(p.key, 'alarms.defaultRoute.receivers');
    assert.match(p.message, /^MQTT events have no recipients of their own/);
    assert.equal(p.line, lineOf(text, 'template: default'));
  });

  it('refuses mqtt without an alarms section, at the broker', () => {
    const text = config('  - url: mqtts://broker.plant.local:8883\n', '');
    const p = onlyProblem(text);
    assert.equal(p.key, 'mqtt[0]');
    assert.equal(p.message, 'MQTT alarms need the alarm pipeline: add an alarms section');
    assert.equal(p.line, lineOf(text, 'url: mqtts://'));
  });

  it('takes the same broker once the default route names a receiver (control)', () => {
    accepted(config('  - url: mqtts://broker.plant.local:8883\n'));
  });
});

describe('annunciator check --json reports both rules with file, line, key and problem', () => {
  it('lists the password, username and receivers problems together and exits 1', async () => {
    const text = config('  - url: mqtt://broker.plant.local:1883\n    password: { env: MQTT_PW }\n', 'alarms:\n  defaultRoute:\n    receivers: []\n');
    const file = dir.write('mqtt-broken.yaml', text);
    const result = await runCli(['--config', file, 'check', '--json'], { env: { MQTT_PW: 'secret' } });
    assert.equal(result.code, 1, result.stderr);
    const refused = JSON.parse(result.stdout) as { ok: boolean; problems: Array<{ file: string; line?: number; key: string; problem: string; text: string }> };
    assert.equal(refused.ok, false);
    const byKey = new Map(refused.problems.map((p) => [p.key, p]));
    assert.deepEqual([...byKey.keys()].sort(), ['alarms.defaultRoute.receivers', 'mqtt[0].url', 'mqtt[0].username']);
    const expected = {
      'mqtt[0].url': { line: lineOf(text, 'url: mqtt://'), problem: /^credentials are only sent over TLS/ },
      'mqtt[0].username': { line: lineOf(text, 'url: mqtt://'), problem: /^is required with a password$/ },
      'alarms.defaultRoute.receivers': { line: lineOf(text, 'receivers: []'), problem: /^MQTT events have no recipients of their own/ },
    };
    for (const [key, want] of Object.entries(expected)) {
      const p = byKey.get(key)!;
      assert.equal(p.file, file, key);
      assert.equal(p.line, want.line, key);
      assert.match(p.problem, want.problem, key);
      assert.ok(p.text.startsWith(`${file}:${want.line}:`) && p.text.endsWith(`${key}: ${p.problem}`), p.text);
    }
  });
});

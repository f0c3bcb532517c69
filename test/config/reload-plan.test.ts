import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { planReload } from '../../src/config/reload-plan.js';
import { ALARMS_YAML, MINIMAL_CONFIG_YAML } from '../helpers/config-yaml.js';

const FILE = '/etc/annunciator/annunciator.yaml';
const load = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfig(text, FILE, env);
const WITH_ALARMS = `${MINIMAL_CONFIG_YAML}${ALARMS_YAML}receivers:\n  - { name: tom, email: tom@example.com }\n`;

describe('planReload: what a reload changes now and what waits for a restart', () => {
  it('the same file twice changes nothing', () => {
    const plan = planReload(load(WITH_ALARMS), load(WITH_ALARMS));
    assert.deepEqual([plan.applied, plan.needRestart], [[], []]);
  });

  it('receivers, rules settings and the like are in force at once', () => {
    const next = WITH_ALARMS.replace('tom@example.com', 'tom.keller@example.com');
    const plan = planReload(load(WITH_ALARMS), load(next));
    assert.deepEqual(plan.applied, ['receivers']);
    assert.equal(plan.config.receivers[0]?.email, 'tom.keller@example.com');
  });

  it('a listener or an account is named, one level down, and kept as it started', () => {
    const current = load(WITH_ALARMS);
    const plan = planReload(current, load(WITH_ALARMS.replace('port: 2525', 'port: 2526').replace('directory: out', 'directory: elsewhere')));
    assert.deepEqual(plan.needRestart, ['listeners', 'delivery.accounts']);
    assert.equal(plan.config.listeners, current.listeners);
    assert.equal(plan.config.delivery, current.delivery);
  });

  it('a changed secret counts as a change though it prints as [redacted]', () => {
    const withSecret = `${WITH_ALARMS}api:\n  listen: { address: 127.0.0.1, port: 8080 }\n  baseUrl: https://alarms.plant.example.com/\n  linkSecret: { env: LINK_SECRET }\n`;
    const before = load(withSecret, { LINK_SECRET: 'a'.repeat(40) });
    assert.deepEqual(planReload(before, load(withSecret, { LINK_SECRET: 'a'.repeat(40) })).needRestart, []);
    assert.deepEqual(planReload(before, load(withSecret, { LINK_SECRET: 'b'.repeat(40) })).needRestart, ['http.links']);
  });

  it('http users, tokens and sessionLifetime are in force at once; the listen address waits for a restart', async () => {
    const { hashPassword } = await import('../../src/base/password-hash.js');
    const env = { ANNA_HASH: await hashPassword('anna-password-1', { logN: 14 }), TOKEN: 't'.repeat(40) };
    const http = (lines: string) => `${WITH_ALARMS}http:\n  listen: { address: 127.0.0.1, port: 9525 }\n${lines}`;
    const before = load(http('  users: []\n'), env);
    const after = load(http('  listen: { address: 127.0.0.1, port: 9526 }\n  users: [{ name: anna, role: viewer, passwordHash: { env: ANNA_HASH } }]\n  tokens: [{ name: script, role: admin, token: { env: TOKEN } }]\n  sessionLifetime: 1h\n').replace('  listen: { address: 127.0.0.1, port: 9525 }\n', ''), env);
    const plan = planReload(before, after);
    assert.deepEqual(plan.applied.sort(), ['http.sessionLifetime', 'http.tokens', 'http.users']);
    assert.deepEqual(plan.needRestart, ['http.listen']);
    assert.deepEqual(plan.config.http?.listen, { address: '127.0.0.1', port: 9525 }, 'the socket stays as it started');
    assert.deepEqual(plan.config.http?.users.map((u) => u.name), ['anna']);
    assert.equal(plan.config.http?.sessionLifetime, 3_600_000);
  });

  it('turning the alarm pipeline on or off waits for a restart', () => {
    const plan = planReload(load(MINIMAL_CONFIG_YAML), load(WITH_ALARMS));
    assert.ok(plan.needRestart.includes('alarms'));
    assert.equal(plan.config.alarms, undefined, 'still the pure relay');
  });
});

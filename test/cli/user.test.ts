import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { isPasswordHash, parsePasswordHash, verifyPassword } from '../../src/base/password-hash.js';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';

describe('annunciator user hash', () => {
  it('reads a piped password and prints a scrypt hash line that verifies it and no other', async () => {
    const result = await runCli(['user', 'hash'], { stdin: 'correct horse battery\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/);
    assert.doesNotMatch(result.stdout + result.stderr, /correct horse/);
    const parsed = parsePasswordHash(result.stdout);
    assert.ok(isPasswordHash(parsed));
    assert.equal(await verifyPassword('correct horse battery', parsed), true);
    assert.equal(await verifyPassword('correct horse batterY', parsed), false);
    const again = await runCli(['user', 'hash'], { stdin: 'correct horse battery\n' });
    assert.notEqual(again.stdout, result.stdout, 'a new salt each time');
  });

  it('refuses a password shorter than 8 characters, and an empty one', async () => {
    for (const stdin of ['short\n', '']) {
      const result = await runCli(['user', 'hash'], { stdin });
      assert.equal(result.code, 65);
      assert.match(result.stderr, /needs at least 8/);
      assert.equal(result.stdout, '');
    }
  });
});

describe('check and start: the HTTP server on a non-loopback address needs users', () => {
  const dir = testDir();
  after(() => dir.remove());

  const write = (name: string, http: Record<string, unknown>): string => dir.write(name, stringify(shippedAlarmsConfig(dir, { http })));

  it('check refuses 0.0.0.0 without users, naming file, line and key, and accepts it with users', async () => {
    const file = write('open.yaml', { listen: { address: '0.0.0.0', port: 9525 } });
    const refused = await runCli(['--config', file, 'check']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: http\\.listen\\.address: 0\\.0\\.0\\.0 is not a loopback address: add users`));
    const hash = await runCli(['user', 'hash'], { stdin: 'operator-password\n' });
    dir.write('operator.hash', hash.stdout);
    const ok = write('users.yaml', { listen: { address: '0.0.0.0', port: 9525 }, users: [{ name: 'operator', role: 'admin', passwordHash: { file: 'operator.hash' } }] });
    const accepted = await runCli(['--config', ok, 'check']);
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  it('check refuses a password hash that is not one and a short token, without printing either', async () => {
    dir.write('plain.hash', 'hunter2-the-password\n');
    dir.write('short.token', 'tooshort-token\n');
    const file = write('bad-secrets.yaml', {
      listen: { address: '127.0.0.1', port: 9525 },
      users: [{ name: 'anna', role: 'viewer', passwordHash: { file: 'plain.hash' } }],
      tokens: [{ name: 'script', role: 'viewer', token: { file: 'short.token' } }],
    });
    const result = await runCli(['--config', file, 'check']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /http\.users\[0\]\.passwordHash: is not a password hash as `annunciator user hash` prints it/);
    assert.match(result.stderr, /http\.tokens\[0\]\.token: is 14 characters long; an API token needs at least 32/);
    assert.doesNotMatch(result.stderr, /hunter2|tooshort/);
  });

  it('start refuses 0.0.0.0 without users, the same way', async () => {
    const file = write('open-start.yaml', { listen: { address: '0.0.0.0', port: 9525 } });
    const result = await runCli(['--config', file, 'start'], { killAfter: 30_000 });
    assert.equal(result.killed, false);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /http\.listen\.address: 0\.0\.0\.0 is not a loopback address/);
  });
});

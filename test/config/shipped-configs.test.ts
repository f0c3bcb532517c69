import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { createCa } from '../helpers/certs.js';
import { testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** Every secret the shipped examples name, so they load as they would on a configured box. */
const EXAMPLE_ENV = {
  ANNUNCIATOR_M365_CLIENT_SECRET: 'x',
  ANNUNCIATOR_PLANT_MAIL_PASSWORD: 'x',
  ANNUNCIATOR_GMAIL_APP_PASSWORD: 'x',
  ANNUNCIATOR_GMAIL_CLIENT_SECRET: 'x',
};

describe('every configuration file shipped in config/', () => {
  const files = yamlFiles(join(REPO_ROOT, 'config'));

  it('ships the default and several examples', () => {
    assert.ok(files.some((f) => f.endsWith('config/annunciator.yaml')));
    assert.ok(files.length >= 4);
  });

  for (const file of files) {
    it(`${relative(REPO_ROOT, file)} is valid, apart from files that only exist on a deployed box`, () => {
      try {
        loadConfig(file, EXAMPLE_ENV);
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        // Secrets files and CA bundles under /etc or secrets/ are the operator's to provide.
        const structural = error.problems.filter((p) => !/cannot be read/.test(p.message));
        assert.deepEqual(structural, [], error.message);
      }
    });
  }

  it('the embedded default listens on 127.0.0.1:2525, trusts loopback only and writes files', () => {
    const config = loadConfig(join(REPO_ROOT, 'config/annunciator.yaml'), {});
    assert.equal(config.listeners[0]?.address, '127.0.0.1');
    assert.equal(config.listeners[0]?.port, 2525);
    assert.deepEqual(config.listeners[0]?.trustedNetworks, ['127.0.0.0/8', '::1/128']);
    assert.equal(config.delivery.accounts[0]?.type, 'file');
  });

  // The production example names files under /etc/annunciator that only exist on a
  // deployed box. Provide them in a temporary directory (same names, same layout) and load
  // the example's own text with those paths pointed there, so every assertion below runs.
  it('the production example verifies upstream TLS 1.2+ and listens on port 25', () => {
    const file = join(REPO_ROOT, 'config/examples/production.yaml');
    const text = readFileSync(file, 'utf8');
    const deployed = [...new Set(text.match(/\/etc\/annunciator\/[\w./-]+/g) ?? [])].sort();
    assert.deepEqual(deployed, ['/etc/annunciator/plant-ca.pem', '/etc/annunciator/secrets/m365-refresh-token'], 'files the example expects on the box');
    const box = testDir('annunciator-etc-');
    try {
      mkdirSync(join(box.path, 'secrets'));
      box.write('secrets/m365-refresh-token', 'refresh-token-from-the-box\n');
      box.write('plant-ca.pem', createCa('Plant CA').cert);
      const config = parseConfig(text.replaceAll('/etc/annunciator/', `${box.path}/`), file, EXAMPLE_ENV);

      assert.equal(config.listeners.length, 1);
      assert.equal(config.listeners[0]?.port, 25);
      assert.equal(config.listeners[0]?.address, '0.0.0.0');
      const smtp = config.delivery.accounts.filter((a) => a.type === 'smtp');
      assert.deepEqual(
        smtp.map((a) => a.name),
        ['microsoft365', 'plant-mail'],
      );
      for (const account of smtp) {
        assert.equal(account.tls.minVersion, 'TLSv1.2', account.name);
        assert.notEqual(account.security, 'none', account.name);
      }
      const [m365, plant] = smtp;
      assert.equal(m365?.auth?.type, 'oauth2');
      assert.equal(m365?.auth?.type === 'oauth2' && m365.auth.refreshToken.reveal(), 'refresh-token-from-the-box');
      assert.equal(plant?.tls.ca.length, 1, 'the plant CA is read');
    } finally {
      box.remove();
    }
  });
});

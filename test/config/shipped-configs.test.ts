import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
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

  it('the production example verifies upstream TLS 1.2+ and listens on port 25', () => {
    const file = join(REPO_ROOT, 'config/examples/production.yaml');
    let config;
    try {
      config = loadConfig(file, EXAMPLE_ENV);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return assert.ok(error.problems.every((p) => /cannot be read/.test(p.message)), error.message);
    }
    assert.equal(config.listeners[0]?.port, 25);
    for (const account of config.delivery.accounts) if (account.type === 'smtp') assert.equal(account.tls.minVersion, 'TLSv1.2');
  });
});

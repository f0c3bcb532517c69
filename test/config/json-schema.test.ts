import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { DURATION_PATTERN, SIZE_PATTERN, renderJsonSchema } from '../../scripts/config-docs/json-schema.js';
import { checkJsonSchema } from '../helpers/json-schema-check.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * config/annunciator.schema.json is what editors check the YAML against: it must be what
 * `npm run docs:config` writes from the schema now, accept every shipped configuration,
 * and refuse what the loader refuses for its shape (unknown keys, wrong types).
 */

const SCHEMA_FILE = join(REPO_ROOT, 'config/annunciator.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

const MINIMAL = { listeners: [{ name: 'lan', address: '127.0.0.1', port: 2525, trustedNetworks: ['127.0.0.0/8'] }], delivery: { accounts: [{ name: 'files', type: 'file', directory: 'out' }] } };

function problems(config: unknown): string[] {
  return checkJsonSchema(schema, config).map((p) => `${p.path}: ${p.message}`);
}

describe('the JSON Schema of the configuration (config/annunciator.schema.json)', () => {
  it('is what npm run docs:config writes from src/config/schema.ts now', () => {
    assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), renderJsonSchema(), 'config/annunciator.schema.json is out of date: run npm run docs:config');
  });

  const files = yamlFiles(join(REPO_ROOT, 'config'));
  it('is checked against every shipped configuration', () => assert.ok(files.length >= 7, files.join(', ')));
  for (const file of files) {
    const name = relative(REPO_ROOT, file);
    it(`accepts ${name}, which names it for editors on its first line`, () => {
      const text = readFileSync(file, 'utf8');
      const directive = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
      assert.ok(directive?.[1], `${name}: first line is # yaml-language-server: $schema=...`);
      assert.equal(resolve(dirname(file), directive[1]), SCHEMA_FILE, `${name}: the $schema path leads to config/annunciator.schema.json`);
      assert.deepEqual(problems(parse(text)), [], name);
    });
  }

  it('accepts a minimal configuration, an SMTP account and credentials without `type` (the loader fills it in)', () => {
    assert.deepEqual(problems(MINIMAL), []);
    const smtp = { ...MINIMAL, delivery: { accounts: [{ name: 'relay', host: 'mail.plant.local', port: 587, security: 'starttls', auth: { user: 'a', password: { env: 'P' } } }] } };
    assert.deepEqual(problems(smtp), []);
  });

  it('refuses what the loader refuses for its shape', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['an unknown key', { ...MINIMAL, gateway: { hostName: 'x' } }, /unknown key "hostName"/],
      ['a missing required section', { listeners: MINIMAL.listeners }, /delivery is required/],
      ['a wrong type', { ...MINIMAL, listeners: [{ ...MINIMAL.listeners[0], port: '2525' }] }, /port: is string, not integer/],
      ['a port out of range', { ...MINIMAL, listeners: [{ ...MINIMAL.listeners[0], port: 70000 }] }, /70000 is above 65535/],
      ['a value not in the list', { ...MINIMAL, log: { level: 'verbose' } }, /"verbose" is not one of/],
      ['a duration that is not one', { ...MINIMAL, delivery: { ...MINIMAL.delivery, pollInterval: 'soon' } }, /"soon" does not match/],
      ['a secret written inline', { ...MINIMAL, api: { listen: { address: '127.0.0.1', port: 0 }, baseUrl: 'https://a.example', linkSecret: 'hunter2' } }, /linkSecret: matches none/],
      ['a file account without its directory', { ...MINIMAL, delivery: { accounts: [{ name: 'files', type: 'file' }] } }, /accounts\[0\]: matches none/],
      ['a key of another shape', { ...MINIMAL, delivery: { accounts: [{ name: 'files', type: 'file', directory: 'out', host: 'x' }] } }, /accounts\[0\]: matches none/],
    ];
    for (const [what, config, expected] of cases) {
      const found = problems(config);
      assert.ok(found.some((p) => expected.test(p)), `${what}: expected ${expected}, got ${JSON.stringify(found)}`);
    }
  });

  it('describes keys for the editor', () => {
    const listeners = (schema.properties as Record<string, { items: { properties: Record<string, { description?: string }> } }>).listeners;
    assert.match(listeners?.items.properties.trustedNetworks?.description ?? '', /CIDR/);
  });

  it('accepts exactly the durations and sizes the loader parses', () => {
    const duration = new RegExp(DURATION_PATTERN);
    for (const text of ['250ms', '30s', '10m', '2h', '2d', '1w', '1h30m', '1h 30m', '1.5h', '90S', '1000', ' 5 m ']) {
      assert.ok(parseDuration(text) !== undefined, `${text} parses`);
      assert.ok(duration.test(text), `${text} passes the JSON Schema`);
    }
    for (const text of ['soon', '30 sec', '10x', '-5s', 'm', '']) {
      assert.equal(parseDuration(text), undefined, `${text} does not parse`);
      assert.equal(duration.test(text), false, `${text} fails the JSON Schema`);
    }
    const size = new RegExp(SIZE_PATTERN);
    for (const text of ['512KiB', '10MiB', '1GB', '2048', '10 mib', '1.5MB', '100b']) {
      assert.ok(parseSize(text) !== undefined, `${text} parses`);
      assert.ok(size.test(text), `${text} passes the JSON Schema`);
    }
    for (const text of ['10 megabytes', 'KiB', '-1', '1TB']) {
      assert.equal(parseSize(text), undefined, `${text} does not parse`);
      assert.equal(size.test(text), false, `${text} fails the JSON Schema`);
    }
  });

  it('the checker the tests use does not pass a schema it cannot read', () => {
    assert.match(checkJsonSchema({ type: 'object', if: { required: ['a'] } }, {})[0]?.message ?? '', /does not know/);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig, type ConfigProblem } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { testDir } from '../helpers/gateway.js';
import { MINIMAL_CONFIG_YAML, ALARMS_YAML , refusalOf } from '../helpers/config-yaml.js';

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');
const LONG_SECRET = 'x'.repeat(40);

const BASE = MINIMAL_CONFIG_YAML;
const ALARMS = ALARMS_YAML;

function api(lines: string): string {
  return `${BASE}${ALARMS}api:\n${lines}`;
}

const VALID_API = `  listen: { address: 127.0.0.1, port: 8080 }
  baseUrl: https://alarms.plant.example.com/
  linkSecret: { env: ANNUNCIATOR_LINK_SECRET }
`;

function parse(text: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  return parseConfig(text, FILE, env);
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  return refusalOf(() => parse(text, env));
}

describe('the api section', () => {
  it('is optional: without it there is no api', () => {
    assert.equal(parse(BASE + ALARMS).http, undefined);
  });

  it('loads listen, baseUrl (trailing slash dropped), the secret and the default 7d lifetime', () => {
    const config = parse(api(VALID_API), { ANNUNCIATOR_LINK_SECRET: `  ${LONG_SECRET}\n` });
    assert.deepEqual(config.http?.listen, { address: '127.0.0.1', port: 8080 });
    assert.equal(config.http?.links?.baseUrl, 'https://alarms.plant.example.com');
    assert.equal(config.http?.links?.key.reveal(), LONG_SECRET, 'surrounding white space is trimmed');
    assert.equal(config.http?.links?.lifetime, 7 * 86_400_000);
    assert.doesNotMatch(JSON.stringify(config), new RegExp(LONG_SECRET), 'the secret never prints');
  });

  it('reads the secret from a file and takes linkLifetime as a duration', () => {
    dir.write('link.secret', `${LONG_SECRET}\n`);
    const config = parse(api(`  listen: { address: '::1', port: 0 }\n  baseUrl: http://gw.local:8080/annunciator\n  linkSecret: { file: link.secret }\n  linkLifetime: 2d\n`));
    assert.equal(config.http?.links?.key.reveal(), LONG_SECRET);
    assert.equal(config.http?.links?.lifetime, 2 * 86_400_000);
    assert.equal(config.http?.links?.baseUrl, 'http://gw.local:8080/annunciator');
  });

  it('refuses a secret shorter than 32 bytes, naming the key and not the secret', () => {
    const short = 'short-secret-31-bytes-long-xxxx';
    assert.equal(short.length, 31);
    const problems = problemsOf(api(VALID_API), { ANNUNCIATOR_LINK_SECRET: `${short}\n` });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.key, 'api.linkSecret');
    assert.match(problems[0]!.message, /is 31 bytes long; .* at least 32/);
    assert.ok(problems[0]!.line, 'the problem points at a line');
    assert.doesNotMatch(problems[0]!.message, new RegExp(short));
    // Exactly 32 is enough.
    assert.ok(parse(api(VALID_API), { ANNUNCIATOR_LINK_SECRET: `${short}y` }).http);
  });

  it('names the key when the secret is unavailable', () => {
    const problems = problemsOf(api(VALID_API));
    assert.deepEqual(problems.map((p) => [p.key, p.message]), [['api.linkSecret', 'environment variable ANNUNCIATOR_LINK_SECRET is not set']]);
  });

  it('refuses an inline secret, a bad baseUrl, a bad address and unknown keys', () => {
    const env = { ANNUNCIATOR_LINK_SECRET: LONG_SECRET };
    assert.equal(problemsOf(api(VALID_API.replace('{ env: ANNUNCIATOR_LINK_SECRET }', 'hunter2')), env)[0]!.key, 'api.linkSecret');
    assert.equal(problemsOf(api(VALID_API.replace('https://alarms.plant.example.com/', 'ftp://x')), env)[0]!.key, 'api.baseUrl');
    assert.equal(problemsOf(api(VALID_API.replace('https://alarms.plant.example.com/', 'https://x/?a=1')), env)[0]!.key, 'api.baseUrl');
    assert.equal(problemsOf(api(VALID_API.replace('127.0.0.1', 'localhost')), env)[0]!.key, 'api.listen.address');
    const unknown = problemsOf(api(`${VALID_API}  port: 80\n`), env);
    assert.equal(unknown[0]!.key, 'api');
    assert.match(unknown[0]!.message, /unknown key "port"/);
    assert.equal(problemsOf(api(VALID_API.replace('baseUrl:', 'baseURL:')), env).some((p) => p.key === 'api.baseUrl' && p.message === 'is required'), true);
  });

  it('needs the alarm pipeline', () => {
    const problems = problemsOf(`${BASE}api:\n${VALID_API}`, { ANNUNCIATOR_LINK_SECRET: LONG_SECRET });
    assert.deepEqual(problems.map((p) => p.key), ['api']);
    assert.match(problems[0]!.message, /add an alarms section/);
  });
});

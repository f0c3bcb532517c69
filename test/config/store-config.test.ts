import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig, type ConfigProblem } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { openStore } from '../../src/store/open-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { createCa } from '../helpers/certs.js';
import { MINIMAL_CONFIG_YAML, refusalOf } from '../helpers/config-yaml.js';
import { testDir } from '../helpers/gateway.js';

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');
const ENV = { DB_PASSWORD: 'hunter2-db' };

function store(lines: string): string {
  return `${MINIMAL_CONFIG_YAML}store:\n${lines}`;
}

function parse(text: string, env: NodeJS.ProcessEnv = ENV): GatewayConfig {
  return parseConfig(text, FILE, env);
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = ENV): ConfigProblem[] {
  return refusalOf(() => parse(text, env));
}

describe('the store section', () => {
  it('without url: the SQLite file in gateway.dataDir, as before', async () => {
    const config = parse(MINIMAL_CONFIG_YAML);
    assert.equal(config.store.postgres, undefined);
    assert.equal(config.store.retention.messages, 30 * 86_400_000);
    const opened = openStore({ ...config, gateway: { ...config.gateway, dataDir: join(dir.path, 'data') } });
    try {
      assert.ok(opened instanceof SqliteStore);
      assert.equal(opened.backend, 'sqlite');
    } finally {
      await opened.close();
    }
  });

  it('with url: PostgreSQL, verified TLS by default, the password from a secret', async () => {
    const config = parse(store('  url: postgres://annunciator@db.plant.example:6432/alarms\n  password: { env: DB_PASSWORD }\n'));
    const pg = config.store.postgres!;
    assert.deepEqual({ ...pg, password: pg.password?.reveal() }, {
      host: 'db.plant.example',
      port: 6432,
      database: 'alarms',
      user: 'annunciator',
      password: 'hunter2-db',
      tls: { minVersion: 'TLSv1.2', ca: [], servername: undefined, pin: undefined },
      url: 'postgres://annunciator@db.plant.example:6432/alarms',
    });
    assert.doesNotMatch(JSON.stringify(config.store), /hunter2/, 'the password never prints');
    const opened = openStore(config);
    assert.ok(opened instanceof PostgresStore, 'openStore picks the backend by the configuration');
    assert.equal(opened.backend, 'postgres');
    await opened.close();
  });

  it('reads the port default, a CA file and the minimum version; security none to this host needs no opt-in', () => {
    const ca = dir.write('db-ca.pem', createCa().cert);
    const pg = parse(store(`  url: postgresql://gw@db.plant.local/annunciator\n  tls: { ca: [${ca}], minVersion: TLSv1.3, servername: pg.plant.local }\n`)).store.postgres!;
    assert.equal(pg.port, 5432);
    assert.equal(pg.tls?.ca.length, 1);
    assert.equal(pg.tls?.minVersion, 'TLSv1.3');
    assert.equal(pg.tls?.servername, 'pg.plant.local');
    assert.equal(pg.password, undefined);
    const local = parse(store('  url: postgres://postgres@127.0.0.1:5432/annunciator\n  security: none\n')).store.postgres!;
    assert.equal(local.tls, undefined);
  });

  it('refuses a password in the URL, parameters, a missing user, host or database', () => {
    const refused = (url: string): string => {
      const problems = problemsOf(store(`  url: '${url}'\n`));
      assert.equal(problems.length, 1, url);
      assert.equal(problems[0]!.key, 'store.url');
      return problems[0]!.message;
    };
    assert.match(refused('postgres://gw:hunter2@db/annunciator'), /password.*store\.password/);
    assert.match(refused('postgres://gw@db/annunciator?sslmode=disable'), /no parameters/);
    assert.match(refused('postgres://db/annunciator'), /no user/);
    assert.match(refused('postgres://gw@db'), /no database/);
    assert.match(refused('mysql://gw@db/annunciator'), /postgres:\/\/ URL/);
    assert.doesNotMatch(JSON.stringify(problemsOf(store(`  url: 'postgres://gw:hunter2@db/annunciator'\n`))), /hunter2/, 'the refusal does not repeat the password');
  });

  it('refuses plaintext to another host without allowPlaintext, a missing secret, and a password without url', () => {
    const [plain] = problemsOf(store('  url: postgres://gw@db.plant.local/annunciator\n  security: none\n'));
    assert.equal(plain?.key, 'store.security');
    assert.match(plain!.message, /allowPlaintext/);
    assert.equal(parse(store('  url: postgres://gw@db.plant.local/annunciator\n  security: none\n  allowPlaintext: true\n')).store.postgres?.tls, undefined);
    const [missing] = problemsOf(store('  url: postgres://gw@db/annunciator\n  password: { env: NOT_SET }\n'));
    assert.equal(missing?.key, 'store.password');
    assert.match(missing!.message, /NOT_SET is not set/);
    const [stray] = problemsOf(store('  password: { env: DB_PASSWORD }\n'));
    assert.equal(stray?.key, 'store.password');
    assert.match(stray!.message, /set store\.url/);
    const [inline] = problemsOf(store('  url: postgres://gw@db/annunciator\n  password: hunter2\n'));
    assert.equal(inline?.key, 'store.password');
  });
});

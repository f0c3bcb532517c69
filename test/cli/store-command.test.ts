import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { readMigrations } from '../../src/store/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { VERSION } from '../../src/base/version.js';
import type { PeerSeen } from '../../src/store/store.js';
import { baseConfig, configFrom, eventually, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { closedPort } from '../helpers/tcp-proxy.js';

const dir = testDir();
after(() => dir.remove());
const gate = await postgresGate();

describe('annunciator store', () => {
  it('on SQLite: migrate, then status names the file, the schema and the durability', async () => {
    const config = dir.write('sqlite.yaml', stringify(baseConfig(dir)));
    const migrated = await runCli(['--config', config, 'store', 'migrate']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /^schema version \d+: up to date$/m);
    const status = await runCli(['--config', config, 'store', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /backend: +sqlite/);
    assert.match(status.stdout, new RegExp(`location: +${join(dir.path, 'data', 'annunciator.db').replace(/[.\\/]/g, '\\$&')}`));
    assert.match(status.stdout, /durability: +journal_mode=wal, synchronous=normal, the WAL flushed before a commit is reported/);
    assert.match(status.stdout, /waiting: +0 messages, 0 notifications/);
  });

  it('on PostgreSQL out of reach: says so and exits 75 (try again later), printing no secret', async () => {
    const raw = { ...baseConfig(dir), store: { url: `postgres://annunciator@127.0.0.1:${await closedPort()}/annunciator`, security: 'none', password: { env: 'DB_PASSWORD' } } };
    const result = await runCli(['--config', dir.write('unreachable.yaml', stringify(raw)), 'store', 'status'], { env: { DB_PASSWORD: 'hunter2-db' } });
    assert.equal(result.code, 75, result.stderr);
    assert.match(result.stderr, /cannot be reached.*ECONNREFUSED/);
    assert.doesNotMatch(result.stdout + result.stderr, /hunter2/);
  });

  describe('on PostgreSQL', { skip: gate.skip }, () => {
    let db: TestDatabase;
    before(async () => {
      gate.assertPresent();
      db = await createTestDatabase();
    });
    after(() => db?.drop());

    it('migrate creates the schema once; status names the database, the schema and the durability', async () => {
      const { user, host, port, database } = db.connection();
      const url = `postgres://${user}@${host}:${port}/${database}`;
      const config = dir.write('postgres.yaml', stringify({ ...baseConfig(dir), store: { url, security: 'none' } }));
      const first = await runCli(['--config', config, 'store', 'migrate']);
      assert.equal(first.code, 0, first.stderr);
      const newest = readMigrations().length;
      assert.match(first.stdout, new RegExp(`^migrated to schema version ${newest} \\(applied ${readMigrations().map((m) => m.version).join(', ')}\\)$`, 'm'));
      const again = await runCli(['--config', config, 'store', 'migrate']);
      assert.match(again.stdout, new RegExp(`^schema version ${newest}: up to date$`, 'm'));
      const status = JSON.parse((await runCli(['--config', config, 'store', 'status', '--json'])).stdout) as Record<string, unknown>;
      assert.deepEqual(status, { backend: 'postgres', location: url, schemaVersion: newest, durability: 'synchronous_commit=on', pending: { messages: 0, notifications: 0 }, health: { ok: true }, leader: null, gateways: [] });
    });

    it('status names the leading gateway and the gateways seen, with how long ago; a stopped leader is replaced', async () => {
      const gateways: RunningGateway[] = [];
      try {
        // gw-a leads before gw-b starts: otherwise whichever beats first leads, and a busy machine picks either.
        for (const name of ['gw-a', 'gw-b']) {
          const raw = baseConfig(dir);
          const gateway = await runGateway(configFrom(dir, { ...raw, gateway: { ...(raw.gateway as object), name }, store: db.storeSection() }), undefined, { leadershipInterval: 100 });
          gateways.push(gateway);
          if (name === 'gw-a') await eventually(() => gateway.leading, 30_000, 'gw-a to lead');
        }
        const [a, b] = gateways as [RunningGateway, RunningGateway];
        assert.equal(a.leading, true);
        const config = dir.write('postgres.yaml', stringify({ ...baseConfig(dir), store: db.storeSection() }));
        const status = await eventually(async () => {
          const seen = JSON.parse((await runCli(['--config', config, 'store', 'status', '--json'])).stdout) as { leader: string | null; gateways: PeerSeen[] };
          return seen.gateways.length === 2 && seen;
        }, 30_000, 'both gateways in the status');
        assert.equal(status.leader, 'gw-a');
        assert.deepEqual(status.gateways.map((g) => [g.gateway, g.leading, g.version]), [['gw-a', true, VERSION], ['gw-b', false, VERSION]]);
        for (const g of status.gateways) assert.ok(g.seenMsAgo < 5000 && Math.abs(g.startedAt - Date.now()) < 60_000, JSON.stringify(g));
        const text = await runCli(['--config', config, 'store', 'status']);
        assert.match(text.stdout, /^leader: +gw-a$/m);
        assert.match(text.stdout, /^ {2}gw-a {2}leads {2}seen \d+\.\d s ago {2}version /m);
        assert.match(text.stdout, /^ {2}gw-b {2}active {2}seen \d+\.\d s ago/m);

        await a.stop();
        gateways.shift();
        await eventually(() => b.leading, 30_000, 'gw-b to lead');
        const after = JSON.parse((await runCli(['--config', config, 'store', 'status', '--json'])).stdout) as { leader: string | null; gateways: PeerSeen[] };
        assert.equal(after.leader, 'gw-b');
        assert.deepEqual(after.gateways.map((g) => [g.gateway, g.leading]), [['gw-b', true], ['gw-a', false]]);
      } finally {
        for (const g of gateways) await g.stop();
      }
    });
  });
});

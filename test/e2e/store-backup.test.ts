import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { freePort } from '../helpers/free-port.js';
import { baseConfig, relayDelivery, testDir } from '../helpers/gateway.js';
import { killHard, REPO_ROOT, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { asBuffer, SqliteConnection } from '../../src/store/sqlite/connection.js';

/**
 * `annunciator store backup` against a gateway process that keeps taking mail, then the
 * documented restore: stop, copy the backup into the data folder, start. Mails go to an
 * upstream that is down, so every notification waits in the outbox: the restored gateway
 * must have the alarms and deliver what the backup had queued.
 */
describe('store backup while the gateway runs, and restore into a fresh gateway', () => {
  const dir = testDir('annunciator-backup-e2e-');
  const running: GatewayProcess[] = [];
  const upstreams: Upstream[] = [];
  // No rules: every alarm takes the default route, to the mail's own recipients.
  const rulesDir = join(dir.path, 'rules');
  mkdirSync(rulesDir);
  after(async () => {
    for (const g of running) if (g.child.exitCode === null) await killHard(g);
    for (const u of upstreams) await u.close();
    dir.remove();
  });

  async function writeConfig(name: string, dataDir: string, upstreamPort: number): Promise<{ file: string; port: number }> {
    const port = await freePort();
    const raw = baseConfig(dir, { listener: { port }, delivery: relayDelivery(upstreamPort) });
    raw.gateway = { ...(raw.gateway as Record<string, unknown>), dataDir };
    // spawnGateway waits for the "gateway started" line.
    raw.log = { level: 'info', format: 'json' };
    // Every mail its own notification at once: no flood digest minutes later.
    raw.alarms = { rulesDir, templatesDir: join(REPO_ROOT, 'templates'), watch: false, floodControl: { enabled: false } };
    return { file: dir.write(name, stringify(raw)), port };
  }

  it('copies a consistent store under traffic; the restored gateway has the alarms and delivers the queued notifications', { timeout: 120_000 }, async (t) => {
    const upstreamPort = await freePort();
    const first = await writeConfig('first.yaml', join(dir.path, 'data-first'), upstreamPort);
    const gateway = await spawnGateway(first.file);
    running.push(gateway);

    // A device keeps sending; each subject is recorded when the gateway answered 250.
    const acked: string[] = [];
    let sending = true;
    const device = (async () => {
      for (let i = 0; sending; i += 1) {
        const subject = `Pressure low on pump P${String(i).padStart(3, '0')}`;
        await sendDeviceAlarm(first.port, 'plc-line4', subject);
        acked.push(subject);
      }
    })();
    const stopDevice = async (): Promise<void> => {
      sending = false;
      await device;
    };
    try {
      while (acked.length < 15) await new Promise((resolve) => setImmediate(resolve));
      const ackedBefore = acked.slice();
      const backupFile = join(dir.path, 'annunciator-backup.db');
      const backup = await runCli(['--config', first.file, 'store', 'backup', backupFile]);
      const ackedDuring = acked.length - ackedBefore.length;
      await stopDevice();
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stdout, /^backup of .*annunciator\.db written to .*annunciator-backup\.db: [\d.]+ MiB, schema \d+, \d+ alarms?, \d+ outbox entr(y|ies), integrity ok, \d+ ms\n$/);
      assert.ok(ackedDuring > 0, 'the gateway went on answering 250 while the backup ran');

      // A cron job needs no credentials: only gateway.dataDir is read, not the secrets.
      const withSecrets = parse(readFileSync(first.file, 'utf8')) as { delivery: { accounts: Array<Record<string, unknown>> } };
      withSecrets.delivery.accounts[0]!.auth = { user: 'alarms', password: { env: 'ANNUNCIATOR_TEST_SECRET_NOT_SET' } };
      const cron = await runCli(['--config', dir.write('cron.yaml', stringify(withSecrets)), 'store', 'backup', join(dir.path, 'cron-backup.db')]);
      assert.equal(cron.code, 0, cron.stderr);
      const check = await runCli(['--config', join(dir.path, 'cron.yaml'), 'check']);
      assert.match(check.stderr, /ANNUNCIATOR_TEST_SECRET_NOT_SET is not set/, 'the configuration does name a secret that is missing');

      // The copy holds every mail the gateway had taken before the backup began.
      const copy = SqliteConnection.open(backupFile, { readonly: true });
      const raws = copy.prepare('SELECT coalesce(b.raw, r.raw) AS raw FROM received r LEFT JOIN received_raw b ON b.id = r.id').all<{ raw: Uint8Array }>().map((r) => asBuffer(r.raw).toString('latin1'));
      const queuedAlarms = (copy.prepare("SELECT alarm_id FROM outbox WHERE status IN ('pending', 'sending')").all() as Array<{ alarm_id: string }>).map((r) => r.alarm_id);
      const alarmTitles = (copy.prepare('SELECT data FROM alarms').all() as Array<{ data: string }>).map((r) => (JSON.parse(r.data) as { title: string }).title);
      copy.close();
      for (const subject of ackedBefore) assert.ok(raws.some((raw) => raw.includes(`Subject: ${subject}\r\n`)), `${subject} is in the backup`);
      assert.ok(queuedAlarms.length > 0, 'the backup has notifications waiting in the outbox (the upstream is down)');
      t.diagnostic(`mails taken before the backup: ${ackedBefore.length}, while it ran: ${ackedDuring}; in the backup: ${raws.length} mails, ${alarmTitles.length} alarms, ${queuedAlarms.length} queued notifications`);

      // Restore as documented: stop the gateway, copy the backup in as the store, start.
      gateway.child.kill('SIGTERM');
      assert.equal(await gateway.exited, 0);
      const restoredData = join(dir.path, 'data-restored');
      mkdirSync(restoredData);
      copyFileSync(backupFile, join(restoredData, 'annunciator.db'));
      const upstream = await startUpstream({ security: 'none' }, upstreamPort);
      upstreams.push(upstream);
      const second = await writeConfig('restored.yaml', restoredData, upstreamPort);
      const restored = await spawnGateway(second.file);
      running.push(restored);

      const listed = await runCli(['--config', second.file, 'alarms', '--all', '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const restoredTitles = (JSON.parse(listed.stdout) as Array<{ title: string }>).map((a) => a.title);
      for (const title of alarmTitles) assert.ok(restoredTitles.includes(title), `alarm "${title}" is in the restored store`);

      // Every alarm that had a notification queued in the backup is notified by the restored gateway,
      // and so is every mail taken before the backup (the ones not yet processed then are processed now).
      const expected = new Set([...ackedBefore, ...alarmTitles]);
      const deadline = Date.now() + 60_000;
      const notified = (): string[] => upstream.messages.map((m) => m.parsed.subject ?? '');
      while ([...expected].some((s) => !notified().some((n) => n.includes(s))) && Date.now() < deadline) {
        await upstream.waitForMessages(upstream.messages.length + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
      }
      for (const subject of expected) assert.ok(notified().some((n) => n.includes(subject)), `"${subject}" notified after the restore`);
      for (const alarmId of queuedAlarms) assert.ok(notified().some((n) => n.includes(`#${alarmId}`)), `the queued notification of ${alarmId} delivered`);
      restored.child.kill('SIGTERM');
      assert.equal(await restored.exited, 0);
    } finally {
      await stopDevice();
    }
  });

  it('refuses a PostgreSQL store, naming the tool that backs one up, and writes nothing', async () => {
    const raw = baseConfig(dir);
    raw.store = { url: 'postgres://annunciator@127.0.0.1:5432/annunciator', password: { env: 'ANNUNCIATOR_TEST_SECRET_NOT_SET' } };
    const target = join(dir.path, 'pg-backup.db');
    const result = await runCli(['--config', dir.write('postgres.yaml', stringify(raw)), 'store', 'backup', target]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the store is PostgreSQL \(store\.url\): back it up with .*pg_dump/);
    assert.equal(existsSync(target), false);
  });
});


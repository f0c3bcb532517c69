import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { createSelfSigned } from '../helpers/certs.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { baseConfig, configFrom, eventually, runGateway, testDir } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { CORPUS_DIR } from '../helpers/corpus.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { shippedConfig } from '../helpers/shipped-config.js';

describe('annunciator check', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('passes the shipped default configuration', async () => {
    const result = await runCli(['--config', 'config/annunciator.yaml', 'check']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /OK/);
    assert.match(result.stdout, /flood control: per device, more than 30 notifications in 1 min -> a digest every 5 min/);
  });

  it('names file, line, key and problem, and exits non-zero', async () => {
    const file = dir.write(
      'broken.yaml',
      ['listeners:', '  - name: lan', '    address: 127.0.0.1', '    port: "twenty-five"', '    trustedNetworks: [10.0.0.0/33]', 'delivery:', '  accounts:', '    - name: x', '      type: file', '      directory: out', '      colour: blue', ''].join('\n'),
    );
    const result = await runCli(['--config', file, 'check']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`${file}:4:\\d+: listeners\\[0\\]\\.port: .*number`));
    assert.match(result.stderr, new RegExp(`${file}:5:\\d+: listeners\\[0\\]\\.trustedNetworks\\[0\\]: not an IPv4 or IPv6 address or CIDR`));
    assert.match(result.stderr, /delivery\.accounts\[0\]: unknown key "colour"/);
  });

  it('reports a secret that is not set without printing any secret', async () => {
    const file = dir.write(
      'secret.yaml',
      stringify({
        listeners: [{ name: 'lan', address: '127.0.0.1', port: 2525, trustedNetworks: ['127.0.0.1'] }],
        delivery: { accounts: [{ name: 'gmail', preset: 'gmail', auth: { user: 'a@gmail.com', password: { env: 'ANNUNCIATOR_TEST_UNSET' } } }] },
      }),
    );
    const result = await runCli(['--config', file, 'check'], { env: { ANNUNCIATOR_TEST_UNSET: '' } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /delivery\.accounts\[0\]\.auth\.password: environment variable ANNUNCIATOR_TEST_UNSET is not set/);
  });
});

describe('annunciator send and queue', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('queues a message from standard input; list, retry and delete manage the outbox', async () => {
    const down = await freePort();
    const raw = baseConfig(dir, {
      delivery: { retry: { initialDelay: '1h', maxDelay: '1h', maxAge: '2d', jitter: 0 }, accounts: [{ name: 'lan-relay', host: '127.0.0.1', port: down, security: 'none' }] },
    });
    const configFile = dir.write('queue.yaml', stringify(raw));
    const sent = await runCli(['--config', configFile, 'send', '-f', 'plc@plant.local', 'oncall@example.com'], { stdin: 'Subject: from sendmail\r\n\r\nhello\r\n' });
    assert.equal(sent.code, 0, sent.stderr);
    const id = /queued as ([0-9A-Z]{26})/.exec(sent.stdout)?.[1];
    assert.ok(id);

    const gateway = await runGateway(configFrom(dir, raw));
    try {
      await eventually(async () => (await gateway.store.outbox.list(['pending'])).find((e) => e.attempts >= 1 && e.lastError), 10_000, 'a failed first attempt');
    } finally {
      await gateway.stop();
    }

    const list = await runCli(['--config', configFile, 'queue']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /pending/);
    assert.match(list.stdout, /oncall@example\.com/);
    assert.match(list.stdout, /ECONNREFUSED|connect/i);
    const [entry] = JSON.parse((await runCli(['--config', configFile, 'queue', 'list', '--json'])).stdout) as Array<{ id: string; nextAttemptAt: string; receivedId: string }>;
    assert.equal(entry?.receivedId, id);
    assert.ok(Date.parse(entry?.nextAttemptAt ?? '') > Date.now() + 30 * 60_000, 'backoff put the next try an hour out');

    const retry = await runCli(['--config', configFile, 'queue', 'retry', entry!.id]);
    assert.equal(retry.code, 0);
    const store = SqliteStore.open(raw.gateway ? (raw.gateway as { dataDir: string }).dataDir : '');
    try {
      assert.ok(((await store.outbox.get(entry!.id))?.nextAttemptAt ?? Infinity) <= Date.now());
    } finally {
      await store.close();
    }
    const unknown = await runCli(['--config', configFile, 'queue', 'retry', 'NOPE']);
    assert.equal(unknown.code, 1);

    const removed = await runCli(['--config', configFile, 'queue', 'delete', entry!.id]);
    assert.equal(removed.code, 0);
    assert.match((await runCli(['--config', configFile, 'queue'])).stdout, /outbox is empty/);
  });

  it('refuses an empty message and a message without recipients', async () => {
    const configFile = dir.write('plain.yaml', stringify(baseConfig(dir)));
    assert.equal((await runCli(['--config', configFile, 'send', 'a@example.com'], { stdin: '' })).code, 65);
    assert.equal((await runCli(['--config', configFile, 'send'], { stdin: 'Subject: x\r\n\r\ny\r\n' })).code, 2);
  });
});

describe('annunciator trust', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('shows the chain of a self-signed upstream, pins it with --accept, and the gateway then delivers', async () => {
    const selfSigned = createSelfSigned('mail.plant.local');
    const upstream = await startUpstream({ security: 'starttls', tls: selfSigned, auth: { user: 'alarms', pass: 'pw' } });
    try {
      const raw = baseConfig(dir, {
        delivery: { accounts: [{ name: 'plant', host: '127.0.0.1', port: upstream.port, security: 'starttls', auth: { user: 'alarms', password: { env: 'PW' } } }] },
      });
      const configFile = dir.write('trust.yaml', `# plant relay\n${stringify(raw)}`);

      const shown = await runCli(['--config', configFile, 'trust', `127.0.0.1:${upstream.port}`, '--starttls']);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /CN=mail\.plant\.local/);
      assert.match(shown.stdout, /NOT trusted/);
      assert.match(readFileSync(configFile, 'utf8'), /^# plant relay/, 'nothing written without --accept');

      const accepted = await runCli(['--config', configFile, 'trust', `127.0.0.1:${upstream.port}`, '--starttls', '--accept', '--account', 'plant']);
      assert.equal(accepted.code, 0, accepted.stderr);
      const written = readFileSync(configFile, 'utf8');
      assert.match(written, /^# plant relay/, 'comments are kept');
      const pinned = (parse(written) as { delivery: { accounts: Array<{ tls?: { pin?: { sha256: string } } }> } }).delivery.accounts[0]?.tls?.pin;
      assert.match(pinned?.sha256 ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

      const check = await runCli(['--config', configFile, 'check'], { env: { PW: 'pw' } });
      assert.equal(check.code, 0, check.stderr);
      const gateway = await runGateway(configFrom(dir, parse(written) as Record<string, unknown>, { PW: 'pw' }));
      try {
        const { sendAsDevice } = await import('../helpers/device-client.js');
        const r = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'], data: Buffer.from('Subject: via pinned relay\r\n\r\nx\r\n') });
        assert.match(r.dataReply ?? '', /^250 /);
        const [message] = await upstream.waitForMessages(1);
        assert.equal(message?.parsed.subject, 'via pinned relay');
      } finally {
        await gateway.stop();
      }
    } finally {
      await upstream.close();
    }
  });

  it('refuses --accept without --account, and an unknown account, and writes nothing', async () => {
    const text = stringify(baseConfig(dir));
    // A folder of its own: the test above saved a pin beside its configuration.
    mkdirSync(join(dir.path, 'unknown-account'));
    const configFile = dir.write(join('unknown-account', 't2.yaml'), text);
    const missing = await runCli(['--config', configFile, 'trust', '127.0.0.1:1', '--accept']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /^annunciator trust: --accept needs --account NAME/);

    // The account is looked up once the certificate is in hand: a real upstream to probe.
    const upstream = await startUpstream({ security: 'starttls', tls: createSelfSigned('mail.plant.local'), auth: { user: 'alarms', pass: 'pw' } });
    try {
      const unknown = await runCli(['--config', configFile, 'trust', `127.0.0.1:${upstream.port}`, '--starttls', '--accept', '--account', 'no-such-account']);
      assert.equal(unknown.code, 1, unknown.stderr);
      assert.match(unknown.stderr, /delivery\.accounts: no account named "no-such-account"/);
      assert.match(unknown.stdout, /CN=mail\.plant\.local/, 'the chain was shown: the refusal is about the account, not the probe');
    } finally {
      await upstream.close();
    }
    assert.equal(readFileSync(configFile, 'utf8'), text, 'the configuration is unchanged');
    assert.equal(existsSync(join(dir.path, 'unknown-account', 'pins')), false, 'no certificate saved');
  });
});

describe('alarm pipeline commands', () => {
  const dir = testDir();
  after(() => dir.remove());

  function shippedWithRules(rulesDir: string): string {
    const raw = shippedConfig();
    raw.gateway = { dataDir: join(dir.path, 'data') };
    raw.alarms = { ...(raw.alarms as object), rulesDir, templatesDir: join(REPO_ROOT, 'templates') };
    raw.delivery = { accounts: [{ name: 'files', type: 'file', directory: join(dir.path, 'files') }] };
    return dir.write(`alarms-${Math.random().toString(36).slice(2)}.yaml`, stringify(raw));
  }

  it('check validates rules too, naming file, rule and reason', async () => {
    const rulesDir = join(dir.path, 'bad-rules');
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(join(rulesDir, 'bad.yaml'), 'rules:\n  - name: typo\n    when: { all: [ { fact: titel, operator: equal, value: x } ] }\n    then: { receivers: [oncall] }\n');
    const result = await runCli(['--config', shippedWithRules(rulesDir), 'check']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /bad\.yaml:\d+: rule "typo"/);
    assert.match(result.stderr, /titel/);
  });

  it('rules test shows the record, the verdicts with reasons, the route and the notification', async () => {
    const configFile = shippedWithRules(join(REPO_ROOT, 'rules'));
    const result = await runCli(['--config', configFile, 'rules', 'test', join(CORPUS_DIR, 'ups-on-battery.eml'), '--at', '2026-11-24T14:00:00+01:00']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /device\s+UPS Hall 2 \(ups-hall2, recognised by sender\)/);
    assert.match(result.stdout, /key\s+ups-on-battery/);
    assert.match(result.stdout, /APPLIED\s+ups-on-battery/);
    assert.match(result.stdout, /no match\s+night-and-weekend-oncall/, 'a Tuesday afternoon is not night');
    assert.match(result.stdout, /receivers\s+facility-team <facility@example\.com/);
    assert.match(result.stdout, /raised: new alarm/);
    assert.match(result.stdout, /NOTIFICATION to facility@example\.com/);
    assert.match(result.stdout, /Subject: /);
    assert.equal(existsSync(join(dir.path, 'files')), false, 'nothing was sent');
  });

  it('rules test shows a grouped route, and the notification as it goes out when nothing joins it', async () => {
    const rulesDir = join(dir.path, 'group-rules');
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(join(rulesDir, 'group.yaml'), 'rules:\n  - name: ups-grouped\n    when: { fact: device.id, operator: equal, value: ups-hall2 }\n    then: { receivers: [facility-team], group: { by: [site, severity], wait: 45s } }\n');
    const result = await runCli(['--config', shippedWithRules(rulesDir), 'rules', 'test', join(CORPUS_DIR, 'ups-on-battery.eml')]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /grouped\s+by site, severity, waiting 45 s for others/);
    assert.match(result.stdout, /held for the group site=Plant North, severity=major \(ups-grouped\)/);
    assert.match(result.stdout, /NOTIFICATION to facility@example\.com/);
  });

  it('rules test takes a JSON alarm', async () => {
    const configFile = shippedWithRules(join(REPO_ROOT, 'rules'));
    const alarm = dir.write('alarm.json', JSON.stringify({ device: 'plc-line4', title: 'ALARM Line4 Motor M7 overtemperature', text: 'winding 150 C' }));
    const result = await runCli(['--config', configFile, 'rules', 'test', alarm, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { routing: { route: { rules: string[]; severity: string } } };
    assert.ok(report.routing.route.rules.includes('line4-motor-overtemperature'));
    assert.equal(report.routing.route.severity, 'critical');
  });

  it('alarms lists active alarms with count, first and last seen', async () => {
    const configFile = shippedWithRules(join(REPO_ROOT, 'rules'));
    const config = parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    const gateway = await runGateway(configFrom(dir, { ...config, listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }], alarms: { ...(config.alarms as object), watch: false } }));
    try {
      const { sendAsDevice } = await import('../helpers/device-client.js');
      for (let i = 0; i < 3; i += 1) {
        await sendAsDevice({ port: gateway.port, mailFrom: 'plc-line4@plant.local', rcptTo: ['maintenance@example.com'], data: Buffer.from('Subject: ALARM Line4 Motor M12 overtemperature\r\n\r\nMotor M12 winding temperature 142 C exceeds limit 130 C.\r\n') });
      }
      await eventually(async () => (await gateway.store.alarms.list(['active']))[0]?.count === 3, 10_000, 'three occurrences');
    } finally {
      await gateway.stop();
    }
    const listed = await runCli(['--config', configFile, 'alarms']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /active\s+critical\s+3\s+/);
    assert.match(listed.stdout, /PLC Line 4\s+ALARM Line4 Motor M12 overtemperature/);
    const id = /^([0-9A-Z]{26})/m.exec(listed.stdout)?.[1];
    const shown = await runCli(['--config', configFile, 'alarms', '--show', id ?? 'none']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /raised\s+new alarm/);
    assert.match(shown.stdout, /repeat-folded\s+repeat 3 folded/);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { createSelfSigned } from '../helpers/certs.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { baseConfig, configFrom, eventually, runGateway, testDir } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

describe('annunciator check', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('passes the shipped default configuration', async () => {
    const result = await runCli(['--config', 'config/annunciator.yaml', 'check']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /OK/);
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
      await eventually(() => gateway.store.listOutbox(['pending']).find((e) => e.attempts >= 1 && e.lastError), 10_000, 'a failed first attempt');
    } finally {
      await gateway.stop();
    }

    const list = await runCli(['--config', configFile, 'queue']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /pending/);
    assert.match(list.stdout, /oncall@example\.com/);
    assert.match(list.stdout, /ECONNREFUSED|connect/i);
    const [entry] = JSON.parse((await runCli(['--config', configFile, 'queue', 'list', '--json'])).stdout) as Array<{ id: string; nextAttemptAt: number; receivedId: string }>;
    assert.equal(entry?.receivedId, id);
    assert.ok((entry?.nextAttemptAt ?? 0) > Date.now() + 30 * 60_000, 'backoff put the next try an hour out');

    const retry = await runCli(['--config', configFile, 'queue', 'retry', entry!.id]);
    assert.equal(retry.code, 0);
    const store = SqliteStore.open(raw.gateway ? (raw.gateway as { dataDir: string }).dataDir : '');
    try {
      assert.ok((store.getOutbox(entry!.id)?.nextAttemptAt ?? Infinity) <= Date.now());
    } finally {
      store.close();
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
    assert.equal((await runCli(['--config', configFile, 'send'], { stdin: 'Subject: x\r\n\r\ny\r\n' })).code, 64);
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

  it('refuses --accept without --account, and an unknown account', async () => {
    const configFile = dir.write('t2.yaml', stringify(baseConfig(dir)));
    assert.equal((await runCli(['--config', configFile, 'trust', '127.0.0.1:1', '--accept'])).code, 64);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { Received } from '../../src/ingest/received.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runCli } from '../helpers/cli.js';
import { baseConfig, testDir } from '../helpers/gateway.js';

describe('annunciator send: the sendmail flags scripts and devices use', () => {
  const dir = testDir();
  after(() => dir.remove());
  const dataDir = join(dir.path, 'data');
  const configFile = dir.write('send.yaml', stringify({ ...baseConfig(dir), gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir } }));

  /** Sends and returns what the store's inbox holds for the message. */
  async function send(args: string[], stdin: string): Promise<Received> {
    const result = await runCli(['--config', configFile, 'send', ...args], { stdin });
    assert.equal(result.code, 0, `send ${args.join(' ')}: ${result.stderr}`);
    const id = /^queued as ([0-9A-Z]{26})$/m.exec(result.stdout)?.[1];
    assert.ok(id, result.stdout);
    const store = SqliteStore.open(dataDir);
    try {
      const received = await store.inbox.get(id);
      assert.ok(received, 'in the inbox');
      return received;
    } finally {
      await store.close();
    }
  }

  it('-t -i -oi: recipients from To, Cc and Bcc (Bcc removed), and a lone dot is part of the message', async () => {
    const message = ['To: ops@example.com, "Berger, Anna" <anna@example.com>', 'Cc: shift@example.com', 'Bcc: audit@example.com,', ' archive@example.com', 'Subject: pump P3 stopped', '', 'first line', '.', 'after the dot', ''].join('\n');
    const received = await send(['-t', '-i', '-oi'], message);
    assert.deepEqual(received.envelope.rcptTo, ['ops@example.com', 'anna@example.com', 'shift@example.com', 'audit@example.com', 'archive@example.com']);
    const raw = received.raw.toString('utf8');
    assert.doesNotMatch(raw, /audit@|archive@|^Bcc/im, 'blind copies stay blind');
    assert.match(raw, /^To: ops@example\.com, "Berger, Anna" <anna@example\.com>\nCc: shift@example\.com\nSubject: pump P3 stopped\n\nfirst line\n\.\nafter the dot\n$/);
  });

  it('-t adds to the recipients given as arguments; -oi alone is -i', async () => {
    const received = await send(['-t', '-oi', 'boss@example.com'], 'To: ops@example.com\r\nSubject: x\r\n\r\n.\r\nkept\r\n');
    assert.deepEqual(received.envelope.rcptTo, ['boss@example.com', 'ops@example.com']);
    assert.match(received.raw.toString('utf8'), /\r\n\.\r\nkept\r\n$/);
  });

  it('without -i, a line with a single dot ends the message, as in sendmail', async () => {
    const received = await send(['ops@example.com'], 'Subject: cron report\n\nall good\n.\nnot part of the message\n');
    assert.equal(received.raw.toString('utf8'), 'Subject: cron report\n\nall good\n');
    const dotDot = await send(['ops@example.com'], 'Subject: x\n\n..a line starting with a dot\n.. \n');
    assert.equal(dotDot.raw.toString('utf8'), 'Subject: x\n\n..a line starting with a dot\n.. \n', 'only a dot alone on its line ends it');
  });

  it('-f and -r set the envelope sender; -F names the sender of a message without From', async () => {
    const named = await send(['-f', 'plc@plant.local', '-F', 'Line 4 PLC', 'ops@example.com'], 'Subject: x\n\ny\n');
    assert.equal(named.envelope.mailFrom, 'plc@plant.local');
    assert.equal(named.raw.toString('utf8'), 'From: "Line 4 PLC" <plc@plant.local>\nSubject: x\n\ny\n');
    const umlaut = await send(['-r', 'hmi@plant.local', '-F', 'Kesselhaus Süd', 'ops@example.com'], 'Subject: x\r\n\r\ny\r\n');
    assert.equal(umlaut.envelope.mailFrom, 'hmi@plant.local');
    assert.match(umlaut.raw.toString('utf8'), /^From: =\?UTF-8\?B\?S2Vzc2VsaGF1cyBTw7xk\?= <hmi@plant\.local>\r\nSubject: x\r\n/);
    const kept = await send(['-f', 'plc@plant.local', '-F', 'ignored', 'ops@example.com'], 'From: PLC <plc@plant.local>\nSubject: x\n\ny\n');
    assert.equal(kept.raw.toString('utf8'), 'From: PLC <plc@plant.local>\nSubject: x\n\ny\n', 'a From header is left as it is');
  });

  it('other -o options are accepted and change nothing', async () => {
    const received = await send(['-oem', '-odi', '-i', 'ops@example.com'], 'Subject: x\n\ny\n');
    assert.equal(received.raw.toString('utf8'), 'Subject: x\n\ny\n');
  });

  it('-t with no recipient anywhere is refused (65), naming where it looked', async () => {
    const result = await runCli(['--config', configFile, 'send', '-t'], { stdin: 'Subject: nobody\n\nx\n' });
    assert.equal(result.code, 65);
    assert.match(result.stderr, /no recipients: the To, Cc and Bcc headers name none \(-t\)/);
    const unknown = await runCli(['--config', configFile, 'send', '-x', 'ops@example.com'], { stdin: 'Subject: x\n\ny\n' });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^annunciator send: unknown option '-x'/);
  });
});

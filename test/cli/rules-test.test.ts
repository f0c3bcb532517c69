import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { CORPUS_DIR } from '../helpers/corpus.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { testDir } from '../helpers/gateway.js';

describe('annunciator rules test', () => {
  const dir = testDir();
  after(() => dir.remove());

  // The shipped configuration and rules: alarms.timeZone Europe/Berlin, and the rule
  // night-and-weekend-oncall that applies 22:00-06:00 on Berlin's clocks.
  const raw = parse(readFileSync(join(REPO_ROOT, 'config/annunciator.yaml'), 'utf8')) as Record<string, unknown>;
  raw.gateway = { dataDir: join(dir.path, 'data') };
  raw.alarms = { ...(raw.alarms as object), rulesDir: join(REPO_ROOT, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false };
  raw.delivery = { accounts: [{ name: 'files', type: 'file', directory: join(dir.path, 'files') }] };
  const configFile = dir.write('annunciator.yaml', stringify(raw));
  const ups = join(CORPUS_DIR, 'ups-on-battery.eml');

  it('--at without an offset is a time on the clocks of alarms.timeZone, whatever the machine runs on', async () => {
    // Auckland is 12 hours ahead of Berlin in November: read in the machine's zone,
    // Tuesday 14:00 would be 02:00 in Berlin (night) and 23:00 would be 11:00 (day).
    const env = { TZ: 'Pacific/Auckland' };
    const afternoon = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', '2026-11-24T14:00'], { env });
    assert.equal(afternoon.code, 0, afternoon.stderr);
    assert.match(afternoon.stdout, /^AS OF 2026-11-24 14:00 CET \(alarms\.timeZone Europe\/Berlin\)$/m);
    assert.match(afternoon.stdout, /no match\s+night-and-weekend-oncall/);

    const night = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', '2026-11-24 23:00'], { env });
    assert.equal(night.code, 0, night.stderr);
    assert.match(night.stdout, /^AS OF 2026-11-24 23:00 CET/m);
    assert.match(night.stdout, /APPLIED\s+night-and-weekend-oncall/);

    // An explicit offset is taken as written.
    const utc = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', '2026-11-24T22:30:00Z'], { env });
    assert.match(utc.stdout, /^AS OF 2026-11-24 23:30 CET/m);
    assert.match(utc.stdout, /APPLIED\s+night-and-weekend-oncall/);
  });

  it('prints the notification readably: the headers a reader sees, decoded, and the text body; --raw prints it as sent', async () => {
    const result = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', '2026-11-24T14:00']);
    assert.equal(result.code, 0, result.stderr);
    const notification = result.stdout.slice(result.stdout.indexOf('NOTIFICATION'));
    assert.match(notification, /^NOTIFICATION to facility@example\.com, anna\.berger@example\.com\n {2}From: {5}"UPS Hall 2" <ups-hall-2@annunciator\.localdomain>\n {2}To: {7}facility@example\.com, anna\.berger@example\.com\n/);
    assert.match(notification, /^ {2}Subject: {2}\[MAJOR\] UPS-HALL2: On battery power in response to an input power problem\. — UPS Hall 2 \(Plant North, Hall 2, electrical room\) #[0-9A-Z]{26}$/m);
    assert.match(notification, /^ {2}Date: {5}2026-11-24 14:00:00 CET$/m);
    assert.match(notification, /^ {2}Parts: {4}text and HTML$/m);
    assert.match(notification, /^ {2}MAJOR: UPS-HALL2: On battery power in response to an input power problem\.$/m);
    assert.match(notification, /^ {2}> Code {5}: 0x0109$/m);
    assert.doesNotMatch(notification, /=\?UTF-8\?|Content-Transfer-Encoding|Content-Type|<html/i, 'no MIME');
    assert.match(notification, /\(the message as sent, MIME and all: --raw\)\n$/);

    const raw = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', '2026-11-24T14:00', '--raw']);
    assert.equal(raw.code, 0, raw.stderr);
    assert.match(raw.stdout, /^NOTIFICATION to facility@example\.com, anna\.berger@example\.com, as sent\n\n/m);
    assert.match(raw.stdout, /^Subject: =\?UTF-8\?Q\?/m);
    assert.match(raw.stdout, /^Content-Type: multipart\/alternative;/m);

    const attached = await runCli(['--config', configFile, 'rules', 'test', join(CORPUS_DIR, 'datalogger-csv-attachment.eml')]);
    assert.equal(attached.code, 0, attached.stderr);
    assert.match(attached.stdout, /^ {2}Parts: {4}text and HTML; attached: original\.eml \(message\/rfc822, \d+ bytes\)$/m);
  });

  it('quotes at most alarms.maxQuotedText of the device text, saying it cut', async () => {
    const small = { ...raw, alarms: { ...(raw.alarms as object), maxQuotedText: '1KiB' } };
    const smallConfig = dir.write('annunciator-1k.yaml', stringify(small));
    const lines = Array.from({ length: 200 }, (_, n) => `Battery cell ${String(n + 1).padStart(3, '0')}: 13.1 V`);
    const mail = dir.write('ups-long.eml', `${readFileSync(ups, 'latin1').replace(/\r?\n$/, '')}\n${lines.join('\n')}\n`);
    const result = await runCli(['--config', smallConfig, 'rules', 'test', mail, '--at', '2026-11-24T14:00']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ {2}> Battery cell 033: 13\.1 V\n {2}\[Cut: the first 10\d\d bytes of 5(\.\d)? KiB shown\.\]$/m);
    assert.doesNotMatch(result.stdout, /Battery cell 034/);
  });

  it('refuses a time it cannot read as a usage error', async () => {
    const result = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', 'tonight']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^annunciator rules test: --at tonight is not a time \(use ISO 8601, e\.g\. 2026-11-24T03:14 in Europe\/Berlin/);
  });
});

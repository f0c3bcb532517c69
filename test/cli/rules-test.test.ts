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

  it('refuses a time it cannot read as a usage error', async () => {
    const result = await runCli(['--config', configFile, 'rules', 'test', ups, '--at', 'tonight']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^annunciator rules test: --at tonight is not a time \(use ISO 8601, e\.g\. 2026-11-24T03:14 in Europe\/Berlin/);
  });
});

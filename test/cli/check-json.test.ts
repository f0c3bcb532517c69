import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';

interface Problem {
  file: string;
  line?: number;
  key?: string;
  problem: string;
  text: string;
}

describe('annunciator check --json', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('describes the shipped default: listeners, accounts, rules and flood control', async () => {
    const result = await runCli(['--config', 'config/annunciator.yaml', 'check', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const checked = JSON.parse(result.stdout) as Record<string, unknown> & { alarms: Record<string, unknown> };
    assert.equal(checked.ok, true);
    assert.equal(checked.file, join(REPO_ROOT, 'config/annunciator.yaml'));
    assert.equal(checked.mode, 'alarms');
    assert.deepEqual(checked.listeners, [{ name: 'local', address: '127.0.0.1', port: 2525 }]);
    assert.deepEqual(checked.accounts, [{ name: 'files', type: 'file', directory: join(REPO_ROOT, 'data/outbox-files') }]);
    assert.deepEqual(checked.replies, []);
    assert.ok((checked.alarms.rules as number) >= 5, String(checked.alarms.rules));
    assert.equal(checked.alarms.rulesDir, join(REPO_ROOT, 'rules'));
    assert.deepEqual(checked.alarms.floodControl, { enabled: true, per: 'device', limit: 30, windowSeconds: 60, digestIntervalSeconds: 300 });
  });

  it('prints every configuration problem with file, line and key on stdout, and exits 1', async () => {
    const file = dir.write(
      'broken.yaml',
      ['listeners:', '  - name: lan', '    address: 127.0.0.1', '    port: "twenty-five"', '    trustedNetworks: [10.0.0.0/33]', 'delivery:', '  accounts:', '    - name: x', '      type: file', '      directory: out', '      colour: blue', ''].join('\n'),
    );
    const result = await runCli(['--config', file, 'check', '--json']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, '');
    const refused = JSON.parse(result.stdout) as { ok: boolean; file: string; problems: Problem[] };
    assert.equal(refused.ok, false);
    assert.equal(refused.file, file);
    const port = refused.problems.find((p) => p.key === 'listeners[0].port');
    assert.equal(port?.file, file, JSON.stringify(refused.problems));
    assert.equal(port?.line, 4);
    assert.match(port?.text ?? '', new RegExp(`^${file}:4:\\d+: listeners\\[0\\]\\.port: `));
    const network = refused.problems.find((p) => p.key === 'listeners[0].trustedNetworks[0]');
    assert.equal(network?.line, 5);
    assert.match(network?.problem ?? '', /not an IPv4 or IPv6 address or CIDR/);
    assert.ok(refused.problems.some((p) => p.key === 'delivery.accounts[0]' && /unknown key "colour"/.test(p.problem)), JSON.stringify(refused.problems));
  });

  it('names the rule file, line and rule of a rule problem', async () => {
    const config = shippedAlarmsConfig(dir, {});
    const rules = join(dir.path, 'rules', 'zz-broken.yaml');
    writeFileSync(rules, ['rules:', '  - name: pump-dry-run', '    when:', '      all:', '        - { fact: device.id, operator: equalz, value: pump-3 }', '    then:', '      receivers: [nobody-here]', ''].join('\n'));
    const configFile = dir.write('rules-broken.yaml', stringify(config));
    const result = await runCli(['--config', configFile, 'check', '--json']);
    assert.equal(result.code, 1, result.stdout);
    const refused = JSON.parse(result.stdout) as { ok: boolean; problems: Problem[] };
    assert.equal(refused.ok, false);
    assert.ok(refused.problems.length >= 2, JSON.stringify(refused.problems));
    for (const problem of refused.problems) {
      assert.equal(problem.file, rules, JSON.stringify(problem));
      assert.ok(problem.line !== undefined && problem.line >= 2, JSON.stringify(problem));
      assert.match(problem.key ?? '', /^rule "pump-dry-run"/, JSON.stringify(problem));
      assert.ok(problem.text.startsWith(`${rules}:${problem.line}: rule "pump-dry-run": `), problem.text);
    }
    assert.ok(refused.problems.some((p) => /equalz/.test(p.problem)), JSON.stringify(refused.problems));
    assert.ok(refused.problems.some((p) => /nobody-here/.test(p.problem)), JSON.stringify(refused.problems));

    // Without --json the same problems go to stderr as lines, as before.
    const plain = await runCli(['--config', configFile, 'check']);
    assert.equal(plain.code, 1);
    assert.equal(plain.stdout, '');
    for (const problem of refused.problems) assert.ok(plain.stderr.includes(problem.text), plain.stderr);
  });

  it('names the template file of a template problem', async () => {
    const templates = join(dir.path, 'templates');
    const { cpSync } = await import('node:fs');
    cpSync(join(REPO_ROOT, 'templates'), templates, { recursive: true });
    writeFileSync(join(templates, 'default', 'subject.hbs'), '{{#if alarm.title}}unclosed\n');
    const config = shippedAlarmsConfig(dir, {});
    const configFile = dir.write('templates-broken.yaml', stringify({ ...config, alarms: { ...(config.alarms as object), templatesDir: templates } }));
    const result = await runCli(['--config', configFile, 'check', '--json']);
    assert.equal(result.code, 1, result.stdout);
    const refused = JSON.parse(result.stdout) as { problems: Problem[] };
    assert.ok(
      refused.problems.some((p) => p.file === join(templates, 'default', 'subject.hbs') && p.text.startsWith(p.file)),
      JSON.stringify(refused.problems),
    );
  });
});

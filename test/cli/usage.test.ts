import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { baseConfig, testDir } from '../helpers/gateway.js';

/** The environment of a user who has not set ANNUNCIATOR_CONFIG. */
const NO_ENV = { ANNUNCIATOR_CONFIG: undefined };

describe('command-line conventions', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('a usage error exits 2 with one line naming the command and a hint, not the whole help', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['queue', 'retry', '--bogus'], /^annunciator queue retry: unknown option '--bogus'\n\(see 'annunciator queue retry --help'\)\n$/],
      [['rules', 'test'], /^annunciator rules test: missing required argument 'file'\n\(see 'annunciator rules test --help'\)\n$/],
      [['alarmz'], /^annunciator: unknown command 'alarmz' \(did you mean alarms\?\)\n\(see 'annunciator --help'\)\n$/],
      [['trust', '127.0.0.1:25', '--timeout', 'soon'], /^annunciator trust: option '--timeout <ms>' argument 'soon' is invalid\. not a whole number above 0\n\(see 'annunciator trust --help'\)\n$/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['--config', 'config/annunciator.yaml', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /Usage:/, 'no help dump');
      assert.equal(result.stdout, '');
    }
  });

  it('no command at all: the whole help on stderr, exit 2', async () => {
    const result = await runCli([]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^Usage: annunciator \[options\] \[command\]/);
    assert.equal(result.stdout, '');
  });

  it("the commands' own usage errors follow the same form", async () => {
    const result = await runCli(['--config', 'config/annunciator.yaml', 'oncall', '--at', 'next tuesday']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^annunciator oncall: --at next tuesday is not a time .*\n\(see 'annunciator oncall --help'\)\n$/);
  });

  it('an invalid configuration still exits 1, so a script tells it from a typo', async () => {
    const broken = dir.write('broken.yaml', 'listeners: 7\n');
    const result = await runCli(['--config', broken, 'check']);
    assert.equal(result.code, 1);
    assert.doesNotMatch(result.stderr, /--help/);
  });

  it('--help and --version exit 0; --version is the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag], { cwd: dir.path, env: NO_ENV });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${version}\n`);
    }
    const help = await runCli(['--help'], { cwd: dir.path, env: NO_ENV });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit status: 0 done, 1 configuration .*, 2 usage error/);
  });

  describe('finding the configuration', () => {
    const config = (name: string) => stringify({ ...baseConfig(dir), gateway: { dataDir: join(dir.path, `data-${name}`) } });

    it('outside the repository with nothing to find: exit 1, listing every place it looked', async () => {
      const empty = join(dir.path, 'empty');
      mkdirSync(empty);
      const result = await runCli(['check'], { cwd: empty, env: NO_ENV });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /no configuration file found/);
      assert.match(result.stderr, /--config FILE +\(not given\)/);
      assert.match(result.stderr, /ANNUNCIATOR_CONFIG +\(not set\)/);
      for (const place of [join(empty, 'annunciator.yaml'), join(empty, 'config', 'annunciator.yaml'), '/etc/annunciator/annunciator.yaml']) {
        assert.ok(result.stderr.includes(`  ${place}\n`), `names ${place}: ${result.stderr}`);
      }
    });

    it('takes ./config/annunciator.yaml, then ./annunciator.yaml before it, from any working directory', async () => {
      const site = join(dir.path, 'site');
      mkdirSync(join(site, 'config'), { recursive: true });
      dir.write('site/config/annunciator.yaml', config('nested'));
      const nested = await runCli(['check'], { cwd: site, env: NO_ENV });
      assert.equal(nested.code, 0, nested.stderr);
      assert.match(nested.stdout, new RegExp(`^${join(site, 'config', 'annunciator.yaml')}: OK`));

      dir.write('site/annunciator.yaml', config('top'));
      const top = await runCli(['check'], { cwd: site, env: NO_ENV });
      assert.equal(top.code, 0, top.stderr);
      assert.match(top.stdout, new RegExp(`^${join(site, 'annunciator.yaml')}: OK`));
    });

    it('ANNUNCIATOR_CONFIG wins over the search path, --config over both; a named file that is missing is an error, not a fallback', async () => {
      const site = join(dir.path, 'site2');
      mkdirSync(site);
      dir.write('site2/annunciator.yaml', config('searched'));
      const fromEnv = dir.write('from-env.yaml', config('env'));
      const fromOption = dir.write('from-option.yaml', config('option'));

      const env = await runCli(['check'], { cwd: site, env: { ANNUNCIATOR_CONFIG: fromEnv } });
      assert.equal(env.code, 0, env.stderr);
      assert.match(env.stdout, new RegExp(`^${fromEnv}: OK`));

      const option = await runCli(['--config', fromOption, 'check'], { cwd: site, env: { ANNUNCIATOR_CONFIG: fromEnv } });
      assert.equal(option.code, 0, option.stderr);
      assert.match(option.stdout, new RegExp(`^${fromOption}: OK`));

      const missing = await runCli(['check'], { cwd: site, env: { ANNUNCIATOR_CONFIG: 'typo.yaml' } });
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, `${join(site, 'typo.yaml')}: no such file (named by ANNUNCIATOR_CONFIG)\n`);
      assert.equal(existsSync(join(site, 'typo.yaml')), false);
    });
  });
});

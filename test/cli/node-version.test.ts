import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { describeSupportedNode, isSupportedNode, NEWEST_SUPPORTED_MAJOR, nodeCacheHome, SUPPORTED_NODE } from '../../src/cli/node-version.js';
import { baseConfig, eventually, testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * The command line on a Node.js annunciator does not support (src/cli/node-version.ts). The
 * old Node is played by this one with `process.versions.node` set to 20.20.2 before the
 * entry loads (only in the first process: the one it starts again must see the real
 * version), and the cached supported Node is a link to this one in a cache of the test's own
 * (ANNUNCIATOR_NODE_CACHE, as scripts/node-major.sh lays it out).
 */

const TSX = import.meta.resolve('tsx');

describe('the Node.js version check before the command line loads', () => {
  const dir = testDir('annunciator-node-version-');
  after(() => dir.remove());
  const oldNode = dir.write(
    'old-node.mjs',
    "if (!process.env.ANNUNCIATOR_REEXEC) { Object.defineProperty(process.versions, 'node', { value: '20.20.2' }); Object.defineProperty(process, 'version', { value: 'v20.20.2' }); }\n",
  );
  const emptyCache = join(dir.path, 'empty-cache');
  const cache = join(dir.path, 'cache');
  const home = nodeCacheHome(NEWEST_SUPPORTED_MAJOR, { ANNUNCIATOR_NODE_CACHE: cache });
  assert.ok(home, 'a node-linux package exists for this machine');
  mkdirSync(join(home, 'bin'), { recursive: true });
  symlinkSync(process.execPath, join(home, 'bin', 'node'));

  function annunciator(args: string[], nodeCache: string) {
    const child = spawn(process.execPath, ['--import', oldNode, '--import', TSX, join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ANNUNCIATOR_NODE_CACHE: nodeCache, ANNUNCIATOR_REEXEC: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    return { child, out, exited };
  }

  it('agrees with package.json engines', () => {
    const { engines } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(engines.node, SUPPORTED_NODE.map(([major, minor]) => `^${major}.${minor}.0`).join(' || '));
    assert.equal(Math.max(...SUPPORTED_NODE.map(([major]) => major)), NEWEST_SUPPORTED_MAJOR);
    assert.ok(isSupportedNode('22.13.0') && isSupportedNode('24.1.2') && isSupportedNode('26.12.1'));
    assert.ok(!isSupportedNode('20.20.2') && !isSupportedNode('22.12.0') && !isSupportedNode('23.11.0') && !isSupportedNode('27.0.0'));
  });

  it('without a supported Node in the cache: says which Node it needs and how to get one, exit 1, before loading anything else', async () => {
    const run = annunciator(['--version'], emptyCache);
    const { code } = await run.exited;
    assert.equal(code, 1, run.out.stderr);
    assert.equal(run.out.stdout, '');
    assert.ok(run.out.stderr.includes(`annunciator needs Node.js ${describeSupportedNode()}; this is Node.js v20.20.2.`), run.out.stderr);
    assert.match(run.out.stderr, /`npm install` does it/);
    assert.doesNotMatch(run.out.stderr, /\n\s+at /, 'no stack trace');
  });

  it('with one in the cache: runs the command there, says so in one line, and passes its exit code back', async () => {
    const version = annunciator(['--version'], cache);
    assert.equal((await version.exited).code, 0, version.out.stderr);
    assert.equal(version.out.stdout.trim(), (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    // Only lines of annunciator's own: tsx may add a deprecation warning on a new Node.
    assert.deepEqual(
      version.out.stderr.split('\n').filter((line) => line.startsWith('annunciator')),
      [`annunciator: Node.js v20.20.2 is not supported; running under Node.js ${NEWEST_SUPPORTED_MAJOR} (${join(home, 'bin', 'node')})`],
    );

    const usage = annunciator(['--no-such-flag'], cache);
    assert.equal((await usage.exited).code, 2, usage.out.stderr);
  });

  it('a gateway run so hears SIGHUP and SIGTERM through the first process, and its clean stop is that process exit', async () => {
    const config = baseConfig(dir);
    config.log = { level: 'info', format: 'json' };
    const file = dir.write('annunciator.yaml', stringify(config));
    const gateway = annunciator(['--config', file, 'start'], cache);
    try {
      await eventually(() => gateway.out.stdout.includes('gateway started') || gateway.child.exitCode !== null, 30_000, 'the gateway to start');
      assert.equal(gateway.child.exitCode, null, gateway.out.stderr + gateway.out.stdout);
      gateway.child.kill('SIGHUP');
      await eventually(() => gateway.out.stdout.split('\n').some((line) => line.includes('"signal":"SIGHUP"')), 10_000, 'the reload on SIGHUP');
      gateway.child.kill('SIGTERM');
      const { code, signal } = await gateway.exited;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, gateway.out.stderr);
      assert.ok(gateway.out.stdout.split('\n').some((line) => line.includes('"signal":"SIGTERM"') && line.includes('stopping')), gateway.out.stdout);
    } finally {
      if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    }
  });
});

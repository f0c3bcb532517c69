/**
 * `npm test`: type-checks, then runs every test file with Node's test runner, on a supported
 * Node.js: this one, or on an unsupported one (the machine's Node 20) the one `npm install`
 * fetched into the cache (src/cli/node-version.ts). `npm test -- FILE...` runs those files only.
 *
 * The runner's flags live here and nowhere else (.ci/run's smoke runs call this too).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onSupportedNode, runUnder } from '../src/cli/node-version.js';

/**
 * Two files at a time (one per core; every file is isolated: ephemeral ports, its own
 * directories, databases and topics). Not --test-force-exit: with two files at a time it
 * drops the rest of a file's tests without a word (seen: 369 of 380 reported, all "passed").
 */
export const TEST_FLAGS = ['--test-concurrency=2', '--test-timeout=300000'];

/** The whole suite takes 3-5 min here: one that runs this long has a file that never ends (a leaked socket). */
const SUITE_LIMIT_MS = 30 * 60_000;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function testFiles(): string[] {
  return readdirSync(join(root, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => relative(root, join(root, 'test', file)))
    .sort();
}

// On an unsupported Node this script runs again under the cached supported one (as the CLI does).
if (onSupportedNode()) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const typed = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.test.json')], { cwd: root, stdio: 'inherit' });
  if (typed.status !== 0) process.exit(typed.status ?? 1);

  const chosen = process.argv.slice(2);
  const suite = runUnder(process.execPath, ['--import', 'tsx', '--test', ...TEST_FLAGS, ...(chosen.length > 0 ? chosen : testFiles())]);
  setTimeout(() => {
    process.stderr.write(`npm test: still running after ${SUITE_LIMIT_MS / 60_000} min: a test file does not end (look for the last file without a summary); stopping\n`);
    suite.kill('SIGKILL');
  }, SUITE_LIMIT_MS).unref();
}

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * The README is what a new user follows literally (issue 10): short, every file its
 * commands name is in the repository, and the output it promises is what the command
 * prints today.
 */

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README.md', () => {
  it('stays short: 200 lines at most, the rest is in docs/', () => {
    const lines = README.split('\n').length;
    assert.ok(lines <= 200, `README.md has ${lines} lines`);
  });

  it('names only files that are in the repository', () => {
    const named = [...README.matchAll(/(?:^|[\s@<(])((?:examples|config|rules|templates|docs)\/[\w./-]+\.(?:eml|ya?ml|json|md))/gm)].map((m) => m[1] ?? '');
    assert.ok(named.includes('examples/mail/plc-line4-motor-overtemperature.eml'), named.join(', '));
    for (const file of named) assert.ok(existsSync(join(REPO_ROOT, file)), `${file} is named in README.md but not in the repository`);
  });

  it('shows the output rules test prints for its example mail', async () => {
    const expected = /<!-- expected: (rules test [^>]+?) -->\n```\n([\s\S]*?)```/.exec(README);
    assert.ok(expected, 'README.md has an expected-output block after <!-- expected: rules test ... -->');
    const [, command = '', block = ''] = expected;
    assert.ok(README.includes(`node dist/cli/main.js ${command}\n`), `the quick start runs the command whose output it shows: ${command}`);
    const result = await runCli(command.split(' '));
    assert.equal(result.code, 0, result.stderr);
    const printed = result.stdout.split('\n');
    let at = 0;
    for (const line of block.split('\n').filter((l) => l.trim() !== '')) {
      const found = printed.indexOf(line, at);
      assert.ok(found >= 0, `README.md shows a line rules test does not print (in this order):\n${line}\n--- printed:\n${result.stdout}`);
      at = found + 1;
    }
  });
});

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './gateway-process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the command was still running after `killAfter` ms and was killed. */
  killed: boolean;
}

export interface CliOptions {
  stdin?: string | Buffer;
  /** Added to (or, with an undefined value, removed from) the test's own environment. */
  env?: NodeJS.ProcessEnv;
  /** Working directory; default the repository. */
  cwd?: string;
  /**
   * Kills a command that has not exited after this many ms, for tests whose point is that it
   * exits: a hang then fails the assertion at once instead of the whole file's timeout.
   */
  killAfter?: number;
}

// Absolute, so the command also starts from a directory outside the repository.
const TSX = import.meta.resolve('tsx');

/** Runs the annunciator command line as a user would, from the repository unless `cwd` says otherwise. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const timer = options.killAfter === undefined ? undefined : setTimeout(() => ((killed = true), child.kill('SIGKILL')), options.killAfter);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    });
    // A command that exits before reading all of its input (a usage error) closes the pipe early.
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

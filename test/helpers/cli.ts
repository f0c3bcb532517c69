import { spawn } from 'node:child_process';
import { builtCli, REPO_ROOT } from './built-cli.js';

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

/** Runs the annunciator command line (built from the sources) as a user would, from the repository unless `cwd` says otherwise. */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const main = await builtCli();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
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

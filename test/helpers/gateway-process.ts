import { spawn, type ChildProcess } from 'node:child_process';
import { builtCli, REPO_ROOT } from './built-cli.js';

export { REPO_ROOT };

export interface GatewayProcess {
  child: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
}

/** Runs `annunciator start` (built from the sources) as its own process, as an operator would, and waits until it listens. */
export async function spawnGateway(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [await builtCli(), '--config', configFile, 'start'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${logs.join('\n')}`)), 20_000);
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        logs.push(line);
        if (line.includes('gateway started')) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}: ${logs.join('\n')}`));
    });
  });
  return { child, logs, exited };
}

export async function killHard(gateway: GatewayProcess): Promise<void> {
  gateway.child.kill('SIGKILL');
  await gateway.exited;
}

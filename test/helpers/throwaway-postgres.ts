import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { peerGate, type PeerGate } from './real-peers.js';

/**
 * A PostgreSQL cluster of a test's own (initdb in a temporary directory, a free loopback
 * port, trust authentication), which the test may stop, kill and start again: the shared
 * server on 5432 must never be stopped by a test. As root it runs as the user `postgres`
 * (initdb refuses root), as .ci/run does.
 */
export interface ThrowawayPostgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  /** `fast`: a clean shutdown (sessions ended); `immediate`: as a crash, recovery at the next start. */
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  /** Stops it and deletes its directory. */
  remove(): void;
}

const BIN_ROOT = '/usr/lib/postgresql';

/** The newest installed server's bin directory, or why there is none. */
function postgresBin(): string | { missing: string } {
  const versions = existsSync(BIN_ROOT) ? readdirSync(BIN_ROOT).filter((v) => existsSync(join(BIN_ROOT, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (newest) return join(BIN_ROOT, newest, 'bin');
  const which = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const bin = which.status === 0 ? which.stdout.trim() : '';
  if (bin && existsSync(join(bin, 'initdb'))) return bin;
  return { missing: `no PostgreSQL server binaries (initdb, pg_ctl) under ${BIN_ROOT} or from pg_config: apt-get install postgresql` };
}

/** The gate for a test that needs a cluster of its own: skipped outside CI without the binaries, a failure under CI. */
export function throwawayPostgresGate(): PeerGate {
  const bin = postgresBin();
  return peerGate(typeof bin === 'string' ? false : bin.missing);
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBin();
  if (typeof bin !== 'string') throw new Error(bin.missing);
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]): void => {
    const [command, all] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    const result = spawnSync(command, all, { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  };
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  // fsync off: the tests stop the server process, never the machine, so the page cache survives.
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off -c max_connections=100`;
  let running = false;
  const cluster: ThrowawayPostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start() {
      run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
      running = true;
    },
    stop(mode = 'fast') {
      if (!running) return;
      run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    remove() {
      try {
        cluster.stop('immediate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  cluster.start();
  return cluster;
}

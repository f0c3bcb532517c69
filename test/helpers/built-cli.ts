import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The command line compiled from the current sources, for the tests that run it as its own
 * process (`annunciator ...`, `annunciator start`). Each such process under tsx pays about
 * 0.3 s of CPU more to start than the built JavaScript (and a gateway's sender thread pays
 * again), and the suite starts it ~170 times.
 *
 * Not dist/: that is whatever was built last (and `npm pack`, run by a test, rebuilds it
 * while other test files may be running). The build here is named by a hash of everything
 * it is made from (src/, tsconfig.json, package.json, the TypeScript version), so it is
 * never stale: the first test process that needs a build of new sources compiles it (one
 * `scripts/build.mjs --out`, ~6 s), the others wait for it and then share it. A build sits
 * in node_modules/.cache/annunciator-test-build/<hash>/, beside a copy of package.json
 * (the command reads its version two folders up and needs "type": "module"); packages
 * resolve from the repository's node_modules above it.
 */

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ROOT = REPO_ROOT;
const CACHE = join(ROOT, 'node_modules', '.cache', 'annunciator-test-build');
/** A lock older than this belongs to a test process that died mid-build. */
const STALE_LOCK_MS = 180_000;
/** Builds not used for this long are removed (several checkouts may share one node_modules). */
const PRUNE_AFTER_MS = 24 * 3_600_000;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function sourceHash(): string {
  const hash = createHash('sha256');
  const typescript = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string };
  hash.update(`typescript ${typescript.version}\0`);
  for (const file of [join(ROOT, 'tsconfig.json'), join(ROOT, 'package.json'), join(ROOT, 'scripts', 'build.mjs'), ...filesUnder(join(ROOT, 'src'))]) {
    hash.update(`${file.slice(ROOT.length)}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 20);
}

function compile(out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--out', join(out, 'dist')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`building the command line for the tests failed (${code}):\n${output}`))));
  });
}

function prune(keep: string): void {
  for (const name of readdirSync(CACHE)) {
    const path = join(CACHE, name);
    if (path === keep || name.includes('.')) continue; // ours, and locks or builds under way
    try {
      if (Date.now() - statSync(path).mtimeMs > PRUNE_AFTER_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // another process pruned it first
    }
  }
}

async function build(): Promise<string> {
  const target = join(CACHE, sourceHash());
  const entry = join(target, 'dist', 'cli', 'main.js');
  const lock = `${target}.lock`;
  mkdirSync(CACHE, { recursive: true });
  for (;;) {
    if (existsSync(entry)) {
      const now = new Date();
      utimesSync(target, now, now);
      return entry;
    }
    try {
      mkdirSync(lock);
    } catch {
      // Another test process is building these sources: wait for its build (or take over a dead one's lock).
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        // the lock went away meanwhile
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const work = `${target}.${process.pid}`;
    try {
      rmSync(work, { recursive: true, force: true });
      await compile(work);
      copyFileSync(join(ROOT, 'package.json'), join(work, 'package.json'));
      // Whole or not at all: a build appears under its name only once complete.
      renameSync(work, target);
      prune(target);
    } finally {
      rmSync(work, { recursive: true, force: true });
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

let built: Promise<string> | undefined;

/** The path of `cli/main.js` compiled from the sources as they are now (built on first use). */
export function builtCli(): Promise<string> {
  built ??= build();
  return built;
}

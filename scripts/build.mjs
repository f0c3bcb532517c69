#!/usr/bin/env node
// Builds dist/ from src/: TypeScript, then each store backend's SQL migrations beside its compiled code
// and the web console's assets beside the module that serves them.
// Progress goes to stderr: `npm pack --json` prints its report on stdout.
//
// `npm run build` always builds. `npm pack` and `npm publish` run `prepare`, which builds too,
// so a tarball never ships a stale or missing dist/. On a plain install from a git clone
// (`npm ci`) `prepare` builds when TypeScript is installed; with `npm ci --omit=dev` there is no
// TypeScript, so it keeps a dist/ built before (`npm ci && npm ci --omit=dev` gives a lean
// production install from a clone) and fails, saying what to do, only when there is none.
//
// On a Node.js that annunciator does not support (the machine's Node 20, say), `prepare` also
// fetches the newest supported line into the cache scripts/node-major.sh keeps, so that
// `npm start`, `npm test` and `node dist/cli/main.js` run there (src/cli/node-version.ts).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `--out DIR` builds into DIR instead of dist/ (the tests' build of the sources, test/helpers/built-cli.ts).
const outAt = process.argv.indexOf('--out');
const dist = outAt > 0 && process.argv[outAt + 1] ? resolve(process.argv[outAt + 1]) : join(root, 'dist');
const entry = join(dist, 'cli', 'main.js');
const prepare = process.argv.includes('--prepare');
// npm names the command that runs the lifecycle script; packing must never reuse an old dist/.
const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');

function typescriptCompiler() {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

const tsc = typescriptCompiler();
if (!tsc) {
  if (prepare && !packing && existsSync(entry)) {
    process.stderr.write('annunciator: TypeScript is not installed (npm ci --omit=dev): keeping the dist/ built before\n');
    await fetchSupportedNode();
    process.exit(0);
  }
  process.stderr.write(
    'annunciator: cannot build dist/: TypeScript (a dev dependency) is not installed.\n' +
      '  From a git clone, run `npm ci` (with dev dependencies) first; `npm ci --omit=dev` afterwards keeps that build.\n' +
      '  Or install the packed tarball (`npm pack`, then `npm install --omit=dev annunciator-*.tgz`), which ships dist/.\n',
  );
  process.exit(1);
}

process.stderr.write(`annunciator: compiling TypeScript into ${dist === join(root, 'dist') ? 'dist/' : dist} ...\n`);
// A clean dist/: files of removed sources must not linger into a package.
rmSync(dist, { recursive: true, force: true });
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--outDir', dist], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
for (const backend of ['sqlite', 'postgres']) {
  cpSync(join(root, 'src/store', backend, 'migrations'), join(dist, 'store', backend, 'migrations'), { recursive: true });
}
// The web console's page, modules and styles (served as they are: no bundler).
cpSync(join(root, 'src/api/console/assets'), join(dist, 'api/console/assets'), { recursive: true });
process.stderr.write('annunciator: dist/ built\n');
await fetchSupportedNode();

/** On install (not pack) under an unsupported Node: a supported one into the cache, unless one is there. */
async function fetchSupportedNode() {
  if (!prepare || packing) return;
  const { cachedSupportedNode, describeSupportedNode, isSupportedNode, NEWEST_SUPPORTED_MAJOR, nodeCacheHome, unsupportedNodeMessage } = await import(
    pathToFileURL(join(dist, 'cli', 'node-version.js')).href
  );
  if (isSupportedNode()) return;
  const cached = cachedSupportedNode();
  if (cached) {
    process.stderr.write(`annunciator: Node.js ${process.version} is not supported (${describeSupportedNode()}); npm start and npm test will use Node.js ${cached.major} from ${cached.node}\n`);
    return;
  }
  if (!nodeCacheHome(NEWEST_SUPPORTED_MAJOR)) {
    process.stderr.write(unsupportedNodeMessage());
    return;
  }
  process.stderr.write(
    `annunciator: Node.js ${process.version} is not supported (${describeSupportedNode()}): fetching Node.js ${NEWEST_SUPPORTED_MAJOR} ` +
      `from the npm registry for npm start and npm test (once; your system's Node is left alone) ...\n`,
  );
  const fetched = spawnSync('bash', [join(root, 'scripts', 'node-major.sh'), String(NEWEST_SUPPORTED_MAJOR)], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (fetched.status === 0) process.stderr.write(`annunciator: Node.js ${NEWEST_SUPPORTED_MAJOR} is in ${fetched.stdout.trim()}\n`);
  // The dependencies and dist/ are installed all the same: say what is missing, not fail the install.
  else process.stderr.write(`annunciator: fetching Node.js ${NEWEST_SUPPORTED_MAJOR} failed (above).\n${unsupportedNodeMessage()}`);
}

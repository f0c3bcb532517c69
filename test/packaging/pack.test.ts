import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { parse, stringify } from 'yaml';
import { sendAsDevice } from '../helpers/device-client.js';
import { freePort } from '../helpers/free-port.js';
import { eventually, testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * The npm package as a user gets it: `npm pack`, then `npm install --omit=dev` of the tarball
 * into an empty folder, then the installed command: `--version`, `check` of the shipped
 * configuration, and a mail through the embedded default on a real SMTP socket, stored as
 * an .eml file by its file account.
 *
 * Slow on purpose (about a minute on 2 cores): `npm pack` compiles dist/ with tsc, and npm
 * resolves and unpacks ~130 packages. Nothing is compiled: SQLite is Node's own (node:sqlite).
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** npm and the installed command run on the Node running this test. */
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, PATH, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

function ok(result: Run, what: string): Run {
  assert.equal(result.code, 0, `${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

describe('the npm package, packed and installed into an empty folder', { timeout: 600_000 }, () => {
  const dir = testDir('annunciator-pack-');
  let tarball = '';
  let files: string[] = [];
  const npmCommon = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

  before(async () => {
    const packed = ok(await run('npm', ['pack', '--json', '--pack-destination', dir.path], { cwd: REPO_ROOT }), 'npm pack');
    const report = (JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    tarball = join(dir.path, report.filename);
    files = report.files.map((f) => f.path).sort();
  });
  after(() => dir.remove());

  it('holds dist/, the migrations, configuration, rules, templates and the systemd unit: no tests, benches, sources or source maps', () => {
    for (const required of ['package.json', 'README.md', 'npm-shrinkwrap.json', 'dist/cli/main.js', 'dist/store/sqlite/migrations/0001-inbox-outbox.sql', 'dist/api/console/assets/index.html', 'dist/api/console/assets/app.js', 'dist/api/console/assets/console.css', 'config/annunciator.yaml', 'config/examples/production.yaml', 'rules/ups.yaml', 'rules/rules.schema.json', 'templates/default/subject.hbs', 'packaging/annunciator.service']) {
      assert.ok(files.includes(required), `${required} is in the package`);
    }
    if (existsSync(join(REPO_ROOT, 'CHANGELOG.md'))) assert.ok(files.includes('CHANGELOG.md'), 'the CHANGELOG is in the package');
    for (const backend of ['sqlite', 'postgres']) {
      const migrations = readdirSync(join(REPO_ROOT, 'src/store', backend, 'migrations')).filter((f) => f.endsWith('.sql'));
      assert.ok(migrations.length > 0);
      for (const m of migrations) assert.ok(files.includes(`dist/store/${backend}/migrations/${m}`), `${backend} migration ${m} is in the package`);
    }
    const unwanted = files.filter((f) => /^(test|bench|src|scripts|docs|\.ci|node_modules)\//.test(f) || /\.(ts|map)$/.test(f) || /^(tsconfig.*\.json|package-lock\.json|\.gitignore)$/.test(f));
    assert.deepEqual(unwanted, []);
    // A bound that catches a stray folder packed by mistake (the console's assets are 16 files).
    assert.ok(files.length < 350, `${files.length} files`);
  });

  it('installs with --omit=dev; the command prints its version, checks the shipped configuration and takes a mail', async () => {
    const app = join(dir.path, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "private": true }\n');
    ok(await run('npm', ['install', '--omit=dev', ...npmCommon, tarball], { cwd: app }), 'npm install --omit=dev of the tarball');
    const installed = join(app, 'node_modules', 'annunciator');
    assert.equal(existsSync(join(app, 'node_modules', 'typescript')), false, 'no dev dependency installed');
    const annunciator = join(app, 'node_modules', '.bin', 'annunciator');

    const version = ok(await run(annunciator, ['--version'], { cwd: app }), '--version');
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    const shipped = join(installed, 'config', 'annunciator.yaml');
    const checked = ok(await run(annunciator, ['--config', shipped, 'check'], { cwd: app }), 'check of the shipped configuration');
    assert.match(checked.stdout, /annunciator\.yaml: OK/);
    assert.match(checked.stdout, new RegExp(`rules: \\d+ from ${installed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/rules`));

    // The embedded default as shipped, but on a free port and with its data outside the package.
    const port = await freePort();
    const config = parse(readFileSync(shipped, 'utf8')) as Record<string, Record<string, unknown> & { accounts?: Array<Record<string, unknown>> }> & { listeners: Array<Record<string, unknown>>; delivery: { accounts: Array<Record<string, unknown>> } };
    config.listeners[0]!.port = port;
    const httpPort = await freePort();
    config.http = { listen: { address: '127.0.0.1', port: httpPort } };
    config.gateway!.dataDir = join(dir.path, 'data');
    config.alarms!.rulesDir = join(installed, 'rules');
    config.alarms!.templatesDir = join(installed, 'templates');
    config.log = { level: 'info', format: 'json' };
    const outboxFiles = join(dir.path, 'outbox-files');
    config.delivery.accounts[0]!.directory = outboxFiles;
    const configFile = dir.write('annunciator.yaml', stringify(config));

    const { MALLOC_ARENA_MAX: _notFromHere, ...environment } = process.env;
    const gateway = spawn(annunciator, ['--config', configFile, 'start'], { cwd: app, env: { ...environment, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
    try {
      gateway.stdout.on('data', (c: Buffer) => logs.push(c.toString()));
      gateway.stderr.on('data', (c: Buffer) => logs.push(c.toString()));
      await eventually(() => logs.join('').includes('gateway started') || gateway.exitCode !== null, 30_000, 'the installed gateway to start');
      assert.equal(gateway.exitCode, null, logs.join(''));
      assert.doesNotMatch(logs.join(''), /ExperimentalWarning/, 'node:sqlite\'s warning is not printed');
      const started = logs.join('').split('\n').find((line) => line.includes('gateway started'));
      assert.deepEqual((JSON.parse(started!) as { accounts: string[] }).accounts, [`${config.delivery.accounts[0]!.name as string} (files in ${outboxFiles})`], 'the first line says where notifications go');
      // The command's first line gives node its environment and flags (env execs node: same process).
      const environ = readFileSync(`/proc/${gateway.pid}/environ`, 'latin1').split('\0');
      const argv = readFileSync(`/proc/${gateway.pid}/cmdline`, 'latin1').split('\0');
      assert.ok(environ.includes('MALLOC_ARENA_MAX=2'), 'two malloc arenas');
      assert.ok(argv.includes('--max-semi-space-size=8'), argv.join(' '));

      const mail = Buffer.from('From: ups-hall2@plant.local\r\nTo: anna.berger@example.com\r\nSubject: UPS Hall 2: On battery power\r\n\r\nThe UPS switched to battery.\r\nCode: 0x0042\r\n');
      const sent = await sendAsDevice({ port, mailFrom: 'ups-hall2@plant.local', rcptTo: ['anna.berger@example.com'], data: mail });
      assert.match(sent.dataReply ?? '', /^250 /, sent.replies.join(' | '));

      const eml = await eventually(() => (existsSync(outboxFiles) ? readdirSync(outboxFiles).find((f) => f.endsWith('.eml')) : undefined), 20_000, 'the notification file');
      const notification = await simpleParser(readFileSync(join(outboxFiles, eml)));
      assert.match(notification.subject ?? '', /On battery power/);
      assert.match(notification.subject ?? '', /UPS Hall 2/);
      // The shipped rule ups-on-battery routes it to the facility team (and at night also to on-call).
      const to = notification.to && !Array.isArray(notification.to) ? notification.to.value.map((a) => a.address) : [];
      assert.ok(to.includes('facility@example.com'), to.join(', '));

      const alarms = ok(await run(annunciator, ['--config', configFile, 'alarms', '--json'], { cwd: app }), 'alarms --json');
      const listed = JSON.parse(alarms.stdout) as Array<{ device: { id: string }; severity: string }>;
      assert.deepEqual(
        listed.map((a) => [a.device.id, a.severity]),
        [['ups-hall2', 'major']],
      );

      // The installed package serves the API (no login on loopback) and the operator's endpoints.
      const apiAlarms = await fetch(`http://127.0.0.1:${httpPort}/api/v1/whoami`);
      assert.equal(apiAlarms.status, 200);
      assert.equal(((await apiAlarms.json()) as { name: string }).name, 'local');
      assert.equal((await fetch(`http://127.0.0.1:${httpPort}/-/healthy`)).status, 200);
    } finally {
      if (gateway.exitCode === null) gateway.kill('SIGTERM');
    }
    assert.equal(await exited, 0, logs.join(''));
  });

  it('npm ci --omit=dev in a checkout keeps the dist/ built before instead of failing for want of TypeScript', async () => {
    const checkout = join(dir.path, 'checkout');
    mkdirSync(checkout);
    for (const file of ['package.json', 'package-lock.json', 'scripts', 'dist']) cpSync(join(REPO_ROOT, file), join(checkout, file), { recursive: true });
    const installed = ok(await run('npm', ['ci', '--omit=dev', '--foreground-scripts', ...npmCommon], { cwd: checkout }), 'npm ci --omit=dev');
    assert.match(installed.stderr, /TypeScript is not installed \(npm ci --omit=dev\): keeping the dist\/ built before/);
    const version = ok(await run(process.execPath, [join(checkout, 'dist/cli/main.js'), '--version'], { cwd: checkout }), '--version from the checkout');
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });
});

describe('scripts/build.mjs without TypeScript', () => {
  const dir = testDir('annunciator-build-');
  after(() => dir.remove());

  /** package.json and the script, with no node_modules: as after `npm ci --omit=dev`. */
  function checkout(withDist: boolean): string {
    const root = join(dir.path, withDist ? 'with-dist' : 'without-dist');
    mkdirSync(join(root, 'scripts'), { recursive: true });
    cpSync(join(REPO_ROOT, 'scripts', 'build.mjs'), join(root, 'scripts', 'build.mjs'));
    writeFileSync(join(root, 'package.json'), '{ "name": "x", "private": true, "type": "module" }\n');
    if (withDist) {
      mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
      writeFileSync(join(root, 'dist', 'cli', 'main.js'), '');
    }
    return root;
  }

  it('prepare with no dist/ fails and says what to run', async () => {
    const root = checkout(false);
    const result = await run(process.execPath, ['scripts/build.mjs', '--prepare'], { cwd: root, env: { npm_command: 'ci' } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot build dist\/: TypeScript \(a dev dependency\) is not installed/);
    assert.match(result.stderr, /run `npm ci` \(with dev dependencies\) first/);
  });

  it('packing never ships an old dist/: without TypeScript it fails even when dist/ exists', async () => {
    const root = checkout(true);
    const result = await run(process.execPath, ['scripts/build.mjs', '--prepare'], { cwd: root, env: { npm_command: 'pack' } });
    assert.equal(result.code, 1);
    assert.ok(existsSync(join(root, 'dist', 'cli', 'main.js')));
  });

  it('npm run build without TypeScript fails', async () => {
    const result = await run(process.execPath, ['scripts/build.mjs'], { cwd: checkout(true), env: { npm_command: 'run-script' } });
    assert.equal(result.code, 1);
  });
});

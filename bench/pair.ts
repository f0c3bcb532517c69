/**
 * One gateway on SQLite, one on PostgreSQL, and two on one PostgreSQL database: N alarm
 * mails (the Postfix harness's load generator, one connection per mail, split over the
 * gateways) into `annunciator start` processes (the shipped alarm configuration, flood
 * control off: one notification per mail) delivering to the harness's counting sink.
 * Reports accepted and delivered msg/s per system and the ratios, per interleaved round.
 * Not a test; `npm run bench:pair -- --help`.
 *
 * PostgreSQL: the server the tests use (ANNUNCIATOR_TEST_POSTGRES or 127.0.0.1:5432), a
 * database of its own per run. The gateways run from src/ through tsx, as the tests do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePort } from '../test/helpers/free-port.js';
import { REPO_ROOT, spawnGateway, type GatewayProcess } from '../test/helpers/gateway-process.js';
import { testDir } from '../test/helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/postgres.js';

const USAGE = 'usage: npm run bench:pair -- [--messages N] [--concurrency C] [--rounds R] [--systems sqlite,pg,pg-pair]';
const HARNESS = join(REPO_ROOT, 'bench/postfix');

type System = 'sqlite' | 'pg' | 'pg-pair';

interface Result {
  system: System;
  round: number;
  acceptedPerS: number;
  deliveredPerS: number;
  errors: number;
}

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
    systems: { type: 'string', default: 'sqlite,pg,pg-pair' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const MESSAGES = Number(values.messages);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const SYSTEMS = values.systems.split(',') as System[];

function run(command: string, args: string[]): ChildProcess {
  return spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null) await once(child, 'exit');
}

async function measure(system: System, round: number): Promise<Result> {
  const dir = testDir('annunciator-bench-pair-');
  const gateways: GatewayProcess[] = [];
  let db: TestDatabase | undefined;
  const sinkPort = await freePort();
  const sinkLog = join(dir.path, 'sink.log');
  const sink = run(process.execPath, [join(HARNESS, 'sink.mjs'), '--port', String(sinkPort), '--log', sinkLog, '--ready', join(dir.path, 'sink.ready')]);
  try {
    while (!existsSync(join(dir.path, 'sink.ready'))) await new Promise((resolve) => setTimeout(resolve, 20));
    if (system !== 'sqlite') db = await createTestDatabase();
    const count = system === 'pg-pair' ? 2 : 1;
    const ports: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const port = await freePort();
      const file = join(dir.path, `gw${i}.yaml`);
      const generated = run(process.execPath, [join(HARNESS, 'gateway-config.mjs'), 'alarm', REPO_ROOT, file, join(dir.path, `data${i}`), String(port), String(sinkPort), '10']);
      await exited(generated);
      const config = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      config.log = { level: 'info', format: 'json' };
      if (db) {
        const { user, port: dbPort, host, database } = db.connection();
        config.store = { ...(config.store as object), url: `postgres://${user}@${host}:${dbPort}/${database}`, security: 'none' };
        config.gateway = { ...(config.gateway as object), name: `gw${i}` };
      }
      writeFileSync(file, stringify(config));
      // One after the other: the first creates the schema.
      gateways.push(await spawnGateway(file));
      ports.push(port);
    }
    const started = process.hrtime.bigint();
    const loads = ports.map((port, i) => {
      const out = join(dir.path, `load${i}.json`);
      const child = run(process.execPath, [join(HARNESS, 'loadgen.mjs'), '--port', String(port), '-n', String(MESSAGES / count), '-c', String(CONCURRENCY / count), '--run', `r${round}g${i}`, '--out', out]);
      return exited(child).then(() => out);
    });
    const outs = await Promise.all(loads);
    const acceptedAt = process.hrtime.bigint();
    let errors = 0;
    for (const out of outs) errors += (JSON.parse(readFileSync(out, 'utf8')) as { errorCount?: number }).errorCount ?? 0;
    const delivered = () => (existsSync(sinkLog) ? readFileSync(sinkLog, 'utf8').split('\n').filter(Boolean).length : 0);
    const deadline = Date.now() + 120_000;
    while (delivered() < MESSAGES - errors && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = readFileSync(sinkLog, 'utf8').split('\n').filter(Boolean);
    const last = lines.map((l) => BigInt(l.split(' ')[2]!)).reduce((a, b) => (a > b ? a : b), started);
    const seconds = (ns: bigint) => Number(ns) / 1e9;
    return { system, round, acceptedPerS: (MESSAGES - errors) / seconds(acceptedAt - started), deliveredPerS: lines.length / seconds(last - started), errors };
  } finally {
    for (const g of gateways) {
      g.child.kill('SIGTERM');
      await g.exited;
    }
    sink.kill('SIGTERM');
    await exited(sink);
    await db?.drop();
    dir.remove();
  }
}

const results: Result[] = [];
for (let round = 1; round <= ROUNDS; round += 1) {
  for (const system of SYSTEMS) {
    const result = await measure(system, round);
    results.push(result);
    console.error(`round ${round} ${system}: accepted ${result.acceptedPerS.toFixed(0)} msg/s, delivered ${result.deliveredPerS.toFixed(0)} msg/s, errors ${result.errors}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const of = (system: System, key: 'acceptedPerS' | 'deliveredPerS') => median(results.filter((r) => r.system === system).map((r) => r[key]));
console.log(`# ${MESSAGES} alarm mails, C=${CONCURRENCY}, ${ROUNDS} round(s), ${cpus().length} cores (medians)\n`);
console.log('| system | accepted msg/s | delivered msg/s |\n|---|---|---|');
for (const system of SYSTEMS) console.log(`| ${system} | ${of(system, 'acceptedPerS').toFixed(0)} | ${of(system, 'deliveredPerS').toFixed(0)} |`);
const ratio = (a: System, b: System, key: 'acceptedPerS' | 'deliveredPerS') => (of(a, key) / of(b, key)).toFixed(2);
if (SYSTEMS.includes('pg') && SYSTEMS.includes('sqlite')) console.log(`\npg ÷ sqlite: accepted ${ratio('pg', 'sqlite', 'acceptedPerS')}, delivered ${ratio('pg', 'sqlite', 'deliveredPerS')}`);
if (SYSTEMS.includes('pg-pair') && SYSTEMS.includes('pg')) console.log(`pg-pair ÷ pg: accepted ${ratio('pg-pair', 'pg', 'acceptedPerS')}, delivered ${ratio('pg-pair', 'pg', 'deliveredPerS')}`);

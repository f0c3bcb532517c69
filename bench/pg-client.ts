/**
 * Which PostgreSQL client for the store: `pg` (node-postgres) or `postgres` (porsager)?
 * Not a test; run `node --import tsx bench/pg-client.ts --help`.
 *
 * Our pattern, against a throwaway database on the local server: `--concurrency` workers
 * (10), each running transactions one after another on a pooled connection of its own:
 *
 *  - pipeline: BEGIN; advisory xact lock on the fingerprint; SELECT the active alarm FOR
 *    UPDATE; upsert the alarm (json document); INSERT a history line; INSERT an outbox row
 *    (1 KiB bytea); UPDATE the received row; COMMIT. Seven statements, each awaited
 *    before the next, as the repositories issue them.
 *  - accept: BEGIN; INSERT 1 received row (2 KiB bytea); COMMIT: the inbox hand-off.
 *
 * Prepared statements on both (pg: named queries; postgres: its default `prepare: true`).
 * The clients take turns, `--rounds` times, so a change in the machine's load hits both.
 * Reports transactions per second, p50/p99 latency and this process's CPU time per
 * transaction (the gateway shares 2 cores with its delivery thread) per client and pattern.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { percentile, positiveInt } from './bench-kit.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    concurrency: { type: 'string', default: '10' },
    transactions: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('bench/pg-client.ts [--url postgres://postgres@127.0.0.1:5432/postgres] [--concurrency 10] [--transactions 2000] [--rounds 3]\n');
  process.exit(0);
}
const concurrency = positiveInt('concurrency', args.concurrency!);
const transactions = positiveInt('transactions', args.transactions!);
const rounds = positiveInt('rounds', args.rounds!);

const SCHEMA = [
  `CREATE TABLE received (id text PRIMARY KEY, received_at bigint NOT NULL, raw bytea NOT NULL, state text NOT NULL DEFAULT 'new', processed_at bigint)`,
  `CREATE TABLE alarms (id text PRIMARY KEY, fingerprint text NOT NULL, state text NOT NULL, last_seen bigint NOT NULL, data json NOT NULL)`,
  `CREATE UNIQUE INDEX alarms_one_active ON alarms (fingerprint) WHERE state = 'active'`,
  `CREATE TABLE alarm_log (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, alarm_id text, received_id text NOT NULL, at bigint NOT NULL, outcome text NOT NULL, reason text NOT NULL)`,
  `CREATE TABLE outbox (id text PRIMARY KEY, alarm_id text, created_at bigint NOT NULL, recipients jsonb NOT NULL, message bytea NOT NULL, status text NOT NULL)`,
];

const SQL = {
  lock: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
  active: `SELECT data FROM alarms WHERE fingerprint = $1 AND state = 'active' FOR UPDATE`,
  save: `INSERT INTO alarms (id, fingerprint, state, last_seen, data) VALUES ($1, $2, 'active', $3, $4) ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, data = excluded.data`,
  log: `INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES ($1, $2, $3, $4, $5)`,
  outbox: `INSERT INTO outbox (id, alarm_id, created_at, recipients, message, status) VALUES ($1, $2, $3, $4, $5, 'pending')`,
  complete: `UPDATE received SET state = 'processed', processed_at = $1 WHERE id = $2 AND state = 'new'`,
  accept: `INSERT INTO received (id, received_at, raw) VALUES ($1, $2, $3)`,
};

const mail = randomBytes(2048);
const notification = randomBytes(1024);
const alarmDoc = (n: number): string => JSON.stringify({ id: `A${n % 50}`, fingerprint: `fp-${n % 50}`, title: 'Tank 3 level high', count: n, fields: { line: '4', zone: 'B' } });

interface Client {
  name: string;
  pipeline(n: number, run: string): Promise<void>;
  accept(n: number, run: string): Promise<void>;
  close(): Promise<void>;
}

function pgClient(url: string): Client {
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  const q = (client: pg.PoolClient, name: keyof typeof SQL, values: unknown[]) => client.query({ name, text: SQL[name], values });
  const inTransaction = async (fn: (client: pg.PoolClient) => Promise<void>): Promise<void> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await fn(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  };
  return {
    name: 'pg',
    pipeline: (n, run) =>
      inTransaction(async (c) => {
        const fp = `fp-${n % 50}`;
        await q(c, 'lock', [fp]);
        await q(c, 'active', [fp]);
        await q(c, 'save', [`${run}-A${n % 50}`, `${run}-${fp}`, n, alarmDoc(n)]);
        await q(c, 'log', [`A${n % 50}`, `${run}-r${n}`, n, 'repeat-folded', 'repeat within the window']);
        await q(c, 'outbox', [`${run}-o${n}`, `A${n % 50}`, n, JSON.stringify(['ops@example.com']), notification]);
        await q(c, 'complete', [n, `${run}-r${n}`]);
      }),
    accept: (n, run) => inTransaction(async (c) => void (await q(c, 'accept', [`${run}-r${n}`, n, mail]))),
    close: () => pool.end(),
  };
}

function postgresClient(url: string): Client {
  const sql = postgres(url, { max: concurrency, prepare: true, onnotice: () => undefined });
  return {
    name: 'postgres',
    pipeline: async (n, run) => {
      await sql.begin(async (tx) => {
        const fp = `fp-${n % 50}`;
        await tx.unsafe(SQL.lock, [fp], { prepare: true });
        await tx.unsafe(SQL.active, [fp], { prepare: true });
        await tx.unsafe(SQL.save, [`${run}-A${n % 50}`, `${run}-${fp}`, n, alarmDoc(n)], { prepare: true });
        await tx.unsafe(SQL.log, [`A${n % 50}`, `${run}-r${n}`, n, 'repeat-folded', 'repeat within the window'], { prepare: true });
        await tx.unsafe(SQL.outbox, [`${run}-o${n}`, `A${n % 50}`, n, JSON.stringify(['ops@example.com']), notification], { prepare: true });
        await tx.unsafe(SQL.complete, [n, `${run}-r${n}`], { prepare: true });
      });
    },
    accept: async (n, run) => {
      await sql.begin(async (tx) => void (await tx.unsafe(SQL.accept, [`${run}-r${n}`, n, mail], { prepare: true })));
    },
    close: () => sql.end(),
  };
}

/** `count` transactions by `concurrency` workers; transactions per second and latencies. */
async function measure(fn: (n: number) => Promise<void>, count: number): Promise<{ perSecond: number; latencies: number[]; cpuUs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = next++; n < count; n = next++) {
        const t = performance.now();
        await fn(n);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { perSecond: (count / (performance.now() - started)) * 1000, latencies: latencies.sort((a, b) => a - b), cpuUs: (used.user + used.system) / count };
}

const admin = new pg.Client({ connectionString: args.url });
await admin.connect();
const database = `annunciator_bench_${randomBytes(4).toString('hex')}`;
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(args.url!);
url.pathname = `/${database}`;
const results = new Map<string, { perSecond: number[]; latencies: number[]; cpuUs: number[] }>();
try {
  const setup = new pg.Client({ connectionString: url.href });
  await setup.connect();
  for (const statement of SCHEMA) await setup.query(statement);
  await setup.end();
  const clients = [pgClient(url.href), postgresClient(url.href)];
  // Warm-up: connections opened, statements prepared, JIT warm.
  for (const client of clients) {
    await measure((n) => client.accept(n, `warm-${client.name}`), 200);
    await measure((n) => client.pipeline(n, `warm-${client.name}`), 200);
  }
  for (let round = 0; round < rounds; round += 1) {
    for (const client of round % 2 === 0 ? clients : [...clients].reverse()) {
      for (const pattern of ['accept', 'pipeline'] as const) {
        const run = `${client.name}-${round}`;
        const m = await measure((n) => client[pattern](n, run), transactions);
        const key = `${client.name} ${pattern}`;
        const r = results.get(key) ?? { perSecond: [], latencies: [], cpuUs: [] };
        r.perSecond.push(m.perSecond);
        r.latencies.push(...m.latencies);
        r.cpuUs.push(m.cpuUs);
        results.set(key, r);
      }
    }
  }
  for (const client of clients) await client.close();
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

const server = `${url.hostname}:${url.port || 5432}`;
process.stdout.write(`PostgreSQL on ${server}, ${concurrency} concurrent, ${transactions} transactions x ${rounds} rounds per client and pattern\n`);
process.stdout.write(`${'client pattern'.padEnd(20)} ${'tx/s (median round)'.padStart(20)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'client CPU µs/tx'.padStart(17)}\n`);
for (const [key, r] of [...results].sort()) {
  const perSecond = median(r.perSecond);
  r.latencies.sort((a, b) => a - b);
  process.stdout.write(`${key.padEnd(20)} ${perSecond.toFixed(0).padStart(20)} ${percentile(r.latencies, 50).toFixed(2).padStart(8)} ${percentile(r.latencies, 99).toFixed(2).padStart(8)} ${median(r.cpuUs).toFixed(0).padStart(17)}\n`);
}

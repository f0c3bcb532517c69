/**
 * SQLite driver micro-benchmark: node:sqlite (built into Node >= 22.13, the store's driver
 * since it replaced better-sqlite3), bare and through the store's connection module
 * (src/store/sqlite/connection.ts), against better-sqlite3 (a native addon that compiles
 * SQLite at install time) when it is installed: `npm i --no-save better-sqlite3` adds it
 * for a run. Not a test; run `node --import tsx bench/sqlite-driver.ts [--mails N] [--rounds R]`.
 *
 * The store's pattern, on a real file in WAL mode, statements prepared once, one connection:
 * per mail
 *   1. accept:  BEGIN IMMEDIATE; INSERT received (1.5 KiB raw); COMMIT
 *   2. process: BEGIN IMMEDIATE; SELECT the received row; SELECT the active alarm by
 *               fingerprint; INSERT alarm, alarm_log, outbox (2 KiB message); UPDATE
 *               received; COMMIT
 *   3. deliver: BEGIN IMMEDIATE; SELECT the due outbox row; UPDATE it sent; COMMIT
 * so 3 transactions and 9 statements a mail. Each is run with synchronous=NORMAL (the store's
 * setting since its WAL is flushed outside the commit, src/store/sqlite/wal-sync.ts: no fsync
 * in a commit, so this is what the driver and SQLite cost) and synchronous=FULL (every commit
 * fsyncs: then the disk dominates), then 20,000 point reads of a received row. The drivers take turns
 * per round, so the machine's load (shared) hits both alike. Prints mails/s, µs per mail and
 * µs per read (medians of the rounds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeSqlite, SqliteConnection } from '../src/store/sqlite/connection.js';

const { values: args } = parseArgs({ options: { mails: { type: 'string', default: '2000' }, 'full-mails': { type: 'string', default: '200' }, rounds: { type: 'string', default: '5' }, help: { type: 'boolean' } } });
if (args.help) {
  process.stdout.write('node --import tsx bench/sqlite-driver.ts [--mails N (2000, synchronous=NORMAL)] [--full-mails N (200, synchronous=FULL)] [--rounds R (5)]\n');
  process.exit(0);
}
/** Mails per run: fewer with synchronous=FULL, where three fsyncs a mail take milliseconds. */
const MAILS = { NORMAL: Number(args.mails), FULL: Number(args['full-mails']) };
const ROUNDS = Number(args.rounds);
const READS = 20_000;

/** What the drivers offer, reduced to what the store uses. */
interface Statement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}
interface Connection {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
  sqliteVersion(): string;
}
interface Native {
  exec(sql: string): unknown;
  prepare(sql: string): Statement;
  close(): unknown;
}

function connection(db: Native): Connection {
  return {
    exec: (sql) => void db.exec(sql),
    prepare: (sql) => db.prepare(sql),
    close: () => void db.close(),
    sqliteVersion: () => (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
  };
}

/** better-sqlite3 when installed (no longer a dependency), else why not. */
async function betterSqlite3(): Promise<((file: string) => Connection) | string> {
  try {
    // Not a dependency, so untyped: the constructor is all this uses.
    const module = (await import('better-sqlite3' as string)) as { default: new (file: string) => Native };
    return (file) => connection(new module.default(file));
  } catch (error) {
    return `better-sqlite3 is not installed (${(error as Error).message.split('\n')[0]}); to compare, add it for a run with \`npm i --no-save better-sqlite3\` (compiles SQLite where no prebuilt binary downloads)`;
  }
}

const SCHEMA = `
CREATE TABLE received (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, mail_from TEXT, rcpt_to TEXT NOT NULL, raw BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'new', processed_at INTEGER);
CREATE INDEX received_state ON received(state, received_at);
CREATE TABLE alarms (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, data TEXT NOT NULL);
CREATE UNIQUE INDEX alarms_one_active ON alarms(fingerprint) WHERE state = 'active';
CREATE TABLE alarm_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id TEXT, received_id TEXT NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE outbox (id TEXT PRIMARY KEY, received_id TEXT, alarm_id TEXT, created_at INTEGER NOT NULL, recipients TEXT NOT NULL, message BLOB NOT NULL, status TEXT NOT NULL, next_attempt_at INTEGER NOT NULL, sent_at INTEGER);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
`;

const RAW = Buffer.alloc(1536, 'Subject: Motor M3 overtemperature\r\n');
const MESSAGE = Buffer.alloc(2048, 'To: oncall@example.com\r\n');

/** Runs the pattern on a fresh file, then READS point reads; seconds taken by each. */
function runPattern(open: (file: string) => Connection, synchronous: 'FULL' | 'NORMAL'): { written: number; read: number } {
  const mails = MAILS[synchronous];
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-sqlite-bench-'));
  const db = open(join(dir, 'bench.db'));
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${synchronous}`);
    db.exec(SCHEMA);
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const insertReceived = db.prepare('INSERT INTO received (id, received_at, mail_from, rcpt_to, raw) VALUES (?, ?, ?, ?, ?)');
    const getReceived = db.prepare('SELECT id, raw, mail_from, rcpt_to FROM received WHERE id = ?');
    const activeAlarm = db.prepare("SELECT id, data FROM alarms WHERE fingerprint = ? AND state = 'active'");
    const insertAlarm = db.prepare("INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data) VALUES (?, ?, 'active', ?, ?, ?)");
    const insertLog = db.prepare('INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, ?, ?)');
    const insertOutbox = db.prepare("INSERT INTO outbox (id, received_id, alarm_id, created_at, recipients, message, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)");
    const completeReceived = db.prepare("UPDATE received SET state = 'processed', processed_at = ? WHERE id = ? AND state = 'new'");
    const dueOutbox = db.prepare("SELECT id, message FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1");
    const markSent = db.prepare("UPDATE outbox SET status = 'sent', sent_at = ? WHERE id = ?");
    const started = process.hrtime.bigint();
    for (let i = 0; i < mails; i += 1) {
      const now = 1_700_000_000_000 + i;
      const id = `r${i}`;
      begin.run();
      insertReceived.run(id, now, 'plc@plant.local', '["oncall@example.com"]', RAW);
      commit.run();

      begin.run();
      getReceived.get(id);
      activeAlarm.get(`fp${i}`);
      insertAlarm.run(`a${i}`, `fp${i}`, now, now, '{"title":"Motor M3 overtemperature","severity":"critical"}');
      insertLog.run(`a${i}`, id, now, 'notified', 'routed by rule motors');
      insertOutbox.run(`o${i}`, id, `a${i}`, now, '["oncall@example.com"]', MESSAGE, now);
      completeReceived.run(now, id);
      commit.run();

      begin.run();
      const due = dueOutbox.get(now) as { id: string } | undefined;
      if (due) markSent.run(now, due.id);
      commit.run();
    }
    const written = Number(process.hrtime.bigint() - started) / 1e9;
    // Point reads by primary key with a blob, as the pipeline reads a received mail: the
    // driver's own cost per call, with nothing to write.
    const readStarted = process.hrtime.bigint();
    for (let i = 0; i < READS; i += 1) getReceived.get(`r${i % mails}`);
    return { written, read: Number(process.hrtime.bigint() - readStarted) / 1e9 };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const { DatabaseSync } = nodeSqlite();
const drivers: Array<{ name: string; open: (file: string) => Connection }> = [
  { name: 'node:sqlite', open: (file) => connection(new DatabaseSync(file) as Native) },
  { name: 'connection.ts', open: (file) => connection(SqliteConnection.open(file)) },
];
const better = await betterSqlite3();
if (typeof better === 'string') process.stdout.write(`${better}: node:sqlite only\n`);
else drivers.unshift({ name: 'better-sqlite3', open: better });

process.stdout.write(`Node ${process.version}, ${MAILS.NORMAL} mails (synchronous=NORMAL) and ${MAILS.FULL} (FULL) x ${ROUNDS} rounds, 3 transactions and 9 statements a mail\n`);
for (const driver of drivers) {
  const probe = driver.open(':memory:');
  process.stdout.write(`  ${driver.name}: SQLite ${probe.sqliteVersion()}\n`);
  probe.close();
}
const reads = new Map<string, number[]>(drivers.map((d) => [d.name, []]));
for (const synchronous of ['NORMAL', 'FULL'] as const) {
  const seconds = new Map<string, number[]>(drivers.map((d) => [d.name, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const driver of round % 2 === 0 ? drivers : [...drivers].reverse()) {
      const { written, read } = runPattern(driver.open, synchronous);
      seconds.get(driver.name)!.push(written);
      reads.get(driver.name)!.push(read);
    }
  }
  process.stdout.write(`synchronous=${synchronous}\n`);
  for (const driver of drivers) {
    const s = median(seconds.get(driver.name)!);
    process.stdout.write(`  ${driver.name.padEnd(15)} ${(MAILS[synchronous] / s).toFixed(0).padStart(7)} mails/s  ${((s / MAILS[synchronous]) * 1e6).toFixed(0).padStart(6)} µs/mail  rounds: ${seconds.get(driver.name)!.map((x) => x.toFixed(2)).join(' ')} s\n`);
  }
}
process.stdout.write(`point reads (SELECT a received row with its 1.5 KiB raw by id, ${READS} a run)\n`);
for (const driver of drivers) {
  const s = median(reads.get(driver.name)!);
  process.stdout.write(`  ${driver.name.padEnd(15)} ${((s / READS) * 1e6).toFixed(2).padStart(7)} µs/read\n`);
}

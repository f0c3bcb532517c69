/**
 * Store write-amplification benchmark for large mails. Not a test; run
 * `node --import tsx bench/store-blobs.ts [--mails N] [--sizes 1024,102400] [--rounds R]`.
 *
 * One mail's way through the SQLite store, as the gateway does it, one transaction each:
 *   1. accept   (store.accept: INSERT received with the raw mail)
 *   2. process  (inbox.complete + outbox.insert of a message the size of the mail)
 *   3. claim    (outbox.claimDue)
 *   4. sent     (outbox.markSent)
 * Per size: WAL bytes written per mail (per step and in all) and wall / CPU time per mail
 * (each commit flushed to the disk, as in the gateway). Two passes a round: the WAL bytes
 * are its growth while a second connection holds a read transaction opened on an emptied
 * WAL (a checkpoint cannot restart the WAL under a reader, so every frame a commit writes
 * lands at its end); the times come from a pass without that reader, with the checkpoints
 * the gateway has (a WAL pinned to grow makes every page read search a longer WAL index).
 * The sizes take turns per round, so the machine's load (it is shared) hits them alike.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newId } from '../src/base/ids.js';
import type { Received } from '../src/ingest/received.js';
import { SqliteConnection } from '../src/store/sqlite/connection.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { percentile, positiveInt, runBench } from './bench-kit.js';

const { values: args } = parseArgs({ options: { mails: { type: 'string', default: '200' }, sizes: { type: 'string', default: '1024,102400' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean' } } });
if (args.help) {
  process.stdout.write('node --import tsx bench/store-blobs.ts [--mails N (200)] [--sizes bytes,... (1024,102400)] [--rounds R (3)]\n');
  process.exit(0);
}
const MAILS = positiveInt('--mails', args.mails);
const ROUNDS = positiveInt('--rounds', args.rounds);
const SIZES = args.sizes.split(',').map((s) => positiveInt('--sizes', s));
const STEPS = ['accept', 'process', 'claim', 'sent'] as const;
type Step = (typeof STEPS)[number];

interface Round {
  walBytes: Record<Step, number>;
  stepMs: Record<Step, number>;
  wallMs: number;
  cpuMs: number;
}

function received(size: number): Received {
  return {
    id: newId(),
    receivedAt: Date.now(),
    listener: 'bench',
    peer: { address: '127.0.0.1', port: 2525, secure: false },
    envelope: { mailFrom: 'plc@example.test', rcptTo: ['ops@example.test'] },
    raw: Buffer.alloc(size, 'x'),
  };
}

async function pass(size: number, pinned: boolean): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-store-blobs-'));
  const file = join(dir, 'annunciator.db');
  const store = new SqliteStore(file);
  const reader = SqliteConnection.open(file);
  const wal = (): number => statSync(`${file}-wal`).size;
  try {
    // An emptied WAL, then a reader pinning it: from here on the WAL only grows.
    reader.pragma('wal_checkpoint(TRUNCATE)');
    if (pinned) {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM received').get();
    }
    const walBytes: Record<Step, number> = { accept: 0, process: 0, claim: 0, sent: 0 };
    const stepMs: Record<Step, number> = { accept: 0, process: 0, claim: 0, sent: 0 };
    const measured = async (step: Step, fn: () => Promise<unknown>): Promise<void> => {
      const before = wal();
      const t = performance.now();
      await fn();
      stepMs[step] += performance.now() - t;
      walBytes[step] += wal() - before;
    };
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < MAILS; i++) {
      const r = received(size);
      await measured('accept', () => store.accept(r));
      await measured('process', () =>
        store.transaction(async (tx) => {
          await tx.inbox.complete(r.id, Date.now());
          await tx.outbox.insert({ id: newId(), receivedId: r.id, envelopeFrom: 'gw@example.test', recipients: ['ops@example.test'], message: r.raw }, Date.now());
        }),
      );
      let claimed: string[] = [];
      await measured('claim', async () => {
        claimed = (await store.outbox.claimDue(Date.now(), 1)).map((e) => e.id);
      });
      if (claimed.length !== 1) throw new Error(`claimed ${claimed.length} entries, expected 1`);
      await measured('sent', () => store.outbox.markSent(claimed[0]!, Date.now(), 'bench', []));
    }
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { walBytes, stepMs, wallMs, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    if (reader.inTransaction) reader.exec('ROLLBACK');
    reader.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const results = new Map<number, Round[]>(SIZES.map((s) => [s, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const size of SIZES) {
      const { walBytes } = await pass(size, true);
      results.get(size)!.push({ ...(await pass(size, false)), walBytes });
    }
  }
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)}`;
  console.log(`${MAILS} mails a round, ${ROUNDS} rounds (medians); WAL KiB per mail by step`);
  console.log(['size', ...STEPS, 'WAL KiB/mail', 'x size', 'wall ms/mail', 'CPU ms/mail', ...STEPS.map((s) => `${s} ms`)].join('\t'));
  for (const [size, rounds] of results) {
    const median = (f: (r: Round) => number): number => percentile(rounds.map(f).sort((a, b) => a - b), 50);
    const perStep = STEPS.map((s) => median((r) => r.walBytes[s] / MAILS));
    const total = median((r) => STEPS.reduce((n, s) => n + r.walBytes[s], 0) / MAILS);
    console.log([`${kib(size)} KiB`, ...perStep.map(kib), kib(total), (total / size).toFixed(2), median((r) => r.wallMs / MAILS).toFixed(2), median((r) => r.cpuMs / MAILS).toFixed(2), ...STEPS.map((s) => median((r) => r.stepMs[s] / MAILS).toFixed(2))].join('\t'));
  }
  return 0;
}

runBench(main);

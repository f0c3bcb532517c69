/**
 * Store scale benchmark. Not a test; run `npm run bench:scale -- --help`.
 *
 * Does the cost of one alarm through the pipeline stay flat as the store fills up? For
 * each size N (stored alarms, default 1,000 to 1,000,000):
 *
 * 1. Fill: a fresh SQLite store (SqliteStore creates the schema), then N alarms of the
 *    line 4 PLC with their history written straight into the file (node:sqlite) in
 *    large transactions: each alarm with its received mails (processed, ~500 bytes raw),
 *    its alarm_log lines, its notifications (sent; a few failed) and, for some, an
 *    acknowledgement with its announce-ack timer. Most are resolved, some active (2 %, at
 *    least enough for the repeats and clears below), a few active ones muted by a silence.
 *    The rows are cloned from what the real pipeline wrote for one alarm (raise, repeat,
 *    clear) in a seed store, so they are the shape the gateway writes.
 * 2. Pipeline: the real Pipeline with the shipped configuration, rules and templates
 *    (flood control off), built as src/app.ts builds it; new alarm mails, repeats and clears
 *    of stored active alarms accepted into the inbox (store.accept), then processed 32 per
 *    transaction as src/run/inbox-runner.ts does. Per message: pipeline.received's time
 *    (in the transaction, before the commit), and which store calls and stages it spent in.
 * 3. Store queries: what the timer runner and the outbox worker run on every poll, and a
 *    few other reads, before the run (idle) and after it (its notifications pending).
 *
 * Every size's store is filled first and stays open; then the sizes take turns, one
 * transaction (or one query) each, so a change in the machine's load (it is shared) hits
 * all sizes alike.
 *
 * Exits 1 when the median per message at the largest size, of all messages or of one kind
 * (new, repeat, clear), is more than 20 % above the smallest (and says which step grew),
 * so the run can serve as a check. Rendering is most
 * of a message's time: the "store calls" column and the query table show the store alone.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { arch, cpus, loadavg, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { newId } from '../src/base/ids.js';
import type { GatewayConfig } from '../src/config/types.js';
import { GatewayEventBus } from '../src/events.js';
import type { Received } from '../src/ingest/received.js';
import { ackLogReason } from '../src/lifecycle/ack.js';
import type { Alarm, AlarmAck } from '../src/lifecycle/alarm.js';
import { fingerprintOf } from '../src/lifecycle/fingerprint.js';
import { silenceEndsAt, type Silence } from '../src/lifecycle/silence.js';
import { silentLogger } from '../src/log/logger.js';
import type { AlarmEvent } from '../src/parse/alarm-event.js';
import { Effects } from '../src/pipeline/effects.js';
import { isTrace, type PipelineStages } from '../src/pipeline/message.js';
import { Pipeline, type MessageOutcome } from '../src/pipeline/pipeline.js';
import { ConfiguredStages } from '../src/pipeline/stages.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Repositories } from '../src/store/store.js';
import { configFrom, testDir, type TestDir } from '../test/helpers/gateway.js';
import { fileSystemOf, percentile, positiveInt, runBench } from './bench-kit.js';
import { SqliteConnection } from '../src/store/sqlite/connection.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHIPPED_CONFIG = join(REPO_ROOT, 'config/annunciator.yaml');
const SHIPPED_RULES = join(REPO_ROOT, 'rules');
const SHIPPED_TEMPLATES = join(REPO_ROOT, 'templates');

const DEFAULT_SIZES = [1_000, 10_000, 100_000, 1_000_000];
const QUICK_SIZES = [1_000, 100_000];
/** The check: the medians per message (all, and each kind) at the largest size may be at most this much above the smallest. */
const ALLOWED_GROWTH = 1.2;
/** A step "grew" when it did by more than ALLOWED_GROWTH and by at least this many µs per message. */
const STEP_GROWTH_FLOOR_US = 10;

/**
 * The pipeline runs at one fixed instant (Tuesday 24 Nov 2026, 10:15 in Europe/Berlin), so
 * time-of-day rules decide the same at every size; the stored history is the year before.
 */
const NOW = Date.UTC(2026, 10, 24, 9, 15);
const DAY = 86_400_000;
const HISTORY_MS = 365 * DAY;
/** Messages per transaction, as the inbox runner takes them. */
const BATCH = 32;
/** Messages through the pipeline at each size before measuring, so the JIT and caches settle. */
const WARMUP = 256;
/** Calls of each store query per size, idle and after the run. */
const QUERY_ROUNDS = 50;
/** Alarms per fill transaction. */
const FILL_CHUNK = 20_000;
/**
 * A stored notification keeps the first this many bytes of the real one (~6.6 KB, text and
 * HTML): sent notifications are never read again on a hot path, and whole ones would make
 * the 1,000,000-alarm file some 15 GB.
 */
const STORED_NOTIFICATION_BYTES = 600;

const DEVICE_SENDER = 'plc-line4@plant.local';
const DEVICE_RECIPIENT = 'maintenance@example.com';
const PEER = { address: '192.0.2.10', helo: 'plc-line4.plant.local' };
/** Motor numbers: stored alarms are M1..MN; the run's new alarms, the warm-up and the seed have numbers no stored alarm has. */
const NEW_BASE = 50_000_000;
const WARMUP_BASE = 60_000_000;
const SEED_MOTOR = 90_000_000;

/** Every tenth stored alarm was acknowledged (by a link), 3 in 10 had a repeat folded into them, 1 in 1,000 notifications failed for good. */
const isAcked = (i: number): boolean => i % 10 === 3;
const hasRepeat = (i: number): boolean => i % 10 < 3;
const notificationFailed = (i: number): boolean => i % 1000 === 7;
/** One active alarm in this many is muted by the current silence. */
const MUTED_EVERY = 1000;

/**
 * The shipped device map cannot clear a motor alarm by mail (its only pattern raises one).
 * The bench adds one pattern to plc-line4: the same subject with "back to normal" in the
 * body is the return to normal, so a clear has the raise's fingerprint (its title).
 */
const CLEAR_PATTERN = { name: 'bench-motor-back-to-normal', subject: 'Motor (?<motor>M\\d+) overtemperature', body: 'temperature back to normal', set: { state: 'cleared' } };

const USAGE = `usage: npm run bench:scale -- [--sizes 1000,10000,100000,1000000] [--quick] [--new 2000] [--repeats 200] [--clears 200] [--active 0.02] [--dir DIR] [--keep]

  --sizes LIST   stored alarms per run, comma-separated (default ${DEFAULT_SIZES.join(',')})
  --quick        sizes ${QUICK_SIZES.join(',')}
  --new N        new alarm mails measured at each size (default 2000)
  --repeats N    repeats of distinct stored active alarms (default 200)
  --clears N     clears of distinct stored active alarms (default 200)
  --active F     share of stored alarms that are active (default 0.02; at least enough for the repeats and clears)
  --dir DIR      where the store files go (default the system temp directory); deleted at the end
  --keep         keep the store files

Exits 1 when the median per message at the largest size (of all messages, or of new, repeats or clears)
is more than ${Math.round((ALLOWED_GROWTH - 1) * 100)} % above the smallest.`;

interface BenchArgs {
  sizes: number[];
  fresh: number;
  repeats: number;
  clears: number;
  activeShare: number;
  dir: string;
  keep: boolean;
}

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      new: { type: 'string', default: '2000' },
      repeats: { type: 'string', default: '200' },
      clears: { type: 'string', default: '200' },
      active: { type: 'string', default: '0.02' },
      dir: { type: 'string', default: tmpdir() },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const sizes = values.sizes !== undefined ? values.sizes.split(',').map((part) => positiveInt('sizes', part.trim().replace(/_/g, ''))) : values.quick ? QUICK_SIZES : DEFAULT_SIZES;
  const activeShare = Number(values.active);
  if (!(activeShare > 0 && activeShare <= 1)) throw new Error(`--active must be a share between 0 and 1, not ${values.active}`);
  return {
    sizes,
    fresh: positiveInt('new', values.new),
    repeats: positiveInt('repeats', values.repeats),
    clears: positiveInt('clears', values.clears),
    activeShare,
    dir: values.dir,
    keep: values.keep,
  };
}

// ---------------------------------------------------------------------------------------
// Configuration and mails

/** The shipped configuration (devices, receivers, schedules, rules/, templates/) with flood control off and the bench's paths. */
function benchConfig(dir: TestDir): GatewayConfig {
  const shipped = parse(readFileSync(SHIPPED_CONFIG, 'utf8')) as Record<string, unknown>;
  const devices = (shipped.devices as Array<Record<string, unknown>>).map((device) =>
    device.id === 'plc-line4' ? { ...device, patterns: [...((device.patterns as unknown[]) ?? []), CLEAR_PATTERN] } : device,
  );
  const raw = {
    ...shipped,
    gateway: { ...(shipped.gateway as object), dataDir: join(dir.path, 'data') },
    http: { listen: { address: '127.0.0.1', port: 0 } },
    log: { level: 'error', format: 'json' },
    listeners: (shipped.listeners as Array<Record<string, unknown>>).map((listener) => ({ ...listener, port: 0 })),
    // Flood control off: each alarm is one notification, as in bench/pipeline.ts.
    alarms: { ...(shipped.alarms as object), rulesDir: SHIPPED_RULES, templatesDir: SHIPPED_TEMPLATES, watch: false, floodControl: { enabled: false } },
    devices,
    delivery: { accounts: [{ name: 'files', type: 'file', directory: join(dir.path, 'files') }] },
  };
  return configFrom(dir, raw);
}

type MailKind = 'raise' | 'clear';

const title = (motor: number): string => `ALARM Line4 Motor M${motor} overtemperature`;
const FILLER = 'Line 4: check the motor fan and the cabinet filter mat, then reset the fault at the HMI.\r\n';

/** A mail of the line 4 PLC about motor M<motor>, ~500 bytes, as an S7 TMAIL_C block sends it. */
function motorMail(motor: number, kind: MailKind, at: number, seq: number): Buffer {
  const head =
    `From: PLC Line 4 <${DEVICE_SENDER}>\r\nTo: ${DEVICE_RECIPIENT}\r\nSubject: ${title(motor)}\r\nDate: ${new Date(at).toUTCString()}\r\n` +
    `Message-ID: <${motor}.${seq}.${kind}@plc-line4.plant.local>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const first =
    kind === 'raise'
      ? `Motor M${motor} winding temperature ${131 + (motor % 30)} C exceeds limit 130 C.\r\n`
      : `Motor M${motor} winding temperature back to normal, ${90 + (motor % 20)} C.\r\n`;
  let text = `${head}${first}Station: Line4 / Cabinet +A${motor % 40}\r\n`;
  while (text.length < 420) text += FILLER;
  return Buffer.from(text, 'latin1');
}

function receivedOf(id: string, listener: string, motor: number, kind: MailKind, at: number, seq: number): Received {
  return {
    id,
    receivedAt: at,
    listener,
    peer: { address: PEER.address, port: 40_000 + (seq % 20_000), helo: PEER.helo, secure: false },
    envelope: { mailFrom: DEVICE_SENDER, rcptTo: [DEVICE_RECIPIENT] },
    raw: motorMail(motor, kind, at, seq),
  };
}

/** The fingerprint the pipeline gives a motor alarm (fingerprint: auto, no key or code: device + title). */
function motorFingerprint(config: GatewayConfig, motor: number): string {
  return fingerprintOf({ device: { id: 'plc-line4' }, title: title(motor) } as AlarmEvent, config.alarms!.fingerprint);
}


/** Small seeded PRNG (mulberry32): the same picks and order on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * An id in newId's layout (48-bit time, 80 random bits, Crockford base32) with the random
 * part from `next`: newId draws crypto random bytes for every millisecond, a third of the
 * fill's time at a million alarms.
 */
function fillId(at: number, next: () => number): string {
  let id = '';
  for (let i = 0, t = at; i < 10; i += 1, t = Math.floor(t / 32)) id = CROCKFORD[t % 32]! + id;
  for (let i = 0; i < 16; i += 1) id += CROCKFORD[Math.floor(next() * 32)]!;
  return id;
}

function shuffle<T>(items: T[], next: () => number): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** The pipeline as src/app.ts builds it. */
function buildPipeline(config: GatewayConfig, stages: PipelineStages): Pipeline {
  return new Pipeline({ config, stages, logger: silentLogger().child({ stage: 'process' }), lateAfter: Math.max(1000, 2 * config.delivery.pollInterval) });
}

// ---------------------------------------------------------------------------------------
// Seed: one alarm through the real pipeline, whose rows the fill clones

interface Seed {
  /** After a raise and a folded repeat; and after the clear. */
  active: Alarm;
  resolved: Alarm;
  reasons: { raised: string; folded: string; resolved: string };
  firing: { recipients: string; message: Buffer };
  resolvedNotice: { recipients: string; message: Buffer };
}

async function seedTemplates(config: GatewayConfig, dir: TestDir): Promise<Seed> {
  const store = new SqliteStore(join(dir.path, 'seed.db'));
  try {
    const pipeline = buildPipeline(config, new ConfiguredStages(config));
    const listener = config.listeners[0]!.name;
    const steps: Array<[MailKind, number]> = [
      ['raise', NOW - 3 * 3_600_000],
      ['raise', NOW - 3 * 3_600_000 + 60_000],
      ['clear', NOW - 2 * 3_600_000],
    ];
    const snapshots: Alarm[] = [];
    for (const [seq, [kind, at]] of steps.entries()) {
      const received = receivedOf(newId(at), listener, SEED_MOTOR, kind, at, seq);
      await store.accept(received);
      await store.transaction((tx) => pipeline.received(tx, received, at, new Effects()));
      const [alarm] = await store.alarms.list(['active', 'resolved'], 1);
      if (!alarm) throw new Error('seed: the pipeline raised no alarm for the motor mail');
      snapshots.push(alarm);
    }
    const [raised, folded, resolved] = snapshots as [Alarm, Alarm, Alarm];
    if (raised.state !== 'active' || folded.count !== 2 || resolved.state !== 'resolved') {
      throw new Error(`seed: expected raise, fold, resolve; the alarm went ${snapshots.map((a) => `${a.state}/${a.count}`).join(', ')}`);
    }
    if (resolved.fingerprint !== motorFingerprint(config, SEED_MOTOR)) throw new Error('seed: the bench computes a different fingerprint from the pipeline');
    const history = await store.alarms.history(resolved.id);
    const reason = (outcome: string): string => {
      const entry = history.find((h) => h.outcome === outcome);
      if (!entry) throw new Error(`seed: no ${outcome} in the alarm's history (${history.map((h) => h.outcome).join(', ')})`);
      return entry.reason;
    };
    const notices = await store.outbox.list(['pending']);
    if (notices.length !== 2) throw new Error(`seed: expected a firing and a resolved notification, got ${notices.length}`);
    const entry = async (id: string): Promise<{ recipients: string; message: Buffer }> => {
      const e = (await store.outbox.get(id))!;
      return { recipients: JSON.stringify(e.recipients), message: e.message.subarray(0, STORED_NOTIFICATION_BYTES) };
    };
    return {
      active: folded,
      resolved,
      reasons: { raised: reason('raised'), folded: reason('repeat-folded'), resolved: reason('resolved') },
      firing: await entry(notices[0]!.id),
      resolvedNotice: await entry(notices[1]!.id),
    };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------
// Fill

interface Filled {
  active: number;
  muted: number;
  rows: { alarms: number; received: number; alarmLog: number; outbox: number; timers: number; silences: number };
  fillMs: number;
  bytes: number;
  /** Motor numbers of distinct active alarms (not acknowledged, not muted) to repeat and to clear. */
  repeatTargets: number[];
  clearTargets: number[];
  /** A stored alarm with notifications, for alarms.recipients. */
  sampleAlarmId: string;
}

/**
 * N alarms with their history, straight into the file in large transactions. Alarm i is
 * raised at T0 + i·Δ (a year up to an hour ago), so ids and times grow with i as the
 * gateway writes them; every event of alarm i falls before alarm i + 1.
 */
function fill(file: string, n: number, config: GatewayConfig, seed: Seed, args: BenchArgs): Filled {
  const started = performance.now();
  const listener = config.listeners[0]!.name;
  const next = random(n);
  // Active alarms anywhere in the history, as many as the share, at least enough for distinct repeat and clear targets.
  const needed = Math.ceil(((args.repeats + args.clears) / 0.9) * 1.1);
  const activeCount = Math.min(n, Math.max(Math.round(n * args.activeShare), needed));
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i += 1) order[i] = i;
  for (let k = 0; k < activeCount; k += 1) {
    const j = k + Math.floor(next() * (n - k));
    const swap = order[k]!;
    order[k] = order[j]!;
    order[j] = swap;
  }
  const activeList = Array.from(order.subarray(0, activeCount)).sort((a, b) => a - b);
  const isActive = new Uint8Array(n);
  for (const i of activeList) isActive[i] = 1;
  const muted = new Set(activeList.filter((_, rank) => rank % MUTED_EVERY === MUTED_EVERY - 1));
  const eligible = shuffle(
    activeList.filter((i) => !isAcked(i) && !muted.has(i)),
    next,
  );
  if (eligible.length < args.repeats + args.clears) throw new Error(`fill: ${eligible.length} active alarms to repeat and clear, need ${args.repeats + args.clears}`);
  const repeatTargets = eligible.slice(0, args.repeats).map((i) => i + 1);
  const clearTargets = eligible.slice(args.repeats, args.repeats + args.clears).map((i) => i + 1);

  const db = SqliteConnection.open(file);
  // Speed over safety while filling: the journal in memory (as better-sqlite3 did, which refused OFF), no fsync, a large cache. WAL again at the end.
  const mode = db.pragma('journal_mode = MEMORY', { simple: true });
  if (mode !== 'memory') throw new Error(`fill: could not keep the journal in memory (${String(mode)})`);
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  db.pragma('foreign_keys = OFF');
  const insertReceived = db.prepare(
    `INSERT INTO received (id, received_at, listener, peer_address, peer_port, helo, auth_user, secure, mail_from, rcpt_to, raw, state, processed_at, error, mqtt)
     VALUES (?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, 'processed', ?, NULL, NULL)`,
  );
  const insertAlarm = db.prepare(`INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data, muted) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const insertLog = db.prepare(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, ?, ?)`);
  const insertOutbox = db.prepare(
    `INSERT INTO outbox (id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, message, status, attempts, next_attempt_at, last_error, last_account, updated_at, sent_at, rejected_recipients)
     VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, 'files', ?, ?, '[]')`,
  );
  const insertTimer = db.prepare(`INSERT INTO timers (kind, key, alarm_id, due_at, fired_at, cancelled_at, data) VALUES (?, ?, ?, ?, ?, NULL, NULL)`);
  const insertSilence = db.prepare(`INSERT INTO silences (id, created_at, ends_at, data) VALUES (?, ?, ?, ?)`);
  const rows = { alarms: 0, received: 0, alarmLog: 0, outbox: 0, timers: 0, silences: 0 };

  const silence = (id: string, device: string, start: number, end: number): Silence => ({
    id,
    matchers: [{ field: 'device', operator: 'equal', value: device }],
    schedule: { kind: 'window', start, end },
    createdBy: 'tom',
    comment: 'maintenance',
    createdAt: start - 3_600_000,
  });
  const addSilence = (s: Silence): void => {
    insertSilence.run(s.id, s.createdAt, silenceEndsAt(s) ?? null, JSON.stringify(s));
    rows.silences += 1;
  };
  // The one current silence (for another device, so it mutes none of the run's alarms) mutes the muted ones; past silences, one per 1,000 alarms.
  const current = silence(fillId(NOW - DAY, next), 'ups-hall2', NOW - DAY, NOW + 7 * DAY);

  const t0 = NOW - HISTORY_MS;
  const step = (HISTORY_MS - 3_600_000) / n;
  const swapMotor = (text: string, motor: number): string => text.split(`M${SEED_MOTOR}`).join(`M${motor}`);
  const received = (motor: number, kind: MailKind, at: number, seq: number): string => {
    const id = fillId(at, next);
    insertReceived.run(id, at, listener, PEER.address, 40_000 + (seq % 20_000), PEER.helo, DEVICE_SENDER, JSON.stringify([DEVICE_RECIPIENT]), motorMail(motor, kind, at, seq), at + 5);
    rows.received += 1;
    return id;
  };
  const notify = (receivedId: string, alarmId: string, at: number, notice: Seed['firing'], failed: boolean): void => {
    const id = fillId(at, next);
    if (failed) insertOutbox.run(id, receivedId, alarmId, at, `plc-line4@${config.gateway.domain}`, notice.recipients, notice.message, 'failed', 8, at + 3_600_000, '550 5.1.1 mailbox unavailable', at + 3_600_000, null);
    else insertOutbox.run(id, receivedId, alarmId, at, `plc-line4@${config.gateway.domain}`, notice.recipients, notice.message, 'sent', 1, at, null, at + 800, at + 800);
    rows.outbox += 1;
  };
  const log = (alarmId: string, receivedId: string, at: number, outcome: string, reason: string): void => {
    insertLog.run(alarmId, receivedId, at, outcome, reason);
    rows.alarmLog += 1;
  };

  let sampleAlarmId = '';
  const fillOne = (i: number): void => {
    const motor = i + 1;
    const at = Math.round(t0 + i * step);
    const active = isActive[i] === 1;
    const template = active ? seed.active : seed.resolved;
    let seq = 0;
    const raiseId = received(motor, 'raise', at, seq++);
    const alarmId = fillId(at, next);
    log(alarmId, raiseId, at, 'raised', seed.reasons.raised);
    notify(raiseId, alarmId, at + 1, seed.firing, notificationFailed(i));
    let lastEventId = raiseId;
    let lastSeen = at;
    let count = 1;
    if (hasRepeat(i)) {
      lastSeen = at + Math.round(step * 0.2);
      lastEventId = received(motor, 'raise', lastSeen, seq++);
      log(alarmId, lastEventId, lastSeen, 'repeat-folded', seed.reasons.folded);
      count = 2;
    }
    let ack: AlarmAck | undefined;
    if (isAcked(i)) {
      ack = { by: 'tom', at: at + Math.round(step * 0.3), channel: 'link' };
      log(alarmId, '-', ack.at, 'acknowledged', ackLogReason(ack));
      insertTimer.run('announce-ack', alarmId, alarmId, ack.at, ack.at + 50);
      rows.timers += 1;
    }
    let resolvedAt: number | undefined;
    let notifications = 1;
    if (!active) {
      resolvedAt = at + Math.round(step * 0.5);
      const clearId = received(motor, 'clear', resolvedAt, seq++);
      log(alarmId, clearId, resolvedAt, 'resolved', seed.reasons.resolved);
      notify(clearId, alarmId, resolvedAt + 1, seed.resolvedNotice, false);
      lastEventId = clearId;
      lastSeen = resolvedAt;
      notifications = 2;
    }
    const isMuted = muted.has(i);
    if (isMuted) {
      insertTimer.run('unmute', alarmId, alarmId, NOW + 7 * DAY, null);
      rows.timers += 1;
    }
    const { ack: _ack, mutedBy: _mutedBy, ackAnnounced: _announced, resolvedAt: _resolvedAt, ...base } = template;
    const alarm: Alarm = {
      ...base,
      id: alarmId,
      fingerprint: motorFingerprint(config, motor),
      title: swapMotor(template.title, motor),
      text: swapMotor(template.text, motor),
      fields: Object.fromEntries(Object.entries(template.fields).map(([k, v]) => [k, swapMotor(v, motor)])),
      count,
      firstSeen: at,
      lastSeen,
      firstEventId: raiseId,
      lastEventId,
      notifications,
      lastNotifiedAt: resolvedAt ?? at,
      countAtLastNotification: count,
      ...(resolvedAt !== undefined ? { resolvedAt } : {}),
      ...(ack ? { ack, ackAnnounced: true } : {}),
      ...(isMuted ? { mutedBy: { by: 'silence', silence: current.id, until: NOW + 7 * DAY } } : {}),
    };
    insertAlarm.run(alarmId, alarm.fingerprint, alarm.state, alarm.firstSeen, alarm.lastSeen, JSON.stringify(alarm), isMuted ? 1 : 0);
    rows.alarms += 1;
    if (i === Math.floor(n / 2)) sampleAlarmId = alarmId;
    if (i % 1000 === 500) addSilence(silence(fillId(at, next), 'plc-line4', at, at + 3_600_000));
  };

  const chunk = (from: number, to: number): void =>
    db.transaction(() => {
      for (let i = from; i < to; i += 1) fillOne(i);
    }, 'DEFERRED');
  let lastReport = performance.now();
  for (let from = 0; from < n; from += FILL_CHUNK) {
    chunk(from, Math.min(n, from + FILL_CHUNK));
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      process.stderr.write(`  fill ${Math.min(n, from + FILL_CHUNK).toLocaleString('en')} / ${n.toLocaleString('en')} alarms, ${((lastReport - started) / 1000).toFixed(0)} s\n`);
    }
  }
  addSilence(current);
  db.pragma('journal_mode = WAL');
  db.close();
  return { active: activeCount, muted: muted.size, rows, fillMs: performance.now() - started, bytes: statSync(file).size, repeatTargets, clearTargets, sampleAlarmId };
}

// ---------------------------------------------------------------------------------------
// Timing the steps

/** Time and calls per step (a store call `alarms.save`, a stage `stage.route`), summed over the measured messages. */
class StepTimes {
  readonly totals = new Map<string, { ms: number; calls: number }>();
  measuring = false;

  add(step: string, ms: number): void {
    if (!this.measuring) return;
    const t = this.totals.get(step) ?? { ms: 0, calls: 0 };
    t.ms += ms;
    t.calls += 1;
    this.totals.set(step, t);
  }

  /**
   * The repositories with every call timed. The SQLite repositories do their work before
   * they return (the promise is already settled), so the time to return is the store's.
   */
  repositories(tx: Repositories): Repositories {
    const wrap = <R extends object>(name: string, repository: R): R =>
      new Proxy(repository, {
        get: (target, property) => {
          const value: unknown = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const before = performance.now();
            const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
            this.add(`${name}.${String(property)}`, performance.now() - before);
            return result;
          };
        },
      });
    return {
      inbox: wrap('inbox', tx.inbox),
      alarms: wrap('alarms', tx.alarms),
      timers: wrap('timers', tx.timers),
      batches: wrap('batches', tx.batches),
      silences: wrap('silences', tx.silences),
      outbox: wrap('outbox', tx.outbox),
      audit: wrap('audit', tx.audit),
      loginSessions: wrap('loginSessions', tx.loginSessions),
      topics: wrap('topics', tx.topics),
      mqttSessions: wrap('mqttSessions', tx.mqttSessions),
    };
  }

  /** The stages with routing and rendering timed (both async: rules engine, templates). */
  stages(stages: ConfiguredStages): PipelineStages {
    const timed = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
      const before = performance.now();
      try {
        return await run();
      } finally {
        this.add(step, performance.now() - before);
      }
    };
    return {
      get devices() {
        return stages.devices;
      },
      get mqtt() {
        return stages.mqtt;
      },
      route: (event, now) => timed('stage.route', () => stages.route(event, now)),
      renderNotification: (due, original) => timed('stage.render', () => stages.renderNotification(due, original)),
      escalation: (name) => stages.escalation(name),
      renderBatch: (batch, summary, sentAt) => timed('stage.renderBatch', () => stages.renderBatch(batch, summary, sentAt)),
    };
  }
}

// ---------------------------------------------------------------------------------------
// Measuring: every size's store open at once, their work interleaved

type MessageKind = 'new' | 'repeat' | 'clear';

/** One size: its store, its pipeline, and what was measured on it. */
interface SizeRun {
  n: number;
  dir: TestDir;
  filled: Filled;
  store: SqliteStore;
  pipeline: Pipeline;
  steps: StepTimes;
  events: GatewayEventBus;
  listener: string;
  /** The kind of each accepted message, by received id. */
  kindOf: Map<string, MessageKind>;
  /** ms per message in pipeline.received (measured messages only); and per kind. */
  perMessage: number[];
  perKind: Record<MessageKind, number[]>;
  /** ms per message of each whole measured transaction (pending + 32 x received + commit). */
  perMessageWithCommit: number[];
  /** Outcomes per kind of measured message, e.g. new: raised 2000. */
  outcomes: Record<MessageKind, Map<string, number>>;
  /** µs per call of each query, idle (before the run) and after it. */
  queries: Map<string, { idle: number[]; after: number[] }>;
}

const ROLLBACK = Symbol('rollback');

/** µs of one call of `query`, in a transaction of its own that is rolled back (claimDue writes). */
async function sampleQuery(store: SqliteStore, query: (tx: Repositories) => Promise<unknown>): Promise<number> {
  let micros = Number.NaN;
  try {
    await store.transaction(async (tx) => {
      const before = performance.now();
      await query(tx);
      micros = (performance.now() - before) * 1000;
      throw ROLLBACK;
    });
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
  return micros;
}

/** What the timer runner and the outbox worker run on every poll, and other reads whose cost could follow the store's size. */
function pollQueries(config: GatewayConfig, filled: Filled): Array<[string, (tx: Repositories) => Promise<unknown>]> {
  return [
    ['timers.due(now, 100)', (tx) => tx.timers.due(NOW, 100)],
    ['timers.nextDueAt()', (tx) => tx.timers.nextDueAt()],
    [`outbox.claimDue(now, ${config.delivery.concurrency})`, (tx) => tx.outbox.claimDue(NOW, config.delivery.concurrency)],
    ['outbox.nextDueAt()', (tx) => tx.outbox.nextDueAt()],
    ['alarms.muted()', (tx) => tx.alarms.muted()],
    ['inbox.pending(32)', (tx) => tx.inbox.pending(BATCH)],
    ['silences.list(now)', (tx) => tx.silences.list(NOW)],
    ['alarms.recipients(id) [reply ack]', (tx) => tx.alarms.recipients(filled.sampleAlarmId)],
    ['alarms.list(active) [inhibit]', (tx) => tx.alarms.list(['active'], 100_000)],
  ];
}

/** Rounds over every size, each query once per size per round, so a change of the machine's load hits all sizes alike. */
async function sampleQueries(runs: SizeRun[], config: GatewayConfig, when: 'idle' | 'after', rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    for (const run of runs) {
      for (const [name, query] of pollQueries(config, run.filled)) {
        const samples = run.queries.get(name) ?? { idle: [], after: [] };
        run.queries.set(name, samples);
        samples[when].push(await sampleQuery(run.store, query));
      }
    }
  }
}

async function openSize(n: number, args: BenchArgs, seed: Seed): Promise<SizeRun> {
  const dir = testDir(`annunciator-scale-${n}-`, args.dir);
  const config = benchConfig(dir);
  mkdirSync(config.gateway.dataDir, { recursive: true });
  const file = join(config.gateway.dataDir, 'annunciator.db');
  await new SqliteStore(file).close();
  const filled = fill(file, n, config, seed, args);
  const steps = new StepTimes();
  return {
    n,
    dir,
    filled,
    store: new SqliteStore(file),
    pipeline: buildPipeline(config, steps.stages(new ConfiguredStages(config))),
    steps,
    events: new GatewayEventBus(silentLogger()),
    listener: config.listeners[0]!.name,
    kindOf: new Map(),
    perMessage: [],
    perKind: { new: [], repeat: [], clear: [] },
    perMessageWithCommit: [],
    outcomes: { new: new Map(), repeat: new Map(), clear: new Map() },
    queries: new Map(),
  };
}

/** Into the inbox as the listeners hand mail over (store.accept, group commit). */
async function acceptAll(run: SizeRun, messages: Array<{ kind: MessageKind; motor: number }>): Promise<void> {
  const received = messages.map((m, seq) => {
    const r = receivedOf(newId(NOW), run.listener, m.motor, m.kind === 'clear' ? 'clear' : 'raise', NOW, seq);
    run.kindOf.set(r.id, m.kind);
    return r;
  });
  await Promise.all(received.map((r) => run.store.accept(r)));
}

/** One pass of the inbox runner's loop: up to 32 pending messages through the pipeline in one transaction; how many. */
async function processBatch(run: SizeRun, measured: boolean): Promise<number> {
  const fx = new Effects();
  const before = performance.now();
  run.steps.measuring = measured;
  const count = await run.store.transaction(async (tx) => {
    const batch = await tx.inbox.pending(BATCH);
    const timedTx = run.steps.repositories(tx);
    for (const r of batch) {
      const started = performance.now();
      const outcome: MessageOutcome = await run.pipeline.received(timedTx, r, NOW, fx);
      const ms = performance.now() - started;
      if (!measured) continue;
      const kind = run.kindOf.get(r.id)!;
      run.perMessage.push(ms);
      run.perKind[kind].push(ms);
      const name = 'event' in outcome && isTrace(outcome) ? outcome.result.outcome : JSON.stringify(outcome);
      run.outcomes[kind].set(name, (run.outcomes[kind].get(name) ?? 0) + 1);
    }
    return batch.length;
  });
  run.steps.measuring = false;
  if (measured && count > 0) run.perMessageWithCommit.push((performance.now() - before) / count);
  fx.release(run.events);
  return count;
}

/** New alarms with repeats and clears of distinct stored active alarms mixed in, in one order at every size. */
function runMessages(args: BenchArgs, filled: Filled): Array<{ kind: MessageKind; motor: number }> {
  const kinds = shuffle([...Array<MessageKind>(args.fresh).fill('new'), ...Array<MessageKind>(args.repeats).fill('repeat'), ...Array<MessageKind>(args.clears).fill('clear')], random(42));
  let fresh = 0;
  let repeat = 0;
  let clear = 0;
  return kinds.map((kind) => ({ kind, motor: kind === 'new' ? NEW_BASE + fresh++ : kind === 'repeat' ? filled.repeatTargets[repeat++]! : filled.clearTargets[clear++]! }));
}

/** The run measured at every size, a transaction of 32 at each size in turn. */
async function measureAll(runs: SizeRun[], args: BenchArgs, config: GatewayConfig): Promise<void> {
  await sampleQueries(runs, config, 'idle', QUERY_ROUNDS);
  for (const run of runs) {
    await acceptAll(
      run,
      Array.from({ length: WARMUP }, (_, k) => ({ kind: 'new' as const, motor: WARMUP_BASE + k })),
    );
    while ((await processBatch(run, false)) === BATCH);
  }
  for (const run of runs) await acceptAll(run, runMessages(args, run.filled));
  let left = [...runs];
  while (left.length > 0) {
    const next: SizeRun[] = [];
    for (const run of left) if ((await processBatch(run, true)) === BATCH) next.push(run);
    left = next;
  }
  for (const run of runs) {
    const total = args.fresh + args.repeats + args.clears;
    if (run.perMessage.length !== total) throw new Error(`size ${run.n}: ${run.perMessage.length} of ${total} messages processed`);
    const raised = run.outcomes.new.get('raised') ?? 0;
    const resolved = run.outcomes.clear.get('resolved') ?? 0;
    if (raised !== args.fresh || resolved !== args.clears) {
      const show = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k} ${v}`).join(', ');
      throw new Error(`size ${run.n}: the stored alarms do not behave as the pipeline's own: new -> ${show(run.outcomes.new)}; clear -> ${show(run.outcomes.clear)}`);
    }
    for (const values of [run.perMessage, run.perKind.new, run.perKind.repeat, run.perKind.clear, run.perMessageWithCommit]) values.sort((a, b) => a - b);
  }
  await sampleQueries(runs, config, 'after', QUERY_ROUNDS);
}

// ---------------------------------------------------------------------------------------
// Output

const fmt = (value: number, digits = 2): string => value.toFixed(digits);
const thousands = (value: number): string => value.toLocaleString('en');
const load = (values: number[]): string => values.map((l) => l.toFixed(2)).join(' ');
const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

interface StepRow {
  step: string;
  /** Mean µs per message at each size. */
  values: number[];
  callsPerMessage: number;
  ratio: number;
}

/** The steps, mean µs per message at each size, costliest at the largest size first; then what the timed steps leave. */
function stepRows(runs: SizeRun[]): StepRow[] {
  const last = runs[runs.length - 1]!;
  const perMessage = (run: SizeRun, step: string): number => ((run.steps.totals.get(step)?.ms ?? 0) * 1000) / run.perMessage.length;
  const ratio = (values: number[]): number => values[values.length - 1]! / Math.max(values[0]!, 1e-9);
  const names = [...new Set(runs.flatMap((run) => [...run.steps.totals.keys()]))];
  const rows = names.map((step) => {
    const values = runs.map((run) => perMessage(run, step));
    return { step, values, callsPerMessage: (last.steps.totals.get(step)?.calls ?? 0) / last.perMessage.length, ratio: ratio(values) };
  });
  rows.sort((a, b) => b.values[b.values.length - 1]! - a.values[a.values.length - 1]!);
  // Parsing (decodeMail, patterns), deciding, muting, building rows, the proxies' own cost.
  const rest = runs.map((run) => (run.perMessage.reduce((s, v) => s + v, 0) * 1000) / run.perMessage.length - names.reduce((s, step) => s + perMessage(run, step), 0));
  rows.push({ step: 'rest (parse, decide, mute, glue)', values: rest, callsPerMessage: 1, ratio: ratio(rest) });
  return rows;
}

function report(args: BenchArgs, runs: SizeRun[], config: GatewayConfig, ruleCount: number, loads: { before: number[]; after: number[] }): number {
  const first = runs[0]!;
  const last = runs[runs.length - 1]!;
  const p50 = (run: SizeRun): number => percentile(run.perMessage, 50);
  const p95 = (run: SizeRun): number => percentile(run.perMessage, 95);
  /** Mean ms per message in store calls (every timed step but the stages). */
  const storeMs = (run: SizeRun): number => [...run.steps.totals].filter(([step]) => !step.startsWith('stage.')).reduce((s, [, t]) => s + t.ms, 0) / run.perMessage.length;
  console.log('');
  console.log(
    `### per message: pipeline.received in its transaction, ms (${args.fresh} new + ${args.repeats} repeats + ${args.clears} clears at each size, ${BATCH} per transaction, the sizes taking turns)`,
  );
  console.log('');
  console.log(
    table(
      ['stored alarms', 'active', 'fill', 'file', 'p50', 'p95', 'p50 / first', 'new p50', 'repeat p50', 'clear p50', 'with commit p50', 'store calls (mean)'],
      runs.map((run) => [
        thousands(run.n),
        thousands(run.filled.active),
        `${fmt(run.filled.fillMs / 1000, 1)} s`,
        `${fmt(run.filled.bytes / 1e6, 0)} MB`,
        fmt(p50(run), 3),
        fmt(p95(run), 3),
        fmt(p50(run) / p50(first)),
        fmt(percentile(run.perKind.new, 50), 3),
        fmt(percentile(run.perKind.repeat, 50), 3),
        fmt(percentile(run.perKind.clear, 50), 3),
        fmt(percentile(run.perMessageWithCommit, 50), 3),
        fmt(storeMs(run), 3),
      ]),
    ),
  );
  console.log('');
  console.log(`load      average ${load(loads.before)} before the fills, ${load(loads.after)} at the end`);
  console.log('outcomes  ' + (['new', 'repeat', 'clear'] as const).map((k) => `${k}: ${[...last.outcomes[k]].map(([o, c]) => `${o} ${c}`).join(', ')}`).join('; ') + ` (at ${thousands(last.n)})`);
  console.log(`rows      at ${thousands(last.n)}: ${Object.entries(last.filled.rows).map(([t, c]) => `${t} ${thousands(c)}`).join(', ')}; ${last.filled.muted} active alarms muted`);

  const steps = stepRows(runs);
  console.log('');
  console.log('### per message: where the time goes (mean µs per message; store calls and stages timed inside pipeline.received)');
  console.log('');
  console.log(
    table(
      ['step', 'calls/msg', ...runs.map((run) => thousands(run.n)), 'last / first'],
      steps.map((s) => [s.step, fmt(s.callsPerMessage), ...s.values.map((v) => fmt(v, 1)), fmt(s.ratio)]),
    ),
  );

  console.log('');
  console.log('### store queries: median µs per call, idle (before the run) / after the run (its notifications pending)');
  console.log('');
  const names = [...first.queries.keys()];
  const idle = (run: SizeRun, name: string): number => median(run.queries.get(name)!.idle);
  console.log(
    table(
      ['query', ...runs.map((run) => thousands(run.n)), 'last / first (idle)'],
      names.map((name) => [name, ...runs.map((run) => `${fmt(idle(run, name), 0)} / ${fmt(median(run.queries.get(name)!.after), 0)}`), fmt(idle(last, name) / Math.max(idle(first, name), 1e-9))]),
    ),
  );
  console.log('');
  console.log(
    `notes     inhibit rules in the shipped configuration: ${config.inhibit.length}` +
      (config.inhibit.length === 0 ? ' (so no message reads all active alarms; alarms.list(active) above is what each notification would cost with one)' : '') +
      `; ${ruleCount} rules; the bench adds one device pattern (${CLEAR_PATTERN.name}) so that a motor alarm can clear`,
  );

  if (runs.length < 2) return 0;
  // The median of all messages and that of each kind: clears are a twelfth of the run, and
  // a clear that grows with the store moves the overall median little.
  const medians: Array<[string, (run: SizeRun) => number[]]> = [
    ['all messages', (run) => run.perMessage],
    ['new', (run) => run.perKind.new],
    ['repeat', (run) => run.perKind.repeat],
    ['clear', (run) => run.perKind.clear],
  ];
  const ratios = medians.map(([name, of]) => ({ name, ratio: percentile(of(last), 50) / percentile(of(first), 50) }));
  const over = ratios.filter((r) => r.ratio > ALLOWED_GROWTH);
  const verdict = `median per message at ${thousands(last.n)} stored alarms / at ${thousands(first.n)}: ${ratios.map((r) => `${r.name} ${fmt(r.ratio)}`).join(', ')} (limit ${ALLOWED_GROWTH})`;
  if (over.length === 0) {
    console.log(`verdict   ok: ${verdict}`);
    return 0;
  }
  const grew = steps.filter((s) => s.ratio > ALLOWED_GROWTH && s.values[s.values.length - 1]! - s.values[0]! >= STEP_GROWTH_FLOOR_US);
  for (const s of grew) console.log(`grew      ${s.step}: ${fmt(s.values[0]!, 1)} -> ${fmt(s.values[s.values.length - 1]!, 1)} µs per message (${fmt(s.ratio)} x)`);
  if (grew.length === 0) console.log('grew      no single step by more than the limit: the growth is spread (or noise: look at the load average)');
  console.log(`verdict   FAILED (${over.map((r) => r.name).join(', ')}): ${verdict}`);
  return 1;
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  mkdirSync(args.dir, { recursive: true });
  const seedDir = testDir('annunciator-scale-seed-', args.dir);
  const runs: SizeRun[] = [];
  try {
    const config = benchConfig(seedDir);
    const ruleCount = new ConfiguredStages(config).ruleCount;
    const cpu = cpus();
    const before = loadavg();
    console.log(`machine   node ${process.version}, ${platform()}/${arch()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), load average ${load(before)}`);
    console.log(
      `args      --sizes ${args.sizes.join(',')} --new ${args.fresh} --repeats ${args.repeats} --clears ${args.clears} --active ${args.activeShare}; stores in ${args.dir} (${fileSystemOf(args.dir)})`,
    );
    const seed = await seedTemplates(config, seedDir);
    for (const n of args.sizes) {
      const run = await openSize(n, args, seed);
      runs.push(run);
      console.log(`fill      ${thousands(n)} stored alarms (${thousands(run.filled.active)} active): ${fmt(run.filled.fillMs / 1000, 1)} s, ${fmt(run.filled.bytes / 1e6, 0)} MB; load average ${load(loadavg())}`);
    }
    await measureAll(runs, args, config);
    return report(args, runs, config, ruleCount, { before, after: loadavg() });
  } finally {
    for (const run of runs) {
      await run.store.close();
      if (args.keep) console.log(`kept      ${run.dir.path}`);
      else run.dir.remove();
    }
    seedDir.remove();
  }
}

runBench(main);

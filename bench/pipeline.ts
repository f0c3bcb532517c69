/**
 * Alarm pipeline benchmark. Not a test; run `npm run bench:pipeline -- --help`.
 *
 * 1. Stage throughput: with 10, 100 and 1,000 generated rules, alarms per second through
 *    parsing (decodeMail + buildAlarmEvent), routing (json-rules-engine), rendering (a
 *    firing notification) and the whole runAlarmPipeline with no store behind it, one alarm
 *    at a time over the corpus mails, as the inbox processor runs them.
 * 2. End to end: the gateway in-process with the shipped configuration (flood control off), rules and
 *    templates, M new alarms from PLC devices at a paced rate into a loopback upstream;
 *    latency from a device's end of DATA to the upstream's 250, and an exactly-once check.
 *
 * Everything shares one process and one event loop (devices, gateway, upstream with its
 * MIME parsing), so the end-to-end figures are a lower bound for the gateway alone.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import type { GatewayConfig } from '../src/config/types.js';
import { runAlarmPipeline } from '../src/pipeline/message.js';
import { ConfiguredStages } from '../src/pipeline/stages.js';
import type { Received } from '../src/ingest/received.js';
import type { Due } from '../src/lifecycle/alarm.js';
import { decide } from '../src/lifecycle/decide.js';
import { fingerprintOf } from '../src/lifecycle/fingerprint.js';
import { createLogger } from '../src/log/logger.js';
import type { AlarmEvent } from '../src/parse/alarm-event.js';
import { buildAlarmEvent } from '../src/parse/build-alarm-event.js';
import { decodeMail } from '../src/parse/decode-mail.js';
import { newId } from '../src/base/ids.js';
import type { Repositories } from '../src/store/store.js';
import { loadCorpus, type CorpusMail } from '../test/helpers/corpus.js';
import { configFrom, runGateway, testDir, type RunningGateway, type TestDir } from '../test/helpers/gateway.js';
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { deviceSession, type DeviceMessage, type DeviceTiming } from './smtp-device.js';
import { fileSystemOf, ms, percentile, positiveInt, printDeviceToUpstream, printVerification, runBench, tokenRange, verifyExactlyOnce, watchArrivals } from './bench-kit.js';

interface BenchArgs {
  /** Measured alarms per stage and rule count, after WARMUP. */
  iterations: number;
  rules: number[];
  /** End to end: alarm mails sent. */
  alarms: number;
  /** End to end: alarms per second offered by all devices together; 0 offers them as fast as possible. */
  rate: number;
  skipE2e: boolean;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHIPPED_CONFIG = join(REPO_ROOT, 'config/annunciator.yaml');
const SHIPPED_RULES = join(REPO_ROOT, 'rules');
const SHIPPED_TEMPLATES = join(REPO_ROOT, 'templates');
/** Alarms run through each stage before measuring, so the JIT has settled. */
const WARMUP = 200;
/** Rules per generated file: 1,000 rules are 20 files, as a plant would split them. */
const RULES_PER_FILE = 50;
/**
 * The stages run at one fixed instant (Tuesday 24 Nov 2026, 10:15 in Europe/Berlin) so
 * time-of-day conditions decide the same way on every run.
 */
const NOW = Date.UTC(2026, 10, 24, 9, 15);
/** End to end: concurrent device connections; each alarm is one connection, as a PLC sends it. */
const DEVICE_CONNECTIONS = 4;
const DEVICE_SENDER = 'plc-line4@plant.local';
const DEVICE_RECIPIENT = 'maintenance@example.com';
/** The token is the motor number in the title, which the default template puts in the subject. */
const TITLE_TOKEN = /\bMotor M(\d+) overtemperature\b/;
/** Stop waiting for deliveries when none has arrived for this long. */
const STALL_MS = 30_000;
/** After the last expected delivery, how long to keep listening for duplicates. */
const DUPLICATE_GRACE_MS = 1_000;

const USAGE = `usage: npm run bench:pipeline -- [--iterations N] [--rules 10,100,1000] [--alarms M] [--rate ALARMS_PER_S] [--skip-e2e]

  --iterations N   alarms measured per stage and rule count, after ${WARMUP} warm-up (default 2000)
  --rules LIST     rule counts to generate, comma-separated (default 10,100,1000)
  --alarms M       end to end: new alarms sent through the gateway (default 500)
  --rate R         end to end: alarms per second from all devices together, 0 = unpaced (default 50)
  --skip-e2e       only the stage throughput table`;

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string', default: '2000' },
      rules: { type: 'string', default: '10,100,1000' },
      alarms: { type: 'string', default: '500' },
      rate: { type: 'string', default: '50' },
      'skip-e2e': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rules = values.rules.split(',').map((part) => positiveInt('rules', part.trim()));
  for (const count of rules) if (count < TAIL_RULES.length) throw new Error(`--rules: each count must be at least ${TAIL_RULES.length} (the rules that match the corpus), not ${count}`);
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0) throw new Error(`--rate must be a number of alarms per second (0 for unpaced), not ${values.rate}`);
  return { iterations: positiveInt('iterations', values.iterations), rules, alarms: positiveInt('alarms', values.alarms), rate, skipE2e: values['skip-e2e'] };
}

// ---------------------------------------------------------------------------------------
// Rule generation

type Condition = Record<string, unknown>;

interface GeneratedRule {
  name: string;
  description: string;
  when: { all: Condition[] };
  then: Record<string, unknown>;
}

const RECEIVERS = ['facility-team', 'maintenance', 'shift-team', 'quality', 'oncall'] as const;
const INTERVALS = ['30m', '1h', '2h', '4h'] as const;

const device = (ids: string[]): Condition =>
  ids.length === 1 ? { fact: 'device.id', operator: 'equal', value: ids[0] } : { fact: 'device.id', operator: 'in', value: ids };
const title = (pattern: string): Condition => ({ fact: 'title', operator: 'matches', value: pattern });

/**
 * Kinds of equipment a plant writes rules for. Each rule names its equipment by a number
 * no corpus mail has (motor M100+, pump P100+, ...), so filler rules never match, but
 * every fourth one is for a device the corpus does send from: its title pattern runs
 * against real titles rather than failing on device.id alone.
 */
interface Family {
  what: string;
  real: string;
  fictitious: (i: number) => string[];
  title: (i: number) => string;
  severity: string;
  extras: (i: number) => Condition[];
}

const FAMILIES: Family[] = [
  {
    what: 'motor',
    real: 'plc-line4',
    fictitious: (i) => [`plc-line${[1, 2, 3, 5, 6, 7, 8, 9][i % 8]}`],
    title: (i) => `(?i)\\bmotor\\s+M${100 + i}\\b.*\\b(overload|phase loss|over-?temperature)`,
    severity: 'critical',
    extras: (i) => [
      { fact: 'value', operator: 'greaterThan', value: 80 + (i % 60) },
      { fact: 'fields.Station', operator: 'matches', value: `^Line\\d+ / Cabinet \\+A${i % 40}\\b` },
      { fact: 'severity', operator: 'in', value: ['critical', 'major'] },
    ],
  },
  {
    what: 'pump',
    real: 'controllino-pump-house',
    fictitious: (i) => [`iologik-${10 + (i % 20)}`, `iologik-${30 + (i % 20)}`],
    title: (i) => `(?i)\\bpump\\s+P${100 + i}\\b.*\\b(dry run|seal leak|overcurrent)`,
    severity: 'major',
    extras: (i) => [
      { fact: 'state', operator: 'equal', value: 'active' },
      { fact: 'fields.Event', operator: 'startsWith', value: `DI-${i % 8}` },
      { fact: 'recipients', operator: 'contains', value: 'maintenance@example.com' },
    ],
  },
  {
    what: 'ups',
    real: 'ups-hall2',
    fictitious: (i) => [`ups-hall${[1, 3, 4, 5, 6][i % 5]}`],
    title: (i) => `(?i)\\bbattery\\s+(pack\\s+)?${i}\\b.*\\b(replace|temperature high|self-?test failed)`,
    severity: 'warning',
    extras: (i) => [
      { fact: 'fields.Location', operator: 'startsWith', value: `Hall ${i % 9}` },
      { fact: 'code', operator: 'in', value: [`0x${(0x200 + i).toString(16).toUpperCase()}`, `0x${(0x300 + i).toString(16).toUpperCase()}`] },
      { fact: 'state', operator: 'equal', value: 'active' },
    ],
  },
  {
    what: 'boiler',
    real: 'hmi-kessel',
    fictitious: (i) => [`hmi-kessel${2 + (i % 4)}`],
    title: (i) => `(?i)st(ö|oe)rung\\s+(brenner|pumpe|kessel)\\s*${10 + i}\\b`,
    severity: 'major',
    extras: () => [
      { fact: 'fields.Alarmklasse', operator: 'matches', value: '^[A-C]\\b' },
      { fact: 'severity', operator: 'in', value: ['critical', 'major'] },
      { fact: 'text', operator: 'matches', value: '(?i)\\b(bar|°C)\\b' },
    ],
  },
  {
    what: 'cold-room',
    real: 'logger-cold-room',
    fictitious: (i) => [`logger-cold-room-${i % 12}`],
    title: (i) => `(?i)cold room\\s*${20 + i}\\b.*\\b(temperature|door open)`,
    severity: 'major',
    extras: (i) => [
      { fact: 'hasAttachments', operator: 'equal', value: true },
      { fact: 'value', operator: 'greaterThan', value: 4 + (i % 10) },
      { fact: 'unit', operator: 'equal', value: 'C' },
    ],
  },
  {
    what: 'hvac',
    real: 'plc-line4',
    fictitious: (i) => [`ahu-${i % 30}`, `compressor-${i % 6}`],
    title: (i) => `(?i)\\b(compressor|fan)\\s+C?${200 + i}\\b.*\\b(oil pressure|vibration|trip)`,
    severity: 'minor',
    extras: () => [
      { any: [{ fact: 'timeOfDay', operator: 'between', value: ['22:00', '06:00'] }, { fact: 'weekday', operator: 'in', value: ['sat', 'sun'] }] },
      { fact: 'text', operator: 'matches', value: '(?i)\\b\\d+(\\.\\d+)?\\s*(bar|mm/s)\\b' },
      { fact: 'sender', operator: 'endsWith', value: '@plant.local' },
    ],
  },
];

/** Filler rule i: 2 to 4 conditions, none of which all hold for any corpus mail. */
function fillerRule(i: number): GeneratedRule {
  const family = FAMILIES[i % FAMILIES.length]!;
  const n = Math.floor(i / FAMILIES.length);
  const ids = n % 4 === 0 ? [family.real] : family.fictitious(n);
  const extras = family.extras(n).slice(0, i % 3);
  const conditions = [device(ids), title(family.title(n)), ...extras];
  // Now and then a rule only adds a receiver and lets later rules decide the rest.
  if (i % 20 === 7) {
    return {
      name: `${family.what}-${n}-escalate`,
      description: `${family.what} ${n}: also tell on-call`,
      when: { all: conditions },
      then: { receivers: ['oncall'], continue: true },
    };
  }
  const then: Record<string, unknown> = {
    receivers: i % 7 === 0 ? [RECEIVERS[i % RECEIVERS.length], RECEIVERS[(i + 2) % RECEIVERS.length]] : [RECEIVERS[i % RECEIVERS.length]],
    severity: family.severity,
    repeatInterval: INTERVALS[i % INTERVALS.length],
    notifyResolved: i % 2 === 0,
  };
  if (i % 11 === 0) then.template = 'short';
  return { name: `${family.what}-${n}`, description: `${family.what} ${n} (${ids.join(', ')})`, when: { all: conditions }, then };
}

/** The last rules of every generated book: the only ones the corpus mails match. */
const TAIL_RULES: GeneratedRule[] = [
  {
    name: 'tail-critical-oncall',
    description: 'every critical alarm also goes to on-call',
    when: { all: [{ fact: 'severity', operator: 'in', value: ['critical'] }, { fact: 'state', operator: 'equal', value: 'active' }] },
    then: { receivers: ['oncall'], continue: true },
  },
  {
    name: 'tail-ups-power',
    description: 'UPS hall 2 on battery and back',
    when: {
      all: [
        device(['ups-hall2']),
        title('(?i)\\bbattery\\b'),
        { any: [{ fact: 'key', operator: 'equal', value: 'ups-on-battery' }, { fact: 'fields.Code', operator: 'exists', value: true }] },
      ],
    },
    then: { receivers: ['facility-team'], severity: 'major', repeatInterval: '2h', notifyResolved: true },
  },
  {
    name: 'tail-line4-motors',
    description: 'motor over-temperature on line 4',
    when: { all: [device(['plc-line4']), title('(?i)\\bmotor\\s+M\\d+\\b.*\\bover-?temperature'), { fact: 'value', operator: 'greaterThan', value: 100 }] },
    then: { receivers: ['maintenance'], severity: 'critical', repeatInterval: '30m', notifyResolved: true },
  },
  {
    name: 'tail-boiler-house',
    description: 'any Störung from the boiler house panel',
    when: { all: [device(['hmi-kessel']), title('(?i)st(ö|oe)rung')] },
    then: { receivers: ['shift-team'], severity: 'major' },
  },
  {
    name: 'tail-cold-room',
    description: 'cold room temperature with the logger CSV attached',
    when: { all: [device(['logger-cold-room']), title('(?i)cold room\\s*\\d+'), { fact: 'hasAttachments', operator: 'equal', value: true }] },
    then: { receivers: ['quality'], severity: 'major', attachOriginal: true, notifyResolved: true, repeatInterval: '1h' },
  },
];

/** Writes `count` rules into `dir`: filler rules in files of RULES_PER_FILE, then the tail last. */
function writeRules(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  const fillers = Array.from({ length: count - TAIL_RULES.length }, (_, i) => fillerRule(i));
  for (let start = 0, file = 0; start < fillers.length; start += RULES_PER_FILE, file += 1) {
    const rules = fillers.slice(start, start + RULES_PER_FILE);
    writeFileSync(join(dir, `${String(file).padStart(3, '0')}-equipment.yaml`), `# Generated by bench/pipeline.ts\n${stringify({ rules }, { lineWidth: 0 })}`);
  }
  writeFileSync(join(dir, 'zz-catch.yaml'), `# Generated by bench/pipeline.ts: the rules the corpus mails match\n${stringify({ rules: TAIL_RULES }, { lineWidth: 0 })}`);
}

// ---------------------------------------------------------------------------------------
// Configuration

/** The shipped configuration (devices, patterns, receivers, alarms) with the bench's paths. */
function shippedConfig(dir: TestDir, rulesDir: string, delivery: Record<string, unknown>): GatewayConfig {
  const shipped = parse(readFileSync(SHIPPED_CONFIG, 'utf8')) as Record<string, unknown>;
  const raw = {
    ...shipped,
    gateway: { ...(shipped.gateway as object), dataDir: join(dir.path, 'data') },
    http: { listen: { address: '127.0.0.1', port: 0 } },
    // Errors only, to stderr (see startE2eGateway): a failing run says why.
    log: { level: 'error', format: 'json' },
    listeners: (shipped.listeners as Array<Record<string, unknown>>).map((listener) => ({ ...listener, port: 0 })),
    // Flood control off: the run measures one notification per alarm, and sends the corpus
    // devices' alarms far faster than their flood limit allows.
    alarms: { ...(shipped.alarms as object), rulesDir, templatesDir: SHIPPED_TEMPLATES, watch: false, floodControl: { enabled: false } },
    delivery,
  };
  return configFrom(dir, raw);
}

// ---------------------------------------------------------------------------------------
// Stage throughput

interface Measured {
  perSecond: number;
  /** Milliseconds per alarm, ascending. */
  samples: number[];
}

/** Awaits `fn` on items cycled, one at a time: WARMUP unmeasured, then `iterations` timed. */
async function measure<T>(items: readonly T[], iterations: number, fn: (item: T, index: number) => Promise<unknown>): Promise<Measured> {
  for (let i = 0; i < WARMUP; i += 1) await fn(items[i % items.length]!, i);
  const samples = new Array<number>(iterations);
  const startedAt = performance.now();
  for (let i = 0; i < iterations; i += 1) {
    const before = performance.now();
    await fn(items[i % items.length]!, i);
    samples[i] = performance.now() - before;
  }
  const elapsed = performance.now() - startedAt;
  return { perSecond: (iterations * 1000) / elapsed, samples: samples.sort((a, b) => a - b) };
}

interface StageRow {
  rules: number;
  loadMs: number;
  parse: Measured;
  route: Measured;
  render: Measured;
  pipeline: Measured;
}

/** A corpus mail as the listener commits it; the envelope is the corpus README's. */
function receivedOf(mail: CorpusMail, index: number, listener: string): Received {
  return {
    id: `bench-${index}`,
    receivedAt: NOW,
    listener,
    peer: { address: '192.0.2.10', port: 40_000 + index, helo: 'plc.plant.local', secure: false },
    envelope: { mailFrom: mail.mailFrom, rcptTo: mail.rcptTo },
    raw: mail.raw,
  };
}

/**
 * The generated rules must do what the table claims: every filler rule is evaluated and
 * fails, only tail rules match. A generator change that made a filler match would
 * silently measure something else.
 */
async function checkRouting(stages: ConfiguredStages, corpus: CorpusMail[], events: AlarmEvent[]): Promise<void> {
  const tail = new Set(TAIL_RULES.map((r) => r.name));
  let tailMatches = 0;
  for (const [index, event] of events.entries()) {
    const { verdicts } = await stages.route(event, NOW);
    const matched = verdicts.filter((v) => v.matched).map((v) => v.rule);
    const stray = matched.filter((name) => !tail.has(name));
    if (stray.length > 0) throw new Error(`generated rules: ${corpus[index]!.file} matched filler rule(s) ${stray.join(', ')}; only the tail rules may match`);
    tailMatches += matched.length;
  }
  if (tailMatches === 0) throw new Error('generated rules: no corpus mail matched any tail rule');
}

async function benchStages(args: BenchArgs, dir: TestDir, corpus: CorpusMail[], count: number): Promise<StageRow> {
  const rulesDir = join(dir.path, `rules-${count}`);
  writeRules(rulesDir, count);
  const config = shippedConfig(dir, rulesDir, { accounts: [{ name: 'files', type: 'file', directory: join(dir.path, 'files') }] });
  const loadStarted = performance.now();
  const stages = new ConfiguredStages(config);
  const loadMs = performance.now() - loadStarted;
  if (stages.ruleCount !== count) throw new Error(`generated ${count} rules, but the stages loaded ${stages.ruleCount}`);

  const listener = config.listeners[0]!;
  const fallbackCharset = listener.compat.fallbackCharset;
  const received = corpus.map((mail, index) => receivedOf(mail, index, listener.name));
  const parseOne = async (r: Received): Promise<AlarmEvent> => buildAlarmEvent(r, await decodeMail(r.raw, fallbackCharset), stages.devices);

  const events: AlarmEvent[] = [];
  for (const r of received) events.push(await parseOne(r));
  await checkRouting(stages, corpus, events);

  // Firing notifications for every mail that raises an alarm (a return to normal with no
  // active alarm raises none), each with the device's mail for routes that attach it.
  const dues: Array<{ due: Due; original: Buffer }> = [];
  for (const [index, event] of events.entries()) {
    const { route } = await stages.route(event, NOW);
    const fingerprint = fingerprintOf(event, config.alarms!.fingerprint);
    const decision = decide({ active: undefined, event, route, fingerprint, now: NOW, newAlarmId: () => newId(NOW) });
    for (const due of decision.due) dues.push({ due, original: received[index]!.raw });
  }
  if (dues.length === 0) throw new Error('no corpus mail raised an alarm to render');

  // No alarm is active: every mail that raises one raises a new one. topicState is for MQTT telemetry, which the corpus mails are not.
  // The pipeline only reads (the caller saves its result), and only these: an empty store without a database.
  const store = {
    alarms: { active: async () => undefined, list: async () => [] },
    topics: { get: async () => undefined },
    silences: { list: async () => [] },
    batches: { floodState: async () => undefined },
  } as unknown as Repositories;
  const parsed = await measure(received, args.iterations, parseOne);
  const routed = await measure(events, args.iterations, (event) => stages.route(event, NOW));
  const rendered = await measure(dues, args.iterations, ({ due, original }) => stages.renderNotification(due, original));
  const piped = await measure(received, args.iterations, (r) => runAlarmPipeline(r, config, stages, store, NOW));
  return { rules: count, loadMs, parse: parsed, route: routed, render: rendered, pipeline: piped };
}

// ---------------------------------------------------------------------------------------
// End to end

/** A new alarm from the line 4 PLC, shaped like the corpus s7 mail; motor M<token> makes its title unique. */
function alarmMessage(token: number): DeviceMessage {
  const headers = [`From: ${DEVICE_SENDER}`, `To: ${DEVICE_RECIPIENT}`, `Subject: ALARM Line4 Motor M${token} overtemperature`];
  const body = [`Motor M${token} winding temperature ${130 + (token % 30)} C exceeds limit 130 C.`, `Station: Line4 / Cabinet +A${token % 40}`];
  return { token, mailFrom: DEVICE_SENDER, rcptTo: DEVICE_RECIPIENT, data: `${headers.join('\r\n')}\r\n\r\n${body.join('\r\n')}` };
}

async function startE2eGateway(dir: TestDir, upstreamPort: number): Promise<RunningGateway> {
  const config = shippedConfig(dir, SHIPPED_RULES, { accounts: [{ name: 'lan', host: '127.0.0.1', port: upstreamPort, security: 'none' }] });
  return runGateway(config, createLogger({ level: config.log.level, format: 'json', destination: process.stderr }));
}

/**
 * DEVICE_CONNECTIONS workers take the next alarm each, one connection per alarm as a PLC
 * sends it. With --rate, alarm n starts no earlier than n/rate seconds in: latency
 * measured below saturation shows the pipeline, not the length of a queue.
 */
async function driveDevices(port: number, args: BenchArgs): Promise<DeviceTiming[]> {
  const timings: DeviceTiming[] = [];
  let next = 0;
  const startedAt = performance.now();
  const worker = async (): Promise<void> => {
    while (next < args.alarms) {
      const index = next;
      next += 1;
      if (args.rate > 0) {
        const wait = startedAt + (index / args.rate) * 1000 - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      timings.push(...(await deviceSession(port, [alarmMessage(index + 1)])));
    }
  };
  await Promise.all(Array.from({ length: DEVICE_CONNECTIONS }, worker));
  return timings;
}

// ---------------------------------------------------------------------------------------
// Output

const us = (valueMs: number): string => (valueMs * 1000).toFixed(0);

function printMachine(args: BenchArgs, corpus: CorpusMail[]): void {
  const cpu = cpus();
  // The load average says whether something else shared the CPUs; the figures are only as quiet as the machine.
  console.log(`machine   node ${process.version}, ${platform()}/${arch()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`args      --iterations ${args.iterations} --rules ${args.rules.join(',')} --alarms ${args.alarms} --rate ${args.rate}${args.skipE2e ? ' --skip-e2e' : ''}`);
  console.log(`corpus    ${corpus.length} mails (test/fixtures/corpus), cycled; ${WARMUP} warm-up alarms per stage and rule count`);
}

function printStages(rows: StageRow[]): void {
  const header = ['rules', 'parse/s', 'rules/s', 'render/s', 'pipeline/s', 'pipeline p50/p99 µs'];
  const lines = rows.map((row) => [
    String(row.rules),
    row.parse.perSecond.toFixed(0),
    row.route.perSecond.toFixed(0),
    row.render.perSecond.toFixed(0),
    row.pipeline.perSecond.toFixed(0),
    `${us(percentile(row.pipeline.samples, 50))} / ${us(percentile(row.pipeline.samples, 99))}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]): string => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  console.log('');
  console.log('stages    alarms/s, one alarm at a time (as the inbox processor runs them); pipeline = runAlarmPipeline, no store');
  console.log(`          ${format(header)}`);
  for (const line of lines) console.log(`          ${format(line)}`);
  console.log(`rule load ${rows.map((row) => `${row.rules} rules ${ms(row.loadMs)}`).join(', ')} (ConfiguredStages: rules and templates)`);
}

async function benchE2e(args: BenchArgs, dir: TestDir): Promise<boolean> {
  let upstream: Upstream | undefined;
  let gateway: RunningGateway | undefined;
  try {
    upstream = await startUpstream({ security: 'none' });
    gateway = await startE2eGateway(dir, upstream.port);
    const rules = new ConfiguredStages(gateway.config).ruleCount;
    console.log('');
    console.log(
      `e2e       gateway with the shipped config but flood control off (alarms.floodControl.enabled: false), ${rules} shipped rules and templates; ${DEVICE_CONNECTIONS} device connections, one alarm each; ` +
        `delivery concurrency ${gateway.config.delivery.concurrency}; store ${gateway.config.gateway.dataDir} (${fileSystemOf(dir.path)})`,
    );
    const watch = watchArrivals(upstream, args.alarms, TITLE_TOKEN, STALL_MS, DUPLICATE_GRACE_MS);
    const startedAt = performance.now();
    const timings = await driveDevices(gateway.port, args);
    await watch.settled;
    printDeviceToUpstream(startedAt, timings, watch.arrivals, { unit: 'alarms', delivered: 'notified' });
    const verification = await verifyExactlyOnce(tokenRange(1, args.alarms + 1), watch.arrivals, watch.strays(), gateway.store);
    printVerification(verification, {
      ok: `each of the ${args.alarms} alarms gave exactly one notification upstream; gateway outbox fully sent`,
      missing: 'without notification',
      duplicated: 'notified more than once',
      label: (t) => `M${t}`,
    });
    return verification.ok;
  } finally {
    await gateway?.stop();
    await upstream?.close();
  }
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const corpus = loadCorpus();
  const dir = testDir('annunciator-bench-pipeline-');
  try {
    printMachine(args, corpus);
    const rows: StageRow[] = [];
    for (const count of args.rules) rows.push(await benchStages(args, dir, corpus, count));
    printStages(rows);
    if (args.skipE2e) return 0;
    return (await benchE2e(args, dir)) ? 0 : 1;
  } finally {
    dir.remove();
  }
}

runBench(main);

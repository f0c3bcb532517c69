/**
 * MQTT ingest benchmark: N alarm events published with QoS 1 from P publisher connections
 * through a broker into an in-process gateway configured from config/examples/mqtt.yaml,
 * measured into alarm records and outbox entries. Not a test; run
 * `npm run bench:mqtt -- --help`.
 *
 * 1. Saturated: the N events as fast as the broker takes them (each publisher keeps up to
 *    IN_FLIGHT publishes awaiting their PUBACK); publish rate, the rate the gateway
 *    committed them (its stats.committed over time), the rate alarm records and outbox
 *    entries appeared, and latency from publish to outbox entry.
 * 2. Paced: the same N events at --rate per second, for latency below saturation.
 *
 * Each event is a new alarm (a device segment of its own). The outbox entry's time is its
 * createdAt, the `now` the inbox processor took for that message (before the pipeline ran
 * and its transaction committed); publish times are Date.now() at the publisher, as the
 * store's timestamps are. Delivery to a loopback SMTP upstream runs too, but is not
 * measured; the outbox is drained between runs so one run's delivery does not load the next.
 *
 * Everything but the broker shares one process and one event loop (publishers, gateway,
 * upstream with its MIME parsing), so the figures are a lower bound for the gateway alone.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { join } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import type { Alarm } from '../src/lifecycle/alarm.js';
import { createLogger } from '../src/log/logger.js';
import type { OutboxSummary } from '../src/store/store.js';
import { CORPUS_DIR } from '../test/helpers/corpus.js';
import { configFrom, eventually, runGateway, testDir, type RunningGateway, type TestDir } from '../test/helpers/gateway.js';
import { REPO_ROOT } from '../test/helpers/gateway-process.js';
import { describeBrokerChoice, startTestBroker, type TestBroker } from '../test/helpers/mqtt-broker.js';
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { fileSystemOf, percentile, positiveInt, runBench } from './bench-kit.js';

interface BenchArgs {
  events: number;
  publishers: number;
  /** Events per second in the paced run, all publishers together. */
  rate: number;
  skipPaced: boolean;
}

/** Events through the whole pipeline before measuring, so the JIT has settled; not reported. */
const WARMUP = 200;
/** Saturated run: QoS 1 publishes a publisher keeps awaiting their PUBACK. */
const IN_FLIGHT = 32;
/** How often stats.committed is sampled. */
const SAMPLE_MS = 10;
/** How often the bench looks whether the inbox is empty (run settled); bounds the settle time's resolution. */
const SETTLE_POLL_MS = 50;
/** Stop waiting for a run when neither a commit nor the inbox moved for this long. */
const STALL_MS = 10_000;
/** Stop waiting for the outbox to drain between runs after this long without a delivery. */
const DRAIN_STALL_MS = 30_000;
const SAMPLE_FILE = join(CORPUS_DIR, 'mqtt', 'tank-level-json.json');
/** The example's first subscription: plant/{site}/{line}/{device}/alarm. */
const TOPIC_TAIL = (device: string): string => `plant/north/line2/${device}/alarm`;

const USAGE = `usage: npm run bench:mqtt -- [--events N] [--publishers P] [--rate R] [--skip-paced]

  --events N       events per run, each a new alarm (default 5000)
  --publishers P   publisher connections, QoS 1 (default 4)
  --rate R         paced run: events per second from all publishers together (default 200)
  --skip-paced     only the saturated run

The broker is picked as by the tests (test/helpers/mqtt-broker.ts): the Mosquitto service on
127.0.0.1:1883, else a spawned mosquitto, else aedes in-process; ANNUNCIATOR_TEST_BROKER=
service|mosquitto|aedes forces one.`;

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '5000' },
      publishers: { type: 'string', default: '4' },
      rate: { type: 'string', default: '200' },
      'skip-paced': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`--rate must be a positive number of events per second, not ${values.rate}`);
  return { events: positiveInt('events', values.events), publishers: positiveInt('publishers', values.publishers), rate, skipPaced: values['skip-paced'] };
}

// ---------------------------------------------------------------------------------------
// Set-up

const example = parse(readFileSync(join(REPO_ROOT, 'config/examples/mqtt.yaml'), 'utf8')) as Record<string, unknown> & {
  mqtt: Array<Record<string, unknown> & { subscriptions: Array<Record<string, unknown> & { topic: string }> }>;
};

interface Harness {
  /** Topic root of this run, so a shared broker's other traffic does not mix in. */
  root: string;
  /** The gateway's client id; its persistent session is this run's. */
  clientId: string;
  dir: TestDir;
}

/** The shipped MQTT example under a topic root and client id of its own, as test/e2e/mqtt.test.ts runs it. */
async function startBenchGateway(h: Harness, broker: TestBroker, upstreamPort: number): Promise<RunningGateway> {
  const [brokerConfig] = example.mqtt;
  const raw = {
    ...example,
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(h.dir.path, 'data') },
    // Errors only, to stderr: a failing run says why.
    log: { level: 'error', format: 'json' },
    listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }],
    alarms: { ...(example.alarms as object), rulesDir: join(REPO_ROOT, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false },
    mqtt: [
      {
        ...brokerConfig,
        url: broker.url,
        clientId: h.clientId,
        reconnect: { initialDelay: '100ms', maxDelay: '1s' },
        subscriptions: brokerConfig!.subscriptions.map((s) => ({ ...s, topic: `${h.root}/${s.topic}` })),
        publish: { prefix: `${h.root}/annunciator`, qos: 1 },
      },
    ],
    delivery: {
      retry: { initialDelay: '50ms', maxDelay: '200ms', maxAge: '1h', jitter: 0 },
      pollInterval: '100ms',
      accounts: [{ name: 'lan-relay', host: '127.0.0.1', port: upstreamPort, security: 'none' }],
    },
  };
  const config = configFrom(h.dir, raw);
  const gateway = await runGateway(config, createLogger({ level: config.log.level, format: 'json', destination: process.stderr }));
  await eventually(() => gateway.mqtt[0]?.ready, 10_000, 'gateway connected and subscribed');
  return gateway;
}

/**
 * The gateway subscribes after CONNACK, asynchronously; an event published before its
 * SUBSCRIBE is in place would be lost. A malformed acknowledgement on `<prefix>/ack` (one
 * SUBSCRIBE covers it and the alarm topics) is counted as received and refused, nothing more.
 */
async function waitForSubscription(gateway: RunningGateway, h: Harness, client: MqttClient): Promise<void> {
  const stats = gateway.mqtt[0]!.stats;
  const deadline = Date.now() + 10_000;
  while (stats.received === 0) {
    if (Date.now() > deadline) throw new Error('the gateway did not subscribe within 10 s');
    await client.publishAsync(`${h.root}/annunciator/ack`, 'bench subscription probe', { qos: 1 });
    await sleep(100);
  }
}

async function connectPublishers(broker: TestBroker, h: Harness, count: number): Promise<MqttClient[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => connectAsync(broker.url, { clientId: `${h.root}-pub-${i}`, clean: true, reconnectPeriod: 0 })));
}

const samplePayload = (JSON.parse(readFileSync(SAMPLE_FILE, 'utf8')) as { payload: Record<string, unknown> }).payload;

/** The corpus tank-level sample, stamped with the time it is published. */
function payloadAt(now: number): string {
  return JSON.stringify({ ...samplePayload, ts: new Date(now).toISOString() });
}

// ---------------------------------------------------------------------------------------
// Runs

interface Run {
  name: string;
  devices: string[];
  /** Date.now() when each device's event was handed to its publisher. */
  publishedAt: Map<string, number>;
  /** First publish. */
  startedAt: number;
  /** Last PUBACK at a publisher. */
  lastPubackAt: number;
  /** [Date.now(), committed since the run started] every SAMPLE_MS. */
  committed: Array<[number, number]>;
  /** When the bench saw every event committed and the inbox empty; undefined if it stalled. */
  settledAt: number | undefined;
  /** Of the one event loop publishers, gateway and upstream share, from the first publish to settling. */
  loop: EventLoopUtilization;
}

type Publish = (client: MqttClient, device: string) => Promise<void>;

function publisherFor(h: Harness, run: Pick<Run, 'publishedAt'>): Publish {
  return async (client, device) => {
    const now = Date.now();
    run.publishedAt.set(device, now);
    await client.publishAsync(`${h.root}/${TOPIC_TAIL(device)}`, payloadAt(now), { qos: 1 });
  };
}

/** Each publisher takes the next event while it has fewer than IN_FLIGHT awaiting PUBACK. */
async function publishSaturated(clients: MqttClient[], devices: string[], publish: Publish): Promise<number> {
  let next = 0;
  let lastPuback = 0;
  const worker = async (client: MqttClient): Promise<void> => {
    const inFlight = new Set<Promise<void>>();
    while (next < devices.length || inFlight.size > 0) {
      while (inFlight.size < IN_FLIGHT && next < devices.length) {
        const job: Promise<void> = publish(client, devices[next++]!).then(() => {
          lastPuback = Math.max(lastPuback, Date.now());
          inFlight.delete(job);
        });
        inFlight.add(job);
      }
      await Promise.race(inFlight);
    }
  };
  await Promise.all(clients.map(worker));
  return lastPuback;
}

/** Event i is published no earlier than i/rate seconds in, round robin over the publishers. */
async function publishPaced(clients: MqttClient[], devices: string[], rate: number, publish: Publish): Promise<number> {
  const startedAt = Date.now();
  let lastPuback = 0;
  const jobs: Array<Promise<void>> = [];
  for (const [i, device] of devices.entries()) {
    const wait = startedAt + (i * 1000) / rate - Date.now();
    if (wait >= 1) await sleep(wait);
    jobs.push(publish(clients[i % clients.length]!, device).then(() => void (lastPuback = Math.max(lastPuback, Date.now()))));
  }
  await Promise.all(jobs);
  return lastPuback;
}

/** Publishes one run's events and waits until the gateway has committed and processed them all. */
async function runEvents(name: string, gateway: RunningGateway, clients: MqttClient[], h: Harness, count: number, rate: number | undefined): Promise<Run> {
  const stats = gateway.mqtt[0]!.stats;
  const devices = Array.from({ length: count }, (_, i) => `${name}-${String(i).padStart(5, '0')}`);
  const loopBefore = performance.eventLoopUtilization();
  const run: Run = { name, devices, publishedAt: new Map(), startedAt: Date.now(), lastPubackAt: 0, committed: [], settledAt: undefined, loop: loopBefore };
  const base = stats.committed;
  const sampler = setInterval(() => run.committed.push([Date.now(), stats.committed - base]), SAMPLE_MS);
  try {
    const publish = publisherFor(h, run);
    run.startedAt = Date.now();
    run.committed.push([run.startedAt, 0]);
    run.lastPubackAt = rate === undefined ? await publishSaturated(clients, devices, publish) : await publishPaced(clients, devices, rate, publish);
    // Settled: all committed and the inbox empty. Stalled: neither moved for STALL_MS.
    // The inbox is looked at only every SETTLE_POLL_MS: the query runs on the gateway's loop.
    let last = '';
    let movedAt = Date.now();
    for (;;) {
      const head = (await gateway.store.inbox.pending(1))[0]?.id;
      if (stats.committed - base >= count && head === undefined) {
        run.settledAt = Date.now();
        break;
      }
      const now = Date.now();
      const state = `${stats.committed}/${head ?? ''}`;
      if (state !== last) {
        last = state;
        movedAt = now;
      } else if (now - movedAt > STALL_MS) {
        break;
      }
      await sleep(SETTLE_POLL_MS);
    }
    run.committed.push([Date.now(), stats.committed - base]);
    run.loop = performance.eventLoopUtilization(loopBefore);
  } finally {
    clearInterval(sampler);
  }
  return run;
}

/** Waits until the outbox has nothing pending or in flight; returns how long that took, or undefined if delivery stalled. */
async function drainOutbox(gateway: RunningGateway): Promise<number | undefined> {
  const startedAt = Date.now();
  let left = Number.POSITIVE_INFINITY;
  let movedAt = startedAt;
  for (;;) {
    const now = Date.now();
    const pending = (await gateway.store.outbox.list(['pending', 'sending'])).length;
    if (pending === 0) return now - startedAt;
    if (pending < left) {
      left = pending;
      movedAt = now;
    } else if (now - movedAt > DRAIN_STALL_MS) {
      return undefined;
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------
// Results

interface EventRecord {
  device: string;
  publishedAt: number;
  /** The received row's receivedAt: when the gateway's MQTT handler took the message. */
  receivedAt?: number;
  alarms: Alarm[];
  outbox: OutboxSummary[];
}

interface Outcome {
  records: EventRecord[];
  ok: boolean;
  noAlarm: string[];
  severalAlarms: string[];
  folded: string[];
  outboxNotOne: string[];
}

/** Per event: its alarms (by device id), their outbox entries (by alarm id), and the received row behind them. */
async function collect(run: Run, gateway: RunningGateway, alarms: Alarm[], outbox: OutboxSummary[]): Promise<Outcome> {
  const alarmsByDevice = new Map<string, Alarm[]>();
  for (const alarm of alarms) alarmsByDevice.set(alarm.device.id, [...(alarmsByDevice.get(alarm.device.id) ?? []), alarm]);
  const outboxByAlarm = new Map<string, OutboxSummary[]>();
  for (const entry of outbox) if (entry.alarmId) outboxByAlarm.set(entry.alarmId, [...(outboxByAlarm.get(entry.alarmId) ?? []), entry]);
  const outcome: Outcome = { records: [], ok: true, noAlarm: [], severalAlarms: [], folded: [], outboxNotOne: [] };
  for (const device of run.devices) {
    const own = alarmsByDevice.get(device) ?? [];
    const entries = own.flatMap((a) => outboxByAlarm.get(a.id) ?? []);
    const first = entries[0];
    const receivedAt = first?.receivedId ? (await gateway.store.inbox.get(first.receivedId))?.receivedAt : undefined;
    outcome.records.push({ device, publishedAt: run.publishedAt.get(device)!, receivedAt, alarms: own, outbox: entries });
    if (own.length === 0) outcome.noAlarm.push(device);
    if (own.length > 1) outcome.severalAlarms.push(device);
    // A second copy of the same event folds into the alarm (same fingerprint): count 2.
    if (own.some((a) => a.count !== 1)) outcome.folded.push(device);
    if (own.length > 0 && entries.length !== 1) outcome.outboxNotOne.push(device);
  }
  outcome.ok = outcome.noAlarm.length + outcome.severalAlarms.length + outcome.folded.length + outcome.outboxNotOne.length === 0;
  return outcome;
}

const ms = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a');
const perSecond = (count: number, elapsedMs: number): string => (elapsedMs > 0 ? `${((count * 1000) / elapsedMs).toFixed(1)} events/s` : 'n/a');
const ascending = (values: number[]): number[] => values.sort((a, b) => a - b);

/** Rate between the 10th and the 90th percent of `times` (ascending, absolute): the steady part, without ramp-up and tail. */
function steadyRate(times: readonly number[]): string {
  const rate = steadyPerSecond(times);
  return Number.isFinite(rate) ? `${rate.toFixed(1)} events/s` : 'n/a';
}

function steadyPerSecond(times: readonly number[]): number {
  if (times.length < 10) return Number.NaN;
  const from = Math.floor(times.length * 0.1);
  const to = Math.ceil(times.length * 0.9) - 1;
  const elapsed = times[to]! - times[from]!;
  return elapsed > 0 ? ((to - from) * 1000) / elapsed : Number.NaN;
}

/** Times at which the sampled counter first reached 1, 2, ... count (a step function; resolution SAMPLE_MS). */
function timesFromSamples(samples: ReadonlyArray<[number, number]>): number[] {
  const times: number[] = [];
  for (const [at, value] of samples) while (times.length < value) times.push(at);
  return times;
}

/** `offered`: the paced run's rate, to say when the pipeline could not keep up with it. */
function printRun(run: Run, outcome: Outcome, drainedMs: number | undefined, sentAtSettle: number, offered: number | undefined): void {
  const n = run.devices.length;
  const t0 = run.startedAt;
  const commitTimes = timesFromSamples(run.committed);
  const alarmTimes = ascending(outcome.records.flatMap((r) => r.alarms.map((a) => a.firstSeen)));
  const outboxTimes = ascending(outcome.records.flatMap((r) => r.outbox.map((e) => e.createdAt)));
  const all = (times: number[]): number => (times.length > 0 ? times[times.length - 1]! - t0 : Number.NaN);
  const latency = ascending(outcome.records.flatMap((r) => (r.outbox[0] ? [r.outbox[0].createdAt - r.publishedAt] : [])));
  const toHandler = ascending(outcome.records.flatMap((r) => (r.receivedAt !== undefined ? [r.receivedAt - r.publishedAt] : [])));
  const handlerToOutbox = ascending(outcome.records.flatMap((r) => (r.receivedAt !== undefined && r.outbox[0] ? [r.outbox[0].createdAt - r.receivedAt] : [])));
  const p = (sorted: number[], q: number): string => ms(percentile(sorted, q));
  const pubWall = run.lastPubackAt - t0;
  console.log(`publish   ${n} published, wall ${ms(pubWall)}: ${perSecond(n, pubWall)} (first publish to last PUBACK at a publisher)`);
  console.log(`commit    ${commitTimes.length} committed (mqtt stats.committed, sampled every ${SAMPLE_MS} ms) in ${ms(all(commitTimes))}: ${perSecond(commitTimes.length, all(commitTimes))}; steady 10-90%: ${steadyRate(commitTimes)}`);
  console.log(`alarms    ${alarmTimes.length} alarm records (firstSeen) in ${ms(all(alarmTimes))}: ${perSecond(alarmTimes.length, all(alarmTimes))}; steady 10-90%: ${steadyRate(alarmTimes)}`);
  console.log(`outbox    ${outboxTimes.length} entries (createdAt) in ${ms(all(outboxTimes))}: ${perSecond(outboxTimes.length, all(outboxTimes))}; steady 10-90%: ${steadyRate(outboxTimes)}`);
  console.log(
    `          all ${n} outbox entries existed ${ms(all(outboxTimes))} after the first publish (createdAt); ` +
      (run.settledAt !== undefined ? `the bench saw the inbox empty at ${ms(run.settledAt - t0)}` : `STALLED: no progress for ${STALL_MS} ms`),
  );
  console.log(`loop      event loop utilisation ${(run.loop.utilization * 100).toFixed(0)}% over the run (one loop for publishers, gateway and upstream)`);
  console.log(`latency   publish -> outbox entry (its createdAt, taken before the commit): p50 ${p(latency, 50)}, p90 ${p(latency, 90)}, p99 ${p(latency, 99)}, max ${p(latency, 100)}`);
  console.log(`          publish -> gateway handler (receivedAt): p50 ${p(toHandler, 50)}, p90 ${p(toHandler, 90)}, p99 ${p(toHandler, 99)}, max ${p(toHandler, 100)}`);
  console.log(`          handler -> outbox entry (createdAt): p50 ${p(handlerToOutbox, 50)}, p90 ${p(handlerToOutbox, 90)}, p99 ${p(handlerToOutbox, 99)}, max ${p(handlerToOutbox, 100)}`);
  const kept = steadyPerSecond(outboxTimes);
  if (offered !== undefined && kept < offered * 0.95) {
    console.log(`note      outbox entries appeared at ${kept.toFixed(1)}/s of the ${offered}/s offered: the pipeline is saturated and these latencies are mostly queueing; try --rate well below ${kept.toFixed(0)}`);
  }
  console.log(
    `delivery  ${sentAtSettle} of ${outboxTimes.length} sent upstream when the run settled; ` +
      (drainedMs !== undefined ? `outbox drained ${ms(drainedMs)} later` : `outbox NOT drained (no delivery for ${DRAIN_STALL_MS} ms)`),
  );
}

function printVerification(run: Run, outcome: Outcome): void {
  const n = run.devices.length;
  if (outcome.ok) {
    console.log(`verified  each of the ${n} events gave exactly one alarm (count 1) and one outbox entry`);
    return;
  }
  const some = (devices: string[]): string => devices.slice(0, 10).join(', ') + (devices.length > 10 ? ', ...' : '');
  console.log(
    `FAILED    ${outcome.noAlarm.length} without an alarm, ${outcome.severalAlarms.length} with several alarms, ` +
      `${outcome.folded.length} folded into a count > 1, ${outcome.outboxNotOne.length} without exactly one outbox entry`,
  );
  if (outcome.noAlarm.length > 0) console.log(`          no alarm: ${some(outcome.noAlarm)}`);
  if (outcome.severalAlarms.length > 0) console.log(`          several alarms: ${some(outcome.severalAlarms)}`);
  if (outcome.folded.length > 0) console.log(`          folded: ${some(outcome.folded)}`);
  if (outcome.outboxNotOne.length > 0) console.log(`          outbox: ${some(outcome.outboxNotOne)}`);
}

function printMachine(args: BenchArgs): void {
  const cpu = cpus();
  // The load average says whether something else shared the CPUs; the figures are only as quiet as the machine.
  console.log(`machine   node ${process.version}, ${platform()}/${arch()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`args      --events ${args.events} --publishers ${args.publishers} --rate ${args.rate}${args.skipPaced ? ' --skip-paced' : ''}`);
}

// ---------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Measures one run, verifies it, drains the outbox, and prints it all; true when verified. */
async function measuredRun(title: string, name: string, gateway: RunningGateway, clients: MqttClient[], h: Harness, args: BenchArgs, rate: number | undefined): Promise<boolean> {
  console.log('');
  console.log(title);
  const run = await runEvents(name, gateway, clients, h, args.events, rate);
  const outcome = await collect(run, gateway, await gateway.store.alarms.list(['active', 'resolved'], Number.MAX_SAFE_INTEGER), await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed']));
  const sent = outcome.records.reduce((n, r) => n + r.outbox.filter((e) => e.status === 'sent').length, 0);
  const drained = await drainOutbox(gateway);
  printRun(run, outcome, drained, sent, rate);
  printVerification(run, outcome);
  return outcome.ok && run.settledAt !== undefined;
}

/**
 * On the shared Mosquitto service, leave nothing behind: the retained alarm states the
 * gateway published, and its persistent session (a clean-session connect ends it).
 */
async function cleanSharedBroker(broker: TestBroker, h: Harness, alarmIds: string[]): Promise<void> {
  if (broker.kind !== 'mosquitto-service') return;
  const client = await connectAsync(broker.url, { clientId: h.clientId, clean: true, reconnectPeriod: 0 });
  try {
    for (let i = 0; i < alarmIds.length; i += 500) {
      await Promise.all(alarmIds.slice(i, i + 500).map((id) => client.publishAsync(`${h.root}/annunciator/alarms/${id}`, '', { qos: 1, retain: true })));
    }
  } finally {
    await client.endAsync();
  }
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const root = `b${randomBytes(4).toString('hex')}`;
  const h: Harness = { root, clientId: `annunciator-${root}`, dir: testDir('annunciator-bench-mqtt-') };
  let broker: TestBroker | undefined;
  let upstream: Upstream | undefined;
  let gateway: RunningGateway | undefined;
  let clients: MqttClient[] = [];
  try {
    printMachine(args);
    broker = await startTestBroker();
    console.log(`broker    ${describeBrokerChoice()}`);
    upstream = await startUpstream({ security: 'none' });
    gateway = await startBenchGateway(h, broker, upstream.port);
    console.log(
      `gateway   config/examples/mqtt.yaml with the shipped rules and templates, topic root ${root}; store ${gateway.config.gateway.dataDir} (${fileSystemOf(h.dir.path)}); ` +
        `delivery concurrency ${gateway.config.delivery.concurrency} to a loopback SMTP upstream (security none)`,
    );
    clients = await connectPublishers(broker, h, args.publishers);
    await waitForSubscription(gateway, h, clients[0]!);
    const warm = await runEvents('warm', gateway, clients, h, WARMUP, undefined);
    if (warm.settledAt === undefined) throw new Error(`warm-up: the gateway committed ${warm.committed.at(-1)?.[1] ?? 0} of ${WARMUP} events and stalled`);
    await drainOutbox(gateway);
    console.log(`events    ${TOPIC_TAIL('<device>')} under the root, QoS 1, the corpus tank-level-json payload; each a new alarm; ${WARMUP} warm-up events first, not measured`);

    let ok = await measuredRun(`saturated ${args.events} events from ${args.publishers} publishers as fast as the broker takes them (up to ${IN_FLIGHT} awaiting PUBACK per publisher)`, 'sat', gateway, clients, h, args, undefined);
    if (!args.skipPaced) {
      ok = (await measuredRun(`paced     ${args.events} events at ${args.rate}/s from ${args.publishers} publishers, round robin`, 'paced', gateway, clients, h, args, args.rate)) && ok;
    }
    const stats = gateway.mqtt[0]!.stats;
    console.log('');
    console.log(`mqtt      stats: received ${stats.received}, committed ${stats.committed}, duplicates ${stats.duplicates}, rejected ${JSON.stringify(stats.rejected)} (includes warm-up and subscription probes)`);
    return ok ? 0 : 1;
  } finally {
    const alarmIds = gateway ? (await gateway.store.alarms.list(['active', 'resolved'], Number.MAX_SAFE_INTEGER)).map((a) => a.id) : [];
    await Promise.all(clients.map((c) => c.endAsync()));
    await gateway?.stop();
    if (broker) await cleanSharedBroker(broker, h, alarmIds).catch((error: unknown) => console.error(`cleaning the shared broker: ${error instanceof Error ? error.message : String(error)}`));
    await upstream?.close();
    await broker?.stop();
    h.dir.remove();
  }
}

runBench(main);

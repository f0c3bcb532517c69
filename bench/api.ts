/**
 * API and live-board benchmark (issue 12's bench): a real gateway on a SQLite file with
 * 10,000 active alarms, then
 *  1. GET /api/v1/alarms over real HTTP with some concurrency: the default page, a
 *     severity filter and a text filter, p50/p99, each quoted against an anchor measured
 *     in the same run and the same way (GET /-/healthy: the HTTP stack alone);
 *  2. the board's live updates during a flood: a client follows GET /api/v1/events (SSE)
 *     while devices send N new alarms over SMTP at a steady rate, and for each alarm the
 *     time from the device's 250 to its `alarm-changed` event on the stream is recorded.
 * The 10,000 alarms are written through the store interface (the same repository calls
 * the pipeline makes), not mailed: a flood of 10,000 mails would measure the pipeline.
 * Exits 1 when an event of the flood never arrives or a request fails.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { arch, cpus, loadavg, platform } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log/logger.js';
import type { Alarm } from '../src/lifecycle/alarm.js';
import { SEVERITIES } from '../src/config/schema.js';
import { alarmRecord } from '../test/helpers/alarm-factory.js';
import { configFrom, drainedOutbox, runGateway, testDir, type RunningGateway } from '../test/helpers/gateway.js';
import { shippedAlarmsConfig } from '../test/helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { fileSystemOf, percentile, positiveInt, runBench } from './bench-kit.js';
import { deviceSession } from './smtp-device.js';

const USAGE = `npm run bench:api -- [options]
  --alarms N        active alarms in the store before the API is measured (default 10000)
  --requests R      requests per endpoint (default 400)
  --concurrency C   requests in flight at once (default 8)
  --flood F         new alarms mailed during the live-update measurement (default 500)
  --rate M          of them per second, each in its own SMTP session (default 50)`;

const { values } = parseArgs({
  options: {
    alarms: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '8' },
    flood: { type: 'string', default: '500' },
    rate: { type: 'string', default: '50' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const args = {
  alarms: positiveInt('alarms', values.alarms),
  requests: positiveInt('requests', values.requests),
  concurrency: positiveInt('concurrency', values.concurrency),
  flood: positiveInt('flood', values.flood),
  rate: positiveInt('rate', values.rate),
};

const T0 = Date.now() - 86_400_000;
const SITES = ['Plant North', 'Plant South', 'Hall 2', 'Hall 3', 'Tank Farm'];
const WORDS = ['pump', 'motor', 'valve', 'compressor', 'conveyor', 'chiller', 'boiler', 'fan'];

/** The stored alarms: 200 devices on 5 sites (every severity on each), every severity, every tenth acknowledged, last seen spread over a day. */
function storedAlarm(i: number): Alarm {
  const device = `plc-${i % 200}`;
  const word = WORDS[i % WORDS.length]!;
  const seen = T0 + Math.floor((i * 86_400_000) / args.alarms);
  return alarmRecord(`BENCH${String(i).padStart(6, '0')}`, {
    fingerprint: `bench-${i}`,
    device: { id: device, name: device.toUpperCase(), site: SITES[Math.floor(i / SEVERITIES.length) % SITES.length]!, area: `Line ${i % 12}`, matchedBy: 'sender' },
    title: `${device}: ${word} ${i} fault`,
    severity: SEVERITIES[i % SEVERITIES.length]!,
    firstSeen: seen,
    lastSeen: seen,
    ...(i % 10 === 0 ? { ack: { by: 'anna', at: seen + 1000, channel: 'cli' as const } } : {}),
  });
}

interface Timed {
  p50: number;
  p99: number;
  max: number;
  bytes: number;
  status: Set<number>;
}

/** R GET requests, C at a time, each on a kept-alive connection of the global agent; ms per request. */
async function measure(url: string): Promise<Timed> {
  const times: number[] = [];
  const status = new Set<number>();
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < args.requests) {
      next += 1;
      const start = performance.now();
      const response = await fetch(url, { headers: { accept: 'application/json' } });
      const body = await response.arrayBuffer();
      times.push(performance.now() - start);
      status.add(response.status);
      bytes = body.byteLength;
    }
  };
  // A warm-up round, not counted: the first requests compile the route's serializer.
  for (let i = 0; i < 20; i += 1) await (await fetch(url)).arrayBuffer();
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1]!, bytes, status };
}

/** Follows GET /api/v1/events; calls `onEvent` with the arrival time of each event. */
function followEvents(url: string, onEvent: (name: string, data: unknown, at: number) => void): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream' } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name && data) onEvent(name, JSON.parse(data), at);
        }
      });
      resolve({ status: 200, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const fmt = (value: number): string => `${value.toFixed(2)} ms`;

async function main(): Promise<number> {
  const dir = testDir('annunciator-bench-api-');
  let upstream: Upstream | undefined;
  let gateway: RunningGateway | undefined;
  let failures = 0;
  try {
    upstream = await startUpstream({ security: 'none' });
    const raw = shippedAlarmsConfig(dir, {
      // The flood's devices all connect from 127.0.0.1; in a plant each has its own address.
      listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'], limits: { maxConnectionsPerClient: 1000, maxConnections: 1000 } }],
      delivery: { pollInterval: '100ms', accounts: [{ name: 'lan', host: '127.0.0.1', port: upstream.port, security: 'none' }] },
    });
    gateway = await runGateway(configFrom(dir, raw), createLogger({ level: 'error', format: 'json', destination: process.stderr }));
    const base = `http://127.0.0.1:${gateway.http!.address().port}`;
    console.log(`bench:api ${new Date().toISOString()}  node ${process.version}  ${platform()}/${arch()}  ${cpus().length} x ${cpus()[0]?.model ?? '?'}  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`store: ${gateway.store.backend} in ${join(dir.path, 'data')} (${fileSystemOf(dir.path)})`);

    // 1. Fill: N active alarms through the store interface, 1,000 per transaction.
    const fillStart = performance.now();
    for (let from = 0; from < args.alarms; from += 1000) {
      await gateway.store.transaction(async (tx) => {
        for (let i = from; i < Math.min(args.alarms, from + 1000); i += 1) await tx.alarms.save(storedAlarm(i));
      });
    }
    const active = (await gateway.store.alarms.activeBySeverity()) as Record<string, number>;
    console.log(`filled ${args.alarms} active alarms in ${((performance.now() - fillStart) / 1000).toFixed(1)} s (${Object.entries(active).map(([s, n]) => `${s} ${n}`).join(', ')})`);

    // Let the fill's WAL checkpoint and the first timers pass before anything is timed.
    await new Promise((resolve) => setTimeout(resolve, 3000));

    // 2. The API under load, with its anchor measured the same way in the same run.
    console.log(`\nGET over real HTTP, ${args.requests} requests per endpoint, ${args.concurrency} in flight (keep-alive), after 20 warm-up requests:`);
    const anchor = await measure(`${base}/-/healthy`);
    console.log(`  ${'endpoint'.padEnd(52)} ${'p50'.padStart(10)} ${'p99'.padStart(10)} ${'max'.padStart(10)}  p99 / anchor p99   body`);
    const line = (name: string, t: Timed) =>
      console.log(`  ${name.padEnd(52)} ${fmt(t.p50).padStart(10)} ${fmt(t.p99).padStart(10)} ${fmt(t.max).padStart(10)}  ${(t.p99 / anchor.p99).toFixed(1).padStart(8)} x   ${t.bytes} B${t.status.size === 1 && t.status.has(200) ? '' : `  status ${[...t.status].join(',')}`}`);
    line('/-/healthy (anchor)', anchor);
    const endpoints = ['/api/v1/alarms', '/api/v1/alarms?severity=critical', '/api/v1/alarms?severity=critical,major&site=Hall%202', '/api/v1/alarms?text=compressor', '/api/v1/alarms?limit=1000'];
    const probe = await fetch(`${base}/api/v1/alarms?limit=1`);
    await probe.arrayBuffer();
    if (probe.status === 404) {
      console.log('  GET /api/v1/alarms is not there on this build (404): the alarm list was not measured.');
    } else {
      for (const path of endpoints) {
        const timed = await measure(`${base}${path}`);
        if (!(timed.status.size === 1 && timed.status.has(200))) failures += 1;
        line(path, timed);
      }
    }
    line('/-/healthy (anchor, again after the list)', await measure(`${base}/-/healthy`));
    const listStart = performance.now();
    const rounds = 50;
    for (let i = 0; i < rounds; i += 1) await gateway.store.alarms.list(['active'], 100);
    console.log(`  (in process, no HTTP: store.alarms.list(['active'], 100) ${((performance.now() - listStart) / rounds).toFixed(2)} ms mean over ${rounds})`);

    // 3. The board's live updates during a flood.
    const raisedAt = new Map<string, number>();
    let streamEvents = 0;
    let via = 'SSE GET /api/v1/events';
    const stream = await followEvents(`${base}/api/v1/events`, (name, data, at) => {
      streamEvents += 1;
      const change = data as { outcome?: string; alarm?: { title?: string } };
      if (name === 'alarm-changed' && change.outcome === 'raised' && change.alarm?.title) raisedAt.set(change.alarm.title, at);
    });
    let stopBus: (() => void) | undefined;
    if (stream.status !== 200) {
      via = `the in-process event bus (GET /api/v1/events answered ${stream.status}: not on this build)`;
      stopBus = gateway.events.on('alarm-changed', ({ alarm, outcome }) => {
        if (outcome === 'raised') raisedAt.set(alarm.title, performance.now());
      });
    }
    const interval = 1000 / args.rate;
    const floodStart = performance.now();
    const accepted = new Map<string, number>();
    const sessions: Promise<void>[] = [];
    for (let i = 0; i < args.flood; i += 1) {
      const wait = floodStart + i * interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const title = `Flood ${i} pressure high`;
      const device = `flood-plc-${i % 20}`;
      sessions.push(
        deviceSession(gateway.port, [{ token: i, mailFrom: `${device}@plant.local`, rcptTo: 'alarms@plant.local', data: [`From: ${device}@plant.local`, 'To: alarms@plant.local', `Subject: ${title}`, '', title].join('\r\n') }]).then(
          ([timing]) => {
            accepted.set(title, timing!.acceptedAt);
          },
        ),
      );
    }
    await Promise.all(sessions);
    const sentIn = performance.now() - floodStart;
    const deadline = performance.now() + 60_000;
    while ([...accepted.keys()].some((t) => !raisedAt.has(t)) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    stream.close();
    stopBus?.();
    const latencies = [...accepted].flatMap(([title, at]) => (raisedAt.has(title) ? [raisedAt.get(title)! - at] : [])).sort((a, b) => a - b);
    const missing = args.flood - latencies.length;
    console.log(`\nLive updates during a flood: ${args.flood} new alarms over SMTP at ${args.rate}/s (each its own session; sent in ${(sentIn / 1000).toFixed(1)} s), followed through ${via}:`);
    console.log(`  device's 250 -> its alarm-changed (raised) event at the client: p50 ${fmt(percentile(latencies, 50))}, p99 ${fmt(percentile(latencies, 99))}, max ${fmt(latencies[latencies.length - 1] ?? NaN)}`);
    console.log(`  ${latencies.length} of ${args.flood} arrived${missing > 0 ? ` (${missing} MISSING)` : ''}; ${streamEvents} events on the stream in all`);
    if (missing > 0) failures += 1;
    // The flood's notifications go out before the gateway stops.
    await drainedOutbox(gateway, 120_000);
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return failures > 0 ? 1 : 0;
  } finally {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  }
}

runBench(main);

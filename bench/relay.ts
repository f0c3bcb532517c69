/**
 * Relay benchmark: N alarm mails from C concurrent device connections through an
 * in-process gateway into a loopback upstream, with throughput, latency and an
 * exactly-once check. Not a test; run `npm run bench -- --help`.
 *
 * Everything shares one process and one event loop (devices, gateway, upstream with its
 * TLS and MIME parsing), so the figures are a lower bound for the gateway alone.
 */
import { arch, cpus, platform } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log/logger.js';
import { createCa } from '../test/helpers/certs.js';
import { baseConfig, configFrom, runGateway, testDir, type RunningGateway, type TestDir } from '../test/helpers/gateway.js';
import { startUpstream, type Upstream, type UpstreamOptions } from '../test/helpers/upstream.js';
import { deviceSession, type DeviceMessage, type DeviceTiming } from './smtp-device.js';
import { fileSystemOf, positiveInt, printDeviceToUpstream, printVerification, runBench, tokenRange, verifyExactlyOnce, watchArrivals } from './bench-kit.js';

type Security = UpstreamOptions['security'];

interface BenchArgs {
  messages: number;
  concurrency: number;
  /** Messages per second offered by all devices together; 0 offers them as fast as possible. */
  rate: number;
  perConnection: number;
  security: Security;
  size: number;
}

const UPSTREAM_USER = 'alarms@example.com';
const UPSTREAM_PASSWORD = 'bench-app-password';
const RECIPIENT = 'ops@example.com';
const TOKEN = /^bench-(\d+)$/;
/** Stop waiting for deliveries when none has arrived for this long. */
const STALL_MS = 30_000;
/** After the last expected delivery, how long to keep listening for duplicates. */
const DUPLICATE_GRACE_MS = 1_000;

const USAGE = `usage: npm run bench -- [--messages N] [--concurrency C] [--per-connection K] [--rate MSG_PER_S] [--security tls|starttls|none] [--size BYTES]`;

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '10' },
      rate: { type: 'string', default: '0' },
      'per-connection': { type: 'string', default: '1' },
      security: { type: 'string', default: 'tls' },
      size: { type: 'string', default: '600' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const security = values.security;
  if (security !== 'tls' && security !== 'starttls' && security !== 'none') throw new Error(`--security must be tls, starttls or none, not ${security}`);
  return {
    messages: positiveInt('messages', values.messages),
    concurrency: positiveInt('concurrency', values.concurrency),
    rate: Number(values.rate) >= 0 ? Number(values.rate) : 0,
    perConnection: positiveInt('per-connection', values['per-connection']),
    security,
    size: positiveInt('size', values.size),
  };
}

/** An alarm mail of about `size` bytes; the Subject carries the token the upstream side is matched by. */
function alarmMessage(token: number, size: number): DeviceMessage {
  const device = `plc-${token % 97}`;
  const headers = [`From: ${device} <${device}@plant.local>`, `To: <${RECIPIENT}>`, `Subject: bench-${token}`, 'Content-Type: text/plain; charset=us-ascii'];
  const line = `Line ${token % 7} station ${token % 13}: temperature high, value 87.5 C, limit 85.0 C, acknowledge at the panel.`;
  const body: string[] = [];
  let length = headers.join('\r\n').length + 4;
  while (length < size) {
    body.push(line);
    length += line.length + 2;
  }
  return { token, mailFrom: `${device}@plant.local`, rcptTo: RECIPIENT, data: `${headers.join('\r\n')}\r\n\r\n${body.join('\r\n')}` };
}

async function startBenchUpstream(args: BenchArgs, dir: TestDir): Promise<{ upstream: Upstream; account: Record<string, unknown> }> {
  if (args.security === 'none') {
    // The gateway refuses credentials without TLS, so a plaintext upstream is unauthenticated.
    const upstream = await startUpstream({ security: 'none' });
    return { upstream, account: { name: 'upstream', host: 'localhost', port: upstream.port, security: 'none' } };
  }
  const ca = createCa('Annunciator Bench CA');
  const upstream = await startUpstream({ security: args.security, tls: ca.issue('localhost'), auth: { user: UPSTREAM_USER, pass: UPSTREAM_PASSWORD } });
  const account = {
    name: 'upstream',
    host: 'localhost',
    port: upstream.port,
    security: args.security,
    auth: { type: 'plain', user: UPSTREAM_USER, password: { env: 'BENCH_UPSTREAM_PASSWORD' } },
    tls: { ca: [dir.write('ca.pem', ca.cert)] },
  };
  return { upstream, account };
}

async function startBenchGateway(args: BenchArgs, dir: TestDir, account: Record<string, unknown>): Promise<RunningGateway> {
  const raw = baseConfig(dir, {
    // All bench devices share 127.0.0.1, where a plant has one address per PLC; the
    // per-client limit (default 20) would otherwise refuse them with 421. Twice C leaves
    // room for connections the server has not yet seen close after QUIT.
    listener: { limits: { maxConnections: Math.max(200, args.concurrency * 2), maxConnectionsPerClient: Math.max(20, args.concurrency * 2) } },
    delivery: { concurrency: 8, accounts: [account] },
  });
  const config = configFrom(dir, raw, { BENCH_UPSTREAM_PASSWORD: UPSTREAM_PASSWORD });
  // Errors go to stderr so a failing run says why; baseConfig sets the level to error.
  return runGateway(config, createLogger({ level: config.log.level, format: 'json', destination: process.stderr }));
}

/**
 * C workers take the next K messages each, one connection per batch, until all are sent.
 * With --rate, batch n starts no earlier than n/rate seconds in: latency measured below
 * saturation shows the pipeline, not the length of a queue.
 */
async function driveDevices(port: number, args: BenchArgs): Promise<DeviceTiming[]> {
  const timings: DeviceTiming[] = [];
  let next = 0;
  const startedAt = performance.now();
  const worker = async (): Promise<void> => {
    while (next < args.messages) {
      const first = next;
      const end = Math.min(args.messages, next + args.perConnection);
      next = end;
      if (args.rate > 0) {
        const wait = startedAt + (first / args.rate) * 1000 - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const batch: DeviceMessage[] = [];
      for (let token = first; token < end; token += 1) batch.push(alarmMessage(token, args.size));
      timings.push(...(await deviceSession(port, batch)));
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  return timings;
}

function printMachine(args: BenchArgs, dir: TestDir): void {
  const cpu = cpus();
  console.log(`machine   node ${process.version}, ${platform()}/${arch()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'})`);
  console.log(`args      --messages ${args.messages} --concurrency ${args.concurrency} --per-connection ${args.perConnection} --rate ${args.rate} --security ${args.security} --size ${args.size}`);
  console.log(`store     ${dir.path} (${fileSystemOf(dir.path)}), delivery concurrency 8`);
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const dir = testDir('annunciator-bench-');
  let upstream: Upstream | undefined;
  let gateway: RunningGateway | undefined;
  try {
    printMachine(args, dir);
    const started = await startBenchUpstream(args, dir);
    upstream = started.upstream;
    gateway = await startBenchGateway(args, dir, started.account);
    const watch = watchArrivals(upstream, args.messages, TOKEN, STALL_MS, DUPLICATE_GRACE_MS);
    const startedAt = performance.now();
    const timings = await driveDevices(gateway.port, args);
    await watch.settled;
    printDeviceToUpstream(startedAt, timings, watch.arrivals, { unit: 'msg', delivered: 'delivered' });
    const verification = await verifyExactlyOnce(tokenRange(0, args.messages), watch.arrivals, watch.strays(), gateway.store);
    printVerification(verification, { ok: `all ${args.messages} messages arrived upstream exactly once; gateway outbox fully sent`, missing: 'missing', duplicated: 'duplicated', label: (t) => `bench-${t}` });
    return verification.ok ? 0 : 1;
  } finally {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  }
}

runBench(main);

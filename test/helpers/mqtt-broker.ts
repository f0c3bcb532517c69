import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, closeSync, constants as fsConstants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Aedes, type AedesOptions } from 'aedes';
import { connect } from 'mqtt';
import { freePort } from './free-port.js';
import { peersRequired } from './real-peers.js';

/**
 * A real MQTT broker for tests, picked in this order:
 *  1. the Mosquitto service on 127.0.0.1:1883, if it answers CONNECT with CONNACK within ~1 s
 *     (never when `restartable: true`: a test must not restart a shared service);
 *  2. a private `mosquitto` process on a free port with on-disk persistence in a temp dir;
 *  3. aedes in-process on a free port, with one in-memory persistence kept across restarts.
 * ANNUNCIATOR_TEST_BROKER=service|mosquitto|aedes (or `options.force`) skips the selection.
 * Under CI (`CI=true`) Mosquitto is a required peer: falling back to aedes throws, unless
 * aedes was asked for explicitly (ANNUNCIATOR_TEST_BROKER=aedes).
 */

export type BrokerKind = 'mosquitto-service' | 'mosquitto-spawned' | 'aedes';
export type ForcedBroker = 'service' | 'mosquitto' | 'aedes';

export interface TestBroker {
  kind: BrokerKind;
  /** Which broker this is and why it was chosen, e.g. for a test's diagnostic line. */
  choice: string;
  url: string; // mqtt://127.0.0.1:PORT
  port: number;
  /** Stops the broker and starts it again on the same port, keeping persistent sessions and queued QoS 1 messages. Throws for 'mosquitto-service'. */
  restart(): Promise<void>;
  /** Stops it for good (no-op for the shared service). */
  stop(): Promise<void>;
}

export interface StartTestBrokerOptions {
  /** Never return the shared service: the broker must support `restart()`. */
  restartable?: boolean;
  /** For tests of this helper: overrides ANNUNCIATOR_TEST_BROKER. */
  force?: ForcedBroker;
  /** For tests of this helper: select as if no mosquitto binary were installed. */
  withoutMosquittoBinary?: boolean;
}

export const BROKER_ENV_VAR = 'ANNUNCIATOR_TEST_BROKER';
export const SERVICE_HOST = '127.0.0.1';
export const SERVICE_PORT = 1883;
const SERVICE_PROBE_TIMEOUT_MS = 1_000;
const READY_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 10_000;
const AEDES_CLOSE_TIMEOUT_MS = 5_000;
const MOSQUITTO_FALLBACK_PATHS = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'];

const choices: string[] = [];

/** Which broker the tests used and why (one line per distinct choice made in this process). */
export function describeBrokerChoice(): string {
  if (choices.length === 0) return 'no MQTT test broker started yet in this process';
  return [...new Set(choices)].join('\n');
}

function recordChoice(broker: Omit<TestBroker, 'choice'>, text: string): TestBroker {
  choices.push(text);
  return Object.assign(broker, { choice: text });
}

export async function startTestBroker(options: StartTestBrokerOptions = {}): Promise<TestBroker> {
  const restartable = options.restartable === true;
  const forced = options.force ?? parseForced(process.env[BROKER_ENV_VAR]);
  const forcedBy = options.force !== undefined ? 'forced by option' : `forced by ${BROKER_ENV_VAR}=${forced ?? ''}`;

  if (forced === 'service') {
    if (restartable) throw new Error(`${forcedBy}, but a restartable broker was requested and the shared service cannot be restarted`);
    const probe = await probeMosquittoService();
    if (!probe.ok) throw new Error(`${forcedBy}, but no MQTT service answers on ${SERVICE_HOST}:${SERVICE_PORT}: ${probe.reason}`);
    return recordChoice(serviceBroker(), `mosquitto-service on ${serviceUrl()}: ${forcedBy}`);
  }
  if (forced === 'mosquitto') {
    const binary = findMosquittoBinary();
    if (binary === undefined) throw new Error(`${forcedBy}, but no mosquitto binary on PATH or in ${MOSQUITTO_FALLBACK_PATHS.join(', ')}`);
    const broker = await startSpawnedMosquitto(binary);
    return recordChoice(broker, `mosquitto-spawned (${describeBinary(binary)}) on ${broker.url}: ${forcedBy}`);
  }
  if (forced === 'aedes') {
    const broker = await startAedes();
    return recordChoice(broker, `aedes (in-process) on ${broker.url}: ${forcedBy}`);
  }

  const reasons: string[] = [];
  if (restartable) {
    reasons.push('a restartable broker was requested, so the shared service was not considered');
  } else {
    const probe = await probeMosquittoService();
    if (probe.ok) {
      return recordChoice(serviceBroker(), `mosquitto-service on ${serviceUrl()}: it answered CONNECT with CONNACK within ${SERVICE_PROBE_TIMEOUT_MS} ms`);
    }
    reasons.push(`no MQTT service on ${SERVICE_HOST}:${SERVICE_PORT} (${probe.reason})`);
  }

  const binary = options.withoutMosquittoBinary === true ? undefined : findMosquittoBinary();
  if (binary !== undefined) {
    try {
      const broker = await startSpawnedMosquitto(binary);
      return recordChoice(broker, `mosquitto-spawned (${describeBinary(binary)}) on ${broker.url}: ${reasons.join('; ')}`);
    } catch (error) {
      reasons.push(`spawning ${binary} failed (${errorMessage(error)})`);
    }
  } else {
    reasons.push(`no mosquitto binary on PATH or in ${MOSQUITTO_FALLBACK_PATHS.join(', ')}`);
  }

  if (peersRequired()) {
    throw new Error(
      `CI=true and no Mosquitto to test against: ${reasons.join('; ')}. Under CI the aedes fallback is not taken silently; install mosquitto (.ci/run does) or set ${BROKER_ENV_VAR}=aedes to run on aedes deliberately`,
    );
  }
  const broker = await startAedes();
  return recordChoice(broker, `aedes (in-process) on ${broker.url}: ${reasons.join('; ')}`);
}

function parseForced(value: string | undefined): ForcedBroker | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'service' || value === 'mosquitto' || value === 'aedes') return value;
  throw new Error(`${BROKER_ENV_VAR} must be one of service, mosquitto, aedes (got ${JSON.stringify(value)})`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function randomClientId(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Probing

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** One real MQTT CONNECT (random clientId, clean session) answered by a successful CONNACK within `timeoutMs`; the client is ended afterwards. */
export async function probeMqtt(url: string, timeoutMs = SERVICE_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const client = connect(url, {
    clientId: randomClientId('annunciator-probe'),
    clean: true,
    connectTimeout: timeoutMs,
    reconnectPeriod: 0,
    keepalive: 10,
  });
  const result = await new Promise<ProbeResult>((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, reason: `no CONNACK within ${timeoutMs} ms` }), timeoutMs);
    const settle = (r: ProbeResult) => {
      clearTimeout(timer);
      resolve(r);
    };
    client.once('connect', () => settle({ ok: true }));
    client.once('error', (error) => settle({ ok: false, reason: errorMessage(error) }));
    client.once('close', () => settle({ ok: false, reason: 'connection closed before CONNACK' }));
  });
  // A graceful DISCONNECT when connected; bounded, then forced.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      client.end(true);
      resolve();
    }, 500);
    client.end(!result.ok, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return result;
}

let serviceProbe: Promise<ProbeResult> | undefined;

/** Probes the Mosquitto service on 127.0.0.1:1883 once per process (the answer is cached). */
export function probeMosquittoService(): Promise<ProbeResult> {
  serviceProbe ??= probeMqtt(serviceUrl(), SERVICE_PROBE_TIMEOUT_MS);
  return serviceProbe;
}

function serviceUrl(): string {
  return `mqtt://${SERVICE_HOST}:${SERVICE_PORT}`;
}

/** `mosquitto` on PATH, else a usual sbin location; undefined when there is none. */
export function findMosquittoBinary(): string | undefined {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'mosquitto'));
  for (const candidate of [...fromPath, ...MOSQUITTO_FALLBACK_PATHS]) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 1. The shared service

function serviceBroker(): Omit<TestBroker, 'choice'> {
  return {
    kind: 'mosquitto-service',
    url: serviceUrl(),
    port: SERVICE_PORT,
    restart: () => Promise.reject(new Error('the shared Mosquitto service cannot be restarted by a test; ask for startTestBroker({ restartable: true })')),
    stop: () => Promise.resolve(),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. A private mosquitto process

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
}

/** Children and temp dirs still alive, killed/removed synchronously if the test process exits without stop(). */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * The settings the documentation asks of a broker so that nothing it PUBACKed is lost when
 * it restarts (docs: the MQTT broker's configuration; measured by
 * test/e2e/mqtt-broker-restart.test.ts): its state kept on disk and saved at a clean stop,
 * saved every minute against a crash, and a queue per client longer than any backlog a test
 * builds. A test may override any of them, or remove one with `undefined`, to show what a
 * setting costs.
 */
export const DURABLE_MOSQUITTO_SETTINGS: Readonly<Record<string, string>> = {
  persistence: 'true',
  autosave_interval: '60',
  max_queued_messages: '10000',
};

export type MosquittoSettings = Record<string, string | undefined>;

function mosquittoConfig(port: number, dir: string, overrides: MosquittoSettings = {}): string {
  const settings: MosquittoSettings = { ...DURABLE_MOSQUITTO_SETTINGS, ...overrides };
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence_location ${dir}/`,
    'persistence_file mosquitto.db',
    ...Object.entries(settings).flatMap(([key, value]) => (value === undefined ? [] : [`${key} ${value}`])),
    // Without it mosquitto holds a subscriber's next message for a delayed ACK (25-40 ms) when the subscriber also publishes, as the gateway does.
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
  ];
  // Run as root, mosquitto 2 drops to the `mosquitto` user, which cannot write our 0700 temp dir.
  if (typeof process.getuid === 'function' && process.getuid() === 0) lines.push('user root');
  return `${lines.join('\n')}\n`;
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

function spawnMosquitto(binary: string, configFile: string, logFile: string): Spawned {
  installExitHook();
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, ['-c', configFile], { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let done = false;
  const exited = new Promise<void>((resolve) => {
    const finish = () => {
      done = true;
      liveChildren.delete(child);
      resolve();
    };
    child.once('exit', finish);
    child.once('error', finish); // spawn failure: no 'exit' follows
  });
  liveChildren.add(child);
  // A broker a test forgot to stop must not keep the test process alive; the exit hook kills it.
  child.unref();
  return { child, exited, hasExited: () => done };
}

/** Polls with real MQTT connects until the broker answers, it exits, or READY_TIMEOUT_MS passes. */
async function waitUntilReady(url: string, spawned: Spawned, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'not tried';
  while (Date.now() < deadline) {
    if (spawned.hasExited()) {
      throw new Error(`mosquitto exited during start-up (code ${String(spawned.child.exitCode)}): ${logTail(logFile)}`);
    }
    const probe = await probeMqtt(url, 500);
    if (probe.ok) return;
    last = probe.reason;
    await sleep(50);
  }
  throw new Error(`mosquitto did not accept connections on ${url} within ${READY_TIMEOUT_MS} ms (${last}): ${logTail(logFile)}`);
}

async function terminate(spawned: Spawned, signal: NodeJS.Signals): Promise<boolean> {
  if (spawned.hasExited()) return true;
  spawned.child.kill(signal);
  try {
    await withTimeout(spawned.exited, EXIT_TIMEOUT_MS, `mosquitto exit after ${signal}`);
    return true;
  } catch {
    spawned.child.kill('SIGKILL');
    await withTimeout(spawned.exited, EXIT_TIMEOUT_MS, 'mosquitto exit after SIGKILL').catch(() => undefined);
    return false;
  }
}

async function startSpawnedMosquitto(binary: string, settings: MosquittoSettings = {}): Promise<SpawnedMosquitto> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-mosquitto-'));
  liveDirs.add(dir);
  const configFile = join(dir, 'mosquitto.conf');
  const logFile = join(dir, 'mosquitto.log');

  let spawned: Spawned | undefined;
  let port = 0;
  let lastError: unknown;
  // A free port can be taken between freePort() and mosquitto's bind: retry a few times.
  for (let attempt = 0; attempt < 3 && spawned === undefined; attempt++) {
    port = await freePort();
    writeFileSync(configFile, mosquittoConfig(port, dir, settings));
    const candidate = spawnMosquitto(binary, configFile, logFile);
    try {
      await waitUntilReady(`mqtt://127.0.0.1:${port}`, candidate, logFile);
      spawned = candidate;
    } catch (error) {
      lastError = error;
      await terminate(candidate, 'SIGKILL');
    }
  }
  if (spawned === undefined) {
    liveDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  let current: Spawned | undefined = spawned;
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    kind: 'mosquitto-spawned',
    url,
    port,
    config: () => readFileSync(configFile, 'utf8'),
    log: () => readFileSync(logFile, 'utf8'),
    async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
      if (current === undefined) throw new Error('mosquitto test broker was stopped');
      // SIGTERM: mosquitto writes its persistence file on a clean exit. SIGKILL plays a crash.
      const clean = await terminate(current, signal);
      current = undefined;
      if (!clean) throw new Error(`mosquitto did not exit within ${EXIT_TIMEOUT_MS} ms of ${signal} and was killed; persistence may be lost`);
      const next = spawnMosquitto(binary, configFile, logFile);
      try {
        await waitUntilReady(url, next, logFile);
      } catch (error) {
        await terminate(next, 'SIGKILL');
        throw error;
      }
      current = next;
    },
    async stop() {
      if (current !== undefined) {
        await terminate(current, 'SIGTERM');
        current = undefined;
      }
      liveDirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SpawnedMosquitto extends Omit<TestBroker, 'choice'> {
  kind: 'mosquitto-spawned';
  /** The configuration file it runs with. */
  config(): string;
  /** What it logged (errors, warnings, notices) across all its runs. */
  log(): string;
  /** SIGTERM (default: a clean stop, which saves the persistence file) or SIGKILL (a crash), waits for the exit, starts again on the same port and persistence directory. */
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/**
 * A private mosquitto on a free loopback port with persistence in a temp dir, configured with
 * DURABLE_MOSQUITTO_SETTINGS and `settings` over them. Throws when there is no mosquitto binary.
 */
export async function startMosquitto(settings: MosquittoSettings = {}): Promise<SpawnedMosquitto & { choice: string }> {
  const binary = findMosquittoBinary();
  if (binary === undefined) throw new Error(`no mosquitto binary on PATH or in ${MOSQUITTO_FALLBACK_PATHS.join(', ')}`);
  const broker = await startSpawnedMosquitto(binary, settings);
  const text = `mosquitto-spawned (${describeBinary(binary)}) on ${broker.url}: started with its own configuration`;
  choices.push(text);
  return Object.assign(broker, { choice: text });
}

// ---------------------------------------------------------------------------------------------
// 3. aedes in-process

interface AedesRun {
  broker: Aedes;
  server: Server;
  sockets: Set<Socket>;
}

async function listenAedes(options: AedesOptions, port: number): Promise<AedesRun> {
  const broker = await Aedes.createBroker(options);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    // On restart the port was ours a moment ago; retry briefly if the kernel has not let go of it.
    for (let attempt = 0; ; attempt++) {
      try {
        server.listen(port, '127.0.0.1');
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]: unknown[]) => Promise.reject(error))]);
        break;
      } catch (error) {
        if (attempt >= 20 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        await sleep(100);
      }
    }
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  return { broker, server, sockets };
}

async function closeAedes(run: AedesRun): Promise<void> {
  const serverClosed = new Promise<void>((resolve) => run.server.close(() => resolve()));
  await withTimeout(new Promise<void>((resolve) => run.broker.close(() => resolve())), AEDES_CLOSE_TIMEOUT_MS, 'aedes close').catch(() => undefined);
  for (const socket of run.sockets) socket.destroy();
  await withTimeout(serverClosed, AEDES_CLOSE_TIMEOUT_MS, 'aedes server close');
}

async function startAedes(): Promise<Omit<TestBroker, 'choice'>> {
  // The same broker id and persistence instance are handed to every incarnation, so the
  // in-memory sessions, subscriptions and queued QoS 1 messages survive restart().
  const id = randomClientId('annunciator-aedes');
  let run: AedesRun | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 3 && run === undefined; attempt++) {
    port = await freePort();
    try {
      run = await listenAedes({ id }, port);
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
  if (run === undefined) throw new Error('aedes could not listen');
  // aedes created its default in-memory persistence (aedes-persistence); keep that instance.
  // `persistence` is a public field of an Aedes instance (set by listen()) missing from its type declarations.
  const persistence = (run.broker as unknown as { persistence: unknown }).persistence;
  if (persistence === undefined || persistence === null) throw new Error('aedes exposes no persistence instance to keep across restarts');

  let current: AedesRun | undefined = run;
  return {
    kind: 'aedes',
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async restart() {
      if (current === undefined) throw new Error('aedes test broker was stopped');
      await closeAedes(current);
      current = undefined;
      current = await listenAedes({ id, persistence }, port);
    },
    async stop() {
      if (current === undefined) return;
      const closing = current;
      current = undefined;
      await closeAedes(closing);
    },
  };
}

const versions = new Map<string, string | undefined>();

/** The version line of a mosquitto binary, for reports (e.g. "mosquitto version 2.0.11"). */
export function mosquittoVersion(binary: string): string | undefined {
  if (!versions.has(binary)) {
    const result = spawnSync(binary, ['-h'], { encoding: 'utf8', timeout: 2_000 });
    const text = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    versions.set(binary, /mosquitto version \S+/.exec(text)?.[0]);
  }
  return versions.get(binary);
}

function describeBinary(binary: string): string {
  const version = mosquittoVersion(binary);
  return version === undefined ? binary : `${binary}, ${version}`;
}

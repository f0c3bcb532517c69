import assert from 'node:assert/strict';
import { capturedLogs } from '../helpers/captured-logs.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import type { Logger } from '../../src/log/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { peerGate } from '../helpers/real-peers.js';
import { mqttExampleHarness } from '../helpers/mqtt-example.js';
import { baseConfig, configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * Store faults under a running gateway (in this process, real SQLite files): a full disk,
 * and the store file deleted, replaced or made read-only. The gateway must not crash,
 * must answer 451 while it cannot keep what it is given, must say why in its log (once,
 * not once per message) and must never say 250 to mail that ends up in a file nobody
 * reads again; what it did say 250 to is delivered once the fault is over.
 */

interface Captured {
  logger: Logger;
  lines: Record<string, unknown>[];
}

function captureLogs(): Captured {
  return capturedLogs();
}

const ERROR = 50;
const storeErrors = (lines: Record<string, unknown>[], pattern: RegExp) => lines.filter((l) => l.level === ERROR && l.stage === 'store' && pattern.test(String(l.msg)));
const commitFailureLines = (lines: Record<string, unknown>[]) => lines.filter((l) => /could not commit the message/.test(String(l.msg)));

async function mail(port: number, subject: string): Promise<string> {
  const data = Buffer.from(`From: plc@plant.local\r\nTo: ops@example.com\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`);
  const result = await sendAsDevice({ port, mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'], data });
  return result.dataReply ?? result.replies.join(' | ');
}

/** Rejections and exceptions nobody handled, for the whole file: there must be none. */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
before(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
after(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

/** A way to fill the disk under the store and to free it again. */
interface FullDisk {
  /** The data directory to run the gateway with. */
  dataDir: string;
  fill(store: SqliteStore): void;
  free(store: SqliteStore): void;
  cleanup(): void;
}

/** A 4 MiB tmpfs, when this process may mount one (root with CAP_SYS_ADMIN), filled with a ballast file. */
function tmpfsDisk(dir: TestDir): FullDisk | string {
  const mountPoint = join(dir.path, 'disk');
  mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    return `cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}`;
  }
  const ballast = join(mountPoint, 'ballast');
  return {
    dataDir: join(mountPoint, 'data'),
    fill() {
      const fd = openSync(ballast, 'w');
      try {
        for (const size of [64 * 1024, 4096, 512, 1]) {
          const block = Buffer.alloc(size);
          for (;;) {
            try {
              writeSync(fd, block);
            } catch {
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      unlinkSync(ballast);
    },
    cleanup() {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
      }
    },
  };
}

/** SQLite's own limit on the live connection (max_page_count): writes needing a new page fail with SQLITE_FULL, as on a full disk. */
function pageLimitDisk(dir: TestDir): FullDisk {
  return {
    dataDir: join(dir.path, 'data'),
    fill: (store) => store.limitPagesForTest(1),
    free: (store) => store.limitPagesForTest(undefined),
    cleanup: () => undefined,
  };
}

const diskKinds: Array<{ name: string; make: (dir: TestDir) => FullDisk | string }> = [
  { name: 'a real full filesystem (tmpfs)', make: tmpfsDisk },
  { name: "SQLite's page limit", make: pageLimitDisk },
];

describe('disk full under a running gateway', () => {
  for (const kind of diskKinds) {
    it(`${kind.name}: devices get 451, the process stays up, and everything that got 250 is delivered once space returns`, { timeout: 90_000 }, async (t) => {
      const dir = testDir();
      const disk = kind.make(dir);
      if (typeof disk === 'string') {
        dir.remove();
        // A real full file system is a real peer like Mosquitto: under CI its absence fails the run.
        peerGate(disk).assertPresent();
        t.skip(disk);
        return;
      }
      let upstreamRefuses = true;
      // Deliveries can be held mid-way (data sent, reply not yet given): their outcome then comes when the disk is full.
      let hold: Promise<void> | undefined;
      let release = (): void => undefined;
      let held = 0;
      const upstream = await startUpstream({
        security: 'none',
        dataReply: () => (upstreamRefuses ? 451 : 250),
        beforeDataReply: async () => {
          if (!hold) return;
          held += 1;
          await hold;
        },
      });
      const logs = captureLogs();
      let gateway: RunningGateway | undefined;
      try {
        const raw = baseConfig(dir, { delivery: relayDelivery(upstream.port) });
        (raw.gateway as Record<string, unknown>).dataDir = disk.dataDir;
        gateway = await runGateway(configFrom(dir, raw), logs.logger);
        const store = gateway.store as SqliteStore;
        const accepted: string[] = [];

        // Notifications in the outbox, deferred by the upstream, when the disk fills.
        for (let i = 0; i < 5; i += 1) {
          const reply = await mail(gateway.port, `before ${i}`);
          assert.match(reply, /^250 /);
          accepted.push(`before ${i}`);
        }
        await eventually(() => upstream.dataAttempts >= 5, 15_000, 'the first deliveries tried (and deferred)');
        // Their retries are taken by the upstream, but only answered once the disk is full.
        hold = new Promise<void>((resolve) => (release = resolve));
        upstreamRefuses = false;
        await eventually(() => held >= 1, 15_000, 'a delivery in flight');

        disk.fill(store);
        let refusal: string | undefined;
        for (let i = 0; i < 500 && !refusal; i += 1) {
          const reply = await mail(gateway.port, `during ${i}`);
          if (reply.startsWith('250 ')) accepted.push(`during ${i}`);
          else refusal = reply;
        }
        assert.ok(refusal, 'a device got a refusal once the disk was full');
        assert.match(refusal, /^451 4\.3\.0 .*Temporary .*try again later/i);
        const health = gateway.store.health();
        assert.ok(!health.ok && health.code === 'SQLITE_FULL' && !health.needsRestart, JSON.stringify(health));

        // The process is up: the listener answers, with 451s counted in one log line, not one each.
        let refusals = 1;
        for (let i = 0; i < 5; i += 1) {
          const reply = await mail(gateway.port, `still full ${i}`);
          if (reply.startsWith('250 ')) accepted.push(`still full ${i}`);
          else {
            assert.match(reply, /^4\d\d /);
            refusals += 1;
          }
        }
        assert.ok(refusals >= 2, 'devices go on getting 451');
        assert.ok(commitFailureLines(logs.lines).length < refusals, `${commitFailureLines(logs.lines).length} log lines for ${refusals} refusals`);
        assert.ok(commitFailureLines(logs.lines).every((l) => l.level === ERROR));
        // One line per change of state: once, unless a mail fitted meanwhile (then the store was not full for a moment).
        const tookWhileFull = accepted.filter((s) => s.startsWith('still full') || s.startsWith('during')).length;
        const fullLines = storeErrors(logs.lines, /database or disk is full/).length;
        assert.ok(fullLines >= 1 && fullLines <= 1 + tookWhileFull, `${fullLines} lines saying the store is full: ${JSON.stringify(storeErrors(logs.lines, /database or disk is full/).map((l) => [l.stage, l.msg]))}`);

        // The deliveries in flight are taken while the disk is full (recording that may fail: it is kept and
        // retried); the rest of those accepted before are delivered, or retried while their claim cannot be written.
        const inFlight = held;
        hold = undefined;
        release();
        await eventually(() => upstream.messages.length >= inFlight, 15_000, 'the deliveries in flight answered');
        await eventually(
          () => [0, 1, 2, 3, 4].every((i) => upstream.messages.some((m) => m.parsed.subject === `before ${i}`)) || logs.lines.some((l) => l.level === ERROR && l.stage === 'deliver' && /outbox scan failed|cannot record delivery outcomes/.test(String(l.msg))),
          15_000,
          'the other notifications delivered, or their retries failing in the log',
        );
        assert.deepEqual(unhandled, []);

        disk.free(store);
        const after = await eventually(
          async () => {
            const reply = await mail(gateway!.port, 'after');
            return reply.startsWith('250 ') ? reply : undefined;
          },
          15_000,
          'a mail taken again once space returned',
        );
        assert.match(after, /^250 /);
        accepted.push('after');

        await eventually(() => accepted.every((s) => upstream.messages.some((m) => m.parsed.subject === s)), 30_000, `all ${accepted.length} accepted mails delivered`);
        // Once each: an outcome that could not be recorded while full was kept, not delivered again.
        await eventually(async () => (await gateway!.store.outbox.list(['pending', 'sending'])).length === 0, 10_000, 'every outcome recorded');
        const subjects = upstream.messages.map((m) => m.parsed.subject ?? '');
        assert.deepEqual([...subjects].sort(), [...accepted].sort());
        await eventually(() => gateway!.store.health().ok, 5000, 'the store healthy again');
        assert.ok(logs.lines.some((l) => l.stage === 'store' && /healthy again/.test(String(l.msg))));
        await eventually(async () => (await gateway!.store.inbox.pending(1)).length === 0, 10_000, 'the inbox drained');
        assert.deepEqual(unhandled, []);
      } finally {
        await gateway?.stop();
        await upstream.close();
        disk.cleanup();
        dir.remove();
      }
    });
  }
});

describe('the store file deleted, replaced or made read-only under a running gateway', () => {
  let dir: TestDir;
  let upstream: Upstream;
  let clock: FakeClock;
  let logs: Captured;
  let gateway: RunningGateway;
  let file: string;

  beforeEach(async () => {
    dir = testDir();
    upstream = await startUpstream({ security: 'none' });
    clock = new FakeClock();
    logs = captureLogs();
    gateway = await runGateway(configFrom(dir, baseConfig(dir, { delivery: relayDelivery(upstream.port) })), logs.logger, { clock, healthClock: clock });
    file = join(dir.path, 'data', 'annunciator.db');
    assert.match(await mail(gateway.port, 'before'), /^250 /);
    await upstream.waitForMessages(1, 10_000);
  });
  afterEach(async () => {
    await gateway.stop();
    await upstream.close();
    dir.remove();
    assert.deepEqual(unhandled, []);
  });

  it('deleted: the next mail already gets 451, the log says once (at error level) that a restart is needed, and no mail gets 250 after', { timeout: 30_000 }, async () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    // Seen at once, before the first 250: checked after the commit of every accepted mail.
    assert.match(await mail(gateway.port, 'right after'), /^451 4\.3\.0 /);
    await clock.advance(1000);
    const health = gateway.store.health();
    assert.ok(!health.ok && health.needsRestart && /was deleted; refusing to accept mail into a file that will not be read again/.test(health.reason), JSON.stringify(health));
    for (let i = 0; i < 5; i += 1) assert.match(await mail(gateway.port, `later ${i}`), /^451 /);
    const errors = storeErrors(logs.lines, /was deleted/);
    assert.equal(errors.length, 1, 'one line for the change of state, not one per message');
    assert.match(String(errors[0]?.msg), /Restart the gateway/);
    assert.equal(errors[0]?.needsRestart, true);
    assert.ok(commitFailureLines(logs.lines).length <= 2, 'the 451s logged once a minute per cause');
    assert.equal(upstream.messages.length, 1);
  });

  it('replaced by another file: 451 from the next mail on, and the log says a restart is needed', { timeout: 30_000 }, async () => {
    copyFileSync(file, `${file}.copy`);
    renameSync(`${file}.copy`, file);
    await clock.advance(1000);
    const health = gateway.store.health();
    assert.ok(!health.ok && health.needsRestart && /was replaced by another file/.test(health.reason), JSON.stringify(health));
    for (let i = 0; i < 5; i += 1) assert.match(await mail(gateway.port, `later ${i}`), /^451 /);
    const errors = storeErrors(logs.lines, /was replaced/);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]?.msg), /Restart the gateway/);
  });

  it('made read-only (chmod 0444): 451 within a check interval, one error line; writable again: mail is taken and delivered, without a restart', { timeout: 30_000 }, async () => {
    chmodSync(file, 0o444);
    await clock.advance(1000);
    const health = gateway.store.health();
    assert.ok(!health.ok && !health.needsRestart && /was made read-only/.test(health.reason), JSON.stringify(health));
    for (let i = 0; i < 5; i += 1) assert.match(await mail(gateway.port, `read-only ${i}`), /^451 /);
    // The runners keep polling meanwhile, and back off.
    await clock.advance(5000);
    assert.equal(storeErrors(logs.lines, /read-only/).length, 1);

    chmodSync(file, 0o644);
    await clock.advance(1000);
    assert.deepEqual(gateway.store.health(), { ok: true });
    assert.ok(logs.lines.some((l) => l.stage === 'store' && /healthy again/.test(String(l.msg))));
    assert.match(await mail(gateway.port, 'writable again'), /^250 /);
    await eventually(() => upstream.messages.some((m) => m.parsed.subject === 'writable again'), 10_000, 'the mail delivered');
    assert.equal(upstream.messages.length, 2, 'nothing refused was delivered');
  });
});

describe('MQTT while the store is read-only', () => {
  let broker: TestBroker;
  let upstream: Upstream;

  before(async () => {
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
  });
  after(async () => {
    await upstream?.close();
    await broker?.stop();
  });

  it('a message that cannot be committed gets no PUBACK: the broker redelivers it, and it is committed once the store is writable', { timeout: 60_000 }, async () => {
    const { root, dir, raw } = mqttExampleHarness(broker.url, upstream.port);
    const clock = new FakeClock();
    const logs = captureLogs();
    const gateway = await runGateway(configFrom(dir, raw), logs.logger, { clock, healthClock: clock });
    const publisher = await connectAsync(broker.url, { clientId: `pub-${root}`, clean: false, reconnectPeriod: 200 });
    try {
      const ingest = gateway.mqtt[0]!;
      await eventually(() => ingest.ready, 10_000, 'gateway connected and subscribed');
      const file = join(dir.path, 'data', 'annunciator.db');
      chmodSync(file, 0o444);
      await clock.advance(1000);
      assert.equal(gateway.store.health().ok, false);

      await publisher.publishAsync(`${root}/plant/north/line2/tank7/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: 5 }), { qos: 1 });
      await eventually(() => ingest.stats.received >= 2, 15_000, 'the message handed in, refused, and redelivered at least once');
      assert.equal(ingest.stats.committed, 0);
      assert.ok(logs.lines.some((l) => l.stage === 'mqtt' && /message not committed; dropping the connection unacknowledged/.test(String(l.msg))));

      chmodSync(file, 0o644);
      await clock.advance(1000);
      assert.equal(gateway.store.health().ok, true);
      await eventually(() => ingest.stats.committed === 1, 20_000, 'the redelivered message committed');
      await eventually(() => upstream.messages.some((m) => /tank7/i.test(`${m.parsed.subject ?? ''} ${m.parsed.text ?? ''}`)), 15_000, 'its notification delivered');
      assert.deepEqual(unhandled, []);
    } finally {
      await publisher.endAsync();
      await gateway.stop();
      dir.remove();
    }
  });
});

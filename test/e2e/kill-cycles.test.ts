import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { parseDocument, type YAMLMap } from 'yaml';
import { sendAsDevice } from '../helpers/device-client.js';
import { freePort } from '../helpers/free-port.js';
import { eventually, testDir } from '../helpers/gateway.js';
import { REPO_ROOT, killHard, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';
import { asBuffer, SqliteConnection } from '../../src/store/sqlite/connection.js';

/**
 * Kill -9 under load, many times over, on one data directory: the gateway runs as its own
 * process (`annunciator start`) in alarm mode on the shipped configuration, four devices
 * keep sending numbered alarm mails over fresh SMTP connections, and each cycle ends with
 * SIGKILL while mails are being accepted and notifications are being delivered. A last
 * start drains the queue. Every mail the gateway answered 250 to must have reached the
 * upstream; copies sent twice are counted and must stay within what was in flight.
 *
 * KILL_CYCLES=<n> runs more cycles (a longer soak; the default keeps the test under ~90 s),
 * KILL_LOG_DIR=<dir> keeps the gateway's logs of every run.
 */

const CYCLES = Number(process.env.KILL_CYCLES ?? 20);
/** Concurrent devices, each one SMTP connection per mail (as PLCs do). */
const SENDERS = 4;
/** delivery.concurrency of the gateway (the shipped default, set explicitly: the duplicate bound below uses it). */
const DELIVERY_CONCURRENCY = 4;
const TOKEN = /kill-(\d+)-(\d+)/;

interface KillRecord {
  cycle: number;
  at: 'after a 250' | 'on an upstream arrival';
  acceptedInCycle: number;
  /** Tokens whose notification was `sending` in the file when the process died: the only ones that can go out twice. */
  sending: string[];
  /** Mails committed to the inbox but not yet turned into alarms. */
  inboxNew: number;
}

/** Subject token of a notification or of a device mail. */
function tokenOf(subject: string | undefined): string | undefined {
  return TOKEN.exec(subject ?? '')?.[0];
}

/**
 * The shipped config/annunciator.yaml in alarm mode, the way bench/postfix/gateway-config.mjs
 * builds it: its device map, rules/ and templates/ (made absolute), flood control off so that
 * every alarm is exactly one notification, the listener on a fixed loopback port (the same
 * for every restart), one plaintext account to the loopback upstream, JSON logs at info (the
 * process helper waits for "gateway started").
 */
function alarmModeConfig(dataDir: string, port: number, upstreamPort: number): string {
  const shipped = join(REPO_ROOT, 'config', 'annunciator.yaml');
  const doc = parseDocument(readFileSync(shipped, 'utf8'));
  const fromShipped = (p: string): string => (isAbsolute(p) ? p : resolve(join(REPO_ROOT, 'config'), p));
  doc.setIn(['gateway', 'dataDir'], dataDir);
  doc.set('log', { level: 'info', format: 'json' });
  const template = (doc.getIn(['listeners', 0]) as YAMLMap | undefined)?.toJSON() ?? {};
  doc.set('listeners', [{ ...template, name: 'kill', address: '127.0.0.1', port, trustedNetworks: ['127.0.0.0/8'] }]);
  for (const key of ['rulesDir', 'templatesDir']) {
    const value = doc.getIn(['alarms', key]);
    if (typeof value === 'string') doc.setIn(['alarms', key], fromShipped(value));
  }
  doc.setIn(['alarms', 'floodControl', 'enabled'], false);
  doc.setIn(['delivery', 'accounts'], [{ name: 'upstream', type: 'smtp', host: '127.0.0.1', port: upstreamPort, security: 'none' }]);
  doc.setIn(['delivery', 'concurrency'], DELIVERY_CONCURRENCY);
  doc.setIn(['delivery', 'pollInterval'], '100ms');
  doc.setIn(['delivery', 'retry'], { initialDelay: '50ms', maxDelay: '200ms', maxAge: '1h', jitter: 0 });
  for (const key of ['mqtt', 'replies', 'api', 'http']) doc.delete(key);
  return doc.toString({ lineWidth: 0 });
}

/** Opens the store file read-only (no checkpoint, no recovery by the test) for one look. */
function inspect<T>(dbFile: string, look: (db: SqliteConnection) => T): T {
  const db = SqliteConnection.open(dbFile, { readonly: true });
  try {
    return look(db);
  } finally {
    db.close();
  }
}

/** Resolves when `check()` holds, re-checked whenever `poke()` is called; fails after `timeoutMs`. */
class Signal {
  #waiters: Array<() => void> = [];
  poke(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }
}

describe('kill -9 again and again under load', () => {
  const dir = testDir('annunciator-kill-');
  const dataDir = join(dir.path, 'data');
  const dbFile = join(dataDir, 'annunciator.db');
  let gateway: GatewayProcess | undefined;
  let upstream: Upstream | undefined;
  let stopSenders = (): Promise<void> => Promise.resolve();
  let watching = true;
  /** The gateway's log lines, one array per run; KILL_LOG_DIR=<dir> keeps them as run-<n>.log. */
  const logs: string[][] = [];

  after(async () => {
    const keep = process.env.KILL_LOG_DIR;
    if (keep) logs.forEach((lines, i) => writeFileSync(join(keep, `run-${i + 1}.log`), lines.join('\n') + '\n'));
    // The gateway first: a device in the middle of a mail then ends at once.
    if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) await killHard(gateway);
    await stopSenders();
    watching = false;
    await upstream?.close();
    dir.remove();
  });

  it(`loses no 250'd mail over ${CYCLES} SIGKILL cycles, and sends twice only what was in flight`, { timeout: 180_000 }, async (t) => {
    const started = Date.now();
    upstream = await startUpstream({ security: 'none' });
    const port = await freePort();
    const configFile = dir.write('annunciator.yaml', alarmModeConfig(dataDir, port, upstream.port));

    // ---- the devices -------------------------------------------------------------------
    const accepted = new Map<string, number>(); // token -> cycle it was 250'd in
    const noReply: string[] = []; // the connection died before the reply to DATA: not accepted, a device would retry
    const refused: Array<{ token: string; reply: string }> = []; // a reply other than 250 while the gateway ran
    let counter = 0;
    let cycle = 0;
    let acceptedInCycle = 0;
    let gateOpen = false;
    let stopping = false;
    const progress = new Signal(); // a 250, an upstream arrival, the gate opening
    const gate = new Signal();

    async function device(index: number): Promise<void> {
      for (;;) {
        await gate.until(() => gateOpen || stopping, 600_000, 'the gateway');
        if (stopping) return;
        const n = ++counter;
        const token = `kill-${cycle}-${n}`;
        const sentInCycle = cycle;
        // The bench mail (bench/postfix/README.md): PLC Line 4, rule line4-motor-overtemperature; the token makes each title, so each alarm, new.
        const subject = `Motor M${(n % 40) + 1} overtemperature ${token}`;
        const data = Buffer.from(`From: plc-line4@plant.local\r\nTo: alarms@plant.local\r\nSubject: ${subject}\r\n\r\nWinding temperature 142 C exceeds limit 130 (device ${index})\r\n`);
        let reply: string | undefined;
        try {
          const result = await sendAsDevice({ port, mailFrom: 'plc-line4@plant.local', rcptTo: ['alarms@plant.local'], data, timeoutMs: 10_000 });
          reply = result.dataReply;
        } catch {
          reply = undefined;
        }
        if (reply !== undefined && /^250 /.test(reply)) {
          accepted.set(token, sentInCycle);
          if (sentInCycle === cycle) acceptedInCycle += 1;
          progress.poke();
        } else if (reply === undefined) {
          noReply.push(token);
        } else {
          refused.push({ token, reply });
          // Not a crash: do not spin on a gateway that says no.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    const devices = Array.from({ length: SENDERS }, (_, i) => device(i));
    stopSenders = async () => {
      stopping = true;
      gate.poke();
      await Promise.all(devices);
    };

    // ---- the upstream, across every cycle ------------------------------------------------
    const arrivals = new Map<string, number[]>(); // token -> the cycles (gateway runs) it arrived in
    const strangers: UpstreamMessage[] = [];
    const messageIds = new Map<string, Set<string>>(); // token -> the Message-IDs its copies carried
    let seen = 0;
    const collect = (): void => {
      for (; seen < upstream!.messages.length; seen++) {
        const message = upstream!.messages[seen]!;
        const token = tokenOf(message.parsed.subject);
        if (!token) {
          strangers.push(message);
          continue;
        }
        arrivals.set(token, [...(arrivals.get(token) ?? []), cycle]);
        messageIds.set(token, new Set([...(messageIds.get(token) ?? []), message.parsed.messageId ?? '(none)']));
      }
    };
    // Arrival events: the helper wakes its waiters on every message; re-arm after each.
    void (async () => {
      while (watching) {
        await upstream!.waitForMessages(seen + 1, 1000).catch(() => undefined);
        collect();
        progress.poke();
      }
    })();

    // ---- the cycles ----------------------------------------------------------------------
    const kills: KillRecord[] = [];
    for (cycle = 1; cycle <= CYCLES; cycle++) {
      acceptedInCycle = 0;
      gateway = await spawnGateway(configFile);
      logs.push(gateway.logs);
      gateOpen = true;
      gate.poke();
      // Somewhere between 10 and 30 mails accepted in this cycle (13 and 21 coprime: every value once in 21 cycles), then the kill point.
      const target = 10 + ((cycle * 13) % 21);
      await progress.until(() => acceptedInCycle >= target, 30_000, `${target} mails accepted in cycle ${cycle}`);
      let at: KillRecord['at'] = 'after a 250';
      if (cycle % 2 === 0) {
        // Right as the upstream takes a notification (same turn of the test's event loop as its 250 is
        // written): the gateway has, most likely, neither read that 250 nor recorded it.
        const before = upstream.messages.length;
        await upstream.waitForMessages(before + 1, 10_000);
        at = 'on an upstream arrival';
      }
      gateOpen = false;
      gateway.child.kill('SIGKILL');
      const atKill = acceptedInCycle;
      await gateway.exited;
      assert.equal(gateway.child.signalCode, 'SIGKILL', `cycle ${cycle}: the gateway ended by itself before the kill:\n${gateway.logs.slice(-20).join('\n')}`);
      // What the dead process left in the file: the notifications it was sending.
      const { sendingRows, inboxNew } = inspect(dbFile, (db) => ({
        sendingRows: db.prepare(`SELECT coalesce(m.message, o.message) AS message FROM outbox o LEFT JOIN outbox_message m ON m.id = o.id WHERE o.status = 'sending'`).all<{ message: Uint8Array }>(),
        inboxNew: (db.prepare(`SELECT count(*) AS n FROM received WHERE state = 'new'`).get() as { n: number }).n,
      }));
      const sending: string[] = [];
      for (const row of sendingRows) {
        const token = tokenOf((await simpleParser(asBuffer(row.message))).subject);
        assert.ok(token, `cycle ${cycle}: an outbox entry without a token`);
        sending.push(token);
      }
      kills.push({ cycle, at, acceptedInCycle: atKill, sending, inboxNew });
    }

    // ---- the last start: drain -----------------------------------------------------------
    await stopSenders();
    const drainStarted = Date.now();
    const backlog = accepted.size - [...accepted.keys()].filter((token) => arrivals.has(token)).length;
    gateway = await spawnGateway(configFile);
    logs.push(gateway.logs);
    const lastRun = gateway;
    const missing = (): string[] => [...accepted.keys()].filter((token) => !arrivals.has(token));
    try {
      await eventually(() => missing().length === 0, 60_000, 'every accepted token at the upstream');
      // Then until nothing is queued any more, so that late second copies are counted too.
      const queued = (): number =>
        inspect(dbFile, (db) => (db.prepare(`SELECT (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')) + (SELECT count(*) FROM received WHERE state = 'new') AS n`).get() as { n: number }).n);
      await eventually(
        () => {
          try {
            return queued() === 0;
          } catch {
            return false; // a look that met the gateway's commit: look again
          }
        },
        30_000,
        'an empty queue',
      );
    } catch (error) {
      // Evidence for a lost mail: where each missing token is in the file, and the gateway's errors.
      const evidence = missing()
        .slice(0, 20)
        .map((token) =>
          inspect(dbFile, (db) => {
            const received = db.prepare(`SELECT r.id, r.state, r.error FROM received r LEFT JOIN received_raw b ON b.id = r.id WHERE instr(coalesce(b.raw, r.raw), ?) > 0`).all(Buffer.from(`${token}\r\n`)) as Array<{ id: string; state: string; error: string | null }>;
            const outbox = received.flatMap((r) => db.prepare(`SELECT id, status, attempts, last_error FROM outbox WHERE received_id = ?`).all(r.id));
            return `${token} (250'd in cycle ${accepted.get(token)}): received ${JSON.stringify(received)} outbox ${JSON.stringify(outbox)}`;
          }),
        );
      const errors = logs.flat().filter((line) => /"level":(50|60)/.test(line));
      assert.fail(`${(error as Error).message}; ${missing().length} accepted mails missing:\n${evidence.join('\n')}\ngateway errors:\n${errors.slice(0, 20).join('\n')}`);
    }
    const drainTime = Date.now() - drainStarted;
    watching = false;
    collect();
    lastRun.child.kill('SIGTERM');
    const exitCode = await lastRun.exited;
    const runtime = Date.now() - started;

    // ---- the figures -----------------------------------------------------------------------
    const duplicates = [...arrivals].filter(([, runs]) => runs.length > 1);
    const extraCopies = duplicates.reduce((sum, [, runs]) => sum + runs.length - 1, 0);
    const acceptedCount = accepted.size;
    const deliveredAccepted = [...accepted.keys()].filter((token) => arrivals.has(token)).length;
    const deliveredUnacknowledged = [...arrivals.keys()].filter((token) => !accepted.has(token)).length;
    const sendingAtKills = kills.reduce((sum, k) => sum + k.sending.length, 0);
    const killsInFlight = kills.filter((k) => k.sending.length > 0).length;
    const rate = acceptedCount > 0 ? extraCopies / acceptedCount : 0;
    t.diagnostic(
      `cycles ${CYCLES}, mails sent ${counter}, accepted (250) ${acceptedCount}, no reply (died) ${noReply.length}, refused ${refused.length}, ` +
        `delivered ${deliveredAccepted}/${acceptedCount} accepted + ${deliveredUnacknowledged} committed but unacknowledged, upstream messages ${upstream.messages.length}`,
    );
    t.diagnostic(
      `duplicates: ${duplicates.length} tokens, ${extraCopies} extra copies, rate ${(rate * 100).toFixed(2)} % of accepted; ` +
        `notifications in flight at the kills ${sendingAtKills} (max ${Math.max(0, ...kills.map((k) => k.sending.length))} at one kill, ${killsInFlight}/${CYCLES} kills with deliveries in flight); runtime ${(runtime / 1000).toFixed(1)} s (last run drained ${backlog} accepted mails in ${(drainTime / 1000).toFixed(1)} s)`,
    );
    if (refused.length > 0) t.diagnostic(`refused: ${refused.slice(0, 10).map((r) => `${r.token}: ${r.reply}`).join(' | ')}`);
    if (duplicates.length > 0) t.diagnostic(`duplicated: ${duplicates.map(([token, runs]) => `${token} (runs ${runs.join(',')})`).join(' ')}`);
    for (const k of kills) t.diagnostic(`kill ${k.cycle} ${k.at}: ${k.acceptedInCycle} accepted in the cycle, ${k.sending.length} sending [${k.sending.join(' ')}], ${k.inboxNew} unprocessed in the inbox`);

    // ---- the verdict ---------------------------------------------------------------------
    // Nothing acknowledged is lost.
    assert.deepEqual(missing(), []);
    assert.equal(strangers.length, 0, `notifications without a token: ${strangers.map((m) => m.parsed.subject).join(' | ')}`);
    // Every token that arrived was sent by a device (a committed-but-unacknowledged one included).
    for (const token of arrivals.keys()) assert.ok(Number(TOKEN.exec(token)![2]) <= counter, `unknown token ${token}`);
    // The test did what it says: mails were accepted in every cycle and deliveries were in flight at kills.
    assert.ok(kills.every((k) => k.acceptedInCycle >= 10));
    assert.ok(killsInFlight >= CYCLES / 2, `only ${killsInFlight} of ${CYCLES} kills caught a delivery in flight`);

    // Duplicates, the bound. A notification goes out a second time only when its outbox entry
    // was still `sending` in the file when the process died: claimed (committed as `sending`)
    // and handed to the upstream, but the upstream's 250 not yet recorded (markSent). Those
    // are exactly the deliveries in flight: at most delivery.concurrency sends at once, plus
    // the ones that finished but whose outcome waits for the worker's next group commit (a
    // few ms; the worker claims new entries only for free send slots, so that is at most
    // another delivery.concurrency in practice). The restart makes them `pending` again and
    // sends them once more. So:
    //  - exactly: each token has at most one extra copy per kill at which it was `sending`;
    const sendingCount = new Map<string, number>();
    for (const k of kills) for (const token of k.sending) sendingCount.set(token, (sendingCount.get(token) ?? 0) + 1);
    for (const [token, runs] of duplicates) {
      assert.ok(runs.length - 1 <= (sendingCount.get(token) ?? 0), `${token} arrived ${runs.length} times (runs ${runs.join(',')}) but was in flight at ${sendingCount.get(token) ?? 0} kills`);
    }
    assert.ok(extraCopies <= sendingAtKills);
    //  - and a second copy is the same message: the same Message-ID, which mail clients fold.
    for (const [token] of duplicates) assert.equal(messageIds.get(token)?.size, 1, `${token}'s copies carried different Message-IDs: ${[...(messageIds.get(token) ?? [])].join(' ')}`);
    //  - and overall: at most cycles × 2 × delivery.concurrency.
    assert.ok(extraCopies <= CYCLES * 2 * DELIVERY_CONCURRENCY, `${extraCopies} extra copies over ${CYCLES} kills`);
    // The run after all those kills still stops cleanly.
    assert.equal(exitCode, 0, `the last run did not stop cleanly:\n${lastRun.logs.slice(-20).join('\n')}`);
  });
});

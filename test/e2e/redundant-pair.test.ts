import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { sendAsDevice } from '../helpers/device-client.js';
import { eventually } from '../helpers/gateway.js';
import { leaderOf, peerConfigs, type PairPeer } from '../helpers/gateway-pair.js';
import { killHard, spawnGateway } from '../helpers/gateway-process.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { mqttExampleHarness, type MqttHarness } from '../helpers/mqtt-example.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const gate = await postgresGate();
/** 1 (the default): the size of issue 11, 2,000 mails and 500 events, about 20 s; smaller for a quick look, larger for a longer run. */
const SCALE = Number(process.env.ANNUNCIATOR_PAIR_SCALE ?? 1);
const MAILS = Math.round(2000 * SCALE);
const EVENTS = Math.round(500 * SCALE);
const DEVICES = 8;
/** The escalation's first level: due a few seconds after the leader is killed. */
const ESCALATE_AFTER_S = 8;
const KILL_AFTER_ALARM_MS = 5000;
/** The load is spread over this long at least, so that the kill falls in its middle. */
const LOAD_MS = 12_000;
/** How long the notifications may take to drain after the load: here one gateway delivered 13-50 a second into the test's parsing sink on a busy 2-core machine. */
const DRAIN_MS = 30_000 + (MAILS + EVENTS) * 150;
const TOM = 'tom.keller@example.com';

/**
 * The redundant pair of docs/redundant-pair.md end to end: two `annunciator start`
 * processes on one PostgreSQL database, devices spreading numbered alarm mails over both
 * (and, like PLCs behind the pair's virtual address, sending to the other when one does not
 * answer), MQTT events through a shared subscription, an escalation armed before the
 * leading gateway is SIGKILLed and due while the other takes over. Every mail answered 250
 * is notified by the survivor alone, and so is every MQTT event: Mosquitto keeps giving the
 * killed gateway's session its share, and the survivor (leading) drains that session and
 * ends it, without the killed one's restart; duplicates only for deliveries in flight
 * at the kill; the escalation fires once, at most 10 s late.
 */
describe('a redundant pair: two gateway processes on one database, one SIGKILLed under load', { skip: gate.skip }, () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let upstream: Upstream;
  let h: MqttHarness;
  let pub: MqttClient | undefined;
  const peers: PairPeer[] = [];
  /** Set when the test is over, passed or not: the devices and the publisher stop. */
  let over = false;

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
    h = mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
    const rulesDir = join(h.dir.path, 'rules');
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(
      join(rulesDir, 'motors.yaml'),
      stringify({
        escalations: [{ name: 'motor-escalation', levels: [{ after: `${ESCALATE_AFTER_S}s`, receivers: ['tom'] }], stopOn: 'acknowledged' }],
        rules: [{ name: 'motors-escalate', when: { fact: 'device.id', operator: 'equal', value: 'plc-line4' }, then: { receivers: ['maintenance'], escalation: 'motor-escalation', notifyResolved: false } }],
      }),
    );
    peers.push(
      ...(await peerConfigs(h, db, ['gw-a', 'gw-b'], {
        alarms: { ...(h.raw.alarms as object), rulesDir },
        receivers: [...(h.raw.receivers as object[]), { name: 'tom', email: TOM }],
        devices: [...(h.raw.devices as object[]), { id: 'plc-line4', name: 'PLC Line 4', match: { senders: ['plc-line4@plant.local'] } }],
        delivery: { ...(h.raw.delivery as object), concurrency: 10 },
      })),
    );
    // One after the other: the first migrates the database and leads.
    for (const peer of peers) peer.process = await spawnGateway(peer.file);
  });
  after(async () => {
    over = true;
    await pub?.endAsync();
    for (const peer of peers) if (peer.process && peer.process.child.exitCode === null) await killHard(peer.process);
    await upstream?.close();
    await broker?.stop();
    await db?.drop();
    h?.dir.remove();
  });

  it(`${MAILS} mails over both, ${EVENTS} MQTT events, the leader SIGKILLed: each accepted one notified, duplicates only for deliveries in flight, the escalation once`, async (t) => {
    t.diagnostic(`broker: ${broker.choice}`);
    const startedAt = Date.now();
    const leaderName = await eventually(() => leaderOf(db), 15_000, 'a leader');
    const leader = peers.find((p) => p.name === leaderName)!;

    const accepted = new Set<number>();
    let refusals = 0;
    let next = 0;
    const device = async (d: number): Promise<void> => {
      for (let n = next++; n < MAILS && !over; n = next++) {
        // Spread over both, as PLCs pointed at either box; the other when one does not answer.
        for (let attempt = 0; !over; attempt += 1) {
          const peer = peers[(n + attempt) % 2]!;
          const result = await sendAsDevice({
            port: peer.port,
            mailFrom: `plc${n}@plant.local`,
            rcptTo: ['maintenance@example.com'],
            data: Buffer.from(`Subject: ALARM Line 4 motor M${n} overtemperature\r\n\r\nseq ${n} from device ${d}\r\n`, 'utf8'),
            timeoutMs: 5000,
          }).catch((error: Error) => ({ dataReply: `connection: ${error.message}`, replies: [] as string[] }));
          // The answer to DATA, or a refusal before it; none (the gateway killed mid-session) is ''.
          const reply = result.dataReply ?? result.replies.find((r) => /^[45]/.test(r)) ?? '';
          if (/^250 /.test(reply)) {
            accepted.add(n);
            break;
          }
          // No answer at all (the gateway killed under the session) is what a device sends again, like a 4xx.
          assert.match(reply, /^4\d\d |^connection: |^$/, `mail ${n}: only a transient refusal is allowed, got ${reply}`);
          refusals += 1;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await pace(n, MAILS);
      }
    };
    /** Waits until item `n` of `total` is due, the load spread evenly over LOAD_MS. */
    const pace = (n: number, total: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + ((n + 1) * LOAD_MS) / total - Date.now())));
    pub = await connectAsync(broker.url, { clientId: `${h.root}-pub`, clean: true, protocolVersion: 5 });
    let published = 0;
    const publisher = (async () => {
      // Spread over the run: a steady trickle, as sensors publish.
      for (; published < EVENTS && !over; published += 1) {
        await pub!.publishAsync(`${h.root}/plant/north/line2/ev${published}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: published }), { qos: 1 });
        await pace(published, EVENTS);
      }
    })();
    const devices = Promise.all(Array.from({ length: DEVICES }, (_, d) => device(d)));
    // When the escalation reaches the sink (the sink keeps no times).
    const escalatedAt: number[] = [];
    const watch = setInterval(() => {
      const n = upstream.messages.filter((m) => m.rcptTo.includes(TOM)).length;
      while (escalatedAt.length < n) escalatedAt.push(Date.now());
    }, 20);
    watch.unref();

    // The escalating alarm, through the gateway that will live, at the start of the load.
    const other = peers.find((p) => p !== leader)!;
    const raisedAt = Date.now();
    const motor = await sendAsDevice({ port: other.port, mailFrom: 'plc-line4@plant.local', rcptTo: ['maintenance@example.com'], data: Buffer.from('Subject: ALARM Line4 Motor M9000 overtemperature\r\n\r\nMotor M9000 overtemperature\r\n') });
    assert.match(motor.dataReply ?? '', /^250 /);
    const [armed] = await eventually(async () => {
      const rows = await db.query<{ due_at: string }>(`SELECT due_at FROM timers WHERE kind = 'escalate'`);
      return rows.length > 0 ? rows : undefined;
    }, 10_000, 'the escalation timer armed');
    const dueAt = Number(armed!.due_at);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, raisedAt + KILL_AFTER_ALARM_MS - Date.now())));
    const acceptedAtKill = accepted.size;
    const eventsAtKill = published;
    await killHard(leader.process!);
    const killedAt = Date.now();
    const inFlight = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE status = 'sending' AND claimed_by = $1`, [leader.name]))[0]!.n;
    const newLeader = await eventually(async () => ((await leaderOf(db)) === other.name ? Date.now() : undefined), 15_000, 'the other gateway to lead');

    await devices;
    await publisher;

    // The mails need no restart: the other gateway delivers what the killed one had accepted, and what it was delivering.
    const mailKeys = [...accepted].map((n) => `M${n}`);
    await eventually(() => allIn(mailKeys), DRAIN_MS, `every accepted mail notified by ${other.name} alone`).catch(async (error: Error) => {
      const missing = mailKeys.filter((k) => !notified().has(k));
      const rows = await db.query(
        `SELECT substring(convert_from(r.raw, 'UTF8') from 'M[0-9]+') AS mail, r.state, o.status, o.claimed_by, o.attempts, o.last_error
           FROM received r LEFT JOIN outbox o ON o.received_id = r.id WHERE substring(convert_from(r.raw, 'UTF8') from 'M[0-9]+') = ANY($1::text[])`,
        [missing.slice(0, 20)],
      );
      throw new Error(`${error.message}: ${missing.length} missing, e.g. ${JSON.stringify(rows)}`);
    });
    // Mosquitto holds the killed member's share in its session: the survivor drains it, no restart needed.
    const eventKeys = Array.from({ length: EVENTS }, (_, i) => `ev${i}`);
    await eventually(() => allIn(eventKeys), DRAIN_MS, 'every event notified before the killed gateway is restarted').catch((error: Error) => {
      throw new Error(`${error.message}: ${eventKeys.filter((k) => !notified().has(k)).length} held at the broker for ${leader.name}`);
    });
    const eventsBeforeRestart = [...notified().keys()].filter((k) => k.startsWith('ev')).length;
    // Back after its session was drained and ended: it starts a new one, and nothing comes twice.
    leader.process = await spawnGateway(leader.file);

    /** Whether every key has been notified: one pass over the sink's messages per check, not one per key. */
    function allIn(keys: string[]): boolean {
      const counts = notified();
      return keys.every((k) => counts.has(k));
    }
    function notified(): Map<string, number> {
      const counts = new Map<string, number>();
      for (const m of upstream.messages) {
        const key = /\b(M\d+|ev\d+)\b/.exec(m.parsed.subject ?? '')?.[1];
        if (key && !m.rcptTo.includes(TOM)) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    }
    const wanted = [...mailKeys, ...eventKeys];
    await eventually(() => allIn(wanted), DRAIN_MS, `every accepted mail and event notified (missing: ${wanted.filter((k) => !notified().has(k)).slice(0, 10).join(' ')} ...)`);
    await eventually(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE status IN ('pending', 'sending')`))[0]!.n === 0, 30_000, 'outbox drained');

    const counts = notified();
    const duplicates = [...counts].filter(([key, c]) => c > 1 && key !== 'M9000').map(([key, c]) => `${key}×${c}`);
    clearInterval(watch);
    const [fired] = await db.query<{ fired_at: string | null }>(`SELECT fired_at FROM timers WHERE kind = 'escalate'`);
    const firedAt = Number(fired?.fired_at ?? NaN);
    const escalations = upstream.messages.filter((m) => m.rcptTo.includes(TOM));
    const escalated = escalatedAt[0] ?? NaN;
    const [mqttRows] = await db.query<{ n: number; distinct: number }>(`SELECT count(*)::int AS n, count(DISTINCT raw)::int AS distinct FROM received WHERE mqtt IS NOT NULL`);
    t.diagnostic(
      `mails: ${MAILS} (${accepted.size} answered 250, ${acceptedAtKill} before the kill), ${refusals} refused or unanswered and sent again; events: ${EVENTS} (${eventsAtKill} published before the kill), ${mqttRows!.n} committed, ${EVENTS - eventsBeforeRestart} waited at the broker for ${leader.name}'s restart; ` +
        `${leader.name} (leader) killed at +${killedAt - startedAt} ms with ${inFlight} deliveries in flight; ${other.name} led ${newLeader - killedAt} ms later; ` +
        `duplicates: ${duplicates.length} (${duplicates.join(' ') || 'none'}); escalation due at +${dueAt - startedAt} ms, fired at +${firedAt - startedAt} ms (${firedAt - dueAt} ms late), notified ${escalations.length}× at +${escalated - startedAt} ms; whole run ${Date.now() - startedAt} ms`,
    );
    assert.equal(accepted.size, MAILS);
    assert.ok(duplicates.length <= inFlight, `duplicates (${duplicates.length}) only for deliveries in flight at the kill (${inFlight})`);
    assert.deepEqual(mqttRows, { n: EVENTS, distinct: EVENTS }, 'each event committed once');
    assert.equal(eventsBeforeRestart, EVENTS, 'no event waits for the killed gateway');
    assert.equal(escalations.length, 1, 'the escalation fires once');
    // The timer; its notification then waits its turn in the outbox behind the load's.
    assert.ok(firedAt - dueAt <= 10_000, `fired at most 10 s late: ${firedAt - dueAt} ms`);
  });
});

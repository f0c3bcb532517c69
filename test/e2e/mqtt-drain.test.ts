import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { eventually } from '../helpers/gateway.js';
import { leaderOf, peerConfigs, type PairPeer } from '../helpers/gateway-pair.js';
import { killHard, spawnGateway } from '../helpers/gateway-process.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { mqttExampleHarness, type MqttHarness } from '../helpers/mqtt-example.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const gate = await postgresGate();
const EVENTS = 200;
/** From the last event published: the kill noticed (three beats of 2 s), the session drained, the notifications sent. */
const WITHIN_MS = 15_000;

/**
 * Two gateway processes on one database in an MQTT 5 shared subscription group; one is
 * SIGKILLed, so its persistent session stays at the broker, which keeps giving it a share of
 * the events. The survivor (leading) drains that session and ends it: every event is
 * committed and notified once, without the killed gateway coming back.
 */
describe('a gateway SIGKILLed in a shared subscription group: the leader drains its MQTT session', { skip: gate.skip }, () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let upstream: Upstream;
  let h: MqttHarness;
  let pub: MqttClient | undefined;
  const peers: PairPeer[] = [];

  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
    h = mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
    peers.push(...(await peerConfigs(h, db, ['gw-a', 'gw-b'])));
    // One after the other: the first migrates the database and leads.
    for (const peer of peers) peer.process = await spawnGateway(peer.file);
  });
  after(async () => {
    await pub?.endAsync();
    for (const peer of peers) if (peer.process && peer.process.child.exitCode === null) await killHard(peer.process);
    await upstream?.close();
    await broker?.stop();
    await db?.drop();
    h?.dir.remove();
  });

  it(`${EVENTS} QoS 1 events after the kill: each committed and notified once by the survivor, the killed one not restarted`, async (t) => {
    t.diagnostic(`broker: ${broker.choice}`);
    const leaderName = await eventually(() => leaderOf(db), 15_000, 'a leader');
    const survivor = peers.find((p) => p.name === leaderName)!;
    const victim = peers.find((p) => p !== survivor)!;
    // Both members subscribed: each holds its session at the broker.
    await eventually(async () => (await db.query(`SELECT 1 FROM mqtt_sessions WHERE gateway = $1`, [victim.name])).length === 1, 10_000, `${victim.name}'s MQTT session recorded`);
    await killHard(victim.process!);
    const killedAt = Date.now();

    pub = await connectAsync(broker.url, { clientId: `${h.root}-pub`, clean: true, protocolVersion: 5 });
    for (let n = 0; n < EVENTS; n += 1) await pub.publishAsync(`${h.root}/plant/north/line2/ev${n}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: n }), { qos: 1 });
    const publishedAt = Date.now();

    const notified = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const m of upstream.messages) {
        const key = /\b(ev\d+)\b/.exec(m.parsed.subject ?? '')?.[1];
        if (key) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    };
    const wanted = Array.from({ length: EVENTS }, (_, i) => `ev${i}`);
    const waitingBefore = wanted.length - notified().size;
    await eventually(() => wanted.every((k) => notified().has(k)), WITHIN_MS, `every event notified without ${victim.name}'s restart`).catch((error: Error) => {
      const missing = wanted.filter((k) => !notified().has(k));
      throw new Error(`${error.message}: ${missing.length} of ${EVENTS} missing (held in ${victim.name}'s session at the broker)`);
    });
    const doneAt = Date.now();
    const [rows] = await db.query<{ n: number; distinct: number; drained: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT raw)::int AS distinct, count(*) FILTER (WHERE mqtt->>'clientId' = $1)::int AS drained FROM received WHERE mqtt IS NOT NULL`,
      [`${h.clientId}-${victim.name}`],
    );
    // The drain logs once it has ended the session, which can be after the last notification went out.
    const drainLog = await eventually(() => survivor.process!.logs.find((line) => line.includes('drained the MQTT session')), 10_000, 'the drain logged');
    t.diagnostic(
      `${victim.name} killed; ${EVENTS} events published in ${publishedAt - killedAt} ms, ${waitingBefore} not yet notified then; all notified ${doneAt - publishedAt} ms after the last; ` +
        `${rows!.drained} committed from ${victim.name}'s session by ${survivor.name}`,
    );
    assert.deepEqual({ n: rows!.n, distinct: rows!.distinct }, { n: EVENTS, distinct: EVENTS }, 'each event committed once');
    assert.ok(rows!.drained > 0, `the broker gave ${victim.name}'s session a share, drained by ${survivor.name}`);
    const counts = notified();
    assert.deepEqual(wanted.filter((k) => counts.get(k) !== 1), [], 'each event notified once');
    assert.equal(JSON.parse(drainLog).committed, rows!.drained);
    // The session is ended and forgotten: the broker gives it no more share.
    assert.deepEqual(await db.query(`SELECT 1 FROM mqtt_sessions WHERE gateway = $1`, [victim.name]), []);
    const before = notified().size;
    for (let n = EVENTS; n < EVENTS + 20; n += 1) await pub.publishAsync(`${h.root}/plant/north/line2/ev${n}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: n }), { qos: 1 });
    await eventually(() => notified().size === before + 20, 10_000, 'later events all go to the survivor');
  });
});

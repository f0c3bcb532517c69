import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import pg from 'pg';
import { capturedLogs } from '../helpers/captured-logs.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, runGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { mqttExampleHarness, type MqttHarness } from '../helpers/mqtt-example.js';
import { startThrowawayPostgres, throwawayPostgresGate, type ThrowawayPostgres } from '../helpers/throwaway-postgres.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const gate = throwawayPostgresGate();
const MAILS = Number(process.env.ANNUNCIATOR_RESTART_MAILS ?? 300);
const EVENTS = Number(process.env.ANNUNCIATOR_RESTART_EVENTS ?? 100);
const SENDERS = 4;
/** How long the database stays down at least: long enough for the reconnects to back off. */
const DOWN_MS = 3000;

interface LogLine {
  msg: string;
  level: number;
  attempt?: number;
  retryInMs?: number;
  downForMs?: number;
}

/**
 * One gateway on a PostgreSQL cluster of the test's own, which is killed (`pg_ctl stop -m
 * immediate`, as a crash or a failover) while devices send numbered alarm mails and MQTT
 * events arrive, and started again: devices hear 451 while it is down and never a 250
 * for mail not committed; MQTT events wait unacknowledged at the broker; afterwards every
 * mail answered 250 and every event gives its one notification.
 */
describe('PostgreSQL killed and restarted under load (a cluster of the test\'s own)', { skip: gate.skip }, () => {
  let cluster: ThrowawayPostgres;
  let broker: TestBroker;
  let upstream: Upstream;
  let h: MqttHarness;
  let gateway: RunningGateway;
  const logs = capturedLogs<LogLine>('info');

  before(async () => {
    gate.assertPresent();
    cluster = await startThrowawayPostgres();
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
    h = mqttExampleHarness(broker.url, upstream.port, { protocolVersion: 5 });
    const config = configFrom(h.dir, {
      ...h.raw,
      store: { url: cluster.url, security: 'none' },
    });
    gateway = await runGateway(config, logs.logger);
    await eventually(() => gateway.mqtt[0]?.ready, 10_000, 'subscribed');
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    await broker?.stop();
    cluster?.remove();
    h?.dir.remove();
  });

  it(`${MAILS} numbered mails and ${EVENTS} MQTT events across a database crash: 451 while down, nothing answered 250 or PUBACKed lost`, async (t) => {
    t.diagnostic(`broker: ${broker.choice}; PostgreSQL on 127.0.0.1:${cluster.port}`);
    let down = false;
    const accepted = new Set<number>();
    let refusedWhileDown = 0;
    let acceptedWhileDown = 0;
    let tempFailures = 0;
    let next = 0;
    // Devices: each takes the next number and sends it until it is answered 250, retrying on 4xx like a PLC's mail block.
    const device = async (): Promise<void> => {
      for (let n = next++; n < MAILS; n = next++) {
        for (;;) {
          const wasDown = down;
          const result = await sendAsDevice({
            port: gateway.port,
            mailFrom: `plc${n}@plant.local`, // a device each: each mail its own alarm, its own notification
            rcptTo: ['maintenance@example.com'],
            data: Buffer.from(`Subject: ALARM Line 4 motor M${n} overtemperature\r\n\r\nseq ${n}\r\n`, 'utf8'),
          }).catch((error: Error) => ({ dataReply: `connection: ${error.message}`, replies: [] }));
          const reply = result.dataReply ?? result.replies.at(-1) ?? '';
          if (/^250 /.test(reply)) {
            accepted.add(n);
            if (wasDown && down) acceptedWhileDown += 1;
            break;
          }
          assert.match(reply, /^4\d\d |^connection: /, `mail ${n}: only a transient refusal is allowed, got ${reply}`);
          tempFailures += 1;
          if (down) refusedWhileDown += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const pub = await connectAsync(broker.url, { clientId: `${h.root}-pub`, clean: true, protocolVersion: 5 });
    const publish = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, (_, i) => pub.publishAsync(`${h.root}/plant/north/line2/ev${from + i}/alarm`, JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: from + i }), { qos: 1 })),
      );

    const devices = Promise.all(Array.from({ length: SENDERS }, () => device()));
    await eventually(() => accepted.size >= MAILS / 3, 60_000, 'a third of the mails accepted');
    await publish(0, EVENTS / 2);
    cluster.stop('immediate');
    down = true;
    // Counted once the gateway has seen the outage: a commit the server confirmed just before it died is reported after spawnSync returns.
    await eventually(() => gateway.store.health().ok === false, 20_000, 'the outage seen');
    const committedAtStop = gateway.mqtt[0]!.stats.committed;
    // Broker-side PUBACKs to the publisher; the gateway cannot commit these, so it must not PUBACK them.
    await publish(EVENTS / 2, EVENTS);
    const stoppedAt = Date.now();
    await eventually(() => refusedWhileDown >= 10 && Date.now() - stoppedAt >= DOWN_MS, 20_000 + DOWN_MS, 'devices refused while the database is down');
    await eventually(() => logs.lines.some((l) => l.msg === 'message not committed; dropping the connection unacknowledged so the broker redelivers it'), 20_000, 'MQTT handler failed');
    const committedWhileDown = gateway.mqtt[0]!.stats.committed - committedAtStop;
    assert.equal(gateway.store.health().ok, false);
    cluster.start();
    down = false;
    await devices;
    await pub.endAsync();

    const notified = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const m of upstream.messages) {
        const key = /\b(M\d+|ev\d+)\b/.exec(m.parsed.subject ?? '')?.[1];
        if (key) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    };
    await eventually(() => notified().size >= MAILS + EVENTS, 60_000, `${MAILS + EVENTS} notifications (have ${notified().size})`);
    await eventually(async () => (await gateway.store.outbox.list(['pending', 'sending'])).length === 0, 20_000, 'outbox drained');

    const counts = notified();
    const missing = [...Array(MAILS).keys()].filter((n) => !counts.has(`M${n}`)).concat([...Array(EVENTS).keys()].filter((n) => !counts.has(`ev${n}`)).map((n) => -n));
    assert.deepEqual(missing, [], 'every mail answered 250 and every event gave its notification');
    const twice = [...counts].filter(([, c]) => c > 1);
    assert.deepEqual(twice, [], 'one notification each');
    assert.equal(accepted.size, MAILS);

    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    try {
      const [events] = (await db.query<{ n: number; distinct: number }>(`SELECT count(*)::int AS n, count(DISTINCT raw)::int AS distinct FROM received WHERE mqtt IS NOT NULL`)).rows;
      assert.deepEqual(events, { n: EVENTS, distinct: EVENTS }, 'each event committed once: the redelivery of one committed before the crash is recognised');
    } finally {
      await db.end();
    }

    const downLog = logs.lines.find((l) => /^store: the database .* fails/.test(l.msg));
    const backLog = logs.lines.find((l) => l.msg === 'store: the database answers again; taking work again');
    assert.ok(downLog, 'the outage is logged');
    assert.ok(backLog && (backLog.downForMs ?? 0) > 0, 'the recovery is logged, with how long it was down');
    const reconnects = logs.lines.filter((l) => l.msg === 'MQTT connection lost; reconnecting');
    assert.ok(reconnects.some((l) => (l.attempt ?? 0) >= 2), `MQTT reconnects back off while commits fail: ${JSON.stringify(reconnects.map((l) => [l.attempt, l.retryInMs]))}`);
    t.diagnostic(
      `mails: ${MAILS} answered 250 (${acceptedWhileDown} while down); ${tempFailures} transient refusals (${refusedWhileDown} while down); ` +
        `events committed while down: ${committedWhileDown}; MQTT reconnects: ${reconnects.length} (delays ${reconnects.map((l) => l.retryInMs).join(', ')} ms); database down for ${backLog?.downForMs} ms`,
    );
    assert.equal(acceptedWhileDown, 0, 'no 250 while the database was down');
    assert.equal(committedWhileDown, 0, 'no MQTT event committed (so none PUBACKed) while the database was down');
  });
});

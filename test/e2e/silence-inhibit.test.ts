import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silenceEndsAt, type Silence } from '../../src/lifecycle/silence.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

const corpus = loadCorpus();

/** The shipped configuration (devices, patterns, receivers, rules, templates), relaying to a loopback upstream. */
function pipelineConfig(dir: TestDir, upstreamPort: number, extra: { inhibit?: unknown[]; pollInterval?: string } = {}): Record<string, unknown> {
  return shippedAlarmsConfig(dir, {
    ...(extra.inhibit ? { inhibit: extra.inhibit } : {}),
    delivery: relayDelivery(upstreamPort, { pollInterval: extra.pollInterval ?? '100ms' }),
  });
}

async function sendCorpus(gateway: RunningGateway, file: string, subject?: string): Promise<void> {
  const mail = corpus.find((m) => m.file === file)!;
  const data = subject ? Buffer.from(mail.raw.toString('latin1').replace(/^Subject: .*$/m, `Subject: ${subject}`), 'latin1') : mail.raw;
  const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data, behaviour: mail.behaviour });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

function header(message: UpstreamMessage | undefined, name: string): string {
  const value = message?.parsed.headers.get(name);
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

async function activeAlarmOf(gateway: RunningGateway, deviceId: string, title?: RegExp) {
  return (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === deviceId && (!title || title.test(a.title)));
}

const SITE_POWER_FAILURE = [{ name: 'site-power-failure', source: ['key=ups-on-battery'], target: ['device.id!=ups-hall2'], equal: ['site'] }];

/** A gateway with the site-power-failure inhibit rule and its upstream, for one describe block. */
function inhibitingGateway(dir: TestDir, extra: { pollInterval?: string } = {}): { readonly gateway: RunningGateway; readonly upstream: Upstream } {
  const running: { gateway?: RunningGateway; upstream?: Upstream } = {};
  before(async () => {
    running.upstream = await startUpstream({ security: 'none' });
    running.gateway = await runGateway(configFrom(dir, pipelineConfig(dir, running.upstream.port, { inhibit: SITE_POWER_FAILURE, ...extra })));
  });
  after(async () => {
    await running.gateway?.stop();
    await running.upstream?.close();
    dir.remove();
  });
  return {
    get gateway() {
      return running.gateway!;
    },
    get upstream() {
      return running.upstream!;
    },
  };
}

describe('silences end to end', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    // A long poll interval: the notification at the silence's end must come from the
    // scheduler's timer at that end, not from a poll that happens to look.
    gateway = await runGateway(configFrom(dir, pipelineConfig(dir, upstream.port, { pollInterval: '20s' })));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('mutes a matching alarm (recorded with the reason, nothing sent) and notifies it when the silence ends', async () => {
    const now = Date.now();
    // Ends a few seconds from now: time enough to see the alarm muted, short enough to wait for.
    const end = now + 3000;
    const silence: Silence = {
      id: 'SILENCE-MOTOR-SERVICE',
      matchers: [
        { field: 'device.id', operator: 'equal', value: 'plc-line4' },
        { field: 'title', operator: 'matches', value: '(?i)overtemperature' },
      ],
      schedule: { kind: 'window', start: now - 1000, end },
      createdBy: 'tom',
      comment: 'motor service',
      createdAt: now,
    };
    await gateway.store.silences.insert(silence, silenceEndsAt(silence));

    await sendCorpus(gateway, 's7-tmail-no-date.eml');
    // A device at another site, not matched by the silence: notified at once. Its
    // notification shows the gateway got past the S7 mail (the inbox is worked in order).
    await sendCorpus(gateway, 'datalogger-csv-attachment.eml');
    const [coldRoom] = await upstream.waitForMessages(1);
    assert.match(coldRoom?.parsed.subject ?? '', /Cold room/);

    const alarm = await activeAlarmOf(gateway, 'plc-line4');
    assert.ok(alarm, 'the silenced alarm is recorded');
    assert.ok(Date.now() < end, 'the silence still holds: this test needs the mails processed within 3 s');
    assert.equal(upstream.messages.length, 1, 'nothing sent for the silenced alarm');
    assert.equal(alarm.notifications, 0);
    assert.deepEqual(alarm.mutedBy, { by: 'silence', silence: silence.id, until: end });
    const [raised] = await gateway.store.alarms.history(alarm.id);
    assert.equal(raised?.outcome, 'silenced');
    assert.match(raised?.reason ?? '', /muted by silence SILENCE-MOTOR-SERVICE \(motor service\) until \d{4}-\d\d-\d\dT/);

    const messages = await upstream.waitForMessages(2, 10_000);
    const arrivedAt = Date.now();
    const notification = messages[1];
    assert.ok(arrivedAt >= end, 'not before the silence ended');
    assert.ok(arrivedAt < end + 5000, `woken at the silence's end, not at the next 20 s poll (${arrivedAt - end} ms late)`);
    assert.equal(header(notification, 'x-annunciator-alarm'), alarm.id);
    assert.equal(header(notification, 'x-annunciator-kind'), 'firing');
    assert.ok(notification?.rcptTo.includes('maintenance@example.com'), `routed by the motor rule: ${notification?.rcptTo.join(',')}`);
    assert.match(notification?.parsed.subject ?? '', /Motor M12 overtemperature/);

    const after = await gateway.store.alarms.get(alarm.id);
    assert.equal(after?.notifications, 1);
    assert.equal(after?.mutedBy, undefined);
    const history = await gateway.store.alarms.history(alarm.id);
    assert.deepEqual(history.map((h) => h.outcome), ['silenced', 'unmuted']);
    assert.equal(history[1]?.reason, 'silence SILENCE-MOTOR-SERVICE ended; still active');
  });
});

describe('inhibition end to end', () => {
  const running = inhibitingGateway(testDir());

  it("a power failure mutes its site's device alarms while it is active, and no longer after it resolves", async () => {
    const { gateway, upstream } = running;
    await sendCorpus(gateway, 'ups-on-battery.eml');
    const [power] = await upstream.waitForMessages(1);
    assert.match(power?.parsed.subject ?? '', /UPS-HALL2: On battery power/);
    const ups = await gateway.store.alarms.get(header(power, 'x-annunciator-alarm'));
    assert.equal(ups?.state, 'active');

    // Same site (Plant North): inhibited. Another site (Plant South): notified.
    await sendCorpus(gateway, 's7-tmail-no-date.eml');
    await sendCorpus(gateway, 'datalogger-csv-attachment.eml');
    const [, coldRoom] = await upstream.waitForMessages(2);
    assert.match(coldRoom?.parsed.subject ?? '', /Cold room/, 'the other site is not inhibited');
    assert.equal(upstream.messages.length, 2, 'nothing sent for the motor alarm');
    const motor = await activeAlarmOf(gateway, 'plc-line4');
    assert.ok(motor);
    assert.equal(motor.notifications, 0);
    const [inhibited] = await gateway.store.alarms.history(motor.id);
    assert.equal(inhibited?.outcome, 'inhibited');
    assert.match(inhibited?.reason ?? '', new RegExp(`inhibited by ${ups!.id} \\(UPS-HALL2: On battery power in response to an input power problem\\.\\) via rule site-power-failure$`));

    // Mains back: the UPS alarm resolves, and the motor alarm, still active, is told now.
    await sendCorpus(gateway, 'ups-back-on-line.eml');
    const sent = (await upstream.waitForMessages(4)).slice(2);
    const resolved = sent.find((m) => header(m, 'x-annunciator-alarm') === ups!.id);
    const released = sent.find((m) => header(m, 'x-annunciator-alarm') === motor.id);
    assert.equal(header(resolved, 'x-annunciator-kind'), 'resolved');
    assert.equal(header(released, 'x-annunciator-kind'), 'firing');
    assert.ok(released?.rcptTo.includes('maintenance@example.com'), released?.rcptTo.join(','));
    await eventually(async () => (await gateway.store.alarms.history(motor.id)).length === 2, 10_000, 'the release in the history');
    assert.equal((await gateway.store.alarms.history(motor.id))[1]?.reason, `inhibition by ${ups!.id} via rule site-power-failure ended; still active`);

    // With the power failure over, a new alarm at the site is notified at once.
    await sendCorpus(gateway, 's7-tmail-no-date.eml', 'ALARM Line4 Motor M7 overtemperature');
    const [fresh] = (await upstream.waitForMessages(5)).slice(4);
    assert.match(fresh?.parsed.subject ?? '', /Motor M7 overtemperature/);
    const m7 = await activeAlarmOf(gateway, 'plc-line4', /M7/);
    assert.deepEqual((await gateway.store.alarms.history(m7!.id)).map((h) => h.outcome), ['raised']);
  });
});

describe('inhibition and a reload', () => {
  const dir = testDir();
  const running = inhibitingGateway(dir, { pollInterval: '20s' });

  it('an alarm held by an inhibit rule that a reload drops is notified at once, though its source is still active', async () => {
    const { gateway, upstream } = running;
    await sendCorpus(gateway, 'ups-on-battery.eml');
    const [power] = await upstream.waitForMessages(1);
    const ups = await gateway.store.alarms.get(header(power, 'x-annunciator-alarm'));
    await sendCorpus(gateway, 's7-tmail-no-date.eml');
    const motor = await eventually(() => activeAlarmOf(gateway, 'plc-line4'), 10_000, 'the motor alarm');
    assert.equal(motor.mutedBy?.by, 'inhibition');

    // The same file without the rule: the power failure goes on, the motor alarm is let go.
    configFrom(dir, pipelineConfig(dir, upstream.port, { pollInterval: '20s' }));
    const outcome = gateway.reload();
    assert.equal(outcome.ok, true, outcome.message);
    assert.match(outcome.message, /changed: inhibit/);
    // The poll interval is 20 s: the notification comes from the timer the reload armed.
    const [, released] = await upstream.waitForMessages(2);
    assert.equal(header(released, 'x-annunciator-alarm'), motor.id);
    assert.equal(header(released, 'x-annunciator-kind'), 'firing');
    assert.equal((await gateway.store.alarms.get(ups!.id))?.state, 'active', 'the source is still active');
    await eventually(async () => (await gateway.store.alarms.history(motor.id)).length === 2, 10_000, 'the release in the history');
    assert.equal(
      (await gateway.store.alarms.history(motor.id))[1]?.reason,
      `inhibit rule site-power-failure is no longer configured (inhibition by ${ups!.id} ended); still active`,
    );
  });
});

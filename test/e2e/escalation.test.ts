import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GatewayConfig } from '../../src/config/types.js';
import { runCli } from '../helpers/cli.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { writeMotorEscalationRules } from '../helpers/motor-escalation.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { shippedConfig } from '../helpers/shipped-config.js';

const corpus = loadCorpus();
const shipped = shippedConfig();

/**
 * The shipped configuration with one rule file: the S7 motor alarm (plc-line4) goes to
 * maintenance and escalates to tom at `level1`, then to the plant-oncall schedule at `level2`.
 */
function escalationConfig(dir: TestDir, upstreamPort: number, level1: string, level2: string): { config: GatewayConfig; file: string } {
  const rulesDir = writeMotorEscalationRules(dir.path, level1, level2);
  const raw = {
    ...shipped,
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'error', format: 'json' },
    listeners: loopbackListeners(),
    alarms: { ...(shipped.alarms as object), rulesDir, templatesDir: join(REPO_ROOT, 'templates'), watch: false },
    // Polls every 5 minutes of the fake clock: a CLI ack from another process is seen within one.
    delivery: relayDelivery(upstreamPort, { pollInterval: '5m' }),
  };
  const config = configFrom(dir, raw);
  return { config, file: join(dir.path, 'annunciator.yaml') };
}

async function sendMotorAlarm(gateway: RunningGateway): Promise<void> {
  const mail = corpus.find((m) => m.file === 's7-tmail-no-date.eml')!;
  const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

function header(message: UpstreamMessage | undefined, name: string): string {
  const value = message?.parsed.headers.get(name);
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

const kindOf = (m: UpstreamMessage): string => header(m, 'x-annunciator-kind');
const ofKind = (upstream: Upstream, kind: string): UpstreamMessage[] => upstream.messages.filter((m) => kindOf(m) === kind);

async function motorAlarm(gateway: RunningGateway) {
  return (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === 'plc-line4');
}

const MIN = 60_000;

/** Every notification queued so far, any state: what the gateway decided to send, read from the store. */
async function queued(gateway: RunningGateway): Promise<number> {
  return (await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).length;
}

/**
 * Escalation as a timeline over a fake clock and a real SQLite file: levels 15 minutes
 * and an hour after the alarm, days of downtime, all without waiting for real time. Mail
 * still travels over real sockets; the test waits for it, never for a time.
 */
describe('escalation end to end (fake clock)', { timeout: 60_000 }, () => {
  describe('with no acknowledgement', () => {
    const dir = testDir();
    const clock = new FakeClock();
    let upstream: Upstream;
    let gateway: RunningGateway;
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
      gateway = await runGateway(escalationConfig(dir, upstream.port, '15m', '1h').config, undefined, { clock });
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('notifies the rule receivers, then level 1, then level 2 (a schedule resolved when it fires)', async () => {
      await sendMotorAlarm(gateway);
      const [firing] = await upstream.waitForMessages(1, 10_000);
      assert.ok(firing?.rcptTo.includes('maintenance@example.com'), 'the first notification goes to the rule receivers');
      const alarm = (await motorAlarm(gateway))!;

      await clock.advance(15 * MIN - 1);
      assert.equal(await queued(gateway), 1, 'level 1 not before it is due');
      await clock.advance(1);
      const [, level1] = await upstream.waitForMessages(2, 10_000);
      assert.equal(kindOf(level1!), 'escalation');
      assert.ok(level1!.rcptTo.includes('tom.keller@example.com'), 'level 1 goes to tom');

      await clock.advance(45 * MIN - 1);
      assert.equal(await queued(gateway), 2, 'level 2 not before it is due');
      await clock.advance(1);
      const messages = await upstream.waitForMessages(3, 10_000);
      const escalations = messages.filter((m) => kindOf(m) === 'escalation');
      assert.equal(escalations.length, 2);
      for (const m of escalations) {
        assert.match(m.parsed.subject ?? '', /^\[ESCALATION /);
        assert.equal(header(m, 'x-annunciator-alarm'), alarm.id);
      }
      const history = await gateway.store.alarms.history(alarm.id);
      assert.deepEqual(history.map((h) => h.outcome), ['raised', 'escalated', 'escalated']);
      assert.match(history[1]!.reason, /^escalation level 1 of policy motor-escalation: not acknowledged after 15 min; to tom$/);
      assert.match(history[2]!.reason, /^escalation level 2 of policy motor-escalation: not acknowledged after 60 min; to plant-oncall \(on call: .+\)$/);
      assert.doesNotMatch(history[2]!.reason, /late/);
      assert.ok((await gateway.store.timers.ofAlarm(alarm.id)).every((t) => t.firedAt !== undefined));

      await clock.advance(24 * 60 * MIN);
      assert.equal(await queued(gateway), 3, 'a day later: no level fired twice');
    });
  });

  describe('acknowledged with annunciator ack', () => {
    const dir = testDir();
    const clock = new FakeClock();
    let upstream: Upstream;
    let gateway: RunningGateway;
    let configFile: string;
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
      const built = escalationConfig(dir, upstream.port, '15m', '1h');
      configFile = built.file;
      gateway = await runGateway(built.config, undefined, { clock });
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('stops further levels and tells the receivers that were told', async () => {
      await sendMotorAlarm(gateway);
      await upstream.waitForMessages(1, 10_000);
      await clock.advance(15 * MIN);
      await upstream.waitForMessages(2, 10_000);
      const alarm = (await motorAlarm(gateway))!;
      assert.equal(ofKind(upstream, 'escalation').length, 1, 'level 1 fired');

      const result = await runCli(['-c', configFile, 'ack', alarm.id, '--by', 'anna', '--comment', 'on my way']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /acknowledged by anna/);
      assert.ok((await gateway.store.timers.get('escalate', `${alarm.id}:2`))?.cancelledAt !== undefined, 'level 2 is cancelled with the ack');

      // The gateway picks up the ack written by the other process (at its next poll) and tells the others.
      await clock.advance(5 * MIN);
      const [, , told] = await upstream.waitForMessages(3, 10_000);
      assert.equal(kindOf(told!), 'acknowledged');
      assert.match(told!.parsed.subject ?? '', /^\[ACK by anna\] /);
      assert.match(told!.parsed.text ?? '', /ACKNOWLEDGED by anna via cli at .*: on my way/);
      assert.match(told!.parsed.text ?? '', /^Why {9}acknowledged by anna via cli at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T \(on my way\); telling/m, 'the time in alarms.timeZone, not UTC');
      assert.deepEqual([...told!.rcptTo].sort(), ['maintenance@example.com', 'tom.keller@example.com'], 'the rule receivers and the escalation level 1 receiver');
      const stored = (await gateway.store.alarms.get(alarm.id))!;
      assert.equal(stored.ack?.channel, 'cli');
      assert.equal(stored.ackAnnounced, true);

      // Past level 2's due time: nothing more.
      await clock.advance(2 * 60 * MIN);
      assert.equal(await queued(gateway), 3, 'no further level and no second announcement');
      assert.deepEqual((await gateway.store.alarms.history(alarm.id)).map((h) => h.outcome), ['raised', 'escalated', 'acknowledged', 'ack-announced']);

      const again = await runCli(['-c', configFile, 'ack', alarm.id]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /already acknowledged by anna via cli/);
      const missing = await runCli(['-c', configFile, 'ack', 'NO-SUCH-ALARM']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no alarm NO-SUCH-ALARM/);
    });
  });

  describe('a restart in the middle of an escalation', () => {
    const dir = testDir();
    const clock = new FakeClock();
    let upstream: Upstream;
    let gateway: RunningGateway | undefined;
    before(async () => {
      upstream = await startUpstream({ security: 'none' });
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
      dir.remove();
    });

    it('fires the level that became overdue while it was down exactly once, late', async () => {
      const { config } = escalationConfig(dir, upstream.port, '15m', '1h');
      gateway = await runGateway(config, undefined, { clock });
      await sendMotorAlarm(gateway);
      await upstream.waitForMessages(1, 10_000);
      await clock.advance(15 * MIN);
      await upstream.waitForMessages(2, 10_000);
      const alarm = (await motorAlarm(gateway))!;
      await gateway.stop();
      gateway = undefined;
      // Down for three hours: past level 2's due time by far more than the runner's slack.
      await clock.advance(3 * 60 * MIN);
      assert.equal(upstream.messages.length, 2, 'nothing fires while the gateway is down');

      gateway = await runGateway(config, undefined, { clock });
      const messages = await upstream.waitForMessages(3, 10_000);
      const level2 = messages[2]!;
      assert.equal(kindOf(level2), 'escalation');
      assert.match(level2.parsed.text ?? '', /late by \d+ min/);
      const escalated = (await gateway.store.alarms.history(alarm.id)).filter((h) => h.outcome === 'escalated');
      assert.equal(escalated.length, 2);
      assert.match(escalated[1]!.reason, /^escalation level 2 of policy motor-escalation: not acknowledged after 60 min \(late by 135 min\)/);
      await clock.advance(60 * MIN);
      assert.equal(await queued(gateway), 3, 'fired once');

      // And again after a second restart: it does not fire a second time.
      await gateway.stop();
      gateway = await runGateway(config, undefined, { clock });
      await clock.advance(60 * MIN);
      assert.equal(await queued(gateway), 3);
    });
  });
});

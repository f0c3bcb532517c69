import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silenceEndsAt, type Silence } from '../../src/lifecycle/silence.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { configFrom, eventually, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { writeMotorEscalationRules } from '../helpers/motor-escalation.js';
import { shippedConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

/**
 * "A level of an alarm a silence or inhibition mutes waits until nothing mutes it"
 * (docs/escalation-and-acknowledgement.md; src/pipeline/escalate.ts holds a muted alarm's
 * due level and looks at it again `lateAfter` later, 2 x delivery.pollInterval). As a
 * timeline over a fake clock and a real SQLite file: the S7 motor alarm (plc-line4) is
 * raised inside a maintenance silence, under a policy with levels at 15 min (tom) and
 * 60 min (the plant-oncall schedule); the silence ends at 90 min 30 s. Mail travels over
 * real sockets; the test waits for it, never for a time.
 */

const MIN = 60_000;
const POLL = '1m';
/** How long a held level waits before it is looked at again (app.ts: 2 x pollInterval). */
const HOLD = 2 * MIN;
const SILENCE_ENDS = 90 * MIN + 30_000;

const corpus = loadCorpus();

function header(message: UpstreamMessage | undefined, name: string): string {
  const value = message?.parsed.headers.get(name);
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

describe('a muted alarm holds its escalation (fake clock)', { timeout: 60_000 }, () => {
  const dir = testDir();
  const clock = new FakeClock();
  const t0 = clock.now();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    const shipped = shippedConfig();
    const raw = {
      ...shipped,
      gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
      log: { level: 'error', format: 'json' },
      listeners: loopbackListeners(),
      alarms: { ...(shipped.alarms as object), rulesDir: writeMotorEscalationRules(dir.path, '15m', '1h'), templatesDir: join(REPO_ROOT, 'templates'), watch: false },
      delivery: relayDelivery(upstream.port, { pollInterval: POLL }),
    };
    gateway = await runGateway(configFrom(dir, raw), undefined, { clock });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  const queued = async (): Promise<number> => (await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).length;
  /** Moves the fake clock to `at` ms after the start. */
  const advanceTo = (at: number): Promise<void> => clock.advance(t0 + at - clock.now());

  it('sends no level while the silence holds, then the release and both held levels once, each once', async () => {
    const silence: Silence = {
      id: 'SILENCE-M12-SERVICE',
      matchers: [{ field: 'device.id', operator: 'equal', value: 'plc-line4' }],
      schedule: { kind: 'window', start: t0 - 1000, end: t0 + SILENCE_ENDS },
      createdBy: 'tom',
      comment: 'motor M12 service',
      createdAt: t0,
    };
    await gateway.store.silences.insert(silence, silenceEndsAt(silence));

    const mail = corpus.find((m) => m.file === 's7-tmail-no-date.eml')!;
    const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
    // The inbox is worked as the commit wakes it, without the clock moving.
    const alarm = await eventually(async () => (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === 'plc-line4'), 10_000, 'the alarm to be recorded');
    assert.equal(clock.now(), t0);
    assert.deepEqual(alarm.mutedBy, { by: 'silence', silence: silence.id, until: t0 + SILENCE_ENDS });
    const escalationTimers = async () => (await gateway.store.timers.ofAlarm(alarm.id)).filter((t) => t.kind === 'escalate');
    assert.equal((await escalationTimers()).length, 2, 'both levels are armed when the alarm is raised, muted or not');

    // Level 1 is due at 15 min, level 2 at 60 min: each is held, and held again, while the silence lasts.
    for (const at of [15 * MIN, 15 * MIN + HOLD, 60 * MIN, 60 * MIN + HOLD, SILENCE_ENDS - 1]) {
      await advanceTo(at);
      assert.equal(await queued(), 0, `nothing queued at ${at / MIN} min`);
      const timers = await escalationTimers();
      assert.equal(timers.length, 2, `still two level timers at ${at / MIN} min`);
      for (const t of timers) {
        assert.equal(t.firedAt, undefined, `no level fired at ${at / MIN} min`);
        assert.ok(t.dueAt > clock.now(), `no level is left overdue at ${at / MIN} min`);
        // A level that came due waits at most one hold to be looked at again; level 2 before 60 min is as armed.
        if (at < 60 * MIN && t.dueAt > clock.now() + HOLD) assert.equal(t.dueAt, t0 + 60 * MIN, 'level 2 not yet due');
        else assert.ok(t.dueAt <= clock.now() + HOLD, `a held level is looked at again within ${HOLD / MIN} min`);
      }
      const history = await gateway.store.alarms.history(alarm.id);
      assert.deepEqual(history.map((h) => h.outcome), ['silenced'], `the escalation did not advance by ${at / MIN} min`);
      assert.equal((await gateway.store.alarms.get(alarm.id))?.notifications, 0);
    }
    assert.equal(upstream.messages.length, 0);

    // The silence ends: the alarm is released with one firing notification to the rule's receivers, before any level.
    await advanceTo(SILENCE_ENDS);
    const [released] = await upstream.waitForMessages(1, 10_000);
    assert.equal(header(released, 'x-annunciator-kind'), 'firing');
    assert.ok(released!.rcptTo.includes('maintenance@example.com'), released!.rcptTo.join(','));
    assert.equal(await queued(), 1, 'no level fired together with the release');
    assert.equal((await gateway.store.alarms.get(alarm.id))?.mutedBy, undefined);

    // Within one hold both levels, overdue, are sent, each to its own receivers.
    await advanceTo(SILENCE_ENDS + HOLD);
    const messages = await upstream.waitForMessages(3, 10_000);
    const escalations = messages.filter((m) => header(m, 'x-annunciator-kind') === 'escalation');
    assert.equal(escalations.length, 2, messages.map((m) => header(m, 'x-annunciator-kind')).join(','));
    assert.ok(escalations.some((m) => m.rcptTo.includes('tom.keller@example.com')), 'level 1 to tom');
    for (const m of escalations) assert.match(m.parsed.subject ?? '', /^\[ESCALATION /);

    const history = await gateway.store.alarms.history(alarm.id);
    assert.deepEqual(history.map((h) => h.outcome), ['silenced', 'unmuted', 'escalated', 'escalated']);
    assert.match(history[1]!.reason, /silence SILENCE-M12-SERVICE ended; still active/);
    assert.match(history[2]!.reason, /^escalation level 1 of policy motor-escalation: not acknowledged after \d+ min; to tom$/);
    assert.match(history[3]!.reason, /^escalation level 2 of policy motor-escalation: not acknowledged after \d+ min; to plant-oncall \(on call: .+\)$/);
    // Counted to when the held level was last looked at: after the silence, not the level's own 15 or 60 min.
    for (const h of history.slice(2)) assert.ok(Number(/after (\d+) min/.exec(h.reason)![1]) >= 90, h.reason);
    assert.ok((await escalationTimers()).every((t) => t.firedAt !== undefined && t.firedAt >= t0 + SILENCE_ENDS));

    await advanceTo(SILENCE_ENDS + 24 * 60 * MIN);
    assert.equal(await queued(), 3, 'a day later: no level fired twice');
  });
});

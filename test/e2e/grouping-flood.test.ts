import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { acknowledgeIn } from '../../src/pipeline/acknowledge.js';
import { runCli } from '../helpers/cli.js';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { configFrom, drainedOutbox, eventually, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

/**
 * Grouping and flood control through real sockets: devices send mails over SMTP, the
 * gateway groups or folds them, a real SMTP upstream receives what goes out.
 */

const DEVICES = ['press-1', 'press-2', 'press-3', 'oven-1', 'burst-plc', 'quiet-plc'];

/** `flood` undefined: flood control with its default settings. */
function config(dir: TestDir, upstreamPort: number, flood?: { limit: number; digestInterval: string }, escalation?: string): Record<string, unknown> {
  const rules = join(dir.path, 'rules');
  mkdirSync(rules, { recursive: true });
  // Presses of hall A are grouped per site; everything else takes the default route.
  writeFileSync(
    join(rules, 'grouping.yaml'),
    [
      ...(escalation ? ['escalations:', '  - name: to-the-boss', '    levels:', `      - { after: ${escalation}, receivers: [boss] }`] : []),
      'rules:',
      '  - name: hall-a-presses',
      '    when: { fact: device.id, operator: matches, value: "^press-" }',
      '    then:',
      '      receivers: [shift]',
      '      group: { by: [site], wait: 2s }',
      '',
    ].join('\n'),
  );
  return {
    gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
    log: { level: 'error', format: 'json' },
    listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'], limits: { maxConnectionsPerClient: 50, maxConnections: 100 } }],
    receivers: [
      { name: 'shift', email: 'shift@example.com' },
      { name: 'oncall', email: 'oncall@example.com' },
      { name: 'boss', email: 'boss@example.com' },
    ],
    devices: DEVICES.map((id) => ({ id, name: id.toUpperCase(), match: { senders: [`${id}@plant.local`] }, site: id.startsWith('press') ? 'Hall A' : 'Hall B' })),
    alarms: {
      rulesDir: rules,
      templatesDir: join(REPO_ROOT, 'templates'),
      timeZone: 'Europe/Berlin',
      watch: false,
      defaultRoute: { receivers: ['oncall'], ...(escalation ? { escalation: 'to-the-boss' } : {}) },
      ...(flood ? { floodControl: { limit: flood.limit, window: '1m', digestInterval: flood.digestInterval } } : {}),
    },
    delivery: relayDelivery(upstreamPort, { concurrency: 4 }),
  };
}

const sendAlarm = (gateway: RunningGateway, device: string, subject: string): Promise<void> => sendDeviceAlarm(gateway.port, device, subject);


function header(message: UpstreamMessage, name: string): string {
  const value = message.parsed.headers.get(name);
  return typeof value === 'string' ? value : '';
}

/**
 * Grouping over a fake clock: the group wait (2 s) passes when the test says so, so the
 * group goes out exactly at its time, not a moment before, however loaded the machine.
 */
describe('grouping end to end (fake clock)', () => {
  const dir = testDir();
  const clock = new FakeClock();
  let upstream: Upstream;
  let gateway: RunningGateway;
  const WAIT = 2000; // the rule's group wait

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, config(dir, upstream.port, { limit: 30, digestInterval: '5m' })), undefined, { clock });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  /** Every notification queued so far in any state, once nothing is pending or being sent. */
  const settledOutbox = (): Promise<number> => drainedOutbox(gateway);
  /** Waits until `count` alarms titled `title` are recorded and a batch holds them. */
  const held = (title: string, count: number): Promise<boolean> =>
    eventually(async () => (await gateway.store.batches.nextDueAt()) !== undefined && (await gateway.store.alarms.list(['active'])).filter((a) => a.title === title).length === count, 10_000, `${count} alarms "${title}" held`);

  it('sends alarms of one site arriving within the group wait as one notification listing them, exactly at the end of the wait', async () => {
    await Promise.all([sendAlarm(gateway, 'press-1', 'Hydraulic pressure low'), sendAlarm(gateway, 'press-2', 'Guard door open'), sendAlarm(gateway, 'press-3', 'Lube oil level low')]);
    // A default-route alarm meanwhile: not grouped, sent at once.
    await sendAlarm(gateway, 'oven-1', 'Zone 3 overtemperature');
    const [first] = await upstream.waitForMessages(1, 10_000);
    // The ungrouped alarm did not wait for the group.
    assert.match(first!.parsed.subject ?? '', /Zone 3 overtemperature/);
    const due = await gateway.store.batches.nextDueAt();
    assert.equal(due, clock.now() + WAIT, 'the group is due one group wait after its first alarm');
    await clock.advance(WAIT - 1);
    assert.equal(await settledOutbox(), 1, 'not before the group wait');
    await clock.advance(1);
    const messages = await upstream.waitForMessages(2, 10_000);
    const group = messages[1]!;
    assert.equal(header(group, 'x-annunciator-kind'), 'group');
    assert.deepEqual(group.rcptTo, ['shift@example.com']);
    assert.match(group.parsed.subject ?? '', /^\[WARNING\] 3 alarms — site=Hall A #\w+$/);
    const text = group.parsed.text ?? '';
    for (const title of ['Hydraulic pressure low', 'Guard door open', 'Lube oil level low']) assert.ok(text.includes(title), `lists ${title}`);
    assert.match(group.parsed.html || '', /Guard door open/);

    const listed = header(group, 'x-annunciator-alarms').split(', ');
    assert.equal(listed.length, 3);
    for (const id of listed) {
      const history = (await gateway.store.alarms.history(id)).map((h) => h.outcome);
      assert.deepEqual(history, ['raised', 'group-sent'], `history of ${id}`);
      assert.match((await gateway.store.alarms.history(id))[0]!.reason, /held for the group site=Hall A \(hall-a-presses\)/);
    }
    await clock.advance(10 * WAIT);
    assert.equal(await settledOutbox(), 2, 'one mail for the three alarms, nothing more');
    assert.equal(upstream.messages.length, 2);
  });

  it('an alarm alone in its group gets its ordinary notification after the wait', async () => {
    const before = upstream.messages.length;
    await sendAlarm(gateway, 'press-1', 'Motor overload');
    await held('Motor overload', 1);
    await clock.advance(WAIT - 1);
    assert.equal(await settledOutbox(), before, 'held for the whole wait');
    await clock.advance(1);
    const messages = await upstream.waitForMessages(before + 1, 10_000);
    const alone = messages[before]!;
    assert.equal(header(alone, 'x-annunciator-kind'), 'firing');
    assert.match(alone.parsed.subject ?? '', /Motor overload/);
    assert.ok(header(alone, 'x-annunciator-alarm'));
  });

  it('a group still open when the gateway stops goes out once after it starts again', async () => {
    const before = upstream.messages.length;
    await Promise.all([sendAlarm(gateway, 'press-2', 'Die temperature high'), sendAlarm(gateway, 'press-3', 'Die temperature high')]);
    await held('Die temperature high', 2);
    const cfg = gateway.config;
    const alarm = (await gateway.store.alarms.list(['active'])).find((a) => a.title === 'Die temperature high')!;
    await gateway.stop();
    // What an engineer sees meanwhile: the notification is held, and when it goes out.
    const shown = await runCli(['--config', cfg.file, 'alarms', '--show', alarm.id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /held\s+in group site=Hall A \(\w+\), goes out \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+/, 'in alarms.timeZone, with its name');
    // Down past the end of the group wait: nothing goes out while it is down.
    await clock.advance(WAIT + 500);
    assert.equal(upstream.messages.length, before);
    gateway = await runGateway(cfg, undefined, { clock });
    const messages = await upstream.waitForMessages(before + 1, 10_000);
    assert.match(messages[before]!.parsed.subject ?? '', /2 alarms — site=Hall A/);
    await clock.advance(10 * WAIT);
    assert.equal(await settledOutbox(), before + 1, 'sent once');
    assert.equal(upstream.messages.length, before + 1);
  });

  it('alarms acknowledged in one store transaction (the acks a reply to the group records, written here directly) are announced in one mail', async () => {
    const before = upstream.messages.length;
    await Promise.all([sendAlarm(gateway, 'press-1', 'Coolant pump failed'), sendAlarm(gateway, 'press-2', 'Coolant pump failed')]);
    await held('Coolant pump failed', 2);
    await clock.advance(WAIT);
    const [group] = (await upstream.waitForMessages(before + 1, 10_000)).slice(before);
    const ids = header(group!, 'x-annunciator-alarms').split(', ');
    assert.equal(ids.length, 2);
    // What a reply "ACK" to the group mail records: one act, the same ack on every listed alarm.
    const ack = { by: 'anna <shift@example.com>', at: clock.now(), channel: 'mail' as const, ref: '<reply-1@mail.example.com>' };
    // In one transaction, as the old synchronous loop was: no scheduler poll comes between them.
    await gateway.store.transaction(async (tx) => {
      for (const id of ids) await acknowledgeIn(tx, id, ack, ack.at);
    });
    // The announce timers are due now: the next poll (100 ms of the gateway's clock) takes them.
    await clock.advance(100);
    const [announcement] = (await upstream.waitForMessages(before + 2, 10_000)).slice(before + 1);
    assert.equal(header(announcement!, 'x-annunciator-kind'), 'ack');
    assert.match(announcement!.parsed.subject ?? '', /^\[ACK\] 2 alarms acknowledged by anna <shift@example\.com> via mail #\w+$/);
    assert.match(announcement!.parsed.text ?? '', /No need for anyone else to act on them/);
    assert.deepEqual(announcement!.rcptTo, ['shift@example.com']);
    await clock.advance(10 * WAIT);
    assert.equal(await settledOutbox(), before + 2, 'one announcement for both');
    assert.equal(upstream.messages.length, before + 2);
    for (const id of ids) assert.deepEqual((await gateway.store.alarms.history(id)).map((h) => h.outcome).slice(-3), ['acknowledged', 'ack-announced', 'ack-announcement-sent']);
  });
});

/**
 * The README's case, exactly: the default settings (more than 30 notifications within
 * 1 min fold into a digest every 5 min), 500 distinct alarms from one device within one
 * minute. The gateway runs on a fake clock that stands still during the burst, so the
 * whole burst falls in one minute however long the machine takes to send it, and the
 * digest interval passes when the test says so. Mail travels over real sockets.
 */
describe('flood control end to end (default settings, fake clock)', { timeout: 110_000 }, () => {
  const dir = testDir();
  const clock = new FakeClock();
  let upstream: Upstream;
  let gateway: RunningGateway;
  const MIN = 60_000;
  const BURST = 500;
  const LIMIT = 30; // the default alarms.floodControl.limit
  const DIGEST_INTERVAL = 5 * MIN; // the default alarms.floodControl.digestInterval

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, config(dir, upstream.port)), undefined, { clock });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  const settledOutbox = (): Promise<number> => drainedOutbox(gateway);
  const fromBurst = (): UpstreamMessage[] => upstream.messages.filter((m) => !/Cooling water flow low/.test(m.parsed.subject ?? ''));
  const ofKind = (kind: string): UpstreamMessage[] => fromBurst().filter((m) => header(m, 'x-annunciator-kind') === kind);

  it(`a burst of ${BURST} alarms within a minute from one device gives the first ${LIMIT} one by one, then exactly one digest of the other ${BURST - LIMIT} after ${DIGEST_INTERVAL / MIN} minutes`, async () => {
    assert.deepEqual(
      { limit: gateway.config.alarms?.floodControl.limit, window: gateway.config.alarms?.floodControl.window, digestInterval: gateway.config.alarms?.floodControl.digestInterval },
      { limit: LIMIT, window: MIN, digestInterval: DIGEST_INTERVAL },
      'the defaults the README states',
    );
    const t0 = clock.now();
    let next = 0;
    // Five connections' worth of sessions, all from the one device: 500 distinct alarms.
    const sender = async (): Promise<void> => {
      while (next < BURST) {
        const n = next++;
        await sendAlarm(gateway, 'burst-plc', `Sensor ${String(n).padStart(3, '0')} signal lost`);
        // Another device during the flood is not held back.
        if (n === 250) await sendAlarm(gateway, 'quiet-plc', 'Cooling water flow low');
      }
    };
    await Promise.all(Array.from({ length: 5 }, sender));
    assert.equal(clock.now(), t0, 'the whole burst within one minute of the gateway\'s clock');
    await eventually(async () => (await gateway.store.alarms.list(['active'], 1000)).filter((a) => a.device.id === 'burst-plc').length === BURST, 30_000, `all ${BURST} alarms recorded`);

    // Before the digest interval: exactly the first 30 one by one, and the other device's alarm.
    assert.equal(await settledOutbox(), LIMIT + 1);
    await upstream.waitForMessages(LIMIT + 1, 15_000);
    const quiet = upstream.messages.filter((m) => /Cooling water flow low/.test(m.parsed.subject ?? ''));
    assert.equal(quiet.length, 1, 'the other device notified once');
    assert.equal(header(quiet[0]!, 'x-annunciator-kind'), 'firing');
    assert.equal(ofKind('firing').length, LIMIT, 'the first 30 (the limit) went out one by one');
    assert.equal(ofKind('digest').length, 0);

    // Not a moment before the interval ends...
    await clock.advance(DIGEST_INTERVAL - 1);
    assert.equal(await settledOutbox(), LIMIT + 1, 'no digest before the interval ends');
    // ...then exactly one digest, folding the other 470.
    await clock.advance(1);
    await eventually(async () => (await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).length === LIMIT + 2, 15_000, 'the digest queued');
    assert.equal(await settledOutbox(), LIMIT + 2);
    await upstream.waitForMessages(LIMIT + 2, 15_000);
    const digests = ofKind('digest');
    assert.equal(digests.length, 1, 'one digest');
    const digest = digests[0]!;
    assert.match(digest.parsed.subject ?? '', new RegExp(`^\\[DIGEST WARNING\\] ${BURST - LIMIT} notifications folded, ${BURST - LIMIT} alarms — device burst-plc #\\w+$`));
    assert.deepEqual(digest.rcptTo, ['oncall@example.com']);
    assert.match(digest.parsed.text ?? '', /made more notifications due than its flood-control limit allows/);
    // maxListed is 50 by default: the first 50 are listed, the rest counted.
    assert.match(digest.parsed.text ?? '', new RegExp(`and ${BURST - LIMIT - 50} more alarms \\(annunciator alarms lists them all\\)`));
    assert.equal(fromBurst().length, LIMIT + 1, `${LIMIT + 1} mails for ${BURST} alarms`);

    // Every one of the 500 alarms was told exactly once: one by one, or in the digest (its history says which).
    const alarms = (await gateway.store.alarms.list(['active'], 1000)).filter((a) => a.device.id === 'burst-plc');
    const singles = new Set(ofKind('firing').map((m) => /Sensor (\d{3})/.exec(m.parsed.subject ?? '')?.[1]));
    assert.equal(singles.size, LIMIT, 'thirty different alarms one by one');
    let inDigest = 0;
    for (const a of alarms) {
      const history = (await gateway.store.alarms.history(a.id)).map((h) => h.outcome);
      const digested = history.filter((o) => o === 'digest-sent').length;
      const single = singles.has(/Sensor (\d{3})/.exec(a.title)?.[1]) ? 1 : 0;
      assert.equal(digested + single, 1, `${a.title} told once (${history.join(', ')})`);
      inDigest += digested;
    }
    assert.equal(inDigest, BURST - LIMIT);

    // Another digest interval brings nothing more: exactly one digest.
    await clock.advance(DIGEST_INTERVAL);
    assert.equal(await settledOutbox(), LIMIT + 2, 'no second digest');

    // Quiet for a whole digest interval: the flood is over, the next alarm goes out at once.
    await sendAlarm(gateway, 'burst-plc', 'Sensor 999 signal lost');
    const after = await upstream.waitForMessages(LIMIT + 3, 15_000);
    assert.equal(header(after[LIMIT + 2]!, 'x-annunciator-kind'), 'firing');
    assert.match(after[LIMIT + 2]!.parsed.subject ?? '', /Sensor 999 signal lost/);
  });
});

/**
 * Escalations are notifications too: a storm whose alarms all escalate (after 1 s) while
 * the device is over its flood limit (5) folds the escalations into the digest (every 2 s).
 * On a fake clock, so the level and the digest fire at their times, not before.
 */
describe('flood control of escalations end to end (fake clock)', () => {
  const dir = testDir();
  const clock = new FakeClock();
  let upstream: Upstream;
  let gateway: RunningGateway;
  const ESCALATE_AFTER = 1000;
  const DIGEST_INTERVAL = 2000;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, config(dir, upstream.port, { limit: 5, digestInterval: '2s' }, '1s')), undefined, { clock });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('a storm under an escalation policy escalates in a digest, not one mail per alarm', async () => {
    for (let i = 0; i < 12; i += 1) await sendAlarm(gateway, 'burst-plc', `Valve ${i} position error`);
    const toBoss = (): UpstreamMessage[] => upstream.messages.filter((m) => m.rcptTo.includes('boss@example.com'));
    const escalated = async (): Promise<number> => {
      let count = 0;
      for (const a of await gateway.store.alarms.list(['active'])) if ((await gateway.store.alarms.history(a.id)).some((h) => h.outcome === 'escalated')) count += 1;
      return count;
    };
    await eventually(async () => (await gateway.store.alarms.list(['active'])).length === 12, 10_000, 'twelve alarms recorded');
    assert.equal(await drainedOutbox(gateway), 5, 'the first five (the limit) one by one');
    await clock.advance(ESCALATE_AFTER - 1);
    assert.equal(await escalated(), 0, 'no level before it is due');
    await clock.advance(1);
    assert.equal(await escalated(), 12, 'every alarm escalated when its level is due');
    assert.equal(await drainedOutbox(gateway), 5, 'the escalations are held for the digest');
    // The storm's own digest (the seven firings past the limit) is due an interval after the first was folded...
    await clock.advance(DIGEST_INTERVAL - ESCALATE_AFTER);
    assert.equal(await drainedOutbox(gateway), 6);
    const first = upstream.messages.filter((m) => header(m, 'x-annunciator-kind') === 'digest');
    assert.equal(first.length, 1);
    assert.deepEqual(first[0]!.rcptTo, ['oncall@example.com']);
    assert.match(first[0]!.parsed.subject ?? '', /7 notifications folded, 7 alarms — device burst-plc/);
    // ...the escalations' digest an interval after they were folded, not a moment before.
    await clock.advance(ESCALATE_AFTER - 1);
    assert.equal(await drainedOutbox(gateway), 6);
    assert.equal(toBoss().length, 0, 'nothing to the boss before its digest is due');
    await clock.advance(1);
    const digest = await eventually(() => toBoss().find((m) => header(m, 'x-annunciator-kind') === 'digest'), 10_000, 'the escalation digest');
    assert.match(digest.parsed.subject ?? '', /12 notifications folded, 12 alarms — device burst-plc/);
    await clock.advance(5 * DIGEST_INTERVAL);
    await drainedOutbox(gateway);
    assert.equal(toBoss().length, 1, 'the boss gets one mail for twelve escalations');
    const history = (await gateway.store.alarms.history((await gateway.store.alarms.list(['active']))[0]!.id)).map((h) => h.outcome);
    assert.ok(history.includes('escalated') && history.includes('digest-sent'), history.join(', '));
  });
});

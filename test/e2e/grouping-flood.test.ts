import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { acknowledgeIn } from '../../src/pipeline/acknowledge.js';
import { runCli } from '../helpers/cli.js';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

/**
 * Grouping and flood control through real sockets: devices send mails over SMTP, the
 * gateway groups or folds them, a real SMTP upstream receives what goes out.
 */

const DEVICES = ['press-1', 'press-2', 'press-3', 'oven-1', 'burst-plc', 'quiet-plc'];

function config(dir: TestDir, upstreamPort: number, flood: { limit: number; digestInterval: string }, escalation?: string): Record<string, unknown> {
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
      floodControl: { limit: flood.limit, window: '1m', digestInterval: flood.digestInterval },
    },
    delivery: relayDelivery(upstreamPort, { concurrency: 4 }),
  };
}

const sendAlarm = (gateway: RunningGateway, device: string, subject: string): Promise<void> => sendDeviceAlarm(gateway.port, device, subject);

function header(message: UpstreamMessage, name: string): string {
  const value = message.parsed.headers.get(name);
  return typeof value === 'string' ? value : '';
}

describe('grouping end to end', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, config(dir, upstream.port, { limit: 30, digestInterval: '5m' })));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('sends alarms of one site arriving within the group wait as one notification listing them', async () => {
    const started = Date.now();
    await Promise.all([sendAlarm(gateway, 'press-1', 'Hydraulic pressure low'), sendAlarm(gateway, 'press-2', 'Guard door open'), sendAlarm(gateway, 'press-3', 'Lube oil level low')]);
    // A default-route alarm meanwhile: not grouped, sent at once.
    await sendAlarm(gateway, 'oven-1', 'Zone 3 overtemperature');
    const messages = await upstream.waitForMessages(2, 10_000);
    // The ungrouped alarm did not wait for the group.
    assert.match(messages[0]!.parsed.subject ?? '', /Zone 3 overtemperature/);
    const group = messages[1]!;
    assert.ok(Date.now() - started >= 2000, 'not before the group wait');
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
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(upstream.messages.length, 2, 'one mail for the three alarms, nothing more');
  });

  it('an alarm alone in its group gets its ordinary notification after the wait', async () => {
    const before = upstream.messages.length;
    await sendAlarm(gateway, 'press-1', 'Motor overload');
    const messages = await upstream.waitForMessages(before + 1, 10_000);
    const alone = messages[before]!;
    assert.equal(header(alone, 'x-annunciator-kind'), 'firing');
    assert.match(alone.parsed.subject ?? '', /Motor overload/);
    assert.ok(header(alone, 'x-annunciator-alarm'));
  });

  it('a group still open when the gateway stops goes out once after it starts again', async () => {
    const before = upstream.messages.length;
    await Promise.all([sendAlarm(gateway, 'press-2', 'Die temperature high'), sendAlarm(gateway, 'press-3', 'Die temperature high')]);
    await eventually(async () => (await gateway.store.batches.nextDueAt()) !== undefined && (await gateway.store.alarms.list(['active'])).filter((a) => a.title === 'Die temperature high').length === 2, 5000, 'both alarms held');
    const cfg = gateway.config;
    const held = (await gateway.store.alarms.list(['active'])).find((a) => a.title === 'Die temperature high')!;
    await gateway.stop();
    const stoppedAt = Date.now();
    // What an engineer sees meanwhile: the notification is held, and when it goes out.
    const shown = await runCli(['--config', cfg.file, 'alarms', '--show', held.id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /held\s+in group site=Hall A \(\w+\), goes out \d{4}-\d\d-\d\dT/);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2500 - (Date.now() - stoppedAt))));
    gateway = await runGateway(cfg);
    const messages = await upstream.waitForMessages(before + 1, 10_000);
    assert.match(messages[before]!.parsed.subject ?? '', /2 alarms — site=Hall A/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(upstream.messages.length, before + 1, 'sent once');
  });

  it('alarms acknowledged together (one reply to the group) are announced in one mail', async () => {
    const before = upstream.messages.length;
    await Promise.all([sendAlarm(gateway, 'press-1', 'Coolant pump failed'), sendAlarm(gateway, 'press-2', 'Coolant pump failed')]);
    const [group] = (await upstream.waitForMessages(before + 1, 10_000)).slice(before);
    const ids = header(group!, 'x-annunciator-alarms').split(', ');
    assert.equal(ids.length, 2);
    // What a reply "ACK" to the group mail records: one act, the same ack on every listed alarm.
    const ack = { by: 'anna <shift@example.com>', at: Date.now(), channel: 'mail' as const, ref: '<reply-1@mail.example.com>' };
    // In one transaction, as the old synchronous loop was: no scheduler poll comes between them.
    await gateway.store.transaction(async (tx) => {
      for (const id of ids) await acknowledgeIn(tx, id, ack, ack.at);
    });
    const [announcement] = (await upstream.waitForMessages(before + 2, 10_000)).slice(before + 1);
    assert.equal(header(announcement!, 'x-annunciator-kind'), 'ack');
    assert.match(announcement!.parsed.subject ?? '', /^\[ACK\] 2 alarms acknowledged by anna <shift@example\.com> via mail #\w+$/);
    assert.match(announcement!.parsed.text ?? '', /No need for anyone else to act on them/);
    assert.deepEqual(announcement!.rcptTo, ['shift@example.com']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(upstream.messages.length, before + 2, 'one announcement for both');
    for (const id of ids) assert.deepEqual((await gateway.store.alarms.history(id)).map((h) => h.outcome).slice(-3), ['acknowledged', 'ack-announced', 'ack-announcement-sent']);
  });
});

describe('flood control end to end', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;
  const DIGEST_INTERVAL = 3000;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, config(dir, upstream.port, { limit: 10, digestInterval: `${DIGEST_INTERVAL}ms` })));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('a burst of 500 alarms in a minute from one device gives a digest, not 500 mails', async () => {
    const started = Date.now();
    let next = 0;
    // Five devices' worth of connections, all from the one device: 500 distinct alarms.
    const sender = async (): Promise<void> => {
      while (next < 500) {
        const n = next++;
        await sendAlarm(gateway, 'burst-plc', `Sensor ${String(n).padStart(3, '0')} signal lost`);
        // Another device during the flood is not held back.
        if (n === 250) await sendAlarm(gateway, 'quiet-plc', 'Cooling water flow low');
      }
    };
    await Promise.all(Array.from({ length: 5 }, sender));
    assert.ok(Date.now() - started < 60_000, 'the burst fits in a minute');
    await eventually(async () => (await gateway.store.alarms.list(['active'], 1000)).filter((a) => a.device.id === 'burst-plc').length === 500, 30_000, 'all 500 alarms recorded');

    const quiet = (await eventually(() => upstream.messages.find((m) => /Cooling water flow low/.test(m.parsed.subject ?? '')), 10_000, 'the other device notified'))!;
    assert.equal(header(quiet, 'x-annunciator-kind'), 'firing');

    // Wait until every held notification went out in some digest.
    const digests = (): UpstreamMessage[] => upstream.messages.filter((m) => header(m, 'x-annunciator-kind') === 'digest');
    const folded = (): number => digests().reduce((sum, m) => sum + Number(/(\d+) notifications? folded/.exec(m.parsed.subject ?? '')?.[1] ?? 0), 0);
    await eventually(() => folded() === 490, 30_000, 'digests folding 490 notifications');

    const burst = upstream.messages.filter((m) => m !== quiet);
    const single = burst.filter((m) => header(m, 'x-annunciator-kind') === 'firing');
    assert.equal(single.length, 10, 'the first ten (the limit) went out one by one');
    assert.ok(digests().length >= 1 && digests().length <= 12, `a few digests, not hundreds of mails (${digests().length})`);
    assert.ok(burst.length <= 22, `${burst.length} mails for 500 alarms`);
    const digest = digests()[0]!;
    assert.match(digest.parsed.subject ?? '', /^\[DIGEST WARNING\] \d+ notifications folded, \d+ alarms — device burst-plc #\w+$/);
    assert.deepEqual(digest.rcptTo, ['oncall@example.com']);
    assert.match(digest.parsed.text ?? '', /made more notifications due than its flood-control limit allows/);
    assert.match(digest.parsed.text ?? '', /and \d+ more alarms \(annunciator alarms lists them all\)/, 'a long digest lists the first alarms and counts the rest');

    // Every one of the 500 alarms was told: one by one, or in a digest (its history says which).
    const alarms = (await gateway.store.alarms.list(['active'], 1000)).filter((a) => a.device.id === 'burst-plc');
    const inDigest: typeof alarms = [];
    for (const a of alarms) if ((await gateway.store.alarms.history(a.id)).some((h) => h.outcome === 'digest-sent')) inDigest.push(a);
    assert.equal(inDigest.length, 490);
    const first = await gateway.store.alarms.history(inDigest[0]!.id);
    assert.match(first[0]!.reason, /flood control: device burst-plc/);

    // Quiet for a digest interval: the flood is over, the next alarm goes out at once.
    await new Promise((resolve) => setTimeout(resolve, DIGEST_INTERVAL + 500));
    const count = upstream.messages.length;
    await sendAlarm(gateway, 'burst-plc', 'Sensor 999 signal lost');
    const after = await upstream.waitForMessages(count + 1, 5000);
    assert.equal(header(after[count]!, 'x-annunciator-kind'), 'firing');
    assert.match(after[count]!.parsed.subject ?? '', /Sensor 999 signal lost/);
  });
});

describe('flood control of escalations end to end', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, config(dir, upstream.port, { limit: 5, digestInterval: '2s' }, '1s')));
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
    await eventually(async () => (await escalated()) === 12, 15_000, 'every alarm escalated');
    const digest = await eventually(() => toBoss().find((m) => header(m, 'x-annunciator-kind') === 'digest'), 15_000, 'the escalation digest');
    assert.match(digest.parsed.subject ?? '', /12 notifications folded, 12 alarms — device burst-plc/);
    assert.equal(toBoss().length, 1, 'the boss gets one mail for twelve escalations');
    const history = (await gateway.store.alarms.history((await gateway.store.alarms.list(['active']))[0]!.id)).map((h) => h.outcome);
    assert.ok(history.includes('escalated') && history.includes('digest-sent'), history.join(', '));
  });
});

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway, type TestDir } from '../helpers/gateway.js';
import { shippedAlarmsConfig, shippedConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

const corpus = loadCorpus();

/** The shipped configuration (devices, patterns, receivers, rules, templates), relaying to a loopback upstream. */
function pipelineConfig(dir: TestDir, upstreamPort: number, extra: { devices?: unknown[] } = {}): Record<string, unknown> {
  return shippedAlarmsConfig(dir, {
    devices: [...(shippedConfig().devices as unknown[]), ...(extra.devices ?? [])],
    delivery: relayDelivery(upstreamPort),
  });
}

async function sendCorpus(gateway: RunningGateway, file: string): Promise<void> {
  const mail = corpus.find((m) => m.file === file)!;
  const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

async function sendMail(gateway: RunningGateway, raw: string, mailFrom = 'plc-line4@plant.local', rcptTo = ['maintenance@example.com']): Promise<void> {
  const result = await sendAsDevice({ port: gateway.port, mailFrom, rcptTo, data: Buffer.from(raw, 'utf8') });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

/** Waits until the gateway has processed every received message (nothing left in the inbox). */
async function settled(gateway: RunningGateway): Promise<void> {
  await eventually(async () => (await gateway.store.inbox.pending(1)).length === 0, 10_000, 'inbox drained');
  await eventually(async () => (await gateway.store.outbox.list(['pending', 'sending'])).length === 0, 10_000, 'outbox drained');
}

function header(message: UpstreamMessage | undefined, name: string): string {
  const value = message?.parsed.headers.get(name);
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

describe('the alarm pipeline end to end, with the shipped rules, devices and templates', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, pipelineConfig(dir, upstream.port, { devices: [hostileDevice] })));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('the UPS pair gives one notification and one resolved notification', async () => {
    await sendCorpus(gateway, 'ups-on-battery.eml');
    await sendCorpus(gateway, 'ups-back-on-line.eml');
    await settled(gateway);
    const ups = upstream.messages.filter((m) => header(m, 'x-annunciator-alarm') && m.parsed.subject?.includes('UPS'));
    assert.equal(ups.length, 2, ups.map((m) => m.parsed.subject).join(' / '));
    const [firing, resolved] = ups;
    assert.equal(header(firing, 'x-annunciator-kind'), 'firing');
    assert.equal(header(resolved, 'x-annunciator-kind'), 'resolved');
    assert.equal(header(firing, 'x-annunciator-alarm'), header(resolved, 'x-annunciator-alarm'), 'one alarm');
    assert.match(resolved?.parsed.subject ?? '', /RESOLVED/i);
    assert.ok(firing?.rcptTo.includes('facility@example.com'), `routed to the facility team: ${firing?.rcptTo.join(',')}`);
    const alarm = await gateway.store.alarms.get(header(firing, 'x-annunciator-alarm'));
    assert.equal(alarm?.state, 'resolved');
    assert.deepEqual((await gateway.store.alarms.history(alarm!.id)).map((l) => l.outcome), ['raised', 'resolved']);
  });

  it('ten repeats inside the repeat interval give one notification and a count of ten', async () => {
    const before = upstream.messages.length;
    const s7 = corpus.find((m) => m.file === 's7-tmail-no-date.eml')!;
    for (let i = 0; i < 10; i += 1) {
      const result = await sendAsDevice({ port: gateway.port, mailFrom: s7.mailFrom, rcptTo: s7.rcptTo, data: s7.raw });
      assert.match(result.dataReply ?? '', /^250 /);
    }
    await settled(gateway);
    const sent = upstream.messages.slice(before);
    assert.equal(sent.length, 1, sent.map((m) => m.parsed.subject).join(' / '));
    const alarm = await gateway.store.alarms.get(header(sent[0], 'x-annunciator-alarm'));
    assert.equal(alarm?.count, 10);
    assert.equal(alarm?.state, 'active');
    assert.equal((await gateway.store.alarms.history(alarm!.id)).filter((l) => l.outcome === 'repeat-folded').length, 9);
  });

  it('a hostile title with HTML and CR/LF arrives escaped, with no injected header', async () => {
    const before = upstream.messages.length;
    const evil = Buffer.from('<script>alert(1)</script>\r\nBcc: victim@evil.example', 'utf8').toString('base64');
    await sendMail(gateway, `Subject: =?UTF-8?B?${evil}?=\r\n\r\nPressure <b>high</b>\r\n`, 'panel-9@plant.local', ['ops@example.com']);
    await settled(gateway);
    const [message] = upstream.messages.slice(before);
    assert.ok(message);
    assert.deepEqual(message.rcptTo, ['ops@example.com']);
    assert.equal(message.parsed.headers.get('bcc'), undefined);
    assert.doesNotMatch(message.parsed.subject ?? '', /[\r\n]/);
    assert.match(message.parsed.subject ?? '', /<script>alert\(1\)<\/script> Bcc: victim@evil\.example/, 'shown as text in the subject');
    const html = String(message.parsed.html);
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.doesNotMatch(html, /<b>high<\/b>/, 'the device text is not HTML');
  });

  it('a catastrophic extraction pattern cannot stall the gateway', async () => {
    const before = upstream.messages.length;
    await sendMail(gateway, `Subject: evil pattern\r\n\r\n${'a'.repeat(50_000)}b\r\n`, 'evil-pattern@plant.local', ['ops@example.com']);
    await settled(gateway);
    assert.equal(upstream.messages.length, before + 1);
    // The gateway still answers at once afterwards.
    await sendMail(gateway, 'Subject: still alive\r\n\r\nok\r\n', 'panel-9@plant.local', ['ops@example.com']);
  });
});

const hostileDevice = {
  id: 'evil-pattern-device',
  match: { senders: ['evil-pattern@plant.local'] },
  patterns: [{ name: 'catastrophic', body: '(a+)+$' }],
};

describe('rules reload', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, pipelineConfig(dir, upstream.port)));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('an invalid rule file is refused with file, rule and reason, and the rules in force keep working', async () => {
    writeFileSync(join(dir.path, 'rules', 'zz-broken.yaml'), 'rules:\n  - name: broken\n    when: { all: [ { fact: nonsense, operator: equal, value: 1 } ] }\n    then: { receivers: [nobody] }\n');
    const outcome = gateway.reload();
    assert.equal(outcome.ok, false);
    assert.match(outcome.message, /zz-broken\.yaml/);
    assert.match(outcome.message, /broken/);
    assert.match(outcome.message, /nonsense|nobody/);

    await sendCorpus(gateway, 'ups-on-battery.eml');
    await settled(gateway);
    const [notification] = upstream.messages;
    assert.ok(notification?.rcptTo.includes('facility@example.com'), 'still routed by the UPS rule');
  });

  it('a valid change takes effect on reload', async () => {
    writeFileSync(join(dir.path, 'rules', 'zz-broken.yaml'), 'rules: []\n');
    writeFileSync(
      join(dir.path, 'rules', '00-mute-boiler.yaml'),
      'rules:\n  - name: mute-boiler\n    when: { all: [ { fact: device.id, operator: equal, value: hmi-kessel } ] }\n    then: { suppress: true }\n',
    );
    const outcome = gateway.reload();
    assert.equal(outcome.ok, true, outcome.message);
    const before = upstream.messages.length;
    await sendCorpus(gateway, 'encoded-word-qp.eml');
    await settled(gateway);
    assert.equal(upstream.messages.length, before, 'suppressed by the new rule');
    const [alarm] = (await gateway.store.alarms.list(['active'])).filter((a) => a.device.id === 'hmi-kessel');
    assert.ok(alarm, 'recorded though not notified');
    assert.match((await gateway.store.alarms.history(alarm.id))[0]?.reason ?? '', /suppressed by rule mute-boiler/);
  });

  it('a pass-through rule relays the device mail itself, to the rule\'s receivers', async () => {
    writeFileSync(
      join(dir.path, 'rules', '01-passthrough.yaml'),
      'rules:\n  - name: relay-controllino\n    when: { all: [ { fact: device.id, operator: equal, value: controllino-pump-house } ] }\n    then: { receivers: [oncall], mode: passthrough }\n',
    );
    assert.equal(gateway.reload().ok, true);
    const before = upstream.messages.length;
    await sendCorpus(gateway, 'controllino-bare.eml');
    await settled(gateway);
    const [relayed] = upstream.messages.slice(before);
    assert.equal(relayed?.parsed.subject, 'a Horse', 'the device subject, not a notification');
    assert.equal(relayed?.parsed.text?.trim(), 'The horse does not eat cucumber salad');
    assert.deepEqual(relayed?.rcptTo, ['oncall@example.com']);
  });

  it('a reload takes the whole configuration: a new receiver and the rule naming it arrive together, as `check` accepts them', async () => {
    // Before, SIGHUP reloaded rules only, checked against the receivers the gateway started with: refused.
    const file = gateway.config.file;
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.set('receivers', [...(doc.get('receivers') as { toJSON(): unknown[] }).toJSON(), { name: 'night-watch', email: 'night.watch@example.com' }]);
    writeFileSync(file, doc.toString());
    writeFileSync(join(dir.path, 'rules', '01-passthrough.yaml'), 'rules: []\n');
    writeFileSync(
      join(dir.path, 'rules', '02-night-watch.yaml'),
      'rules:\n  - name: watch-line4\n    when: { all: [ { fact: device.id, operator: equal, value: plc-line4 } ] }\n    then: { receivers: [night-watch] }\n',
    );
    const outcome = gateway.reload();
    assert.equal(outcome.ok, true, outcome.message);
    assert.match(outcome.message, /changed: receivers/);
    assert.equal(outcome.ok && outcome.needRestart, undefined, 'nothing that needs a restart changed');
    const before = upstream.messages.length;
    await sendMail(gateway, 'Subject: Motor M9 overtemperature after reload\r\n\r\nWinding temperature 142 C exceeds limit 130\r\n');
    await settled(gateway);
    const [notified] = upstream.messages.slice(before);
    assert.ok(notified?.rcptTo.includes('night.watch@example.com'), `routed to the new receiver: ${JSON.stringify(notified?.rcptTo)}`);
  });

  it('a configuration that does not load is refused with file, line and key, and the one in force stays', async () => {
    const file = gateway.config.file;
    const good = readFileSync(file, 'utf8');
    const inForce = gateway.config;
    try {
      writeFileSync(file, `${good}\nsurprise: true\n`);
      const outcome = gateway.reload();
      assert.equal(outcome.ok, false);
      assert.match(outcome.message, /configuration refused, the one in force stays/);
      const line = `${good}\nsurprise: true\n`.split('\n').length - 1;
      assert.ok(outcome.message.includes(`${file}:${line}:1: (top level): unknown key "surprise"`), outcome.message);
      assert.equal(gateway.config, inForce, 'the configuration in force is the same object');
    } finally {
      writeFileSync(file, good);
    }
  });

  it('names what changed but is read only at start (a listener, an account), keeps it as it is, and applies the rest', async () => {
    const file = gateway.config.file;
    const good = readFileSync(file, 'utf8');
    try {
      const doc = parseDocument(good);
      const inForce = gateway.config;
      doc.setIn(['listeners', 0, 'port'], 2525);
      doc.setIn(['delivery', 'concurrency'], 7);
      doc.setIn(['alarms', 'timeZone'], 'America/New_York');
      writeFileSync(file, doc.toString());
      const outcome = gateway.reload();
      assert.equal(outcome.ok, true, outcome.message);
      assert.deepEqual(outcome.ok && outcome.needRestart, ['listeners', 'delivery.concurrency']);
      assert.match(outcome.message, /in force only after a restart: listeners, delivery\.concurrency/);
      assert.equal(gateway.config.alarms?.timeZone, 'America/New_York', 'the rest is in force');
      assert.notEqual(gateway.config.listeners[0]?.port, 2525, 'the listener stays as it started');
      assert.equal(gateway.config.delivery.concurrency, inForce.delivery.concurrency);
    } finally {
      writeFileSync(file, good);
      assert.equal(gateway.reload().ok, true);
    }
  });
});

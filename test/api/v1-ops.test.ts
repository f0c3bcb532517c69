import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { apiClient, type ApiClient } from '../helpers/api-client.js';
import { runCli } from '../helpers/cli.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { mqttExampleHarness } from '../helpers/mqtt-example.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * The operator's endpoints of API v1 over real HTTP against a real gateway (the shipped
 * configuration, mail over real SMTP): on call, the rules and their dry run, inhibitions,
 * reload (at /-/reload and /api/v1/reload) and the audit log, in the API and `annunciator audit`.
 */

const corpus = loadCorpus();
const mail = (file: string) => corpus.find((m) => m.file === file)!;
const SITE_POWER_FAILURE = [{ name: 'site-power-failure', source: ['key=ups-on-battery'], target: ['device.id!=ups-hall2'], equal: ['site'] }];

interface DryRun {
  at: string;
  alarm: { device: { id: string }; title: string; severity: string | null };
  rules: Array<{ rule: string; matched: boolean; applied: boolean; reasons: string[] }>;
  route: { rules: string[]; receivers: Array<{ name: string; emails: string[] }>; severity: string };
  outcome: string;
  mutedBy: { by: string; silence?: string; rule?: string; source?: string } | null;
  notification: { recipients: string[]; subject: string; text: string } | null;
}

describe('API v1 operator endpoints, end to end', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;
  let api: ApiClient;
  let origin: string;
  let configFile: string;
  const raw = (extra: Record<string, unknown> = {}) => shippedAlarmsConfig(dir, { delivery: relayDelivery(upstream.port), ...extra });

  const send = async (file: string): Promise<void> => {
    const m = mail(file);
    const result = await sendAsDevice({ port: gateway.port, mailFrom: m.mailFrom, rcptTo: m.rcptTo, data: m.raw, behaviour: m.behaviour });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
  };

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    const config = configFrom(dir, raw());
    configFile = config.file;
    gateway = await runGateway(config);
    origin = `http://127.0.0.1:${gateway.http!.address().port}`;
    api = apiClient(origin);
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('on call: who now, why, and who next from when; at= and schedule= narrow it; a bad time is 400, an unknown schedule 404', async () => {
    // Tuesday 10:00 in Berlin: the weekday day-shift window; it hands over at 16:00 to the rotation.
    const response = await api.get<{ at: string; schedules: Array<{ name: string; onCall: Array<{ name: string; emails: string[] }>; source: string; because: string; next: { at: string; receivers: string[]; source: string } | null }> }>(
      '/oncall?at=2026-11-24T10:00',
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.at, '2026-11-24T09:00:00.000Z', 'a time without an offset is in alarms.timeZone');
    const [plant] = response.body.schedules;
    assert.equal(plant?.name, 'plant-oncall');
    assert.deepEqual(plant?.onCall.map((r) => r.name), ['shift-team']);
    assert.equal(plant?.source, 'window');
    assert.match(plant?.because ?? '', /day-shift/);
    assert.equal(plant?.next?.at, '2026-11-24T15:00:00.000Z');
    assert.equal(plant?.next?.source, 'rotation');
    assert.equal(plant?.next?.receivers.length, 1);
    // The CLI tells the same (one function for both).
    const cli = await runCli(['--config', configFile, 'oncall', '--at', '2026-11-24T10:00', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const fromCli = JSON.parse(cli.stdout) as { schedules: Array<{ receivers: Array<{ name: string }>; nextHandoff: { at: string; receivers: string[] } }> };
    assert.deepEqual(fromCli.schedules[0]?.receivers.map((r) => r.name), ['shift-team']);
    assert.deepEqual([fromCli.schedules[0]?.nextHandoff.at, fromCli.schedules[0]?.nextHandoff.receivers], [plant?.next?.at, plant?.next?.receivers]);

    const bad = await api.get<{ error: string }>('/oncall?at=yesterday');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /at=yesterday is not a time/);
    const unknown = await api.get<{ error: string }>('/oncall?schedule=nobody');
    assert.equal(unknown.status, 404);
  });

  it('rules: the rules in force with their conditions and what they route to', async () => {
    const response = await api.get<{ rules: Array<{ name: string; file: string; conditions: string[]; then: { receivers?: string[]; severity?: string } }> }>('/rules');
    assert.equal(response.status, 200);
    const motor = response.body.rules.find((r) => r.name === 'line4-motor-overtemperature');
    assert.ok(motor, response.body.rules.map((r) => r.name).join(', '));
    assert.match(motor.file, /motors\.yaml$/);
    assert.deepEqual(motor.then.receivers, ['maintenance']);
    assert.equal(motor.then.severity, 'critical');
    assert.ok(motor.conditions.includes('device.id equal "plc-line4"'), motor.conditions.join(' | '));
    assert.equal(response.body.rules[0]?.name, 'night-and-weekend-oncall', 'in the order they apply');
  });

  it('rules test: a dry run of a corpus mail names the alarm, the rules, the receivers and the notification, and which silence would mute it; nothing is sent or stored', async () => {
    const m = mail('s7-tmail-no-date.eml');
    const body = { mail: m.raw.toString('latin1'), from: m.mailFrom, to: m.rcptTo, at: '2026-11-24T10:00' };
    const response = await api.post<DryRun>('/rules/test', body);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const run = response.body;
    assert.equal(run.alarm.device.id, 'plc-line4');
    assert.match(run.alarm.title, /Motor M12 overtemperature/);
    assert.deepEqual(run.route.rules, ['line4-motor-overtemperature'], 'Tuesday 10:00: not the night rule');
    assert.equal(run.route.severity, 'critical');
    assert.deepEqual(run.route.receivers.map((r) => r.name), ['maintenance']);
    const verdict = run.rules.find((v) => v.rule === 'line4-motor-overtemperature');
    assert.equal(verdict?.applied, true);
    assert.ok(verdict?.reasons.some((r) => /title matches/.test(r)), verdict?.reasons.join(' | '));
    assert.equal(run.outcome, 'raised');
    assert.equal(run.mutedBy, null);
    assert.ok(run.notification?.recipients.includes('maintenance@example.com'));
    assert.match(run.notification?.subject ?? '', /Motor M12 overtemperature/);
    // At night the on-call rule applies too.
    const night = await api.post<DryRun>('/rules/test', { ...body, at: '2026-11-24T23:30' });
    assert.deepEqual(night.body.route.rules, ['night-and-weekend-oncall', 'line4-motor-overtemperature']);

    // A silence in force: the dry run says it would mute the alarm.
    const silence = await api.post<{ silence: { id: string } }>('/silences', { matchers: ['device.id=plc-line4'], comment: 'dry run check', duration: '1h' });
    assert.equal(silence.status, 201);
    const muted = await api.post<DryRun>('/rules/test', { mail: m.raw.toString('latin1') });
    assert.deepEqual(muted.body.mutedBy && { by: muted.body.mutedBy.by, silence: muted.body.mutedBy.silence }, { by: 'silence', silence: silence.body.silence.id });
    assert.equal((await api.delete(`/silences/${silence.body.silence.id}`)).status, 200);

    assert.equal((await gateway.store.alarms.list(['active', 'resolved'])).length, 0, 'nothing stored');
    assert.equal(upstream.messages.length, 0, 'nothing sent');

    const neither = await api.post<{ error: string }>('/rules/test', { at: '2026-11-24T10:00' });
    assert.equal(neither.status, 400);
    assert.match(neither.body.error, /either mail .* or mqtt/);
    const noBroker = await api.post<{ error: string }>('/rules/test', { mqtt: { topic: 'plant/x/alarm', payload: '{}' } });
    assert.equal(noBroker.status, 400);
    assert.match(noBroker.body.error, /no MQTT broker is configured/);
    const badTime = await api.post<{ error: string }>('/rules/test', { ...body, at: 'noon' });
    assert.equal(badTime.status, 400);
  });

  it('reload: a broken file is refused with file, line, key and problem and the old configuration stays; a good one says what changed; inhibitions then show what the new rule holds; all audited', async () => {
    // Broken: an unknown time zone (and the inhibit rule this reload would have added).
    const broken = raw({ inhibit: SITE_POWER_FAILURE });
    (broken.alarms as Record<string, unknown>).timeZone = 'Mars/Olympus';
    dir.write('annunciator.yaml', stringify(broken));
    const refused = await fetch(`${origin}/-/reload`, { method: 'POST' });
    assert.equal(refused.status, 400);
    const refusal = (await refused.json()) as { error: string; problems: Array<{ file: string; line: number | null; key: string | null; problem: string }> };
    assert.match(refusal.error, /configuration refused, the one in force stays/);
    const problem = refusal.problems.find((p) => p.key === 'alarms.timeZone');
    assert.ok(problem, JSON.stringify(refusal.problems));
    assert.equal(problem.file, configFile);
    assert.equal(typeof problem.line, 'number');
    assert.match(problem.problem, /Mars\/Olympus/);
    // Still in force: the rules route as before, the time zone is Berlin's, no inhibit rule.
    assert.equal(gateway.config.alarms?.timeZone, 'Europe/Berlin');
    assert.deepEqual((await api.get<{ rules: unknown[] }>('/inhibitions')).body.rules, []);
    const stillRouted = await api.post<DryRun>('/rules/test', { mail: mail('s7-tmail-no-date.eml').raw.toString('latin1'), at: '2026-11-24T10:00' });
    assert.deepEqual(stillRouted.body.route.rules, ['line4-motor-overtemperature']);

    // Good: the same with the zone back. The API path is the same act.
    dir.write('annunciator.yaml', stringify(raw({ inhibit: SITE_POWER_FAILURE })));
    const reloaded = await api.post<{ message: string; applied: string[]; needRestart: string[] }>('/reload');
    assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
    assert.deepEqual(reloaded.body.applied, ['inhibit']);
    assert.deepEqual(reloaded.body.needRestart, []);
    assert.match(reloaded.body.message, /changed: inhibit/);

    // The new rule at work: the UPS on battery holds the motor alarm of the same site.
    await send('ups-on-battery.eml');
    await upstream.waitForMessages(1);
    await send('s7-tmail-no-date.eml');
    const motor = await eventually(async () => (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === 'plc-line4' && a.mutedBy), 10_000, 'the motor alarm inhibited');
    const ups = (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === 'ups-hall2')!;
    const inhibitions = await api.get<{ rules: Array<{ name: string; source: string[]; target: string[]; equal: string[]; sources: Array<{ id: string }>; holding: Array<{ alarm: { id: string }; source: string }> }> }>('/inhibitions');
    assert.equal(inhibitions.status, 200);
    const [rule] = inhibitions.body.rules;
    assert.deepEqual([rule?.name, rule?.source, rule?.target, rule?.equal], ['site-power-failure', ['key=ups-on-battery'], ['device.id!=ups-hall2'], ['site']]);
    assert.deepEqual(rule?.sources.map((a) => a.id), [ups.id]);
    assert.deepEqual(rule?.holding.map((h) => [h.alarm.id, h.source]), [[motor.id, ups.id]]);
    // And the dry run names the inhibition.
    const dry = await api.post<DryRun>('/rules/test', { mail: mail('s7-tmail-no-date.eml').raw.toString('latin1') });
    assert.deepEqual(dry.body.mutedBy && [dry.body.mutedBy.by, dry.body.mutedBy.rule, dry.body.mutedBy.source], ['inhibition', 'site-power-failure', ups.id]);

    const reloads = await gateway.store.audit.list({ limit: 10, action: 'reload' });
    assert.deepEqual(reloads.map((e) => e.detail?.ok), [true, false]);
    assert.deepEqual(reloads[0]?.detail?.applied, ['inhibit']);
    assert.equal(reloads[1]?.actor, 'local');
  });

  it('audit: the API pages and filters; `annunciator audit` shows the CLI\'s own acts (silence add/expire) with the OS user', async () => {
    const added = await runCli(['--config', configFile, 'silence', 'add', '--match', 'device.id=hmi-kessel', '--for', '1h', '--comment', 'boiler inspection', '--json']);
    assert.equal(added.code, 0, added.stderr);
    const silenceId = (JSON.parse(added.stdout) as { silence: { id: string } }).silence.id;
    const expired = await runCli(['--config', configFile, 'silence', 'expire', silenceId]);
    assert.equal(expired.code, 0, expired.stderr);

    const user = userInfo().username;
    const viaCli = await api.get<{ entries: Array<{ id: number; actor: string; via: string; action: string; target: string; detail: Record<string, unknown> }>; nextBeforeId: number | null }>(`/audit?target=${silenceId}`);
    assert.equal(viaCli.status, 200);
    assert.deepEqual(viaCli.body.entries.map((e) => [e.action, e.actor, e.via]), [['silence.expire', user, 'cli'], ['silence.create', user, 'cli']]);
    assert.equal(viaCli.body.entries[1]?.detail.comment, 'boiler inspection');

    // Paging: one at a time, newest first, until the end.
    const all = await api.get<{ entries: Array<{ id: number }> }>('/audit?limit=1000');
    assert.ok(all.body.entries.length >= 6, `${all.body.entries.length} entries`);
    const seen: number[] = [];
    let page = await api.get<{ entries: Array<{ id: number }>; nextBeforeId: number | null }>('/audit?limit=2');
    for (;;) {
      seen.push(...page.body.entries.map((e) => e.id));
      if (page.body.nextBeforeId === null) break;
      page = await api.get(`/audit?limit=2&beforeId=${page.body.nextBeforeId}`);
    }
    assert.deepEqual(seen, all.body.entries.map((e) => e.id));
    const byAction = await api.get<{ entries: Array<{ action: string }> }>('/audit?action=silence.create&actor=local');
    assert.ok(byAction.body.entries.length >= 1);
    assert.ok(byAction.body.entries.every((e) => e.action === 'silence.create'));
    assert.equal((await api.get('/audit?limit=0')).status, 400);

    const table = await runCli(['--config', configFile, 'audit', '--action', 'silence.create']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TIME\s+ACTOR\s+VIA\s+FROM\s+ACTION\s+TARGET\s+DETAIL/);
    assert.match(table.stdout, new RegExp(`${user}\\s+cli\\s+-\\s+silence\\.create\\s+${silenceId}\\s+.*comment=boiler inspection`));
    assert.match(table.stdout, /local\s+loopback\s+127\.0\.0\.1\s+silence\.create/);
    assert.doesNotMatch(table.stdout, /silence\.expire/);
    const json = await runCli(['--config', configFile, 'audit', '--actor', user, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const entries = JSON.parse(json.stdout) as Array<{ at: string; actor: string; action: string }>;
    assert.deepEqual(entries.map((e) => e.action), ['silence.expire', 'silence.create']);
    assert.match(entries[0]?.at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const none = await runCli(['--config', configFile, 'audit', '--actor', 'nobody-at-all']);
    assert.equal(none.stdout, 'no audit entries match\n');
    const bad = await runCli(['--config', configFile, 'audit', '--limit', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit lots/);
  });
});

describe('API v1 dry run of an MQTT event', () => {
  let broker: TestBroker;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let harness: ReturnType<typeof mqttExampleHarness>;

  before(async () => {
    broker = await startTestBroker();
    upstream = await startUpstream({ security: 'none' });
    harness = mqttExampleHarness(broker.url, upstream.port, {});
    gateway = await runGateway(configFrom(harness.dir, { ...harness.raw, http: { listen: { address: '127.0.0.1', port: 0 } } }));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    await broker?.stop();
    harness?.dir.remove();
  });

  it('an event on a mapped topic gives its alarm and route; an unmapped topic is 400 with the reason', async () => {
    const api = apiClient(`http://127.0.0.1:${gateway.http!.address().port}`);
    const topic = `${harness.root}/plant/north/line2/pump7/alarm`;
    const response = await api.post<DryRun>('/rules/test', { mqtt: { topic, payload: JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: 4.82, unit: 'm' }) } });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.alarm.device.id, 'pump7');
    assert.equal(response.body.alarm.title, 'pump7: LevelHigh');
    assert.equal(response.body.outcome, 'raised');
    assert.ok(response.body.route.receivers.length > 0);
    assert.ok(response.body.notification, 'a notification would be sent');
    assert.equal(upstream.messages.length, 0, 'nothing sent');
    const unmapped = await api.post<{ error: string }>('/rules/test', { mqtt: { topic: 'elsewhere/x', payload: '1' } });
    assert.equal(unmapped.status, 400);
    assert.match(unmapped.body.error, /no subscription of broker \S+ maps topic elsewhere\/x/);
    const unknownBroker = await api.post<{ error: string }>('/rules/test', { mqtt: { broker: 'nope', topic, payload: '{}' } });
    assert.equal(unknownBroker.status, 400);
    assert.match(unknownBroker.body.error, /no MQTT broker named "nope"/);
  });
});

describe('the guard holds for the operator endpoints, /-/reload at the root included', () => {
  const dir = testDir();
  let gateway: RunningGateway;
  let origin: string;
  const file = (inhibit: unknown[]) =>
    shippedAlarmsConfig(dir, {
      delivery: { accounts: [{ name: 'files', type: 'file', directory: `${dir.path}/files` }] },
      http: { listen: { address: '127.0.0.1', port: 0 }, tokens: [{ name: 'script', role: 'admin', token: { env: 'API_TOKEN' } }] },
      inhibit,
    });

  before(async () => {
    gateway = await runGateway(configFrom(dir, file([]), { API_TOKEN: 'a-token-for-the-guard-test-of-enough-length' }));
    origin = `http://127.0.0.1:${gateway.http!.address().port}`;
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('with users or tokens configured, a request without credentials is refused (401) and changes nothing', async () => {
    dir.write('annunciator.yaml', stringify(file(SITE_POWER_FAILURE)));
    for (const [method, path] of [
      ['POST', '/-/reload'],
      ['POST', '/api/v1/reload'],
      ['GET', '/api/v1/audit'],
      ['GET', '/api/v1/silences'],
      ['GET', '/api/v1/inhibitions'],
      ['GET', '/api/v1/oncall'],
      ['GET', '/api/v1/rules'],
    ] as const) {
      const response = await fetch(`${origin}${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
      assert.equal(response.status, 401, `${method} ${path}`);
    }
    const create = await fetch(`${origin}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchers: ['device.id=x'], comment: 'x', duration: '1h' }) });
    assert.equal(create.status, 401);
    assert.deepEqual(gateway.config.inhibit, [], 'not reloaded');
    assert.deepEqual(await gateway.store.silences.list(Date.now(), { all: true }), []);
    assert.deepEqual(await gateway.store.audit.list({ limit: 10 }), []);
  });
});

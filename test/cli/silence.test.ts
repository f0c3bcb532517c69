import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { buildSilence, type SilenceAddOptions } from '../../src/cli/silence.js';
import { loadConfig } from '../../src/config/load.js';
import type { Silence } from '../../src/lifecycle/silence.js';
import { runCli } from '../helpers/cli.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { configFrom, eventually, runGateway, testDir } from '../helpers/gateway.js';
import { shippedConfig } from '../helpers/shipped-config.js';

describe('annunciator silence', () => {
  const dir = testDir();
  after(() => dir.remove());
  const raw = shippedConfig();
  raw.gateway = { dataDir: join(dir.path, 'data') };
  raw.log = { level: 'error', format: 'json' };
  raw.alarms = { ...(raw.alarms as object), rulesDir: join(REPO_ROOT, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false };
  raw.delivery = { accounts: [{ name: 'files', type: 'file', directory: join(dir.path, 'files') }] };
  const configFile = dir.write('annunciator.yaml', stringify(raw));
  const cli = (...args: string[]) => runCli(['--config', configFile, 'silence', ...args]);
  let windowId = '';
  let weeklyId = '';
  let lineSilenceId = '';
  let mutedAlarmId = '';

  it('adds a window silence and a weekly one, and lists them', async () => {
    const added = await cli('add', '--match', 'device.id=ups-hall2', '--match', 'title~(?i)battery', '--for', '2h', '--by', 'anna', '--comment', 'battery swap');
    assert.equal(added.code, 0, added.stderr);
    windowId = /^silence ([0-9A-Z]{26}) added/m.exec(added.stdout)?.[1] ?? '';
    assert.ok(windowId, added.stdout);
    assert.match(added.stdout, /mutes\s+device\.id=ups-hall2 title~\(\?i\)battery/);
    assert.match(added.stdout, /now\s+holding until \d{4}-\d\d-\d\d \d\d:\d\d CES?T/);

    const weekly = await cli('add', '-m', 'site=Plant North', '--weekly', 'mon,tue 22:00-06:00', '--zone', 'Europe/Berlin', '--until', '2099-01-01', '--by', 'tom', '--comment', 'night shift maintenance', '--json');
    assert.equal(weekly.code, 0, weekly.stderr);
    const { silence } = JSON.parse(weekly.stdout) as { silence: Silence };
    weeklyId = silence.id;
    assert.deepEqual(silence.schedule.kind === 'weekly' && { days: silence.schedule.days, from: silence.schedule.from, to: silence.schedule.to, zone: silence.schedule.timeZone }, { days: ['mon', 'tue'], from: '22:00', to: '06:00', zone: 'Europe/Berlin' });
    assert.equal(silence.schedule.kind === 'weekly' && (silence.schedule.until as unknown), '2098-12-31T23:00:00.000Z', '--until without an offset is read in --zone (and --json prints it in RFC 3339)');
    assert.equal(silence.createdBy, 'tom');

    const listed = await cli('list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${windowId}\\s+active\\s+device\\.id=ups-hall2 title~\\(\\?i\\)battery`));
    assert.match(listed.stdout, new RegExp(`${weeklyId}\\s+(active|pending)\\s+site=Plant North\\s+weekly mon,tue 22:00-06:00 Europe/Berlin until`));
    assert.match(listed.stdout, /anna\s+battery swap/);
  });

  it('expires a silence: gone from the list, shown with --all; an unknown id is an error', async () => {
    const expired = await cli('expire', windowId, 'NO-SUCH-SILENCE');
    assert.equal(expired.code, 1, 'one of the two does not exist');
    assert.match(expired.stdout, new RegExp(`silence ${windowId} expired`));
    assert.match(expired.stderr, /no silence NO-SUCH-SILENCE/);
    const all = JSON.parse((await cli('list', '--all', '--json')).stdout) as Array<Silence & { state: string }>;
    assert.equal(all.find((s) => s.id === windowId)?.state, 'expired');
    assert.match(all.find((s) => s.id === weeklyId)?.state ?? '', /^(active|pending)$/);
    const listed = await cli('list');
    assert.doesNotMatch(listed.stdout, new RegExp(windowId), 'not current any more');
    assert.match(listed.stdout, new RegExp(weeklyId));
  });

  it('refuses what it cannot use, saying why (exit 2, a usage error)', async () => {
    const result = await cli('add', '--match', 'title~(a', '--for', '1h', '--comment', 'x');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^annunciator silence add: "title~\(a": invalid regular expression/);
    // The other refusals, without a process each.
    const config = loadConfig(configFile);
    const now = Date.parse('2026-11-24T13:00:00Z');
    const cases: Array<[SilenceAddOptions, RegExp]> = [
      [{ match: ['titel=x'], for: '1h', comment: 'x' }, /unknown field "titel"/],
      [{ for: '1h', comment: 'x' }, /--match/],
      [{ match: ['device.id=x'], comment: 'x' }, /--until TIME or --for DURATION/],
      [{ match: ['device.id=x'], for: '1h', until: '2026-11-25T00:00Z', comment: 'x' }, /--until TIME or --for DURATION \(one of them\)/],
      [{ match: ['device.id=x'], for: '1h' }, /--comment/],
      [{ match: ['device.id=x'], for: 'soon', comment: 'x' }, /not a duration/],
      [{ match: ['device.id=x'], until: '2026-11-24T12:00Z', comment: 'x' }, /already past/],
      [{ match: ['device.id=x'], from: '2026-11-24T20:00+01:00', until: '2026-11-24T19:00+01:00', comment: 'x' }, /ends before it starts/],
      [{ match: ['device.id=x'], until: 'tomorrow', comment: 'x' }, /--until tomorrow is not a time/],
      [{ match: ['device.id=x'], weekly: 'monday 22:00-06:00', comment: 'x' }, /not a day/],
      [{ match: ['device.id=x'], weekly: 'mon 22:00-06:00', for: '1h', comment: 'x' }, /--for does not go with --weekly/],
      [{ match: ['device.id=x'], weekly: 'mon 22:00-06:00', zone: 'Mars/Olympus', comment: 'x' }, /unknown time zone/],
    ];
    for (const [options, problem] of cases) {
      const built = buildSilence(options, config, now);
      assert.equal(typeof built, 'string', JSON.stringify(options));
      assert.match(String(built), problem, JSON.stringify(options));
    }
    const ok = buildSilence({ match: ['device.id=x'], from: '2026-11-24 22:00', for: '8h', by: 'anna', comment: 'night' }, config, now);
    assert.ok(typeof ok !== 'string');
    assert.deepEqual(ok.schedule, { kind: 'window', start: Date.parse('2026-11-24T21:00:00Z'), end: Date.parse('2026-11-25T05:00:00Z') }, 'a time without an offset is read in alarms.timeZone');
  });

  it('a silence added while the gateway runs takes effect without a restart', async () => {
    // The weekly night-shift silence above mutes Plant North on Monday and Tuesday nights
    // (Berlin time); on those nights it, not the one added here, would name the mute.
    assert.equal((await cli('expire', weeklyId)).code, 0);
    const gateway = await runGateway(configFrom(dir, { ...raw, listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }] }));
    let alarmId = '';
    try {
      const added = await cli('add', '--match', 'device.id=plc-line4', '--for', '1h', '--comment', 'line 4 rebuild');
      assert.equal(added.code, 0, added.stderr);
      const id = /^silence ([0-9A-Z]{26}) added/m.exec(added.stdout)?.[1];
      lineSilenceId = id ?? '';
      const result = await sendAsDevice({ port: gateway.port, mailFrom: 'plc-line4@plant.local', rcptTo: ['maintenance@example.com'], data: Buffer.from('Subject: ALARM Line4 Motor M3 overtemperature\r\n\r\nhot\r\n') });
      assert.match(result.dataReply ?? '', /^250 /);
      const alarm = await eventually(async () => (await gateway.store.alarms.list(['active'])).find((a) => a.device.id === 'plc-line4'), 10_000, 'the alarm');
      alarmId = alarm.id;
      assert.equal((await gateway.store.alarms.history(alarm.id))[0]?.outcome, 'silenced');
      assert.match((await gateway.store.alarms.history(alarm.id))[0]?.reason ?? '', new RegExp(`muted by silence ${id} \\(line 4 rebuild\\)`));
      assert.equal((await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).length, 0, 'nothing queued');
    } finally {
      await gateway.stop();
    }
    const shown = await runCli(['--config', configFile, 'alarms', '--show', alarmId]);
    // At night and at weekends the shipped on-call rule routes it too (real time: the CLI runs in another process).
    assert.match(shown.stdout, /silenced\s+new alarm, routed by rule (?:night-and-weekend-oncall \+ )?line4-motor-overtemperature; muted by silence/);
    assert.match(shown.stdout, /muted\s+by silence [0-9A-Z]{26} until/);
    mutedAlarmId = alarmId;
  });

  it('expire --json: per id in order the outcome, the silence (times in RFC 3339) and how many muted alarms it released', async () => {
    assert.ok(lineSilenceId && mutedAlarmId, 'the test above left a silence muting an active alarm');
    const listed = JSON.parse((await cli('list', '--json')).stdout) as Array<Record<string, unknown>>;
    const before = listed.find((s) => s.id === lineSilenceId);
    assert.equal(before?.state, 'active');
    const started = Date.now();
    // The same id twice: the second time it is over already.
    const result = await cli('expire', lineSilenceId, 'NO-SUCH-SILENCE', lineSilenceId, '--json');
    const ended = Date.now();
    assert.equal(result.code, 1, 'one id does not exist');
    assert.equal(result.stderr, 'annunciator silence expire: no silence NO-SUCH-SILENCE\n');
    assert.match(result.stdout, /^\{\n[\s\S]*\n\}\n$/, 'one JSON document and nothing else');
    const { results } = JSON.parse(result.stdout) as { results: Array<{ silence?: { expiredAt?: unknown } }> };
    const expiredAt = results[0]?.silence?.expiredAt;
    assert.ok(typeof expiredAt === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(expiredAt), `expiredAt in RFC 3339 UTC: ${String(expiredAt)}`);
    assert.ok(Date.parse(expiredAt) >= started && Date.parse(expiredAt) <= ended, 'expired now');
    const silence = { ...before, expiredAt, state: 'expired' };
    assert.deepEqual(JSON.parse(result.stdout), {
      results: [
        { id: lineSilenceId, outcome: 'expired', silence, releasedAlarms: 1 },
        { id: 'NO-SUCH-SILENCE', outcome: 'not-found' },
        { id: lineSilenceId, outcome: 'already-over', silence },
      ],
    });
    assert.match(String((before?.schedule as { end?: unknown }).end), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'the schedule in RFC 3339 too');
    assert.equal(JSON.parse((await cli('list', '--all', '--json')).stdout).find((s: { id: string }) => s.id === lineSilenceId)?.state, 'expired');

    const again = await cli('expire', lineSilenceId, '--json');
    assert.equal(again.code, 0, 'already over is not an error, as without --json');
    assert.equal(again.stderr, '');
    assert.deepEqual(JSON.parse(again.stdout), { results: [{ id: lineSilenceId, outcome: 'already-over', silence }] });
  });
});

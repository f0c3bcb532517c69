import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { baseConfig, testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

describe('annunciator oncall', () => {
  const dir = testDir();
  after(() => dir.remove());

  const rulesDir = join(dir.path, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'boiler.yaml'), 'rules:\n  - name: boiler\n    when: { all: [ { fact: title, operator: matches, value: "Kessel" } ] }\n    then: { receivers: [plant-oncall] }\n');

  const configFile = dir.write(
    'oncall.yaml',
    stringify({
      ...baseConfig(dir),
      alarms: { rulesDir, templatesDir: join(REPO_ROOT, 'templates'), timeZone: 'Europe/Berlin', watch: false },
      receivers: [
        { name: 'anna', email: 'anna@example.com' },
        { name: 'tom', email: 'tom@example.com' },
        { name: 'night-desk', email: 'night@example.com' },
      ],
      schedules: [
        {
          name: 'plant-oncall',
          timeZone: 'Europe/Berlin',
          rotation: { members: ['anna', 'tom'], handoff: { weekday: 'mon', time: '09:00' }, every: '1w', start: '2026-03-16' },
          overrides: [
            { from: '2026-12-24T00:00', to: '2026-12-27T00:00', receivers: ['anna'], reason: 'Anna covers Christmas' },
            { from: '2026-12-29T00:00', to: '2026-12-31T00:00', receivers: ['anna'], reason: 'Tom is off' },
          ],
        },
        {
          name: 'desk',
          timeZone: 'Europe/Berlin',
          rotation: { members: ['anna', 'tom'], handoff: { weekday: 'mon', time: '09:00' }, every: '1w', start: '2026-03-16' },
          windows: [{ name: 'weeknights', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '18:00', to: '07:00', receivers: ['night-desk'] }],
        },
        { name: 'us-nights', timeZone: 'America/New_York', windows: [{ name: 'nights', days: ['sat'], from: '22:00', to: '06:00', receivers: ['night-desk'] }] },
      ],
    }),
  );

  it('shows each schedule, who is on call and why, and the next handoff in local time', async () => {
    // Sunday 29 March 2026 08:30 CEST, the morning after Berlin's spring-forward night: 02:30 on Sunday in New York.
    const result = await runCli(['--config', configFile, 'oncall', '--at', '2026-03-29T08:30']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^plant-oncall {2}\(Europe\/Berlin, at 2026-03-29 08:30 CEST\)$/m);
    assert.match(result.stdout, /on call {7}tom <tom@example\.com>/);
    assert.match(result.stdout, /because {7}rotation week 2: tom/);
    assert.match(result.stdout, /next handoff {2}2026-03-30 09:00 CEST to anna \(rotation week 3: anna\)/);
    assert.match(result.stdout, /^us-nights {2}\(America\/New_York, at 2026-03-29 02:30 EDT\)$/m);
    assert.match(result.stdout, /on call {7}night-desk <night@example\.com>\n {2}because {7}window nights 22:00-06:00\n {2}next handoff {2}2026-03-29 06:00 EDT to nobody \(nothing covers that time\)/);

    const morning = await runCli(['--config', configFile, 'oncall', '--schedule', 'us-nights', '--at', '2026-03-29T15:00']);
    assert.equal(morning.code, 0, morning.stderr);
    assert.match(morning.stdout, /at 2026-03-29 09:00 EDT\)\n {2}on call {7}nobody\n {2}because {7}nobody: no override, window, rotation or fallback covers this time\n/);
    assert.doesNotMatch(morning.stdout, /plant-oncall/);
  });

  it('--schedule picks one and --json prints it for scripts', async () => {
    const result = await runCli(['--config', configFile, 'oncall', '--schedule', 'plant-oncall', '--at', '2026-12-24T10:00:00+01:00', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      at: '2026-12-24T09:00:00.000Z',
      schedules: [
        {
          name: 'plant-oncall',
          timeZone: 'Europe/Berlin',
          receivers: [{ name: 'anna', emails: ['anna@example.com'] }],
          because: "override 'Anna covers Christmas' until 2026-12-27 00:00 CET",
          source: 'override',
          nextHandoff: { at: '2026-12-28T08:00:00.000Z', local: '2026-12-28 09:00 CET', receivers: ['tom'], because: 'rotation week 42: tom', source: 'rotation' },
        },
      ],
    });
  });

  it('the next handoff is the next change of who is on call: windows and overrides count, not only the rotation', async () => {
    const next = async (schedule: string, at: string) => {
      const result = await runCli(['--config', configFile, 'oncall', '--schedule', schedule, '--at', at]);
      assert.equal(result.code, 0, result.stderr);
      return /next handoff {2}(.*)$/m.exec(result.stdout)?.[1];
    };
    // Monday 30 March 10:00: anna's week, the night desk from 18:00 (the rotation hands off only on 6 April).
    assert.equal(await next('desk', '2026-03-30T10:00'), '2026-03-30 18:00 CEST to night-desk (window weeknights 18:00-07:00)');
    assert.equal(await next('desk', '2026-03-30T20:00'), '2026-03-31 07:00 CEST to anna (rotation week 3: anna)');
    // Tom's week from 28 December; an override gives 29 and 30 December to anna.
    assert.equal(await next('plant-oncall', '2026-12-28T12:00'), "2026-12-29 00:00 CET to anna (override 'Tom is off' until 2026-12-31 00:00 CET)");
    assert.equal(await next('plant-oncall', '2026-12-29T12:00'), '2026-12-31 00:00 CET to tom (rotation week 42: tom)');
    // Christmas: anna's override runs into anna's own rotation week: no change until tom's week.
    assert.equal(await next('plant-oncall', '2026-12-24T10:00'), '2026-12-28 09:00 CET to tom (rotation week 42: tom)');
  });

  it('refuses an unknown schedule and a time it cannot read', async () => {
    const unknown = await runCli(['--config', configFile, 'oncall', '--schedule', 'plant']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no schedule named "plant" \(known: plant-oncall, desk, us-nights\)/);
    const badTime = await runCli(['--config', configFile, 'oncall', '--at', 'next tuesday']);
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--at next tuesday is not a time/);
  });

  it('says so when the configuration has no schedules', async () => {
    const plain = dir.write('plain.yaml', stringify(baseConfig(dir)));
    const result = await runCli(['--config', plain, 'oncall']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /no on-call schedules in .*plain\.yaml/);
  });

  it('works on the shipped configuration', async () => {
    const result = await runCli(['--config', 'config/annunciator.yaml', 'oncall', '--at', '2026-11-24T03:14:00+01:00']);
    assert.equal(result.code, 0, result.stderr);
    // The rotation hands off to tom only on the 30th, but the shipped day-shift window takes over at 07:00.
    assert.match(result.stdout, /plant-oncall[\s\S]*on call {7}anna <anna\.berger@example\.com>[\s\S]*because {7}rotation week 47: anna[\s\S]*next handoff {2}2026-11-24 07:00 CET to shift-team \(window day-shift 07:00-16:00\)/);
  });

  it('rules test routes a rule naming a schedule to the person on call at --at', async () => {
    const alarm = dir.write('boiler.json', JSON.stringify({ device: 'hmi-kessel', title: 'Störung Kessel 1' }));
    const result = await runCli(['--config', configFile, 'rules', 'test', alarm, '--at', '2026-03-30T09:00:00+02:00']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /receivers\s+plant-oncall \(on call: anna, rotation week 3: anna\) <anna@example\.com>/);
    assert.match(result.stdout, /NOTIFICATION to anna@example\.com/);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatProblem, parseConfig, type ConfigProblem } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { testDir } from '../helpers/gateway.js';
import { MINIMAL_CONFIG_YAML, refusalOf } from '../helpers/config-yaml.js';

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');

/** A listener, a file account and receivers, followed by `schedules` (YAML, already indented). */
function config(schedules: string, extra = ''): string {
  return `${MINIMAL_CONFIG_YAML}receivers:
  - { name: anna, email: anna@example.com }
  - { name: tom, email: tom@example.com }
  - { name: oncall, email: oncall@example.com }
${extra}schedules:
${schedules}`;
}

const PLANT = `  - name: plant-oncall
    timeZone: Europe/Berlin
    rotation:
      members: [anna, tom]
      handoff: { weekday: mon, time: "09:00" }
      every: 1w
      start: 2026-11-02
    windows:
      - { name: nights, days: [mon, tue], from: "22:00", to: "06:00", receivers: [oncall] }
    overrides:
      - { from: 2026-12-24T08:00, to: "2026-12-27", receivers: [tom], reason: Tom covers Christmas }
      - { from: "2026-12-31T18:00:00-05:00", to: 2027-01-01T06:00Z, receivers: [anna] }
    fallback: [oncall]
`;

function parse(text: string): GatewayConfig {
  return parseConfig(text, FILE, {});
}

function problemsOf(text: string): ConfigProblem[] {
  const problems = refusalOf(() => parse(text));
  for (const problem of problems) assert.equal(problem.file, FILE);
  return problems;
}

function onlyProblem(text: string): ConfigProblem {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  return problems[0]!;
}

describe('schedules: a valid configuration', () => {
  it('loads with defaults filled and overrides resolved to instants in the schedule zone', () => {
    const [s] = parse(config(PLANT)).schedules;
    assert.ok(s);
    assert.equal(s.rotation?.every, 7 * 86_400_000);
    assert.deepEqual(s.overrides, [
      { from: Date.parse('2026-12-24T07:00:00Z'), to: Date.parse('2026-12-26T23:00:00Z'), receivers: ['tom'], reason: 'Tom covers Christmas' },
      { from: Date.parse('2026-12-31T23:00:00Z'), to: Date.parse('2027-01-01T06:00:00Z'), receivers: ['anna'] },
    ]);
    assert.deepEqual(s.windows[0]?.days, ['mon', 'tue']);
  });

  it('no schedules is an empty list; `every` defaults to one week; windows, overrides and fallback to none', () => {
    assert.deepEqual(parse(config('  []\n')).schedules, []);
    const [s] = parse(config('  - { name: s, timeZone: UTC, rotation: { members: [anna], handoff: { weekday: sun, time: "00:00" }, start: 2026-11-01 } }\n')).schedules;
    assert.equal(s?.rotation?.every, 7 * 86_400_000);
    assert.deepEqual([s?.windows, s?.overrides, s?.fallback], [[], [], []]);
  });

  it('a rotation without a weekday may hand off every day', () => {
    const [s] = parse(config('  - { name: s, timeZone: UTC, rotation: { members: [anna, tom], handoff: { time: "07:30" }, every: 1d, start: 2026-11-04 } }\n')).schedules;
    assert.equal(s?.rotation?.every, 86_400_000);
  });

  it('alarms.defaultRoute.receivers may name a schedule', () => {
    const loaded = parse(config(PLANT, 'alarms:\n  defaultRoute: { receivers: [plant-oncall, anna] }\n'));
    assert.deepEqual(loaded.alarms?.defaultRoute.receivers, ['plant-oncall', 'anna']);
  });
});

describe('schedules: problems name file, line, key and problem', () => {
  it('an unknown receiver in a rotation, a window, an override and the fallback', () => {
    const problems = problemsOf(
      config(`  - name: s
    timeZone: Europe/Berlin
    rotation: { members: [anna, lea], handoff: { weekday: mon, time: "09:00" }, start: 2026-11-02 }
    windows: [ { days: [sat], from: "08:00", to: "12:00", receivers: [weekend-desk] } ]
    overrides: [ { from: 2026-12-24, to: 2026-12-25, receivers: [santa] } ]
    fallback: [nobody]
`),
    );
    assert.deepEqual(
      problems.map((p) => `${p.key}: ${p.message}`),
      [
        'schedules[0].rotation.members[1]: no receiver named "lea"',
        'schedules[0].windows[0].receivers[0]: no receiver named "weekend-desk"',
        'schedules[0].fallback[0]: no receiver named "nobody"',
        'schedules[0].overrides[0].receivers[0]: no receiver named "santa"',
      ],
    );
    assert.equal(problems[0]?.line, 18);
    assert.match(formatProblem(problems[0]!), new RegExp(`^${FILE}:18:\\d+: schedules\\[0\\]\\.rotation\\.members\\[1\\]: no receiver named "lea"$`));
  });

  it('a schedule naming another schedule is told that schedules name receivers', () => {
    const problem = onlyProblem(config(`${PLANT}  - { name: backup, timeZone: UTC, fallback: [plant-oncall] }\n`));
    assert.equal(problem.key, 'schedules[1].fallback[0]');
    assert.match(problem.message, /no receiver named "plant-oncall" \(a schedule names receivers, not other schedules\)/);
  });

  it('an unknown time zone', () => {
    const problem = onlyProblem(config('  - { name: s, timeZone: Europe/Bonn, fallback: [anna] }\n'));
    assert.equal(problem.key, 'schedules[0].timeZone');
    assert.equal(problem.message, 'unknown time zone "Europe/Bonn" (use an IANA name such as Europe/Berlin)');
    assert.equal(problem.line, 16);
  });

  it('a bad time of day, weekday and date', () => {
    const problems = problemsOf(
      config(`  - name: s
    timeZone: UTC
    rotation: { members: [anna], handoff: { weekday: monday, time: "9:00" }, start: 2026-11-2 }
    windows: [ { days: [sat], from: "22:00", to: "24:00", receivers: [anna] } ]
`),
    );
    const byKey = new Map(problems.map((p) => [p.key, p.message]));
    assert.match(byKey.get('schedules[0].rotation.handoff.time') ?? '', /HH:MM/);
    assert.match(byKey.get('schedules[0].rotation.handoff.weekday') ?? '', /mon/);
    assert.match(byKey.get('schedules[0].rotation.start') ?? '', /YYYY-MM-DD/);
    assert.match(byKey.get('schedules[0].windows[0].to') ?? '', /HH:MM, 00:00 to 23:59/);
    for (const p of problems) assert.ok(p.line, `${p.key} has a line`);
  });

  it('a start date that does not exist, or is not the handoff weekday', () => {
    const rotation = (start: string, weekday = 'mon') => config(`  - { name: s, timeZone: UTC, rotation: { members: [anna], handoff: { weekday: ${weekday}, time: "09:00" }, start: ${start} } }\n`);
    assert.equal(onlyProblem(rotation('2026-02-30')).message, '"2026-02-30" is not a calendar date (YYYY-MM-DD)');
    const wrongDay = onlyProblem(rotation('2026-11-03'));
    assert.equal(wrongDay.key, 'schedules[0].rotation.start');
    assert.equal(wrongDay.message, '2026-11-03 is a tue, but handoff.weekday is mon: start on the day of the first handoff');
  });

  it('a rotation that is not whole days, or not whole weeks with a weekday', () => {
    const rotation = (every: string, weekday = 'weekday: mon, ') => config(`  - { name: s, timeZone: UTC, rotation: { members: [anna], handoff: { ${weekday}time: "09:00" }, every: ${every}, start: 2026-11-02 } }\n`);
    assert.match(onlyProblem(rotation('12h', '')).message, /whole days/);
    const tenDays = onlyProblem(rotation('10d'));
    assert.equal(tenDays.key, 'schedules[0].rotation.every');
    assert.match(tenDays.message, /whole weeks/);
    assert.equal(parse(rotation('2w')).schedules[0]?.rotation?.every, 14 * 86_400_000);
  });

  it('an override that is no date-time, or ends before it begins', () => {
    const override = (from: string, to: string) => config(`  - { name: s, timeZone: Europe/Berlin, overrides: [ { from: "${from}", to: "${to}", receivers: [tom] } ] }\n`);
    const bad = onlyProblem(override('christmas', '2026-12-27'));
    assert.equal(bad.key, 'schedules[0].overrides[0].from');
    assert.match(bad.message, /"christmas" is not a date-time \(use ISO 8601/);
    const backwards = onlyProblem(override('2026-12-27T00:00', '2026-12-24T00:00'));
    assert.equal(backwards.key, 'schedules[0].overrides[0].to');
    assert.match(backwards.message, /is not after from/);
  });

  it('a schedule named like a receiver, or twice', () => {
    const clash = onlyProblem(config('  - { name: oncall, timeZone: UTC, fallback: [anna] }\n'));
    assert.equal(clash.key, 'schedules[0].name');
    assert.equal(clash.message, '"oncall" is already a receiver: a schedule needs a name of its own');
    assert.equal(clash.line, 16);
    const twice = onlyProblem(config('  - { name: s, timeZone: UTC, fallback: [anna] }\n  - { name: s, timeZone: UTC, fallback: [tom] }\n'));
    assert.equal(twice.key, 'schedules[1].name');
    assert.match(twice.message, /defined twice/);
  });

  it('a schedule that can never name anyone, and unknown keys', () => {
    assert.match(onlyProblem(config('  - { name: s, timeZone: UTC }\n')).message, /needs a rotation, windows, overrides or a fallback/);
    const unknown = onlyProblem(config('  - { name: s, timeZone: UTC, fallback: [anna], members: [tom] }\n'));
    assert.equal(unknown.key, 'schedules[0]');
    assert.match(unknown.message, /unknown key "members"/);
  });

  it('the default route naming neither a receiver nor a schedule', () => {
    const problem = onlyProblem(config(PLANT, 'alarms:\n  defaultRoute: { receivers: [plant-on-call] }\n'));
    assert.equal(problem.key, 'alarms.defaultRoute.receivers[0]');
    assert.equal(problem.message, 'no receiver or schedule named "plant-on-call"');
  });
});

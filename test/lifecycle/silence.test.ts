import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inWeeklyWindow, parseWeeklySpec, weeklyWindowEnd, type WeeklyWindow } from '../../src/base/weekly-window.js';
import { parseMatcher, type Matcher } from '../../src/config/matcher.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { activeSilence, nextSilenceEnd, silenceHolds, silenceHoldsUntil, silenceIsOver, type Silence, type SilenceSchedule } from '../../src/lifecycle/silence.js';

const HOUR = 3_600_000;
const MIN = 60_000;
const BERLIN = 'Europe/Berlin';
/** Tuesday 24 November 2026, 14:00 in Berlin (CET, UTC+1). */
const T0 = Date.parse('2026-11-24T13:00:00Z');

function m(text: string): Matcher {
  const parsed = parseMatcher(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.matcher;
}

function alarm(overrides: Partial<Alarm> = {}): Alarm {
  return {
    id: 'A1',
    fingerprint: 'fp',
    state: 'active',
    device: { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2', matchedBy: 'sender' },
    title: 'UPS-HALL2: On battery power in response to an input power problem.',
    severity: 'major',
    key: 'ups-on-battery',
    fields: { Name: 'UPS-HALL2' },
    text: '',
    count: 1,
    firstSeen: T0,
    lastSeen: T0,
    firstEventId: 'E1',
    lastEventId: 'E1',
    notifications: 0,
    countAtLastNotification: 0,
    receivers: [],
    rules: [],
    ...overrides,
  };
}

function silence(id: string, schedule: SilenceSchedule, matchers = [m('device.id=ups-hall2')], extra: Partial<Silence> = {}): Silence {
  return { id, matchers, schedule, createdBy: 'anna', comment: 'battery swap', createdAt: T0 - HOUR, ...extra };
}

const window = (start: number, end: number): SilenceSchedule => ({ kind: 'window', start, end });

describe('matchers', () => {
  it('parses field=value, field!=value and field~regex, and refuses what is not one', () => {
    assert.deepEqual(parseMatcher('device.id=ups-hall2'), { ok: true, matcher: { field: 'device.id', operator: 'equal', value: 'ups-hall2' } });
    assert.deepEqual(parseMatcher('fields.Temp!=3'), { ok: true, matcher: { field: 'fields.Temp', operator: 'notEqual', value: '3' } });
    assert.deepEqual(parseMatcher('title~(?i)battery'), { ok: true, matcher: { field: 'title', operator: 'matches', value: '(?i)battery' } });
    assert.deepEqual(parseMatcher('site=Plant North'), { ok: true, matcher: { field: 'site', operator: 'equal', value: 'Plant North' } });
    const bad = (text: string, problem: RegExp) => {
      const parsed = parseMatcher(text);
      assert.equal(parsed.ok, false, text);
      if (!parsed.ok) assert.match(parsed.problem, problem);
    };
    bad('titel=x', /unknown field "titel"/);
    bad('just text', /not a matcher/);
    bad('title~(a', /invalid regular expression/);
    bad('title~(?=x)', /invalid regular expression/);
    bad('severity=Major', /severity is one of critical, major/);
  });
});

describe('silences (pure, fake clock)', () => {
  it('a window holds from its start up to, not including, its end', () => {
    const s = silence('S1', window(T0, T0 + 2 * HOUR));
    assert.equal(activeSilence(alarm(), [s], T0 - 1), undefined, 'not before it starts');
    assert.equal(activeSilence(alarm(), [s], T0)?.id, 'S1');
    assert.equal(activeSilence(alarm(), [s], T0 + 2 * HOUR - 1)?.id, 'S1');
    assert.equal(activeSilence(alarm(), [s], T0 + 2 * HOUR), undefined, 'not at its end');
    assert.equal(silenceHoldsUntil(s, T0 + HOUR), T0 + 2 * HOUR);
    assert.equal(silenceIsOver(s, T0 + HOUR), false);
    assert.equal(silenceIsOver(s, T0 + 2 * HOUR), true);
  });

  it('an expired silence holds no longer', () => {
    const s = silence('S1', window(T0, T0 + 2 * HOUR), undefined, { expiredAt: T0 + 30 * MIN });
    assert.equal(activeSilence(alarm(), [s], T0 + 29 * MIN)?.id, 'S1');
    assert.equal(activeSilence(alarm(), [s], T0 + 30 * MIN), undefined);
    assert.equal(silenceIsOver(s, T0 + 30 * MIN), true);
  });

  it('mutes only alarms every matcher selects', () => {
    const at = T0 + MIN;
    const s = (matchers: string[]) => silence('S', window(T0, T0 + HOUR), matchers.map(m));
    assert.ok(activeSilence(alarm(), [s(['device.id=ups-hall2', 'title~(?i)on battery'])], at));
    assert.ok(activeSilence(alarm(), [s(['site=Plant North', 'severity!=info'])], at));
    assert.ok(activeSilence(alarm(), [s(['device.site=Plant North', 'fields.Name=UPS-HALL2', 'key=ups-on-battery'])], at));
    assert.ok(activeSilence(alarm(), [s(['code!=E1'])], at), 'an alarm without a code has code ""');
    assert.equal(activeSilence(alarm(), [s(['device.id=ups-hall2', 'title~overtemperature'])], at), undefined);
    assert.equal(activeSilence(alarm(), [s(['site=Plant South'])], at), undefined);
    assert.equal(activeSilence(alarm(), [s(['title~BATTERY'])], at), undefined, 'case counts unless (?i) says otherwise');
    assert.ok(activeSilence(alarm(), [s(['title~(?i)BATTERY'])], at));
    assert.equal(activeSilence(alarm(), [s(['fields.constructor~.'])], at), undefined, 'fields are own properties only');
    assert.equal(activeSilence(alarm(), [s([])], at), undefined, 'a silence without matchers mutes nothing');
  });

  it('of several silences, names the one that holds longest', () => {
    const short = silence('SHORT', window(T0, T0 + HOUR));
    const long = silence('LONG', window(T0, T0 + 5 * HOUR));
    assert.equal(activeSilence(alarm(), [short, long], T0 + MIN)?.id, 'LONG');
    assert.equal(nextSilenceEnd([short, long], T0 + MIN), T0 + HOUR, 'the scheduler wakes at the first end');
    assert.equal(nextSilenceEnd([short, long], T0 - MIN), undefined, 'nothing holds yet, nothing ends');
  });
});

describe('weekly recurrence', () => {
  const night: WeeklyWindow = { days: ['mon', 'tue'], from: '22:00', to: '06:00', timeZone: BERLIN };
  const at = (iso: string) => Date.parse(iso);

  it('parses days, ranges and times', () => {
    assert.deepEqual(parseWeeklySpec('mon,tue 22:00-06:00'), { ok: true, window: { days: ['mon', 'tue'], from: '22:00', to: '06:00' } });
    assert.deepEqual(parseWeeklySpec('fri-mon 07:00-16:00'), { ok: true, window: { days: ['mon', 'fri', 'sat', 'sun'], from: '07:00', to: '16:00' } });
    assert.deepEqual(parseWeeklySpec('daily 02:00-03:00'), parseWeeklySpec('mon-sun 02:00-03:00'));
    assert.equal(parseWeeklySpec('monday 22:00-06:00').ok, false);
    assert.equal(parseWeeklySpec('mon 25:00-06:00').ok, false);
    assert.equal(parseWeeklySpec('mon 22:00').ok, false);
  });

  it('wraps midnight: a window starting Monday 22:00 runs into Tuesday 06:00', () => {
    // 2026-11-23 is a Monday; Berlin is UTC+1 in November.
    assert.equal(inWeeklyWindow(night, at('2026-11-23T20:59:00Z')), false, 'Mon 21:59');
    assert.equal(inWeeklyWindow(night, at('2026-11-23T21:00:00Z')), true, 'Mon 22:00');
    assert.equal(inWeeklyWindow(night, at('2026-11-24T02:00:00Z')), true, 'Tue 03:00, from Monday night');
    assert.equal(inWeeklyWindow(night, at('2026-11-24T05:00:00Z')), false, 'Tue 06:00');
    assert.equal(inWeeklyWindow(night, at('2026-11-25T04:59:00Z')), true, 'Wed 05:59, from Tuesday night');
    assert.equal(inWeeklyWindow(night, at('2026-11-25T21:30:00Z')), false, 'Wed 22:30');
    assert.equal(inWeeklyWindow(night, at('2026-11-23T02:00:00Z')), false, 'Mon 03:00: Sunday night is not in it');
    assert.equal(weeklyWindowEnd(night, at('2026-11-23T23:30:00Z')), at('2026-11-24T05:00:00Z'), 'Mon 00:30 -> Tue 06:00');
    assert.equal(weeklyWindowEnd(night, at('2026-11-24T02:00:00Z')), at('2026-11-24T05:00:00Z'));
    assert.equal(weeklyWindowEnd(night, at('2026-11-24T12:00:00Z')), undefined, 'not holding');
  });

  it('keeps wall-clock times across the spring-forward night (a shorter window)', () => {
    // 2026-03-29, Berlin: 02:00 CET -> 03:00 CEST. Saturday 22:00 CET (21:00Z) to Sunday 06:00 CEST (04:00Z): 7 hours.
    const sat: WeeklyWindow = { days: ['sat'], from: '22:00', to: '06:00', timeZone: BERLIN };
    assert.equal(inWeeklyWindow(sat, at('2026-03-28T21:00:00Z')), true);
    assert.equal(inWeeklyWindow(sat, at('2026-03-29T03:59:00Z')), true, '05:59 CEST');
    assert.equal(inWeeklyWindow(sat, at('2026-03-29T04:00:00Z')), false, '06:00 CEST; a fixed UTC+1 would still say 05:00');
    assert.equal(weeklyWindowEnd(sat, at('2026-03-28T22:00:00Z')), at('2026-03-29T04:00:00Z'));
    // A window ending at a time the clocks skip ends when they jump over it.
    const skip: WeeklyWindow = { days: ['sun'], from: '01:00', to: '02:30', timeZone: BERLIN };
    assert.equal(inWeeklyWindow(skip, at('2026-03-29T00:30:00Z')), true, '01:30 CET');
    assert.equal(weeklyWindowEnd(skip, at('2026-03-29T00:30:00Z')), at('2026-03-29T01:00:00Z'), '03:00 CEST');
  });

  it('keeps wall-clock times across the fall-back night (a longer window)', () => {
    // 2026-10-25, Berlin: 03:00 CEST -> 02:00 CET. Saturday 22:00 CEST (20:00Z) to Sunday 06:00 CET (05:00Z): 9 hours.
    const sat: WeeklyWindow = { days: ['sat'], from: '22:00', to: '06:00', timeZone: BERLIN };
    assert.equal(inWeeklyWindow(sat, at('2026-10-24T20:00:00Z')), true);
    assert.equal(inWeeklyWindow(sat, at('2026-10-25T04:30:00Z')), true, '05:30 CET');
    assert.equal(inWeeklyWindow(sat, at('2026-10-25T05:00:00Z')), false, '06:00 CET');
    assert.equal(weeklyWindowEnd(sat, at('2026-10-25T01:00:00Z')), at('2026-10-25T05:00:00Z'));
  });

  it('whole days on consecutive days are one stretch; every day whole never ends', () => {
    const weekend: WeeklyWindow = { days: ['sat', 'sun'], from: '00:00', to: '00:00', timeZone: BERLIN };
    assert.equal(inWeeklyWindow(weekend, at('2026-11-28T12:00:00Z')), true, 'Saturday');
    assert.equal(inWeeklyWindow(weekend, at('2026-11-29T22:59:00Z')), true, 'Sunday 23:59');
    assert.equal(inWeeklyWindow(weekend, at('2026-11-29T23:00:00Z')), false, 'Monday 00:00');
    assert.equal(weeklyWindowEnd(weekend, at('2026-11-28T12:00:00Z')), at('2026-11-29T23:00:00Z'), 'Saturday noon -> Monday 00:00');
    assert.equal(weeklyWindowEnd({ ...weekend, days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }, at('2026-11-28T12:00:00Z')), undefined);
  });

  it('a weekly silence holds from its start, up to its until, and names the end of this night', () => {
    const s = silence('W', { kind: 'weekly', ...night, start: at('2026-11-23T00:00:00Z'), until: at('2026-11-25T00:00:00Z') });
    assert.ok(silenceHolds(s, at('2026-11-23T22:00:00Z')));
    assert.equal(activeSilence(alarm(), [s], at('2026-11-23T22:00:00Z'))?.id, 'W');
    assert.equal(silenceHoldsUntil(s, at('2026-11-23T22:00:00Z')), at('2026-11-24T05:00:00Z'));
    assert.equal(silenceHoldsUntil(s, at('2026-11-24T22:00:00Z')), at('2026-11-25T00:00:00Z'), 'until cuts Tuesday night short');
    assert.equal(silenceHolds(s, at('2026-11-25T00:00:00Z')), false, 'past until');
    assert.equal(silenceIsOver(s, at('2026-11-24T12:00:00Z')), false, 'between two nights it is pending, not over');
    const later = silence('L', { kind: 'weekly', ...night, start: at('2026-12-01T00:00:00Z') });
    assert.equal(silenceHolds(later, at('2026-11-23T22:00:00Z')), false, 'not before its start');
    assert.equal(silenceIsOver(later, at('2030-01-01T00:00:00Z')), false, 'without until it never ends');
  });
});

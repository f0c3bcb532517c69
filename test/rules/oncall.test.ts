import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatZoned, instantOf, localDateTime, parseZonedDateTime, zoneOffset, type Weekday } from '../../src/base/zoned-clock.js';
import type { ReceiverConfig } from '../../src/config/schema.js';
import type { ScheduleConfig } from '../../src/config/types.js';
import { nextChange, nextHandoff, rotationShift, whoIsOnCall, windowHolds } from '../../src/rules/oncall.js';
import { resolveReceivers } from '../../src/rules/receivers.js';
import { routeEvent } from '../../src/rules/router.js';
import { RuleBook } from '../../src/rules/rule-book.js';

import { alarmEvent, bookFrom, context, DEFAULTS, problemsOf, RECEIVER_NAMES, RECEIVERS, SATURDAY_NOON, TUESDAY_NIGHT, TUESDAY_NOON } from './rules-fixtures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const utc = (iso: string): number => Date.parse(iso);

function schedule(overrides: Partial<ScheduleConfig> = {}): ScheduleConfig {
  return { name: 'plant-oncall', timeZone: BERLIN, windows: [], overrides: [], fallback: [], ...overrides };
}

/** A weekly rotation anna, tom, lea, handing off on `weekday` at `time` from `start`. */
function weekly(start: string, time = '09:00', weekday: Weekday = 'mon', timeZone = BERLIN): ScheduleConfig {
  return schedule({ timeZone, rotation: { members: ['anna', 'tom', 'lea'], handoff: { weekday, time }, every: WEEK, start } });
}

const oncallAt = (s: ScheduleConfig, iso: string): string[] => whoIsOnCall(s, utc(iso)).receivers;

describe('zoned clock: local times to instants and back', () => {
  it('reads the wall clock and offset of an instant', () => {
    assert.deepEqual(localDateTime(utc('2026-03-29T01:00:00Z'), BERLIN), { year: 2026, month: 3, day: 29, hour: 3, minute: 0, second: 0, weekday: 'sun' });
    assert.equal(zoneOffset(utc('2026-01-15T12:00:00Z'), BERLIN), HOUR);
    assert.equal(zoneOffset(utc('2026-07-15T12:00:00Z'), BERLIN), 2 * HOUR);
    assert.equal(zoneOffset(utc('2026-01-15T12:00:00Z'), NEW_YORK), -5 * HOUR);
  });

  it('finds the instant of a local time on either side of a change', () => {
    assert.equal(instantOf({ year: 2026, month: 3, day: 28, hour: 9, minute: 0 }, BERLIN), utc('2026-03-28T08:00:00Z'));
    assert.equal(instantOf({ year: 2026, month: 3, day: 29, hour: 9, minute: 0 }, BERLIN), utc('2026-03-29T07:00:00Z'));
    assert.equal(instantOf({ year: 2026, month: 3, day: 29, hour: 1, minute: 59 }, BERLIN), utc('2026-03-29T00:59:00Z'));
    assert.equal(instantOf({ year: 2026, month: 3, day: 8, hour: 9, minute: 0 }, NEW_YORK), utc('2026-03-08T13:00:00Z'));
  });

  it('a skipped local time lands after the skip; a repeated one is the first', () => {
    // Berlin 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist.
    assert.equal(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, BERLIN), utc('2026-03-29T01:30:00Z'));
    // Berlin 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    assert.equal(instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, BERLIN), utc('2026-10-25T00:30:00Z'));
    // New York 2026-11-01: 01:30 happens twice (EDT, then EST).
    assert.equal(instantOf({ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, NEW_YORK), utc('2026-11-01T05:30:00Z'));
  });

  it('parses ISO date-times with an offset as given, and without one in the zone', () => {
    assert.equal(parseZonedDateTime('2026-12-24T18:00:00+01:00', NEW_YORK), utc('2026-12-24T17:00:00Z'));
    assert.equal(parseZonedDateTime('2026-12-24T18:00Z', BERLIN), utc('2026-12-24T18:00:00Z'));
    assert.equal(parseZonedDateTime('2026-12-24T18:00', BERLIN), utc('2026-12-24T17:00:00Z'));
    assert.equal(parseZonedDateTime('2026-07-01 06:30:15', NEW_YORK), utc('2026-07-01T10:30:15Z'));
    assert.equal(parseZonedDateTime('2026-12-24', BERLIN), utc('2026-12-23T23:00:00Z'));
    for (const bad of ['2026-02-30T10:00', '2026-12-24T24:00', 'tomorrow', '24.12.2026 18:00', '2026-12-24T18:00+25:00']) {
      assert.equal(parseZonedDateTime(bad, BERLIN), undefined, bad);
    }
  });

  it('formats a time with the zone name its people use', () => {
    assert.equal(formatZoned(utc('2026-12-24T17:00:00Z'), BERLIN), '2026-12-24 18:00 CET');
    assert.equal(formatZoned(utc('2026-07-01T10:30:00Z'), BERLIN), '2026-07-01 12:30 CEST');
    assert.equal(formatZoned(utc('2026-12-24T17:00:00Z'), NEW_YORK), '2026-12-24 12:00 EST');
  });
});

describe('whoIsOnCall: a weekly rotation', () => {
  // Monday 2 Nov 2026: anna's first week begins at 09:00 CET (08:00 UTC).
  const s = weekly('2026-11-02');

  it('hands off exactly at the handoff time, not a millisecond before', () => {
    const handoff = utc('2026-11-09T08:00:00Z');
    assert.deepEqual(whoIsOnCall(s, handoff - 1), { receivers: ['anna'], because: 'rotation week 1: anna', source: 'rotation' });
    assert.deepEqual(whoIsOnCall(s, handoff), { receivers: ['tom'], because: 'rotation week 2: tom', source: 'rotation' });
    assert.deepEqual(oncallAt(s, '2026-11-16T08:00:00Z'), ['lea']);
    assert.deepEqual(whoIsOnCall(s, utc('2026-11-23T08:00:00Z')).because, 'rotation week 4: anna');
  });

  it('the member of a week holds it all week, at night and at weekends', () => {
    for (const iso of ['2026-11-09T08:00:00Z', '2026-11-11T02:00:00Z', '2026-11-14T12:00:00Z', '2026-11-16T07:59:59Z']) assert.deepEqual(oncallAt(s, iso), ['tom'], iso);
  });

  it('the first shift begins at the start date and handoff time; before it the fallback answers', () => {
    assert.deepEqual(oncallAt(s, '2026-11-02T08:00:00Z'), ['anna']);
    assert.equal(rotationShift(s, utc('2026-11-02T07:59:59Z')), undefined);
    assert.deepEqual(whoIsOnCall(s, utc('2026-11-02T07:59:59Z')), { receivers: [], because: 'nobody: no override, window, rotation or fallback covers this time', source: 'none' });
    const withFallback = { ...s, fallback: ['oncall'] };
    assert.deepEqual(whoIsOnCall(withFallback, utc('2026-11-01T12:00:00Z')), { receivers: ['oncall'], because: 'fallback (the rotation has not begun)', source: 'fallback' });
  });

  it('computes shifts far from the start without walking week by week', () => {
    const shift = rotationShift(s, utc('2036-11-05T12:00:00Z'));
    assert.ok(shift);
    assert.equal(shift.start, utc('2036-11-03T08:00:00Z'));
    assert.equal(shift.member, ['anna', 'tom', 'lea'][shift.index % 3]);
  });

  it('tells the next handoff and to whom', () => {
    assert.deepEqual(nextHandoff(s, utc('2026-11-10T12:00:00Z')), { at: utc('2026-11-16T08:00:00Z'), member: 'lea' });
    assert.deepEqual(nextHandoff(s, utc('2026-11-16T08:00:00Z')), { at: utc('2026-11-23T08:00:00Z'), member: 'anna' });
    assert.deepEqual(nextHandoff(s, utc('2026-10-01T00:00:00Z')), { at: utc('2026-11-02T08:00:00Z'), member: 'anna' });
    assert.equal(nextHandoff(schedule({ fallback: ['oncall'] }), 0), undefined);
  });

  it('a rotation every day or every two weeks hands off at the same local time', () => {
    const daily = schedule({ rotation: { members: ['anna', 'tom'], handoff: { time: '07:30' }, every: DAY, start: '2026-03-27' } });
    assert.deepEqual(oncallAt(daily, '2026-03-28T06:29:59Z'), ['anna']);
    assert.deepEqual(oncallAt(daily, '2026-03-28T06:30:00Z'), ['tom']);
    // Across the spring-forward night 07:30 CEST is 05:30 UTC.
    assert.deepEqual(oncallAt(daily, '2026-03-29T05:29:59Z'), ['tom']);
    assert.equal(whoIsOnCall(daily, utc('2026-03-29T05:30:00Z')).because, 'rotation shift 3: anna');
    const fortnightly = schedule({ rotation: { members: ['anna', 'tom'], handoff: { weekday: 'mon', time: '09:00' }, every: 2 * WEEK, start: '2026-11-02' } });
    assert.deepEqual(oncallAt(fortnightly, '2026-11-16T07:59:00Z'), ['anna']);
    assert.deepEqual(oncallAt(fortnightly, '2026-11-16T08:00:00Z'), ['tom']);
  });
});

describe('whoIsOnCall: daylight-saving weeks keep the handoff at local 09:00', () => {
  it('Europe/Berlin, spring forward (29 March 2026): the week is an hour short', () => {
    const s = weekly('2026-03-16');
    // Monday 23 March 09:00 CET = 08:00 UTC; Monday 30 March 09:00 CEST = 07:00 UTC.
    assert.deepEqual(oncallAt(s, '2026-03-23T07:59:59.999Z'), ['anna']);
    assert.deepEqual(oncallAt(s, '2026-03-23T08:00:00Z'), ['tom']);
    assert.deepEqual(oncallAt(s, '2026-03-30T06:59:59.999Z'), ['tom']);
    assert.deepEqual(oncallAt(s, '2026-03-30T07:00:00Z'), ['lea']);
    const shift = rotationShift(s, utc('2026-03-25T12:00:00Z'));
    assert.equal(shift && shift.end - shift.start, WEEK - HOUR);
    assert.equal(formatZoned(shift?.end ?? 0, BERLIN), '2026-03-30 09:00 CEST');
  });

  it('Europe/Berlin, fall back (25 October 2026): the week is an hour long', () => {
    const s = weekly('2026-10-12');
    assert.deepEqual(oncallAt(s, '2026-10-19T06:59:59Z'), ['anna']);
    assert.deepEqual(oncallAt(s, '2026-10-19T07:00:00Z'), ['tom']);
    assert.deepEqual(oncallAt(s, '2026-10-26T07:59:59.999Z'), ['tom'], '08:59 CET is still tom');
    assert.deepEqual(oncallAt(s, '2026-10-26T08:00:00Z'), ['lea']);
    const shift = rotationShift(s, utc('2026-10-22T12:00:00Z'));
    assert.equal(shift && shift.end - shift.start, WEEK + HOUR);
  });

  it('Europe/Berlin, a Sunday handoff on the night of the change itself', () => {
    const s = weekly('2026-03-22', '09:00', 'sun');
    assert.deepEqual(oncallAt(s, '2026-03-29T06:59:59Z'), ['anna']);
    assert.deepEqual(oncallAt(s, '2026-03-29T07:00:00Z'), ['tom']);
    // 02:30 does not exist that night: the handoff happens at 03:30 CEST.
    const skipped = weekly('2026-03-22', '02:30', 'sun');
    assert.deepEqual(oncallAt(skipped, '2026-03-29T01:29:59Z'), ['anna']);
    assert.deepEqual(oncallAt(skipped, '2026-03-29T01:30:00Z'), ['tom']);
    // 02:30 happens twice on 25 October: the handoff is at the first.
    const repeated = weekly('2026-10-18', '02:30', 'sun');
    assert.deepEqual(oncallAt(repeated, '2026-10-25T00:29:59Z'), ['anna']);
    assert.deepEqual(oncallAt(repeated, '2026-10-25T00:30:00Z'), ['tom']);
    assert.deepEqual(oncallAt(repeated, '2026-10-25T01:30:00Z'), ['tom'], 'the second 02:30 hands off nothing');
  });

  it('America/New_York, spring forward (8 March 2026) and fall back (1 November 2026)', () => {
    const spring = weekly('2026-02-23', '09:00', 'mon', NEW_YORK);
    // Monday 2 March 09:00 EST = 14:00 UTC; Monday 9 March 09:00 EDT = 13:00 UTC.
    assert.deepEqual(oncallAt(spring, '2026-03-02T13:59:59Z'), ['anna']);
    assert.deepEqual(oncallAt(spring, '2026-03-02T14:00:00Z'), ['tom']);
    assert.deepEqual(oncallAt(spring, '2026-03-09T12:59:59Z'), ['tom']);
    assert.deepEqual(oncallAt(spring, '2026-03-09T13:00:00Z'), ['lea']);
    const fall = weekly('2026-10-19', '09:00', 'mon', NEW_YORK);
    // Monday 26 October 09:00 EDT = 13:00 UTC; Monday 2 November 09:00 EST = 14:00 UTC.
    assert.deepEqual(oncallAt(fall, '2026-10-26T13:00:00Z'), ['tom']);
    assert.deepEqual(oncallAt(fall, '2026-11-02T13:59:59Z'), ['tom']);
    assert.deepEqual(oncallAt(fall, '2026-11-02T14:00:00Z'), ['lea']);
    assert.deepEqual(nextHandoff(fall, utc('2026-10-30T00:00:00Z')), { at: utc('2026-11-02T14:00:00Z'), member: 'lea' });
  });
});

describe('whoIsOnCall: windows', () => {
  const night = (timeZone: string): ScheduleConfig =>
    schedule({ timeZone, windows: [{ name: 'saturday-night', days: ['sat'], from: '22:00', to: '06:00', receivers: ['night-desk'] }], fallback: ['oncall'] });

  it('a window gives its receivers and says which window', () => {
    assert.deepEqual(whoIsOnCall(night(BERLIN), utc('2026-11-28T22:00:00Z')), { receivers: ['night-desk'], because: 'window saturday-night 22:00-06:00', source: 'window' });
    const unnamed = schedule({ windows: [{ days: ['mon', 'tue'], from: '18:00', to: '07:00', receivers: ['night-desk'] }] });
    assert.equal(whoIsOnCall(unnamed, utc('2026-11-23T20:00:00Z')).because, 'window mon,tue 18:00-07:00');
  });

  it('wraps midnight: it begins on its day and ends the next morning', () => {
    const s = schedule({ windows: [{ name: 'weekend-nights', days: ['fri'], from: '18:00', to: '07:00', receivers: ['night-desk'] }], fallback: ['oncall'] });
    // Berlin in November is UTC+1.
    assert.deepEqual(oncallAt(s, '2026-11-27T16:59:00Z'), ['oncall'], 'Friday 17:59');
    assert.deepEqual(oncallAt(s, '2026-11-27T17:00:00Z'), ['night-desk'], 'Friday 18:00');
    assert.deepEqual(oncallAt(s, '2026-11-27T23:30:00Z'), ['night-desk'], 'Saturday 00:30');
    assert.deepEqual(oncallAt(s, '2026-11-28T05:59:00Z'), ['night-desk'], 'Saturday 06:59');
    assert.deepEqual(oncallAt(s, '2026-11-28T06:00:00Z'), ['oncall'], 'Saturday 07:00');
    assert.deepEqual(oncallAt(s, '2026-11-26T23:30:00Z'), ['oncall'], 'Friday 00:30 belongs to Thursday, not a window day');
  });

  it('holds windows by the pure wall clock, including a whole day when from equals to', () => {
    assert.equal(windowHolds({ days: ['sun'], from: '00:00', to: '00:00' }, 'sun', '00:00'), true);
    assert.equal(windowHolds({ days: ['sun'], from: '00:00', to: '00:00' }, 'sun', '23:59'), true);
    assert.equal(windowHolds({ days: ['sun'], from: '00:00', to: '00:00' }, 'mon', '00:00'), false);
    assert.equal(windowHolds({ days: ['mon'], from: '08:00', to: '17:00' }, 'mon', '17:00'), false);
    assert.equal(windowHolds({ days: ['sun'], from: '22:00', to: '06:00' }, 'mon', '05:59'), true);
  });

  it('the first matching window wins over later ones and over the rotation', () => {
    const s = schedule({
      rotation: { members: ['anna'], handoff: { weekday: 'mon', time: '09:00' }, every: WEEK, start: '2026-11-02' },
      windows: [
        { name: 'first', days: ['mon'], from: '08:00', to: '12:00', receivers: ['a'] },
        { name: 'second', days: ['mon'], from: '10:00', to: '14:00', receivers: ['b'] },
      ],
    });
    assert.deepEqual(oncallAt(s, '2026-11-09T10:30:00Z'), ['a']);
    assert.deepEqual(oncallAt(s, '2026-11-09T12:30:00Z'), ['b']);
    assert.deepEqual(oncallAt(s, '2026-11-09T14:30:00Z'), ['anna']);
  });

  it('22:00-06:00 across the spring-forward night in Berlin: local hours, seven real ones', () => {
    const s = night(BERLIN);
    assert.deepEqual(oncallAt(s, '2026-03-28T20:59:59Z'), ['oncall'], '21:59 CET');
    assert.deepEqual(oncallAt(s, '2026-03-28T21:00:00Z'), ['night-desk'], '22:00 CET');
    assert.deepEqual(oncallAt(s, '2026-03-29T00:59:59Z'), ['night-desk'], '01:59 CET');
    assert.deepEqual(oncallAt(s, '2026-03-29T01:00:00Z'), ['night-desk'], '03:00 CEST');
    assert.deepEqual(oncallAt(s, '2026-03-29T03:59:59Z'), ['night-desk'], '05:59 CEST');
    assert.deepEqual(oncallAt(s, '2026-03-29T04:00:00Z'), ['oncall'], '06:00 CEST');
  });

  it('22:00-06:00 across the fall-back night in Berlin: nine real hours, 02:xx twice', () => {
    const s = night(BERLIN);
    assert.deepEqual(oncallAt(s, '2026-10-24T19:59:59Z'), ['oncall'], '21:59 CEST');
    assert.deepEqual(oncallAt(s, '2026-10-24T20:00:00Z'), ['night-desk'], '22:00 CEST');
    assert.deepEqual(oncallAt(s, '2026-10-25T00:30:00Z'), ['night-desk'], 'first 02:30 (CEST)');
    assert.deepEqual(oncallAt(s, '2026-10-25T01:30:00Z'), ['night-desk'], 'second 02:30 (CET)');
    assert.deepEqual(oncallAt(s, '2026-10-25T04:59:59Z'), ['night-desk'], '05:59 CET');
    assert.deepEqual(oncallAt(s, '2026-10-25T05:00:00Z'), ['oncall'], '06:00 CET');
  });

  it('22:00-06:00 across both changes in New York', () => {
    const s = night(NEW_YORK);
    assert.deepEqual(oncallAt(s, '2026-03-08T02:59:59Z'), ['oncall'], 'Saturday 21:59 EST');
    assert.deepEqual(oncallAt(s, '2026-03-08T03:00:00Z'), ['night-desk'], 'Saturday 22:00 EST');
    assert.deepEqual(oncallAt(s, '2026-03-08T09:59:59Z'), ['night-desk'], 'Sunday 05:59 EDT');
    assert.deepEqual(oncallAt(s, '2026-03-08T10:00:00Z'), ['oncall'], 'Sunday 06:00 EDT');
    assert.deepEqual(oncallAt(s, '2026-11-01T01:59:59Z'), ['oncall'], 'Saturday 21:59 EDT');
    assert.deepEqual(oncallAt(s, '2026-11-01T02:00:00Z'), ['night-desk'], 'Saturday 22:00 EDT');
    assert.deepEqual(oncallAt(s, '2026-11-01T10:59:59Z'), ['night-desk'], 'Sunday 05:59 EST');
    assert.deepEqual(oncallAt(s, '2026-11-01T11:00:00Z'), ['oncall'], 'Sunday 06:00 EST');
  });
});

describe('whoIsOnCall: overrides and fallback', () => {
  const s = schedule({
    rotation: { members: ['tom', 'anna'], handoff: { weekday: 'mon', time: '09:00' }, every: WEEK, start: '2026-12-21' },
    windows: [{ name: 'christmas-eve-desk', days: ['thu'], from: '00:00', to: '00:00', receivers: ['shift-team'] }],
    overrides: [
      { from: utc('2026-12-23T17:00:00Z'), to: utc('2026-12-24T17:00:00Z'), receivers: ['anna'], reason: 'Anna covers Tom' },
      { from: utc('2026-12-24T00:00:00Z'), to: utc('2026-12-25T00:00:00Z'), receivers: ['lea'] },
    ],
    fallback: ['oncall'],
  });

  it('an override covering the time wins over windows and the rotation, and says until when', () => {
    assert.deepEqual(whoIsOnCall(s, utc('2026-12-24T10:00:00Z')), { receivers: ['anna'], because: "override 'Anna covers Tom' until 2026-12-24 18:00 CET", source: 'override' });
  });

  it('ends at its `to`; a later override without a reason names its receivers', () => {
    assert.deepEqual(whoIsOnCall(s, utc('2026-12-24T17:00:00Z')), { receivers: ['lea'], because: 'override for lea until 2026-12-25 01:00 CET', source: 'override' });
    assert.deepEqual(oncallAt(s, '2026-12-23T16:59:59Z'), ['tom'], 'before the override: the rotation');
    assert.deepEqual(oncallAt(s, '2026-12-25T00:00:00Z'), ['tom'], 'after both: the rotation again');
  });

  it('the fallback answers when nothing else does', () => {
    const onlyWindows = schedule({ windows: [{ days: ['sat', 'sun'], from: '00:00', to: '00:00', receivers: ['weekend'] }], fallback: ['oncall', 'maintenance'] });
    assert.deepEqual(whoIsOnCall(onlyWindows, utc('2026-11-25T12:00:00Z')), { receivers: ['oncall', 'maintenance'], because: 'fallback', source: 'fallback' });
    assert.deepEqual(oncallAt(onlyWindows, '2026-11-28T12:00:00Z'), ['weekend']);
  });
});

describe('a receiver that is a schedule', () => {
  // Tom's week from Monday 23 Nov 2026 09:00 CET; the team desk in weekday working hours.
  const plant = schedule({
    rotation: { members: ['anna', 'tom'], handoff: { weekday: 'mon', time: '09:00' }, every: WEEK, start: '2026-11-16' },
    windows: [{ name: 'day-shift', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '16:00', receivers: ['shift-team'] }],
  });
  const RECEIVERS_AND_PEOPLE: ReceiverConfig[] = [...RECEIVERS, { name: 'anna', email: 'anna@example.com' }, { name: 'tom', email: ['tom@example.com', 'tom.mobile@example.com'] }];
  const KNOWN_WITH_SCHEDULE = { receivers: [...RECEIVER_NAMES, 'plant-oncall'] };
  const onCallRule = 'rules:\n  - name: boiler\n    when: { all: [ { fact: title, operator: matches, value: "Kessel" } ] }\n    then: { receivers: [plant-oncall, quality] }\n';

  it('resolves to whoever is on call at the given time, expanded like any receiver, saying why', () => {
    const at = (now: number) => resolveReceivers(['plant-oncall', 'quality'], RECEIVERS_AND_PEOPLE, { schedules: [plant], now });
    assert.deepEqual(at(TUESDAY_NIGHT), [
      { name: 'plant-oncall', emails: ['tom@example.com', 'tom.mobile@example.com'], onCall: { receivers: ['tom'], because: 'rotation week 2: tom' } },
      { name: 'quality', emails: ['quality@example.com'] },
    ]);
    assert.deepEqual(at(TUESDAY_NOON)[0], { name: 'plant-oncall', emails: ['schicht@example.com', 'leitstand@example.com'], onCall: { receivers: ['shift-team'], because: 'window day-shift 07:00-16:00' } });
    assert.deepEqual(at(Date.UTC(2026, 10, 30, 5, 59))[0]?.onCall?.because, 'rotation week 2: tom', 'Monday 06:59, before the desk opens: still tom');
    assert.deepEqual(at(Date.UTC(2026, 10, 30, 15, 0))[0]?.onCall, { receivers: ['anna'], because: 'rotation week 3: anna' });
  });

  it('without schedules to ask, a schedule name is an unknown receiver with no address', () => {
    assert.deepEqual(resolveReceivers(['plant-oncall'], RECEIVERS_AND_PEOPLE), [{ name: 'plant-oncall', emails: [] }]);
  });

  it('a rule may name a schedule only when the schedule is among the known names', () => {
    assert.match(problemsOf(() => bookFrom(onCallRule))[0]?.message ?? '', /no receiver named "plant-oncall"/);
    assert.equal(bookFrom(onCallRule, KNOWN_WITH_SCHEDULE).rules.length, 1);
  });

  it('routing a rule to a schedule reaches the person on call at the event time', async () => {
    const book = bookFrom(onCallRule, KNOWN_WITH_SCHEDULE);
    const event = alarmEvent({ title: 'Störung Kessel 1' });
    const route = async (now: number) => (await routeEvent(event, book, context({ now, receivers: RECEIVERS_AND_PEOPLE, schedules: [plant] }))).route.receivers;
    assert.deepEqual((await route(TUESDAY_NIGHT)).map((r) => [r.name, r.emails]), [
      ['plant-oncall', ['tom@example.com', 'tom.mobile@example.com']],
      ['quality', ['quality@example.com']],
    ]);
    assert.deepEqual((await route(Date.UTC(2026, 11, 1, 2, 14)))[0]?.emails, ['anna@example.com'], 'a week later it is anna');
    assert.deepEqual((await route(SATURDAY_NOON))[0]?.onCall?.because, 'rotation week 2: tom');
  });

  it('the default route may name a schedule', async () => {
    const { route } = await routeEvent(alarmEvent(), RuleBook.empty(), context({ now: TUESDAY_NIGHT, receivers: RECEIVERS_AND_PEOPLE, schedules: [plant], defaults: { ...DEFAULTS, receivers: ['plant-oncall'] } }));
    assert.equal(route.isDefault, true);
    assert.deepEqual(route.receivers.map((r) => r.emails), [['tom@example.com', 'tom.mobile@example.com']]);
  });

  it('a schedule with nobody on call leaves the alarm with the default receivers, not with nobody', async () => {
    const gaps = schedule({ windows: [{ days: ['sat'], from: '08:00', to: '12:00', receivers: ['quality'] }] });
    const book = bookFrom(onCallRule, KNOWN_WITH_SCHEDULE);
    const { route } = await routeEvent(alarmEvent({ title: 'Kessel' }), book, context({ now: TUESDAY_NIGHT, receivers: RECEIVERS, schedules: [gaps], defaults: { ...DEFAULTS, receivers: ['oncall'] } }));
    assert.deepEqual(route.receivers[0], { name: 'plant-oncall', emails: [], onCall: { receivers: [], because: 'nobody: no override, window, rotation or fallback covers this time' } });
    assert.deepEqual(route.receivers.flatMap((r) => r.emails), ['quality@example.com']);
  });
});

describe('nextChange: when who is on call next changes, and to whom', () => {
  const at = (s: ScheduleConfig, iso: string) => {
    const change = nextChange(s, utc(iso));
    return change && { at: new Date(change.at).toISOString(), receivers: change.receivers, source: change.source };
  };
  // anna from Monday 2 November 2026 09:00, then tom, then lea; weeknights the night desk.
  const desk = (): ScheduleConfig => ({
    ...weekly('2026-11-02'),
    windows: [{ name: 'weeknights', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '18:00', to: '07:00', receivers: ['night-desk'] }],
  });

  it('a window that begins or ends before the next rotation handoff is the next change', () => {
    // Monday 9 November 10:00 CET: tom's week; the night desk from 18:00.
    assert.deepEqual(at(desk(), '2026-11-09T09:00:00Z'), { at: '2026-11-09T17:00:00.000Z', receivers: ['night-desk'], source: 'window' });
    // Monday 20:00: the night desk until Tuesday 07:00, then tom again.
    assert.deepEqual(at(desk(), '2026-11-09T19:00:00Z'), { at: '2026-11-10T06:00:00.000Z', receivers: ['tom'], source: 'rotation' });
    // Friday night runs into Saturday 07:00 (the window wraps midnight), then the rotation.
    assert.deepEqual(at(desk(), '2026-11-13T23:00:00Z'), { at: '2026-11-14T06:00:00.000Z', receivers: ['tom'], source: 'rotation' });
    // Sunday: the rotation hands off Monday 09:00 (to lea), before the night desk at 18:00.
    assert.deepEqual(at(desk(), '2026-11-15T12:00:00Z'), { at: '2026-11-16T08:00:00.000Z', receivers: ['lea'], source: 'rotation' });
  });

  it('a rotation handoff inside a window is no change: the window still holds', () => {
    const nights = { ...weekly('2026-11-02', '06:00'), windows: [{ days: ['sun', 'mon'] as Weekday[], from: '22:00', to: '07:00', receivers: ['night-desk'] }] };
    // Sunday 15 November 23:00: the night desk; the Monday 06:00 handoff changes nothing then; at 07:00 lea.
    assert.deepEqual(at(nights, '2026-11-15T22:00:00Z'), { at: '2026-11-16T06:00:00.000Z', receivers: ['lea'], source: 'rotation' });
  });

  it('an override begins and ends a change; one for whoever is on call anyway is none', () => {
    const s = { ...weekly('2026-11-02'), overrides: [{ from: utc('2026-11-11T12:00:00Z'), to: utc('2026-11-12T12:00:00Z'), receivers: ['anna'], reason: 'tom at the dentist' }] };
    assert.deepEqual(at(s, '2026-11-10T12:00:00Z'), { at: '2026-11-11T12:00:00.000Z', receivers: ['anna'], source: 'override' });
    assert.deepEqual(at(s, '2026-11-11T13:00:00Z'), { at: '2026-11-12T12:00:00.000Z', receivers: ['tom'], source: 'rotation' });
    const same = { ...weekly('2026-11-02'), overrides: [{ from: utc('2026-11-11T12:00:00Z'), to: utc('2026-11-12T12:00:00Z'), receivers: ['tom'] }] };
    assert.deepEqual(at(same, '2026-11-10T12:00:00Z'), { at: '2026-11-16T08:00:00.000Z', receivers: ['lea'], source: 'rotation' });
  });

  it('before the rotation begins, and when a window ends into nobody', () => {
    assert.deepEqual(at(schedule({ ...weekly('2026-11-02'), fallback: ['oncall'] }), '2026-10-01T00:00:00Z'), { at: '2026-11-02T08:00:00.000Z', receivers: ['anna'], source: 'rotation' });
    const saturday = schedule({ timeZone: NEW_YORK, windows: [{ days: ['sat'], from: '22:00', to: '06:00', receivers: ['night-desk'] }] });
    // Sunday 29 March 2026 02:30 EDT: the window ends at 06:00 EDT and nobody is on call.
    assert.deepEqual(at(saturday, '2026-03-29T06:30:00Z'), { at: '2026-03-29T10:00:00.000Z', receivers: [], source: 'none' });
    assert.deepEqual(at(saturday, '2026-03-29T10:00:00Z'), { at: '2026-04-05T02:00:00.000Z', receivers: ['night-desk'], source: 'window' });
  });

  it('nothing within the horizon: undefined', () => {
    assert.equal(nextChange(schedule({ fallback: ['oncall'] }), utc('2026-11-10T12:00:00Z')), undefined);
    assert.equal(nextChange(weekly('2026-11-02'), utc('2026-11-10T12:00:00Z'), DAY), undefined, 'the handoff is six days out');
  });
});

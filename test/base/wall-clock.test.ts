import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wallClock } from '../../src/base/zoned-clock.js';
import { formatDate } from '../../src/render/format-time.js';

// Both remember their last answers (per minute, per second): these check the answers stay right.
describe('wall clock and date formatting, remembered', () => {
  it('moves on at the next minute, and across a change to summer time', () => {
    // 2026-03-29 01:59:30 UTC = 02:59:30 CET; 02:00 UTC = 04:00 CEST.
    const before = Date.UTC(2026, 2, 29, 0, 59, 30);
    assert.deepEqual(wallClock(before, 'Europe/Berlin'), { timeOfDay: '01:59', weekday: 'sun' });
    assert.deepEqual(wallClock(before + 29_000, 'Europe/Berlin'), { timeOfDay: '01:59', weekday: 'sun' });
    assert.deepEqual(wallClock(before + 30_000, 'Europe/Berlin'), { timeOfDay: '03:00', weekday: 'sun' });
    assert.deepEqual(wallClock(before + 30_000, 'America/New_York'), { timeOfDay: '21:00', weekday: 'sat' });
  });

  it('hands out a copy: changing an answer does not change the next one', () => {
    const now = Date.UTC(2026, 10, 24, 12, 0, 0);
    const first = wallClock(now, 'UTC');
    first.timeOfDay = '99:99';
    assert.equal(wallClock(now + 1_000, 'UTC').timeOfDay, '12:00');
  });

  it('formats each second, zone and locale on its own', () => {
    const t = Date.UTC(2026, 10, 24, 2, 14, 7, 100);
    assert.equal(formatDate(t, { timeZone: 'Europe/Berlin', locale: 'en-GB' }, 'iso'), '2026-11-24T03:14:07+01:00');
    assert.equal(formatDate(t + 800, { timeZone: 'Europe/Berlin', locale: 'en-GB' }, 'iso'), '2026-11-24T03:14:07+01:00');
    assert.equal(formatDate(t + 900, { timeZone: 'Europe/Berlin', locale: 'en-GB' }, 'iso'), '2026-11-24T03:14:08+01:00');
    assert.equal(formatDate(t, { timeZone: 'America/New_York', locale: 'en-GB' }, 'iso'), '2026-11-23T21:14:07-05:00');
    assert.equal(formatDate(t, { timeZone: 'Europe/Berlin', locale: 'de-DE' }, 'long'), 'Di. 24 Nov. 2026 03:14:07 MEZ');
    assert.equal(formatDate(t, { timeZone: 'Europe/Berlin', locale: 'en-GB' }, 'long'), 'Tue 24 Nov 2026 03:14:07 CET');
  });
});

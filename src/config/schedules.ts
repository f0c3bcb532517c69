import { civilDateOf, civilDayNumber, parseCivilDate, parseZonedDateTime } from '../base/zoned-clock.js';
import type { RawConfig } from './schema.js';
import type { ScheduleConfig, ScheduleOverride } from './types.js';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

type At = (path: ReadonlyArray<PropertyKey>, message: string) => void;

/**
 * Checks the on-call schedules against the rest of the configuration and resolves their
 * overrides to instants. Every problem goes to `at` with its key: a receiver that does
 * not exist, a schedule named like a receiver, an unknown zone, a start date that is not
 * the handoff weekday, a rotation that is not whole days, an override that ends before it
 * begins.
 */
export function resolveSchedules(raw: RawConfig, at: At): ScheduleConfig[] {
  const receiverNames = new Set(raw.receivers.map((r) => r.name));
  const scheduleNames = new Set<string>();
  return raw.schedules.map((schedule, i): ScheduleConfig => {
    const path = ['schedules', i];
    if (scheduleNames.has(schedule.name)) at([...path, 'name'], `schedule "${schedule.name}" is defined twice`);
    else if (receiverNames.has(schedule.name)) at([...path, 'name'], `"${schedule.name}" is already a receiver: a schedule needs a name of its own`);
    scheduleNames.add(schedule.name);

    const known = (names: readonly string[], key: ReadonlyArray<PropertyKey>): void =>
      names.forEach((name, j) => {
        if (receiverNames.has(name)) return;
        const hint = raw.schedules.some((s) => s.name === name) ? ' (a schedule names receivers, not other schedules)' : '';
        at([...key, j], `no receiver named "${name}"${hint}`);
      });

    let zoneOk = true;
    try {
      new Intl.DateTimeFormat('en', { timeZone: schedule.timeZone });
    } catch {
      zoneOk = false;
      at([...path, 'timeZone'], `unknown time zone "${schedule.timeZone}" (use an IANA name such as Europe/Berlin)`);
    }

    const { rotation } = schedule;
    if (rotation) {
      known(rotation.members, [...path, 'rotation', 'members']);
      const start = parseCivilDate(rotation.start);
      if (!start) at([...path, 'rotation', 'start'], `"${rotation.start}" is not a calendar date (YYYY-MM-DD)`);
      if (rotation.every <= 0 || rotation.every % DAY_MS !== 0) {
        at([...path, 'rotation', 'every'], 'a rotation hands off after whole days (e.g. 1d, 7d or 1w): the handoff stays at the same local time');
      } else if (rotation.handoff.weekday) {
        if (rotation.every % WEEK_MS !== 0) at([...path, 'rotation', 'every'], `with handoff.weekday the rotation hands off after whole weeks (1w, 2w, ...); leave weekday out for a rotation every ${rotation.every / DAY_MS} day(s)`);
        const weekday = start ? civilDateOf(civilDayNumber(start)).weekday : undefined;
        if (weekday && weekday !== rotation.handoff.weekday) {
          at([...path, 'rotation', 'start'], `${rotation.start} is a ${weekday}, but handoff.weekday is ${rotation.handoff.weekday}: start on the day of the first handoff`);
        }
      }
    }

    schedule.windows.forEach((window, j) => known(window.receivers, [...path, 'windows', j, 'receivers']));
    known(schedule.fallback, [...path, 'fallback']);

    const overrides = schedule.overrides.flatMap((override, j): ScheduleOverride[] => {
      const key = [...path, 'overrides', j];
      known(override.receivers, [...key, 'receivers']);
      if (!zoneOk) return [];
      const from = parseZonedDateTime(override.from, schedule.timeZone);
      const to = parseZonedDateTime(override.to, schedule.timeZone);
      const form = 'is not a date-time (use ISO 8601, e.g. 2026-12-24T18:00 in the schedule\'s zone, or with an offset: 2026-12-24T18:00+01:00)';
      if (from === undefined) at([...key, 'from'], `"${override.from}" ${form}`);
      if (to === undefined) at([...key, 'to'], `"${override.to}" ${form}`);
      if (from === undefined || to === undefined) return [];
      if (to <= from) {
        at([...key, 'to'], `${override.to} is not after from (${override.from})`);
        return [];
      }
      return [{ from, to, receivers: override.receivers, ...(override.reason !== undefined ? { reason: override.reason } : {}) }];
    });

    if (!rotation && schedule.windows.length === 0 && schedule.overrides.length === 0 && schedule.fallback.length === 0) {
      at(path, 'a schedule needs a rotation, windows, overrides or a fallback: as it is, nobody is ever on call');
    }
    return { ...schedule, overrides };
  });
}

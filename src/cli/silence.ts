import { expireSilence } from '../pipeline/expire-silence.js';
import { newId } from '../base/ids.js';
import { parseWeeklySpec } from '../base/weekly-window.js';
import { formatZoned, parseZonedDateTime } from '../base/zoned-clock.js';
import { parseMatcher, type Matcher } from '../config/matcher.js';
import type { GatewayConfig } from '../config/types.js';
import { parseDuration } from '../config/units.js';
import { matchesAll } from '../lifecycle/alarm-matchers.js';
import { describeMatchers, describeSchedule, silenceEndsAt, silenceHolds, silenceHoldsUntil, silenceIsOver, type Silence, type SilenceSchedule } from '../lifecycle/silence.js';
import { usageError } from './exit-codes.js';
import { withStore } from './load-config-or-report.js';
import { printJson } from './output.js';
import { userName } from './user-name.js';
import { printTable } from './table.js';

export interface SilenceAddOptions {
  match?: string[];
  from?: string;
  until?: string;
  for?: string;
  weekly?: string;
  zone?: string;
  by?: string;
  comment?: string;
  json?: boolean;
}

function fail(message: string): number {
  return usageError('silence add', message);
}

/**
 * `annunciator silence add`: writes the silence into the store. The gateway reads
 * silences from the store for every decision, so it takes effect without a restart.
 */
export function silenceAddCommand(configFile: string, options: SilenceAddOptions): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const now = Date.now();
    const built = buildSilence(options, config, now);
    if (typeof built === 'string') return fail(built);
    await store.silences.insert(built, silenceEndsAt(built));
    const matching = (await store.alarms.list(['active'], 100_000)).filter((a) => matchesAll(a, built.matchers)).length;
    if (options.json) {
      printJson({ silence: built, matchingActiveAlarms: matching });
      return 0;
    }
    const zone = zoneOf(options, config);
    const holds = silenceHolds(built, now);
    const until = silenceHoldsUntil(built, now);
    process.stdout.write(
      [
        `silence ${built.id} added`,
        `  mutes      ${describeMatchers(built)}`,
        `  when       ${describeSchedule(built, zone)}`,
        `  now        ${holds ? `holding${until !== undefined ? ` until ${formatZoned(until, zone)}` : ''}` : 'not yet holding'}`,
        `  matches    ${matching} active alarm(s) now (already notified ones are not told again; new notifications are muted)`,
        '',
      ].join('\n'),
    );
    return 0;
  });
}

function zoneOf(options: SilenceAddOptions, config: GatewayConfig): string {
  return options.zone ?? config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The silence the options describe, or what is wrong with them. */
export function buildSilence(options: SilenceAddOptions, config: GatewayConfig, now: number): Silence | string {
  const matchers: Matcher[] = [];
  for (const text of options.match ?? []) {
    const parsed = parseMatcher(text);
    if (!parsed.ok) return parsed.problem;
    matchers.push(parsed.matcher);
  }
  if (matchers.length === 0) return 'name what to silence with --match (e.g. --match device.id=ups-hall2 --match "title~(?i)battery")';
  const comment = options.comment?.trim();
  if (!comment) return 'say why with --comment (it is shown in every muted alarm\'s history)';
  const zone = zoneOf(options, config);
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    return `--zone ${zone}: unknown time zone (use an IANA name such as Europe/Berlin)`;
  }
  const time = (name: string, text: string | undefined): number | string | undefined => {
    if (text === undefined) return undefined;
    return parseZonedDateTime(text, zone) ?? `--${name} ${text} is not a time (use ISO 8601, e.g. 2026-11-24T22:00 in ${zone}, or with an offset: 2026-11-24T22:00+01:00)`;
  };
  const from = time('from', options.from);
  const until = time('until', options.until);
  if (typeof from === 'string') return from;
  if (typeof until === 'string') return until;
  const start = from ?? now;

  let schedule: SilenceSchedule;
  if (options.weekly !== undefined) {
    if (options.for !== undefined) return '--for does not go with --weekly (use --until to end the recurrence)';
    const weekly = parseWeeklySpec(options.weekly);
    if (!weekly.ok) return `--weekly ${weekly.problem}`;
    if (until !== undefined && until <= Math.max(start, now)) return `--until ${options.until} is not in the future${from !== undefined ? ' and after --from' : ''}`;
    schedule = { kind: 'weekly', ...weekly.window, timeZone: zone, start, ...(until !== undefined ? { until } : {}) };
  } else {
    if ((until === undefined) === (options.for === undefined)) return 'give the end with --until TIME or --for DURATION (one of them), or a recurrence with --weekly';
    let end = until;
    if (options.for !== undefined) {
      const length = parseDuration(options.for);
      if (length === undefined || length <= 0) return `--for ${options.for} is not a duration (use e.g. 30m, 2h, 1d)`;
      end = start + length;
    }
    if (end === undefined) return 'give the end with --until TIME or --for DURATION';
    if (end <= now) return `the silence would end ${formatZoned(end, zone)}, which is already past`;
    if (end <= start) return 'the silence ends before it starts';
    schedule = { kind: 'window', start, end };
  }
  return {
    id: newId(now),
    matchers,
    schedule,
    createdBy: options.by?.trim() || userName('unknown'),
    comment,
    createdAt: now,
  };
}

export type SilenceState = 'active' | 'pending' | 'expired' | 'ended';

export function silenceState(s: Silence, now: number): SilenceState {
  if (silenceHolds(s, now)) return 'active';
  if (!silenceIsOver(s, now)) return 'pending';
  return s.expiredAt !== undefined && s.expiredAt <= now ? 'expired' : 'ended';
}

/** `annunciator silence list [--all]`: silences that hold or are to come; --all adds expired and ended ones. */
export function silenceListCommand(configFile: string, options: { all?: boolean; json?: boolean }): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const now = Date.now();
    const silences = await store.silences.list(now, { all: options.all });
    if (options.json) {
      printJson(silences.map((s) => ({ ...s, state: silenceState(s, now) })));
      return 0;
    }
    if (silences.length === 0) {
      process.stdout.write(options.all ? 'no silences\n' : 'no current silences\n');
      return 0;
    }
    const zone = config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    printTable(
      ['ID', 'STATE', 'MATCHERS', 'WHEN', 'UNTIL', 'BY', 'COMMENT'],
      silences.map((s) => {
        const until = silenceHoldsUntil(s, now);
        return [s.id, silenceState(s, now), describeMatchers(s), describeSchedule(s, zone), until !== undefined ? formatZoned(until, zone) : '-', s.createdBy, s.comment];
      }),
    );
    return 0;
  });
}

/** `annunciator silence expire ID...`: ends silences now; alarms they muted that are still active are then notified by the gateway. */
export function silenceExpireCommand(configFile: string, ids: string[]): Promise<number> {
  return withStore(configFile, async (store) => {
    const now = Date.now();
    let code = 0;
    for (const id of ids) {
      const { before } = await store.transaction((tx) => expireSilence(tx, id, now));
      if (!before) {
        process.stderr.write(`annunciator silence expire: no silence ${id}\n`);
        code = 1;
        continue;
      }
      if (silenceIsOver(before, now)) {
        process.stdout.write(`silence ${id} had already ${silenceState(before, now)}\n`);
        continue;
      }
      process.stdout.write(`silence ${id} expired; alarms it muted that are still active will be notified\n`);
    }
    return code;
  });
}

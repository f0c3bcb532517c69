import { newId } from '../base/ids.js';
import { parseWeeklySpec } from '../base/weekly-window.js';
import { formatZoned, parseZonedDateTime } from '../base/zoned-clock.js';
import { parseMatcher, type Matcher } from '../config/matcher.js';
import type { GatewayConfig } from '../config/types.js';
import { parseDuration } from '../config/units.js';
import type { Alarm } from '../lifecycle/alarm.js';
import { matchesAll } from '../lifecycle/alarm-matchers.js';
import { describeMatchers, describeSchedule, silenceEndsAt, silenceHolds, silenceIsOver, type Silence, type SilenceSchedule } from '../lifecycle/silence.js';
import type { Repositories } from '../store/store.js';
import { recordAct, type Actor } from './actor.js';
import type { Effects } from './effects.js';
import { expireSilence } from './expire-silence.js';

/**
 * Silences as every door makes and ends them (`annunciator silence`, API v1, the console):
 * one reading of what a person asked for, one write with its audit entry, one expiry that
 * lets go of the alarms the silence held. The doors differ only in how they name their
 * inputs (`--until` on the command line, `endsAt` in the API), which `SilenceInputNames`
 * carries so that each door's refusal names what its user typed.
 */
export interface SilenceInput {
  /** `field=value`, `field!=value`, `field~regex` (config/matcher.ts); all must hold. */
  matchers: string[];
  comment?: string;
  /** Start (ISO 8601; without an offset, in `zone`); default now. */
  from?: string;
  /** End of a one-off window, or when a weekly recurrence stops. */
  until?: string;
  /** Length of a one-off window instead of `until`, e.g. 2h. */
  for?: string;
  /** "mon,tue 22:00-06:00" (base/weekly-window.ts). */
  weekly?: string;
  /** IANA zone of `weekly` and of times without an offset; default alarms.timeZone. */
  zone?: string;
  createdBy: string;
}

export interface SilenceInputNames {
  match: string;
  /** How to write matchers, for the refusal when there are none. */
  matchExample: string;
  comment: string;
  from: string;
  until: string;
  for: string;
  weekly: string;
  zone: string;
}

export const CLI_SILENCE_NAMES: SilenceInputNames = {
  match: '--match',
  matchExample: '--match device.id=ups-hall2 --match "title~(?i)battery"',
  comment: '--comment',
  from: '--from',
  until: '--until',
  for: '--for',
  weekly: '--weekly',
  zone: '--zone',
};

export function silenceZone(zone: string | undefined, config: GatewayConfig): string {
  return zone ?? config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Matchers as people write them, or the first one's problem. */
export function parseMatchers(texts: readonly string[]): Matcher[] | string {
  const matchers: Matcher[] = [];
  for (const text of texts) {
    const parsed = parseMatcher(text);
    if (!parsed.ok) return parsed.problem;
    matchers.push(parsed.matcher);
  }
  return matchers;
}

/** The silence `input` describes, or what is wrong with it (naming the inputs as `names` does). */
export function buildSilence(input: SilenceInput, names: SilenceInputNames, config: GatewayConfig, now: number): Silence | string {
  const matchers = parseMatchers(input.matchers);
  if (typeof matchers === 'string') return matchers;
  if (matchers.length === 0) return `name what to silence with ${names.match} (e.g. ${names.matchExample})`;
  const comment = input.comment?.trim();
  if (!comment) return `say why with ${names.comment} (it is shown in every muted alarm's history)`;
  const zone = silenceZone(input.zone, config);
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    return `${names.zone} ${zone}: unknown time zone (use an IANA name such as Europe/Berlin)`;
  }
  const time = (name: string, text: string | undefined): number | string | undefined => {
    if (text === undefined) return undefined;
    return parseZonedDateTime(text, zone) ?? `${name} ${text} is not a time (use ISO 8601, e.g. 2026-11-24T22:00 in ${zone}, or with an offset: 2026-11-24T22:00+01:00)`;
  };
  const from = time(names.from, input.from);
  const until = time(names.until, input.until);
  if (typeof from === 'string') return from;
  if (typeof until === 'string') return until;
  const start = from ?? now;

  let schedule: SilenceSchedule;
  if (input.weekly !== undefined) {
    if (input.for !== undefined) return `${names.for} does not go with ${names.weekly} (use ${names.until} to end the recurrence)`;
    const weekly = parseWeeklySpec(input.weekly);
    if (!weekly.ok) return `${names.weekly} ${weekly.problem}`;
    if (until !== undefined && until <= Math.max(start, now)) return `${names.until} ${input.until} is not in the future${from !== undefined ? ` and after ${names.from}` : ''}`;
    schedule = { kind: 'weekly', ...weekly.window, timeZone: zone, start, ...(until !== undefined ? { until } : {}) };
  } else {
    if ((until === undefined) === (input.for === undefined)) return `give the end with ${names.until} TIME or ${names.for} DURATION (one of them), or a recurrence with ${names.weekly}`;
    let end = until;
    if (input.for !== undefined) {
      const length = parseDuration(input.for);
      if (length === undefined || length <= 0) return `${names.for} ${input.for} is not a duration (use e.g. 30m, 2h, 1d)`;
      end = start + length;
    }
    if (end === undefined) return `give the end with ${names.until} TIME or ${names.for} DURATION`;
    if (end <= now) return `the silence would end ${formatZoned(end, zone)}, which is already past`;
    if (end <= start) return 'the silence ends before it starts';
    schedule = { kind: 'window', start, end };
  }
  return { id: newId(now), matchers, schedule, createdBy: input.createdBy, comment, createdAt: now };
}

/** Active alarms all of `matchers` select: what a silence with them would mute while it holds. */
export async function activeAlarmsMatching(tx: Pick<Repositories, 'alarms'>, matchers: readonly Matcher[]): Promise<Alarm[]> {
  return (await tx.alarms.list(['active'], 100_000)).filter((a) => matchesAll(a, matchers));
}

/**
 * Stores a silence and its audit entry in one transaction. The gateway reads silences for
 * every decision, so it takes effect at once: the next notification of an alarm it
 * selects is muted (already notified alarms are not told again).
 */
export async function addSilence(tx: Repositories, silence: Silence, actor: Actor): Promise<void> {
  await tx.silences.insert(silence, silenceEndsAt(silence));
  await recordAct(tx, actor, silence.createdAt, 'silence.create', silence.id, { matchers: describeMatchers(silence), comment: silence.comment, schedule: describeSchedule(silence), createdBy: silence.createdBy });
}

export type ExpireOutcome = { outcome: 'unknown' } | { outcome: 'already-over'; silence: Silence } | { outcome: 'expired'; silence: Silence; released: number };

/**
 * Ends a silence now (pipeline/expire-silence.ts: the still active alarms it muted are
 * looked at again at once and notified unless something else mutes them) and records the
 * act. Ending one already over changes nothing and is not recorded.
 */
export async function expireSilenceBy(tx: Repositories, id: string, now: number, actor: Actor, fx?: Effects): Promise<ExpireOutcome> {
  const { before, released } = await expireSilence(tx, id, now);
  if (!before) return { outcome: 'unknown' };
  if (silenceIsOver(before, now)) return { outcome: 'already-over', silence: before };
  await recordAct(tx, actor, now, 'silence.expire', id, { matchers: describeMatchers(before), comment: before.comment, released });
  if (released > 0) fx?.emit('timer-armed', { kind: 'unmute', dueAt: now });
  const after = (await tx.silences.get(id)) ?? before;
  return { outcome: 'expired', silence: after, released };
}

export type SilenceState = 'active' | 'pending' | 'expired' | 'ended';

export function silenceState(s: Silence, now: number): SilenceState {
  if (silenceHolds(s, now)) return 'active';
  if (!silenceIsOver(s, now)) return 'pending';
  return s.expiredAt !== undefined && s.expiredAt <= now ? 'expired' : 'ended';
}

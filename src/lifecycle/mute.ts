import type { InhibitRule } from '../config/inhibit.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import type { Route } from '../rules/route.js';
import type { Alarm, AlarmMute, Decision } from './alarm.js';
import { notify } from './decide.js';
import { activeInhibition, type Inhibition } from './inhibit.js';
import { activeSilence, silenceHoldsUntil, type Silence } from './silence.js';

/**
 * Muting: the stage after decide(). A notification decide() found due is dropped when a
 * silence or an inhibition covers the alarm; the alarm is still recorded (state, count,
 * history) with the reason, and marked `mutedBy` so that, while it stays active, it is
 * notified once nothing mutes it any more. All pure: (alarm, silences, active alarms,
 * rules, now) in, a decision out.
 */

export type Mute =
  | { by: 'silence'; silence: Silence; until?: number; reason: string }
  | { by: 'inhibition'; inhibition: Inhibition; reason: string };

export interface MuteContext {
  /** Silences that may hold (the store's current ones); the ones that hold at `now` are picked here. */
  silences: readonly Silence[];
  /** Active alarms, candidates for inhibiting. */
  sources: readonly Alarm[];
  rules: readonly InhibitRule[];
  now: number;
}

/**
 * What mutes this alarm at `now`, if anything. A silence first: it is what people set
 * on purpose, and it names when the alarm will be heard of.
 */
export function findMute(alarm: Alarm, { silences, sources, rules, now }: MuteContext): Mute | undefined {
  const silence = activeSilence(alarm, silences, now);
  if (silence) {
    const until = silenceHoldsUntil(silence, now);
    const end = until === undefined ? 'it is expired' : new Date(until).toISOString();
    return { by: 'silence', silence, ...(until !== undefined ? { until } : {}), reason: `muted by silence ${silence.id} (${silence.comment}) until ${end}` };
  }
  const inhibition = rules.length > 0 ? activeInhibition(alarm, sources, rules) : undefined;
  if (inhibition) {
    return { by: 'inhibition', inhibition, reason: `inhibited by ${inhibition.source.id} (${inhibition.source.title}) via rule ${inhibition.rule.name}` };
  }
  return undefined;
}

export function muteOf(mute: Mute): AlarmMute {
  return mute.by === 'silence'
    ? { by: 'silence', silence: mute.silence.id, ...(mute.until !== undefined ? { until: mute.until } : {}) }
    : { by: 'inhibition', alarm: mute.inhibition.source.id, rule: mute.inhibition.rule.name };
}

/**
 * Whether what muted this alarm (its `mutedBy`) still mutes it: the silence still holds
 * and still matches, or the inhibiting alarm is still active and still inhibits it
 * through the same rule.
 */
export function stillMuted(alarm: Alarm, { silences, sources, rules, now }: MuteContext): boolean {
  const mutedBy = alarm.mutedBy;
  if (!mutedBy) return false;
  if (mutedBy.by === 'silence') {
    const silence = silences.find((s) => s.id === mutedBy.silence);
    return silence !== undefined && activeSilence(alarm, [silence], now) !== undefined;
  }
  const source = sources.find((a) => a.id === mutedBy.alarm);
  const rule = rules.find((r) => r.name === mutedBy.rule);
  return source !== undefined && rule !== undefined && activeInhibition(alarm, [source], [rule]) !== undefined;
}

/**
 * decide()'s decision with `mute` applied. Muted: no notification, the alarm's
 * notification bookkeeping as it was before (`previous`; decide's notify() counted the
 * notification it made due), outcome `silenced` or `inhibited`, and the reason what
 * decide() would have done and why it did not happen. Not muted: unchanged, except that a
 * notification going out clears an earlier `mutedBy`.
 */
export function applyMute(decision: Decision, previous: Alarm | undefined, mute: Mute | undefined): Decision {
  const alarm = decision.alarm;
  if (!alarm || decision.due.length === 0) return decision;
  if (!mute) {
    if (!alarm.mutedBy) return decision;
    return { ...decision, alarm: withoutMute(alarm), due: decision.due.map((due) => ({ ...due, alarm: withoutMute(due.alarm) })) };
  }
  const { lastNotifiedAt: _counted, ...rest } = withoutMute(alarm);
  const held: Alarm = {
    ...rest,
    ...(previous?.lastNotifiedAt !== undefined ? { lastNotifiedAt: previous.lastNotifiedAt } : {}),
    notifications: previous?.notifications ?? 0,
    countAtLastNotification: previous?.countAtLastNotification ?? 0,
  };
  // Only an active alarm waits to be notified; a resolution that was muted is simply not sent.
  const recorded: Alarm = held.state === 'active' ? { ...held, mutedBy: muteOf(mute) } : held;
  return { alarm: recorded, due: [], outcome: mute.by === 'silence' ? 'silenced' : 'inhibited', reason: `${decision.reason}; ${mute.reason}` };
}

/** Why a muted alarm is notified now: "silence 01J... ended; still active". */
export function unmutedReason(mutedBy: AlarmMute, ruleNames: readonly string[]): string {
  if (mutedBy.by === 'silence') return `silence ${mutedBy.silence} ended; still active`;
  // A reload that dropped the rule ends the inhibition while its source is still active.
  if (!ruleNames.includes(mutedBy.rule)) return `inhibit rule ${mutedBy.rule} is no longer configured (inhibition by ${mutedBy.alarm} ended); still active`;
  return `inhibition by ${mutedBy.alarm} via rule ${mutedBy.rule} ended; still active`;
}

/**
 * A muted, still active alarm that nothing mutes any more: its notification, due now
 * (kind firing), routed as its latest occurrence is routed now. Not sent when a rule now
 * suppresses it, or when someone has acknowledged it meanwhile.
 */
export function unmute(alarm: Alarm, event: AlarmEvent, route: Route, now: number, reason: string): Decision {
  const released = withoutMute(alarm);
  if (route.suppressedBy) return { alarm: released, due: [], outcome: 'suppressed', reason: `${reason}; notification suppressed by rule ${route.suppressedBy}` };
  if (alarm.ack) return { alarm: released, due: [], outcome: 'unmuted', reason: `${reason}; acknowledged by ${alarm.ack.by}, so not notified` };
  return { ...notify(released, 'firing', event, route, now, reason), outcome: 'unmuted' };
}

/**
 * A muted alarm that is muted still, but now for another reason (its silence ended, an
 * inhibition holds; or a later silence took over): the alarm with the new `mutedBy`.
 */
export function remute(alarm: Alarm, mute: Mute): Decision {
  const previous = alarm.mutedBy ? `${alarm.mutedBy.by === 'silence' ? `silence ${alarm.mutedBy.silence}` : `inhibition by ${alarm.mutedBy.alarm}`} ended; ` : '';
  return { alarm: { ...alarm, mutedBy: muteOf(mute) }, due: [], outcome: mute.by === 'silence' ? 'silenced' : 'inhibited', reason: `${previous}${mute.reason}` };
}

function withoutMute(alarm: Alarm): Alarm {
  if (!alarm.mutedBy) return alarm;
  const { mutedBy: _released, ...rest } = alarm;
  return rest;
}

/** A muted alarm released without a notification (its message cannot be read or rendered): recorded, with why. */
export function releaseUnnotified(alarm: Alarm, reason: string): Decision {
  return { alarm: withoutMute(alarm), due: [], outcome: 'unmuted', reason };
}

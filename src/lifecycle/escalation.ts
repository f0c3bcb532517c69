import type { EscalationPolicy, EscalationStopOn } from '../rules/escalation-policy.js';
import type { Alarm } from './alarm.js';

/**
 * The pure decisions about the timers of an escalation policy (rules/escalation-policy.ts):
 * which levels to store when an alarm is raised, whether a due timer fires or is
 * cancelled, and the reason a fired level gives. The gateway's escalation scheduler
 * (pipeline/escalate.ts) applies these; nothing here reads a clock.
 */

/** What one stored timer carries, so it fires the same after a rule reload or a restart. */
export interface EscalationTimerData {
  policy: string;
  /** 1-based level in the policy; a repeat of the last level has the last level's number. */
  policyLevel: number;
  levels: number;
  /** 0 for the level itself, 1.. for repeats of the last level. */
  repeat: number;
  after: number;
  receivers: string[];
  stopOn: EscalationStopOn;
  repeatLast?: { every: number; times?: number };
}

export interface EscalationTimer {
  alarmId: string;
  /** Unique per alarm: the policy level, then levels + repeat for repeats. */
  level: number;
  dueAt: number;
  firedAt?: number;
  cancelledAt?: number;
  data: EscalationTimerData;
}

/** The timers to store for an alarm raised at `raisedAt` under `policy`: one per level. */
export function escalationTimers(policy: EscalationPolicy, alarmId: string, raisedAt: number): EscalationTimer[] {
  return policy.levels.map((level, index) => ({
    alarmId,
    level: index + 1,
    dueAt: raisedAt + level.after,
    data: {
      policy: policy.name,
      policyLevel: index + 1,
      levels: policy.levels.length,
      repeat: 0,
      after: level.after,
      receivers: level.receivers,
      stopOn: policy.stopOn,
      ...(policy.repeatLast && index === policy.levels.length - 1 ? { repeatLast: policy.repeatLast } : {}),
    },
  }));
}

/** Whether an alarm still needs escalation under `stopOn`; the reason when it does not. */
export function escalationStopped(alarm: Alarm, stopOn: EscalationStopOn): string | undefined {
  if (alarm.ack) return `acknowledged by ${alarm.ack.by} via ${alarm.ack.channel}`;
  if (alarm.state === 'resolved' && stopOn === 'acknowledged-or-cleared') return 'cleared';
  return undefined;
}

export type TimerVerdict = { fire: true; reason: string; late: number; next?: EscalationTimer } | { fire: false; reason: string };

/** Timers at or before `now`, not fired or cancelled, earliest first. */
export function dueTimers(timers: readonly EscalationTimer[], now: number): EscalationTimer[] {
  return timers.filter((t) => t.firedAt === undefined && t.cancelledAt === undefined && t.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.level - b.level);
}

/**
 * What a due timer does at `now`. Late by more than `lateAfter` ms (the scheduler's poll
 * interval: it normally wakes on time) it says so in the reason. A repeat of the last
 * level schedules the next one from `now`, so a downtime gives one late repeat, not a burst.
 */
export function timerVerdict(timer: EscalationTimer, alarm: Alarm | undefined, now: number, lateAfter: number): TimerVerdict {
  if (!alarm) return { fire: false, reason: 'the alarm is no longer in the store' };
  const stopped = escalationStopped(alarm, timer.data.stopOn);
  if (stopped) return { fire: false, reason: `escalation of policy ${timer.data.policy} stopped: ${stopped}` };
  const d = timer.data;
  const late = Math.max(0, now - timer.dueAt);
  const what = d.repeat > 0 ? `escalation level ${d.policyLevel} of policy ${d.policy} (repeat ${d.repeat})` : `escalation level ${d.policyLevel} of policy ${d.policy}`;
  let reason = `${what}: not acknowledged after ${formatSpan(timer.dueAt - alarm.firstSeen)}`;
  if (late > lateAfter) reason += ` (late by ${formatSpan(late)})`;
  const verdict: TimerVerdict = { fire: true, reason, late };
  if (d.repeatLast && (d.repeatLast.times === undefined || d.repeat < d.repeatLast.times)) {
    verdict.next = { alarmId: timer.alarmId, level: d.levels + d.repeat + 1, dueAt: Math.max(timer.dueAt, now) + d.repeatLast.every, data: { ...d, repeat: d.repeat + 1 } };
  }
  return verdict;
}

export function formatSpan(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/**
 * The escalation levels to arm again when an acknowledgement is taken back: those the
 * acknowledgement stopped (cancelled at or after it, never fired), each moved later by the
 * time the alarm stood acknowledged. Escalation resumes where it stopped, with the time
 * that was left then: a level due 3 min after the ack is due 3 min after the unack. A level
 * that was overdue when it was stopped is due now. None when the alarm, unacknowledged,
 * needs no escalation under its policy (cleared, with a policy that stops on a clear).
 */
export function resumedEscalations(timers: readonly EscalationTimer[], alarm: Alarm, ackedAt: number, now: number): EscalationTimer[] {
  const held = Math.max(0, now - ackedAt);
  return timers
    .filter((t) => t.firedAt === undefined && t.cancelledAt !== undefined && t.cancelledAt >= ackedAt && escalationStopped(alarm, t.data.stopOn) === undefined)
    .map(({ cancelledAt: _cancelled, ...t }) => ({ ...t, dueAt: Math.max(now, t.dueAt + held) }));
}

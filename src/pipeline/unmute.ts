import type { Alarm, Decision } from '../lifecycle/alarm.js';
import { findMute, releaseUnnotified, remute, stillMuted, unmute, unmutedReason } from '../lifecycle/mute.js';
import { silenceHoldsUntil } from '../lifecycle/silence.js';
import { timerAt } from '../lifecycle/timer.js';
import type { NewOutboxEntry, Repositories } from '../store/store.js';
import type { AlarmChange } from './alarm-change.js';
import type { PipelineContext } from './context.js';
import { muteContext, parseReceived, renderDues } from './message.js';

/**
 * A muted alarm's timer: its silence ended, or the alarm that inhibited it resolved, or a
 * silence was expired. Still muted by the same thing: looked at again when that ends.
 * Muted by something else now: recorded as such. Free: one notification, re-read from the
 * alarm's latest message and routed by the rules in force now (rendering needs the
 * occurrence itself: sender, peer and the original mail; receivers follow rule changes
 * made during a maintenance window).
 */
export async function release(ctx: PipelineContext, tx: Repositories, alarmId: string, now: number, late: string): Promise<{ before: Alarm; change: AlarmChange } | undefined> {
  const { config, stages, logger } = ctx;
  const alarm = await tx.alarms.get(alarmId);
  if (!alarm || alarm.state !== 'active' || !alarm.mutedBy) return undefined;
  const context = await muteContext(config, tx, now);
  const mutedBy = alarm.mutedBy;
  if (stillMuted(alarm, context)) {
    if (mutedBy.by === 'silence') {
      const silence = context.silences.find((s) => s.id === mutedBy.silence);
      const until = silence ? silenceHoldsUntil(silence, now) : undefined;
      if (until !== undefined) await tx.timers.arm(timerAt('unmute', alarm.id, alarm.id, Math.max(until, now + ctx.lateAfter)));
    }
    return undefined;
  }
  const change = (decision: Decision, outbox: NewOutboxEntry[]): { before: Alarm; change: AlarmChange } => ({
    before: alarm,
    change: { alarm: decision.alarm ?? alarm, receivedId: alarm.lastEventId, outcome: decision.outcome, reason: decision.reason, outbox },
  });
  const mute = findMute(alarm, context);
  if (mute) return change(remute(alarm, mute), []);
  const reason = `${unmutedReason(mutedBy, config.inhibit.map((rule) => rule.name))}${late}`;
  const received = await tx.inbox.get(alarm.lastEventId);
  if (!received) {
    return change(releaseUnnotified(alarm, `${reason}; its latest message ${alarm.lastEventId} is no longer in the store, so it cannot be notified`), []);
  }
  try {
    // The occurrence as it was: a telemetry topic is read with no previous state, so its
    // value beyond the limit gives the active event again rather than "no change".
    const parsed = await parseReceived(received, config, stages, async () => undefined);
    if (!('event' in parsed)) {
      return change(releaseUnnotified(alarm, `${reason}; its latest message no longer gives an alarm (${parsed.reason}), so it is not notified`), []);
    }
    const routing = await stages.route(parsed.event, now);
    const decision = unmute(alarm, parsed.event, routing.route, now, reason);
    const outbox = await renderDues(decision.due, received, parsed.mail, config, stages, now);
    const recorded = outbox.length < decision.due.length ? { ...decision, reason: `${decision.reason}; no receiver has an address, nothing sent` } : decision;
    return change(recorded, outbox);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.child({ alarmId }).error({ err: error }, 'a muted alarm could not be notified; recorded in its history');
    return change(releaseUnnotified(alarm, `${reason}; the notification could not be made: ${message}`), []);
  }
}

import type { Alarm, Decision } from '../lifecycle/alarm.js';
import { findMute, releaseUnnotified, remute, stillMuted, unmute, unmutedReason } from '../lifecycle/mute.js';
import { nextSilenceEnd } from '../lifecycle/silence.js';
import type { NewOutboxEntry, Repositories } from '../store/store.js';
import { muteContext, parseReceived, renderDues } from './alarm-pipeline.js';
import { AlarmTimer, type AlarmChange, type AlarmTimerOptions } from './alarm-timer.js';

/**
 * The timer behind "when a silence ends, alarms still active are notified". It wakes at
 * the earliest end of a silence that holds (and at least every poll interval; and when an
 * alarm resolves, which may end an inhibition), takes the active alarms that were muted,
 * and for each one nothing mutes any more queues one notification, in one transaction per
 * alarm.
 *
 * To render that notification it re-reads the alarm's latest message from the store and
 * runs it through the parse stage and the rules in force now, rather than keeping the
 * route on the alarm when it is muted. That is the simpler correct choice: rendering
 * needs the occurrence itself (sender, peer, listener for From and headers; the original
 * mail for attachOriginal and pass-through), which a stored route alone would not give;
 * the messages are in the store anyway (kept until pruned); and receivers follow rule
 * changes made during a maintenance window instead of going to whoever was routed before it.
 */
export class UnmuteScheduler extends AlarmTimer {
  constructor(options: AlarmTimerOptions) {
    super(options, 'muted alarms and silences');
  }

  protected override async nextDueAt(now: number): Promise<number | undefined> {
    return nextSilenceEnd(await this.options.store.silences.list(now), now);
  }

  protected override async pass(): Promise<void> {
    const { store, config } = this.options;
    const muted = await store.alarms.muted();
    if (muted.length === 0) return;
    // A first look with one read of silences and active alarms; each alarm that may be
    // free is then looked at again, alone and with fresh state, in its own transaction.
    const context = await store.transaction((tx) => muteContext(config, tx, this.now()));
    for (const alarm of muted) {
      if (!this.isRunning) return;
      if (stillMuted(alarm, context)) continue;
      await this.changeAlarm((tx, now) => this.release(tx, alarm.id, now));
    }
  }

  private async release(tx: Repositories, alarmId: string, now: number): Promise<AlarmChange | undefined> {
    const { config, stages, logger } = this.options;
    const alarm = await tx.alarms.get(alarmId);
    if (!alarm || alarm.state !== 'active' || !alarm.mutedBy) return undefined;
    const context = await muteContext(config, tx, now);
    if (stillMuted(alarm, context)) return undefined;
    const mute = findMute(alarm, context);
    if (mute) return change(alarm, remute(alarm, mute), []);
    const reason = unmutedReason(alarm.mutedBy);
    const received = await tx.inbox.get(alarm.lastEventId);
    if (!received) {
      return change(alarm, releaseUnnotified(alarm, `${reason}; its latest message ${alarm.lastEventId} is no longer in the store, so it cannot be notified`), []);
    }
    try {
      // The occurrence as it was: a telemetry topic is read with no previous state, so its
      // value beyond the limit gives the active event again rather than "no change".
      const parsed = await parseReceived(received, config, stages, async () => undefined);
      if (!('event' in parsed)) {
        return change(alarm, releaseUnnotified(alarm, `${reason}; its latest message no longer gives an alarm (${parsed.reason}), so it is not notified`), []);
      }
      const routing = await stages.route(parsed.event, now);
      const decision = unmute(alarm, parsed.event, routing.route, now, reason);
      const outbox = await renderDues(decision.due, received, parsed.mail, config, stages, now);
      const recorded = outbox.length < decision.due.length ? { ...decision, reason: `${decision.reason}; no receiver has an address, nothing sent` } : decision;
      return change(alarm, recorded, outbox);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.child({ alarmId }).error({ err: error }, 'a muted alarm could not be notified; recorded in its history');
      return change(alarm, releaseUnnotified(alarm, `${reason}; the notification could not be made: ${message}`), []);
    }
  }
}

function change(before: Alarm, decision: Decision, outbox: NewOutboxEntry[]): AlarmChange {
  return { alarm: decision.alarm ?? before, receivedId: before.lastEventId, outcome: decision.outcome, reason: decision.reason, outbox };
}

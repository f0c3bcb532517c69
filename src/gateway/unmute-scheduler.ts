import type { Alarm, Decision } from '../lifecycle/alarm.js';
import { findMute, releaseUnnotified, remute, stillMuted, unmute, unmutedReason } from '../lifecycle/mute.js';
import { nextSilenceEnd } from '../lifecycle/silence.js';
import type { NewOutboxEntry } from '../store/store.js';
import { muteContext, parseReceived, renderDues } from './alarm-pipeline.js';
import { AlarmTimer, type AlarmTimerOptions } from './alarm-timer.js';

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

  protected override nextDueAt(now: number): number | undefined {
    return nextSilenceEnd(this.options.store.listSilences(now), now);
  }

  protected override async pass(): Promise<void> {
    const { store, config } = this.options;
    const muted = store.mutedAlarms();
    if (muted.length === 0) return;
    // A first look with one read of silences and active alarms; each alarm that may be
    // free is then looked at again, alone and with fresh state, inside the exclusive section.
    const context = muteContext(config, store, this.now());
    for (const alarm of muted) {
      if (!this.isRunning) return;
      if (stillMuted(alarm, context)) continue;
      await this.options.exclusive.run(() => this.release(alarm.id));
    }
  }

  private async release(alarmId: string): Promise<void> {
    const { store, config, stages, logger } = this.options;
    const now = this.now();
    const alarm = store.getAlarm(alarmId);
    if (!alarm || alarm.state !== 'active' || !alarm.mutedBy) return;
    const context = muteContext(config, store, now);
    if (stillMuted(alarm, context)) return;
    const log = logger.child({ alarmId });
    const mute = findMute(alarm, context);
    if (mute) {
      this.commit(alarm, remute(alarm, mute), [], now);
      return;
    }
    const reason = unmutedReason(alarm.mutedBy);
    const received = store.getReceived(alarm.lastEventId);
    if (!received) {
      this.commit(alarm, releaseUnnotified(alarm, `${reason}; its latest message ${alarm.lastEventId} is no longer in the store, so it cannot be notified`), [], now);
      return;
    }
    try {
      // The occurrence as it was: a telemetry topic is read with no previous state, so its
      // value beyond the limit gives the active event again rather than "no change".
      const parsed = await parseReceived(received, config, stages, () => undefined);
      if (!('event' in parsed)) {
        this.commit(alarm, releaseUnnotified(alarm, `${reason}; its latest message no longer gives an alarm (${parsed.reason}), so it is not notified`), [], now);
        return;
      }
      const routing = await stages.route(parsed.event, now);
      const decision = unmute(alarm, parsed.event, routing.route, now, reason);
      const outbox = await renderDues(decision.due, received, parsed.mail, config, stages, now);
      const recorded = outbox.length < decision.due.length ? { ...decision, reason: `${decision.reason}; no receiver has an address, nothing sent` } : decision;
      this.commit(alarm, recorded, outbox, now);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.error({ err: error }, 'a muted alarm could not be notified; recorded in its history');
      this.commit(alarm, releaseUnnotified(alarm, `${reason}; the notification could not be made: ${message}`), [], now);
    }
  }

  private commit(expected: Alarm, decision: Decision, outbox: NewOutboxEntry[], now: number): void {
    const { store, logger } = this.options;
    const alarm = decision.alarm ?? expected;
    const saved = store.commitAlarmChange({ expected, alarm, receivedId: expected.lastEventId, outcome: decision.outcome, reason: decision.reason, outbox }, now);
    const log = logger.child({ alarmId: alarm.id });
    if (!saved) {
      log.debug('alarm changed while being looked at; looked at again at the next pass');
      return;
    }
    this.options.onAlarmChanged?.(alarm);
    if (outbox.length > 0) this.options.onQueued();
    log.info({ device: alarm.device.id, title: alarm.title, outcome: decision.outcome, reason: decision.reason, notifications: outbox.map((e) => e.id) }, `alarm ${decision.outcome}`);
  }
}

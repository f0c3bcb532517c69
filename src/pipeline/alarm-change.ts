import type { Alarm, Decision } from '../lifecycle/alarm.js';
import type { HeldNotification } from '../lifecycle/batch.js';
import type { EscalationTimer } from '../lifecycle/escalation.js';
import type { FloodState } from '../lifecycle/flood.js';
import { escalationTimerRow, timerAt } from '../lifecycle/timer.js';
import type { NewOutboxEntry, Repositories } from '../store/store.js';
import type { Effects } from './effects.js';
import { armUnmuteNow } from './arm-unmute.js';

/** One change to one alarm, whatever made it (a message, a timer): saved with everything it implies, in the caller's transaction. */
export interface AlarmChange {
  alarm: Alarm;
  /** The message the history entry and notifications refer to. */
  receivedId: string;
  outcome: Decision['outcome'];
  reason: string;
  outbox: NewOutboxEntry[];
  /** Escalation levels to store (a newly raised alarm's, the next repeat of the last level). */
  escalations?: EscalationTimer[];
  /** Cancel the alarm's pending escalation levels (an escalation found it needs no more). */
  stopEscalation?: boolean;
  /** Notifications held for a group or digest instead of the outbox. */
  held?: HeldNotification[];
  floodStates?: FloodState[];
}

/**
 * Saves an alarm change and arms or cancels the timers it implies, the one place that
 * knows which: a muted alarm is looked at again when its silence ends; a resolved alarm
 * releases the alarms it inhibited and stops the escalation levels that stop on a clear;
 * a held notification that opens a batch sends it at its time. `before` is the alarm as
 * this transaction read it (undefined for a new one).
 */
export async function saveAlarmChange(tx: Repositories, before: Alarm | undefined, change: AlarmChange, now: number, fx: Effects): Promise<void> {
  const a = change.alarm;
  await tx.alarms.save(a);
  await tx.alarms.log(a.id, { receivedId: change.receivedId, at: now, outcome: change.outcome, reason: change.reason });
  for (const entry of change.outbox) await tx.outbox.insert(entry, now);
  if (change.escalations?.length) {
    await tx.timers.add(change.escalations.map(escalationTimerRow));
    fx.emit('timer-armed', { kind: 'escalate', dueAt: Math.min(...change.escalations.map((t) => t.dueAt)) });
  }
  if (change.stopEscalation) await tx.timers.cancelEscalations(a.id, now);
  for (const held of change.held ?? []) {
    const batch = await tx.batches.hold(held, now);
    if (batch.opened) {
      await tx.timers.add([timerAt('flush-batch', batch.id, null, held.flushAt)]);
      fx.emit('timer-armed', { kind: 'flush-batch', dueAt: held.flushAt });
    }
  }
  for (const state of change.floodStates ?? []) await tx.batches.saveFloodState(state);

  if (a.mutedBy && a.state === 'active') {
    // A silence ends at a known time; an inhibition when its source resolves (below).
    const until = a.mutedBy.by === 'silence' ? a.mutedBy.until : undefined;
    if (until !== undefined && (before?.mutedBy === undefined || JSON.stringify(before.mutedBy) !== JSON.stringify(a.mutedBy))) {
      await tx.timers.arm(timerAt('unmute', a.id, a.id, until));
      fx.emit('timer-armed', { kind: 'unmute', dueAt: until });
    }
  } else if (before?.mutedBy) {
    await tx.timers.cancel('unmute', a.id, now);
  }
  if (a.state === 'resolved' && before?.state === 'active') {
    await tx.timers.cancelEscalations(a.id, now, true);
    if ((await armUnmuteNow(tx, now, (mutedBy) => mutedBy.by === 'inhibition' && mutedBy.alarm === a.id)) > 0) fx.emit('timer-armed', { kind: 'unmute', dueAt: now });
  }

  // An announcement changes nothing others see of the alarm (ackAnnounced is internal):
  // publishing its state again would send MQTT subscribers a state they already have.
  if (change.outcome !== 'ack-announced') fx.emit('alarm-changed', { alarm: a, outcome: change.outcome, reason: change.reason });
  if (change.outbox.length > 0) fx.emit('queued', { outboxIds: change.outbox.map((e) => e.id) });
  if (change.held?.length) fx.emit('held', { alarmIds: [a.id] });
}

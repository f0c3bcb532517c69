import type { GatewayConfig } from '../config/types.js';
import type { Alarm, Decision } from '../lifecycle/alarm.js';
import type { EscalationTimer } from '../lifecycle/escalation.js';
import type { FloodState } from '../lifecycle/flood.js';
import type { HeldNotification } from '../lifecycle/batch.js';
import type { Logger } from '../log/logger.js';
import type { NewOutboxEntry, Repositories, Store } from '../store/store.js';
import type { PipelineStages } from './alarm-pipeline.js';
import { WakeLoop } from './wake-loop.js';

/** What a timer-driven stage (unmute, escalation, groups and digests) works with. */
export interface AlarmTimerOptions {
  store: Store;
  config: GatewayConfig;
  stages: PipelineStages;
  logger: Logger;
  /** Called after a notification was queued. */
  onQueued: () => void;
  onAlarmChanged?: (alarm: Alarm) => void;
  /** Called after notifications were held for a group or batch that is due now. */
  onHeld?: () => void;
  now?: () => number;
  /** The longest sleep: changes made by the CLI from another process are seen this late at most. */
  pollInterval?: number;
}

/** A change to an alarm made by a timer rather than a received message (a silence ended, a level fired). */
export interface AlarmChange {
  alarm: Alarm;
  /** The message the history entry and notifications refer to (the alarm's latest occurrence). */
  receivedId: string;
  outcome: Decision['outcome'];
  reason: string;
  outbox: NewOutboxEntry[];
  /**
   * An escalation level firing: its timer is marked fired in the same transaction (and the
   * change is dropped when it already fired or was cancelled); `next` is the next repeat of
   * the last level; `cancel` cancels the alarm's pending timers.
   */
  escalation?: { fired?: { alarmId: string; level: number }; next?: EscalationTimer; cancel?: boolean };
  /** Notifications held for a group or digest instead of the outbox, and the scope's counters. */
  held?: HeldNotification[];
  floodStates?: FloodState[];
}

/**
 * A WakeLoop that sleeps until the next time its work falls due, and at most a poll
 * interval. Only a time still ahead shortens the sleep: work already due that a pass left
 * (a muted alarm's timer, a failing store) is looked at again at the next poll, never in a
 * busy loop.
 */
export abstract class AlarmTimer extends WakeLoop {
  protected readonly now: () => number;
  protected readonly pollInterval: number;

  /** `what`: what the timer looks at, for its log lines ("escalations and acknowledgements"). */
  constructor(
    protected readonly options: AlarmTimerOptions,
    private readonly what: string,
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.pollInterval = options.pollInterval ?? 1000;
  }

  /** When the earliest pending work falls due, if any is pending. */
  protected abstract nextDueAt(now: number): Promise<number | undefined>;

  protected override passFailed(error: unknown): void {
    this.options.logger.error({ err: error }, `${this.what} could not be looked at; trying again at the next poll`);
  }

  protected override async nextWakeIn(): Promise<number> {
    const now = this.now();
    let next = now + this.pollInterval;
    try {
      const due = await this.nextDueAt(now);
      if (due !== undefined && due > now && due < next) next = due;
    } catch (error) {
      this.options.logger.error({ err: error }, `cannot read ${this.what}; looking again at the next poll`);
    }
    return next - now;
  }

  /**
   * Reads and changes one alarm in one transaction: `decide` reads what it needs through
   * `tx` and returns the change, or nothing to change. Logged and told once committed.
   */
  protected async changeAlarm(decide: (tx: Repositories, now: number) => Promise<AlarmChange | undefined>): Promise<void> {
    const now = this.now();
    const change = await this.options.store.transaction(async (tx) => {
      const decided = await decide(tx, now);
      if (!decided) return undefined;
      return (await saveAlarmChange(tx, decided, now)) ? decided : undefined;
    });
    if (!change) return;
    // An announcement changes nothing others see of the alarm (ackAnnounced is internal):
    // publishing its state again would send MQTT subscribers a state they already have.
    if (change.outcome !== 'ack-announced') this.options.onAlarmChanged?.(change.alarm);
    if (change.outbox.length > 0) this.options.onQueued();
    this.options.logger
      .child({ alarmId: change.alarm.id })
      .info({ device: change.alarm.device.id, title: change.alarm.title, outcome: change.outcome, reason: change.reason, notifications: change.outbox.map((e) => e.id) }, `alarm ${change.outcome}`);
  }
}

/** Saves an alarm change, its history entry and its notifications; false (nothing saved) when its escalation timer had fired or been cancelled. */
export async function saveAlarmChange(tx: Repositories, change: AlarmChange, now: number): Promise<boolean> {
  const fired = change.escalation?.fired;
  if (fired && !(await tx.timers.fire(fired.alarmId, fired.level, now))) return false;
  if (change.escalation?.next) await tx.timers.insert([change.escalation.next]);
  if (change.escalation?.cancel) await tx.timers.cancel(change.alarm.id, now, 'all');
  await tx.alarms.save(change.alarm);
  await tx.alarms.log(change.alarm.id, { receivedId: change.receivedId, at: now, outcome: change.outcome, reason: change.reason });
  for (const entry of change.outbox) await tx.outbox.insert(entry, now);
  for (const held of change.held ?? []) await tx.batches.hold(held, now);
  for (const state of change.floodStates ?? []) await tx.batches.saveFloodState(state);
  return true;
}

import type { GatewayConfig } from '../config/types.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import type { PipelineStages } from './alarm-pipeline.js';
import type { Exclusive } from './exclusive.js';
import { WakeLoop } from './wake-loop.js';

/** What a timer-driven stage (unmute, escalation, groups and digests) works with. */
export interface AlarmTimerOptions {
  store: Store;
  config: GatewayConfig;
  stages: PipelineStages;
  logger: Logger;
  /** Shared with the inbox processor and the other timers, so none writes one alarm over another. */
  exclusive: Exclusive;
  /** Called after a notification was queued. */
  onQueued: () => void;
  onAlarmChanged?: (alarm: Alarm) => void;
  /** Called after notifications were held for a group or batch that is due now. */
  onHeld?: () => void;
  now?: () => number;
  /** The longest sleep: changes made by the CLI from another process are seen this late at most. */
  pollInterval?: number;
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
  protected abstract nextDueAt(now: number): number | undefined;

  protected override passFailed(error: unknown): void {
    this.options.logger.error({ err: error }, `${this.what} could not be looked at; trying again at the next poll`);
  }

  protected override nextWakeIn(): number {
    const now = this.now();
    let next = now + this.pollInterval;
    try {
      const due = this.nextDueAt(now);
      if (due !== undefined && due > now && due < next) next = due;
    } catch (error) {
      this.options.logger.error({ err: error }, `cannot read ${this.what}; looking again at the next poll`);
    }
    return next - now;
  }
}

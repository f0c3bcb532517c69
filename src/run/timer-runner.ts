import { failureBackoff } from '../base/backoff.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';
import { Effects } from '../pipeline/effects.js';
import { WakeLoop, type RunnerOptions } from './wake-loop.js';

export type TimerRunnerOptions = RunnerOptions;

/** Timers handled per transaction. */
const BATCH = 100;

/**
 * The one runner over the one timers table: sleeps until the earliest pending due time
 * (and at most a poll interval; sooner when told a timer was armed), then hands every due
 * timer to the pipeline, a batch per transaction. A timer overdue after a restart fires
 * once, late, and says how late. While the store fails, passes are tried again with a
 * growing delay and the failure is logged once a minute at most; due timers stay pending.
 */
export class TimerRunner extends WakeLoop {
  private readonly failureLog: RateLimitedLog;

  constructor(private readonly options: TimerRunnerOptions) {
    super(options.clock);
    this.failureLog = new RateLimitedLog(options.logger, 60_000, () => options.clock.now());
    options.events.on('timer-armed', ({ dueAt }) => this.wakeBy(dueAt));
  }

  protected override passFailed(error: unknown, failures: number): void {
    this.failureLog.error('pass', { err: error, failures, retryInMs: this.retryIn(failures) }, 'timers could not be handled; they stay pending, trying again');
  }

  protected override passRecovered(failures: number): void {
    this.failureLog.reset('pass');
    this.options.logger.info({ failures }, 'handling timers again');
  }

  protected override retryIn(failures: number): number {
    return failureBackoff(failures, this.options.pollInterval);
  }

  protected override async nextWakeIn(): Promise<number> {
    const due = await this.options.store.timers.nextDueAt();
    // Read after the query: the sleep is measured from when the loop goes to sleep.
    const now = this.clock.now();
    if (due === undefined) return this.options.pollInterval;
    if (due <= now) {
      // Due since the pass last looked (the clock moved on while it worked): handled now, not a
      // poll interval late. One the pass saw and left (the bound on its rounds): the poll retries it.
      return due > this.lastLook ? 0 : this.options.pollInterval;
    }
    return Math.min(due - now, this.options.pollInterval);
  }

  /** The time the last pass asked for due timers at. */
  private lastLook = Number.NEGATIVE_INFINITY;

  protected override async pass(): Promise<void> {
    const { store, pipeline, events } = this.options;
    // A bounded number of rounds: timers that re-arm themselves for now cannot keep a pass going.
    for (let round = 0; round < 10 && this.isRunning; round += 1) {
      const now = this.clock.now();
      this.lastLook = now;
      const due = await store.timers.due(now, BATCH);
      if (due.length === 0) return;
      const fx = new Effects();
      await store.transaction((tx) => pipeline.timers(tx, due, now, fx));
      fx.release(events);
      if (due.length < BATCH && !(await this.moreDue())) return;
    }
  }

  private async moreDue(): Promise<boolean> {
    const next = await this.options.store.timers.nextDueAt();
    return next !== undefined && next <= this.clock.now();
  }
}

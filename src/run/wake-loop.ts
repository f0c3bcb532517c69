import { failureBackoff } from '../base/backoff.js';
import type { Clock, TimerHandle } from '../base/clock.js';
import { Linger } from '../base/linger.js';
import type { GatewayEventBus } from '../events.js';
import type { Logger } from '../log/logger.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Store } from '../store/store.js';

/** What a loop that drives the pipeline works with. */
export interface RunnerOptions {
  store: Store;
  pipeline: Pipeline;
  events: GatewayEventBus;
  clock: Clock;
  logger: Logger;
  /** The longest sleep: work another process (the CLI) left in the store is seen this late at most. */
  pollInterval: number;
}

/**
 * The loop behind the inbox and timer runners: one pass at a time; a wake-up during a
 * pass runs one more pass right after it, or once the linger since it ended is over
 * (base/linger.ts; the inbox runner's is 10 ms of real time, the timer runner has none).
 * Between passes it sleeps until `nextWakeIn()` ms of the injected clock (a poll interval,
 * or sooner when a timer is due). After a pass that failed it sleeps `retryIn(failures)`
 * instead, growing while the passes keep failing (the store full or gone); a wake-up
 * still runs a pass at once.
 */
export abstract class WakeLoop {
  private running = false;
  private busy = false;
  private again = false;
  private timer: TimerHandle | undefined;
  /** When the sleep under way ends (clock time). */
  private wakeAt: number | undefined;
  private idle: Promise<void> = Promise.resolve();
  /** Passes that failed in a row. */
  private failures = 0;
  private readonly linger: Linger;
  /** A wake-up waiting out the linger (real time). */
  private lingering: ReturnType<typeof setTimeout> | undefined;

  /** `lingerMs`: a wake-up this soon after a pass ended waits the rest of it (base/linger.ts); 0 runs every pass at once. */
  constructor(
    protected readonly clock: Clock,
    lingerMs = 0,
  ) {
    this.linger = new Linger(lingerMs);
  }

  protected abstract pass(): Promise<void>;
  /** Milliseconds to sleep before the next pass. */
  protected abstract nextWakeIn(): number | Promise<number>;
  /** A pass threw: say so; the next wake-up tries again. `failures` counts the failed passes in a row. */
  protected abstract passFailed(error: unknown, failures: number): void;
  /** A pass succeeded after `failures` failed ones. */
  protected passRecovered(_failures: number): void {}

  /** Milliseconds to sleep after `failures` failed passes in a row. */
  protected retryIn(failures: number): number {
    return failureBackoff(failures, 1000);
  }

  protected get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    this.running = true;
    this.wake();
  }

  wake(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.lingering) return;
    const wait = this.linger.wait();
    if (wait > 0) {
      this.lingering = setTimeout(() => {
        this.lingering = undefined;
        this.wake();
      }, wait);
      return;
    }
    this.busy = true;
    this.timer?.cancel();
    this.wakeAt = undefined;
    this.idle = this.pass()
      .then(
        () => {
          if (this.failures > 0) this.passRecovered(this.failures);
          this.failures = 0;
        },
        (error: unknown) => {
          this.failures += 1;
          this.passFailed(error, this.failures);
        },
      )
      .catch(() => undefined)
      .then(async () => {
        this.linger.ended();
        if (this.again && this.running) {
          this.again = false;
          this.busy = false;
          this.wake();
          return;
        }
        const ms = this.failures > 0 ? this.retryIn(this.failures) : await Promise.resolve(this.nextWakeIn()).catch(() => this.retryIn(1));
        this.busy = false;
        // Woken while asking when to wake: that wake-up runs a pass now.
        if (this.again && this.running) {
          this.again = false;
          this.wake();
          return;
        }
        if (!this.running) return;
        this.sleepUntil(this.clock.now() + Math.max(0, ms));
      });
  }

  private sleepUntil(at: number): void {
    this.timer?.cancel();
    this.wakeAt = at;
    this.timer = this.clock.setTimer(() => {
      this.wakeAt = undefined;
      this.wake();
    }, at - this.clock.now());
  }

  /** Wakes at `at` (clock time) at the latest, sooner than the sleep under way if need be. */
  wakeBy(at: number): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.wakeAt !== undefined && this.wakeAt <= at) return;
    this.sleepUntil(at);
  }

  /** Stops waking and waits for a pass under way. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    clearTimeout(this.lingering);
    this.lingering = undefined;
    await this.idle;
  }
}

/**
 * The loop behind the inbox processor and the timer-driven schedulers: one pass at a
 * time; a wake-up during a pass runs one more pass right after it; between passes it
 * sleeps until `nextWakeIn()` ms (a poll interval, or sooner when a timer is due).
 */
export abstract class WakeLoop {
  private running = false;
  private busy = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private idle: Promise<void> = Promise.resolve();

  protected abstract pass(): Promise<void>;
  /** Milliseconds to sleep before the next pass. */
  protected abstract nextWakeIn(): number | Promise<number>;
  /** A pass threw: say so; the next wake-up tries again. */
  protected abstract passFailed(error: unknown): void;

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
    this.busy = true;
    this.idle = this.pass()
      .catch((error: unknown) => this.passFailed(error))
      .finally(() => {
        this.busy = false;
        if (this.again && this.running) {
          this.again = false;
          this.wake();
        } else {
          this.sleep();
        }
      });
  }

  /** Stops waking and waits for a pass under way. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.idle;
  }

  private sleep(): void {
    if (!this.running) return;
    this.idle = Promise.resolve(this.nextWakeIn()).then((ms) => {
      // Woken (or stopped) while asking when to wake: that wake-up already did it.
      if (!this.running || this.busy) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.wake(), Math.max(0, ms));
      this.timer.unref();
    });
  }
}

import type { Clock, TimerHandle } from '../../src/base/clock.js';

/**
 * A clock that moves only when told: `advance(ms)` fires every timer due on the way, each
 * at its own time and in order, and lets what it started run (promises, I/O callbacks
 * already queued) before the next. Tests of time wait on events and state, never on
 * real time.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, fn });
    return { cancel: () => this.#timers.delete(seq) };
  }

  /** Timers waiting, for tests that check nothing is left behind. */
  get pending(): number {
    return this.#timers.size;
  }

  readonly #quiescence: Array<() => Promise<boolean>> = [];

  /**
   * Something `advance` waits for after each timer until it is quiet: `wait` resolves true
   * when it had work to wait for (a store's commits and flushes, which are real I/O).
   */
  waitFor(wait: () => Promise<boolean>): void {
    this.#quiescence.push(wait);
  }

  /** Turns of the event loop, then whatever was registered, until nothing had to be waited for. */
  async #settle(): Promise<void> {
    for (let round = 0; round < 50; round += 1) {
      await settle();
      const waited = await Promise.all(this.#quiescence.map((wait) => wait()));
      if (!waited.some(Boolean)) return;
    }
  }

  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      let next: { at: number; seq: number; fn: () => void } | undefined;
      for (const timer of this.#timers.values()) if (timer.at <= end && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      if (!next) break;
      this.#timers.delete(next.seq);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await this.#settle();
    }
    this.#now = end;
    await this.#settle();
  }
}

/** Lets queued callbacks and the promises they resolve run (several turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

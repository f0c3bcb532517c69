/**
 * Spacing for work that is cheaper in batches: the next batch starts no sooner than `ms`
 * after the last one ended, so what comes in meanwhile joins it; work after a quiet spell
 * starts at once. Each batch of the store's stages is a commit whose cost barely depends on
 * how many messages it carries (every table and index leaf it touches is written to the
 * WAL again, a few dozen pages), so under load a few milliseconds of waiting save a
 * commit per message; at a trickle nothing waits.
 *
 * Real time (performance.now), not the gateway's injected clock: this paces CPU work, it
 * is no part of what the gateway decides, and a test's fake clock must not stall it.
 */
export class Linger {
  #lastEnded = Number.NEGATIVE_INFINITY;

  constructor(readonly ms: number) {}

  /** The batch under way has ended. */
  ended(): void {
    this.#lastEnded = performance.now();
  }

  /** Milliseconds the next batch should wait before it starts (0: start now). */
  wait(): number {
    return Math.max(0, this.ms - (performance.now() - this.#lastEnded));
  }
}

/**
 * Failed logins counted per key (the remote address, the name tried) in a sliding window:
 * at `limit` failures within `window` the key is refused until its oldest failure in the
 * window is older than `window`. Kept in memory, per gateway: a restart forgets it, and
 * two gateways each count their own (an attacker gets at most twice the attempts).
 */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(
    private readonly now: () => number,
    private readonly limit = 5,
    private readonly window = 15 * 60_000,
    /** Keys kept at most: a flood of names or addresses cannot grow memory without bound. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds until a login under any of `keys` may be tried again; 0 when it may now. */
  wait(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const recent = this.#recent(key, now);
      if (recent.length >= this.limit) wait = Math.max(wait, recent[recent.length - this.limit]! + this.window - now);
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const recent = this.#recent(key, now);
      recent.push(now);
      // Only the last `limit` matter for the decision.
      this.#failures.set(key, recent.slice(-this.limit));
    }
    if (this.#failures.size > this.maxKeys) this.#sweep(now);
  }

  /** A good login clears the keys' failures. */
  succeed(keys: readonly string[]): void {
    for (const key of keys) this.#failures.delete(key);
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((at) => at > now - this.window);
  }

  #sweep(now: number): void {
    for (const [key, times] of this.#failures) if (times.every((at) => at <= now - this.window)) this.#failures.delete(key);
    // Still too many: forget the oldest-inserted keys (Map keeps insertion order).
    for (const key of this.#failures.keys()) {
      if (this.#failures.size <= this.maxKeys) break;
      this.#failures.delete(key);
    }
  }
}

/**
 * The shape of a backoff: the first delay, the factor it grows by, its cap and the jitter
 * (a fraction of the delay). The outbox's `delivery.retry` (config/schema.ts
 * `BackoffPolicy`) is one; so is a reply mailbox's reconnect schedule.
 */
export interface BackoffCurve {
  initialDelay: number;
  factor: number;
  maxDelay: number;
  jitter: number;
}

/**
 * Delay before attempt `attempt + 1` after `attempt` failed ones: exponential, capped,
 * with ±jitter so devices that failed together do not retry together.
 */
export function retryDelay(attempt: number, policy: BackoffCurve, random: () => number = Math.random): number {
  const exponential = policy.initialDelay * policy.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelay, exponential);
  const spread = capped * policy.jitter;
  return Math.max(0, Math.round(capped - spread + random() * 2 * spread));
}

/**
 * How long a loop waits after `failures` failed tries in a row against something that
 * fails as a whole (the store full or gone): its poll interval, doubling, at most 16 polls
 * and at most 30 s, so that it neither spins nor sleeps long after the failure ends.
 */
export function failureBackoff(failures: number, pollInterval: number): number {
  const cap = Math.max(pollInterval, Math.min(30_000, 16 * pollInterval));
  return Math.min(cap, pollInterval * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

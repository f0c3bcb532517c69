import type { BackoffPolicy } from '../config/schema.js';

/**
 * Delay before attempt `attempt + 1` after `attempt` failed ones: exponential, capped,
 * with ±jitter so devices that failed together do not retry together.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.initialDelay * policy.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelay, exponential);
  const spread = capped * policy.jitter;
  return Math.max(0, Math.round(capped - spread + random() * 2 * spread));
}

import type { Logger } from './logger.js';

/**
 * Logs a recurring problem once per key per interval, with how many times it happened
 * since: a device spamming bad payloads fills no disk, and its problem is still seen.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    this.log('warn', key, fields, message);
  }

  error(key: string, fields: Record<string, unknown>, message: string): void {
    this.log('error', key, fields, message);
  }

  /** Forgets `key`: its next occurrence is logged at once (the problem went away and came back). */
  reset(key: string): void {
    this.last.delete(key);
  }

  private log(level: 'warn' | 'error', key: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed += 1;
      return;
    }
    this.logger[level]({ ...fields, ...(seen?.suppressed ? { suppressedSinceLast: seen.suppressed } : {}) }, message);
    this.last.set(key, { at: now, suppressed: 0 });
    if (this.last.size > 10_000) this.last.clear();
  }
}

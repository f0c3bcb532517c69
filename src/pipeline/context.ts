import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { PipelineStages } from './message.js';

/** What every step of the pipeline works with: the configuration and stages in force, and where to log. */
export interface PipelineContext {
  config: GatewayConfig;
  stages: PipelineStages;
  logger: Logger;
  /** A timer firing later than this after its due time says so in the alarm's history. */
  lateAfter: number;
}

/** " (late by 42 s: the gateway was not running)" when a timer fired late, else "". */
export function lateness(dueAt: number, now: number, lateAfter: number): string {
  const late = now - dueAt;
  return late > lateAfter ? ` (late by ${Math.round(late / 1000)} s: the gateway was not running)` : '';
}

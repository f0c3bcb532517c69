/**
 * Escalation policies: rule files' top-level `escalations:`, validated by load-rules.ts and
 * named by a route (`then.escalation`, or defaultRoute.escalation). lifecycle/escalation.ts
 * turns a policy into timers and decides when they fire.
 */

export type EscalationStopOn = 'acknowledged' | 'acknowledged-or-cleared';

export interface EscalationLevel {
  /** Delay after the alarm was raised, ms. */
  after: number;
  /** Receiver names: people, groups or schedules (resolved when the level fires). */
  receivers: string[];
}

export interface EscalationPolicy {
  name: string;
  file?: string;
  line?: number;
  levels: EscalationLevel[];
  /** Repeat the last level every `every` ms, `times` times (forever when absent) while the alarm still needs it. */
  repeatLast?: { every: number; times?: number };
  stopOn: EscalationStopOn;
}

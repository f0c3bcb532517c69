import type { Severity } from '../config/schema.js';

/** A route's grouping: alarms with the same values of `by` fields within `wait` ms go out as one. */
export interface GroupSettings {
  by: string[];
  wait: number;
}

/** A receiver resolved to addresses: a person, a group expanded to its members, or a schedule to who is on call. */
export interface ResolvedReceiver {
  name: string;
  emails: string[];
  /** For a schedule: who was on call when it was resolved, and why (rules/oncall.ts). */
  onCall?: { receivers: string[]; because: string };
}

/**
 * What the rules decided for one AlarmEvent: who is told, how urgently and how. Carries
 * its reasons as values, so logs, `rules test` and notifications can say why.
 */
export interface Route {
  /** Names of the rules that matched and were applied, in order; empty for the default route. */
  rules: string[];
  isDefault: boolean;
  receivers: ResolvedReceiver[];
  severity: Severity;
  template: string;
  mode: 'notify' | 'passthrough';
  /** Set when a rule suppresses notification: the rule's name. */
  suppressedBy?: string;
  repeatInterval: number;
  notifyResolved: boolean;
  attachOriginal: boolean;
  /** The escalation policy for an alarm this route raises (a rule's `then.escalation`, else defaultRoute.escalation). */
  escalation?: string;
  /** Alarms of this route with the same values of `by` arriving within `wait` ms go out as one notification (lifecycle/batch.ts). */
  group?: GroupSettings;
}

/** One rule's verdict, for `rules test` and the logs. */
export interface RuleVerdict {
  rule: string;
  file: string;
  matched: boolean;
  /** Each condition with the value it saw, e.g. `title matches "battery" (was "UPS: On battery power")`. */
  reasons: string[];
  /** Whether the rule was applied (a matched rule after one without `continue` is not). */
  applied: boolean;
}

export interface RoutingResult {
  route: Route;
  verdicts: RuleVerdict[];
}

import { formatZoned } from '../base/zoned-clock.js';
import type { GatewayConfig, ScheduleConfig } from '../config/types.js';
import { nextChange, whoIsOnCall, type OnCallSource } from './oncall.js';
import { resolveReceivers } from './receivers.js';

/** Who is on call on one schedule at a time, why, and when and to whom that next changes: `annunciator oncall` and `GET /api/v1/oncall`. */
export interface OnCallReport {
  name: string;
  timeZone: string;
  receivers: Array<{ name: string; emails: string[] }>;
  because: string;
  source: OnCallSource;
  /** The next change of who is on call (override, window, rotation or fallback), within a year. */
  nextHandoff: { at: number; local: string; receivers: string[]; because: string; source: OnCallSource } | null;
}

export function onCallReport(schedule: ScheduleConfig, receivers: GatewayConfig['receivers'], at: number): OnCallReport {
  const who = whoIsOnCall(schedule, at);
  const next = nextChange(schedule, at);
  return {
    name: schedule.name,
    timeZone: schedule.timeZone,
    receivers: resolveReceivers(who.receivers, receivers),
    because: who.because,
    source: who.source,
    nextHandoff: next ? { at: next.at, local: formatZoned(next.at, schedule.timeZone), receivers: next.receivers, because: next.because, source: next.source } : null,
  };
}

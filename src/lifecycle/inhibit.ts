import type { InhibitRule } from '../config/inhibit.js';
import type { Alarm } from './alarm.js';
import { alarmField, matchesAll, type MatchableAlarm } from './alarm-matchers.js';

/** Why an alarm's notifications are held back: an active source alarm, through a rule. */
export interface Inhibition {
  rule: InhibitRule;
  source: Alarm;
}

/**
 * The active alarm that inhibits `target` through one of `rules`, or undefined. Pure: a
 * function of the target, the active alarms and the rules (a resolved source no longer
 * inhibits because it is no longer among `sources`, or no longer active).
 *
 * - An alarm never inhibits itself.
 * - `equal` fields must be set on both alarms and be the same: two alarms of devices with
 *   no site are not "at the same site".
 * - When the target also matches the rule's source side, alarms that match both sides do
 *   not inhibit it: two such alarms would otherwise mute each other and nobody would hear
 *   of either (Alertmanager resolves it the same way).
 * - Of several sources, the one raised first, so the reason is stable while they last.
 */
export function activeInhibition(target: MatchableAlarm & Pick<Alarm, 'id'>, sources: readonly Alarm[], rules: readonly InhibitRule[]): Inhibition | undefined {
  for (const rule of rules) {
    if (!matchesAll(target, rule.target)) continue;
    const targetIsSource = matchesAll(target, rule.source);
    let found: Alarm | undefined;
    for (const source of sources) {
      if (source.state !== 'active' || source.id === target.id) continue;
      if (!matchesAll(source, rule.source)) continue;
      if (targetIsSource && matchesAll(source, rule.target)) continue;
      if (!rule.equal.every((field) => sameValue(alarmField(target, field), alarmField(source, field)))) continue;
      if (!found || source.firstSeen < found.firstSeen) found = source;
    }
    if (found) return { rule, source: found };
  }
  return undefined;
}

function sameValue(a: string, b: string): boolean {
  return a !== '' && a === b;
}

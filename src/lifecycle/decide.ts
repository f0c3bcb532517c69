import { cutText } from '../base/cut-text.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import type { Route } from '../rules/route.js';
import type { Alarm, Decision, Due, DueKind } from './alarm.js';

export interface DecideInput {
  /** The active alarm with this event's fingerprint, if there is one. */
  active: Alarm | undefined;
  event: AlarmEvent;
  route: Route;
  fingerprint: string;
  now: number;
  newAlarmId: () => string;
  /** How much of the event's text the alarm keeps (UTF-8 bytes, `alarms.maxQuotedText`); all of it when absent. */
  maxText?: number;
}

/**
 * What an occurrence does to its alarm, and which notification is due now. Pure: the
 * caller persists `decision.alarm` and queues `decision.due` in one transaction.
 */
export function decide({ active, event, route, fingerprint, now, newAlarmId, maxText = Number.POSITIVE_INFINITY }: DecideInput): Decision {
  const text = keptText(event.text, maxText);
  const by = route.isDefault ? 'the default route' : `rule ${route.rules.join(' + ')}`;

  if (event.state === 'cleared') {
    if (!active) return { due: [], outcome: 'clear-without-alarm', reason: 'return to normal with no active alarm to resolve' };
    const alarm: Alarm = withText({ ...active, state: 'resolved', resolvedAt: now, lastSeen: now, lastEventId: event.id }, text);
    if (route.suppressedBy) return { alarm, due: [], outcome: 'suppressed', reason: `resolved; notification suppressed by rule ${route.suppressedBy}` };
    if (!route.notifyResolved || active.notifications === 0) {
      return { alarm, due: [], outcome: 'resolved', reason: route.notifyResolved ? 'resolved; it was never notified' : `resolved; ${by} does not notify resolutions` };
    }
    return notify(alarm, 'resolved', event, route, now, `resolved after ${Math.round((now - active.firstSeen) / 1000)} s, routed by ${by}`);
  }

  if (!active) {
    const alarm: Alarm = {
      id: newAlarmId(),
      fingerprint,
      state: 'active',
      device: event.device,
      title: event.title,
      severity: route.severity,
      key: event.key,
      code: event.code,
      value: event.value,
      unit: event.unit,
      fields: event.fields,
      ...text,
      count: 1,
      firstSeen: now,
      lastSeen: now,
      firstEventId: event.id,
      lastEventId: event.id,
      notifications: 0,
      countAtLastNotification: 0,
      receivers: route.receivers.flatMap((r) => r.emails),
      rules: route.rules,
    };
    if (route.suppressedBy) return { alarm, due: [], outcome: 'suppressed', reason: `new alarm; notification suppressed by rule ${route.suppressedBy}` };
    return notify(alarm, 'firing', event, route, now, `new alarm, routed by ${by}`);
  }

  const alarm: Alarm = withText(
    {
      ...active,
      count: active.count + 1,
      lastSeen: now,
      lastEventId: event.id,
      fields: { ...active.fields, ...event.fields },
      value: event.value ?? active.value,
      severity: route.severity,
    },
    text,
  );
  if (route.suppressedBy) return { alarm, due: [], outcome: 'suppressed', reason: `repeat; notification suppressed by rule ${route.suppressedBy}` };
  const since = active.lastNotifiedAt ?? active.firstSeen;
  if (active.notifications > 0 && now - since < route.repeatInterval) {
    return { alarm, due: [], outcome: 'repeat-folded', reason: `repeat ${alarm.count} folded: last notified ${Math.round((now - since) / 1000)} s ago, repeat interval ${Math.round(route.repeatInterval / 1000)} s` };
  }
  return notify(alarm, active.notifications > 0 ? 'reminder' : 'firing', event, route, now, `${active.notifications > 0 ? 'reminder' : 'first notification'} after ${alarm.count} occurrences, routed by ${by}`);
}

/** A notification of `alarm` due now, counted on it; lifecycle/mute.ts uses it for alarms a silence or inhibition held back. */
export function notify(alarm: Alarm, kind: DueKind, event: AlarmEvent, route: Route, now: number, reason: string): Decision {
  const notified: Alarm = { ...alarm, notifications: alarm.notifications + 1, lastNotifiedAt: now, receivers: route.receivers.flatMap((r) => r.emails), rules: route.rules };
  const due: Due = { kind, alarm: notified, event, route, reason, sequence: notified.notifications, at: now };
  // The count at this notification is recorded after rendering, so a reminder's
  // template can still show how many occurrences were folded since the previous one.
  const recorded: Alarm = { ...notified, countAtLastNotification: notified.count };
  return { alarm: recorded, due: [due], outcome: kind === 'resolved' ? 'resolved' : kind === 'reminder' ? 'reminder' : 'raised', reason };
}

/** The text an alarm keeps of an event's, and where it was cut if it was. */
function keptText(text: string, maxText: number): Pick<Alarm, 'text' | 'textCut'> {
  const kept = cutText(text, maxText);
  return kept.cut ? { text: kept.text, textCut: kept.cut } : { text: kept.text };
}

/** `alarm` with the latest text, and no note of an earlier text's cut. */
function withText(alarm: Alarm, text: Pick<Alarm, 'text' | 'textCut'>): Alarm {
  const { textCut: _earlier, ...rest } = alarm;
  return { ...rest, ...text };
}

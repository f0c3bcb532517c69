import type { InhibitRule } from '../../src/config/inhibit.js';
import { parseMatcher, type Matcher } from '../../src/config/matcher.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { alarmRecord } from './alarm-factory.js';

/** The inhibition tests' world: a UPS on battery at Plant North and a motor alarm there, and the rule that the one holds back the other. */
export const T0 = Date.parse('2026-11-24T13:00:00Z');

export function m(text: string): Matcher {
  const parsed = parseMatcher(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.matcher;
}

export function alarm(id: string, device: Partial<Alarm['device']> & { id: string }, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, {
    device: { name: device.id, matchedBy: 'sender', ...device },
    title: `${device.id} alarm`,
    severity: 'major',
    firstSeen: T0,
    firstEventId: `E-${id}`,
    lastEventId: `E-${id}`,
    notifications: 1,
    countAtLastNotification: 1,
    ...overrides,
  });
}

export const powerFailure: InhibitRule = {
  name: 'site-power-failure',
  source: [m('key=ups-on-battery')],
  target: [m('device.id!=ups-hall2')],
  equal: ['site'],
};

export const ups = alarm('UPS', { id: 'ups-hall2', site: 'Plant North' }, { key: 'ups-on-battery', title: 'UPS-HALL2: On battery power' });
export const motor = alarm('MOTOR', { id: 'plc-line4', site: 'Plant North' }, { title: 'ALARM Line4 Motor M12 overtemperature', notifications: 0 });


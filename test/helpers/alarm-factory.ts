import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import type { AlarmEvent } from '../../src/parse/alarm-event.js';
import type { Route } from '../../src/rules/route.js';

/** A plain AlarmEvent for unit tests; override what the test is about. */
export function alarmEvent(overrides: Partial<AlarmEvent> = {}): AlarmEvent {
  return {
    id: 'EVT1',
    receivedAt: Date.UTC(2026, 10, 24, 2, 14, 7),
    source: 'smtp',
    listener: 'lan',
    device: { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2', matchedBy: 'sender' },
    sender: 'ups-hall2@plant.local',
    recipients: ['facility@example.com'],
    peer: { address: '10.0.0.5', helo: 'ups-hall2' },
    title: 'UPS-HALL2: On battery power in response to an input power problem.',
    text: 'UPS: On battery power in response to an input power problem.',
    fields: { Name: 'UPS-HALL2' },
    state: 'active',
    attachments: [],
    patterns: [],
    ...overrides,
  };
}

export function route(overrides: Partial<Route> = {}): Route {
  return {
    rules: ['ups-power'],
    isDefault: false,
    receivers: [{ name: 'facility-team', emails: ['facility@example.com'] }],
    severity: 'major',
    template: 'default',
    mode: 'notify',
    repeatInterval: 3_600_000,
    notifyResolved: true,
    attachOriginal: false,
    ...overrides,
  };
}

/** A small device mail as the store keeps it, for store tests that need a received row. */
export function receivedMail(id: string, receivedAt: number): Received {
  return {
    id,
    receivedAt,
    listener: 'lan',
    peer: { address: '10.0.0.5', port: 40000, secure: false },
    envelope: { mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'] },
    raw: Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`),
  };
}

/**
 * An alarm record as the store keeps it, for tests that need one without running decide():
 * name what the test is about (device, title, severity, times, ...); the rest is a fresh,
 * active, never-notified alarm.
 */
export function alarmRecord(id: string, what: Pick<Alarm, 'device' | 'title' | 'severity'> & Partial<Alarm>): Alarm {
  const firstSeen = what.firstSeen ?? 0;
  return {
    id,
    fingerprint: `fp-${id}`,
    state: 'active',
    fields: {},
    text: '',
    count: 1,
    firstSeen,
    lastSeen: firstSeen,
    firstEventId: `R-${id}`,
    lastEventId: `R-${id}`,
    notifications: 0,
    countAtLastNotification: 0,
    receivers: [],
    rules: [],
    ...what,
  };
}

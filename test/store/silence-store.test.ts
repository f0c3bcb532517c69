import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Received } from '../../src/ingest/received.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import type { Silence } from '../../src/lifecycle/silence.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { testDir } from '../helpers/gateway.js';
import { alarmRecord } from '../helpers/alarm-factory.js';

const dir = testDir();
after(() => dir.remove());

const T0 = Date.parse('2026-11-24T13:00:00Z');
const HOUR = 3_600_000;

function silence(id: string, overrides: Partial<Silence> = {}): Silence {
  return {
    id,
    matchers: [{ field: 'device.id', operator: 'equal', value: 'ups-hall2' }],
    schedule: { kind: 'window', start: T0, end: T0 + HOUR },
    createdBy: 'anna',
    comment: 'battery swap',
    createdAt: T0,
    ...overrides,
  };
}

function received(id: string): Received {
  return { id, receivedAt: T0, listener: 'lan', peer: { address: '127.0.0.1', port: 1, secure: false }, envelope: { mailFrom: 'ups@plant.local', rcptTo: ['x@example.com'] }, raw: Buffer.from('Subject: x\r\n\r\ny\r\n') };
}

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, { device: { id: 'ups-hall2', name: 'UPS Hall 2', matchedBy: 'sender' }, title: 'On battery', severity: 'major', firstSeen: T0, ...overrides });
}

describe('silences in the store', () => {
  const store = SqliteStore.open(join(dir.path, 'silences'));
  after(() => store.close());

  it('keeps silences; lists current ones, newest first, and all with --all', () => {
    store.insertSilence(silence('S1'));
    store.insertSilence(silence('S2', { createdAt: T0 + 1, schedule: { kind: 'weekly', days: ['mon'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin', start: T0 } }));
    store.insertSilence(silence('S3', { createdAt: T0 + 2, schedule: { kind: 'window', start: T0 - 2 * HOUR, end: T0 - HOUR } }));
    assert.deepEqual(store.getSilence('S1'), silence('S1'), 'round-trips');
    assert.deepEqual(store.listSilences(T0).map((s) => s.id), ['S2', 'S1'], 'S3 is over');
    assert.deepEqual(store.listSilences(T0 + 2 * HOUR).map((s) => s.id), ['S2'], 'a weekly one without until never ends');
    assert.deepEqual(store.listSilences(T0, { all: true }).map((s) => s.id), ['S3', 'S2', 'S1']);
  });

  it('expires a silence now; an unknown or ended one is reported as such', () => {
    const expired = store.expireSilence('S1', T0 + 10 * 60_000);
    assert.equal(expired?.expiredAt, T0 + 10 * 60_000);
    assert.equal(store.getSilence('S1')?.expiredAt, T0 + 10 * 60_000);
    assert.deepEqual(store.listSilences(T0 + 11 * 60_000).map((s) => s.id), ['S2']);
    assert.equal(store.expireSilence('NOPE', T0), undefined);
    assert.equal(store.expireSilence('S3', T0)?.expiredAt, undefined, 'already over: unchanged');
    assert.equal(store.expireSilence('S2', T0 + HOUR)?.expiredAt, T0 + HOUR, 'a weekly one can be expired');
    assert.deepEqual(store.listSilences(T0 + 2 * HOUR).map((s) => s.id), []);
  });
});

describe('muted alarms in the store', () => {
  const store = SqliteStore.open(join(dir.path, 'muted'));
  after(() => store.close());

  it('lists active alarms that were muted, and saves a change only if the alarm is as it was read', () => {
    for (const id of ['A', 'B', 'C']) store.insertReceived(received(`R-${id}`));
    store.commitPipeline('R-A', { alarm: alarm('A', { mutedBy: { by: 'silence', silence: 'S1', until: T0 + HOUR } }), outcome: 'silenced', reason: 'muted', outbox: [] }, T0);
    store.commitPipeline('R-B', { alarm: alarm('B'), outcome: 'raised', reason: 'new', outbox: [] }, T0);
    store.commitPipeline('R-C', { alarm: alarm('C', { state: 'resolved', mutedBy: { by: 'silence', silence: 'S1' } }), outcome: 'silenced', reason: 'muted', outbox: [] }, T0);
    const [muted, ...rest] = store.mutedAlarms();
    assert.equal(muted?.id, 'A');
    assert.equal(rest.length, 0, 'not B (not muted), not C (resolved)');

    const { mutedBy: _m, ...released } = muted!;
    const notified: Alarm = { ...released, notifications: 1, lastNotifiedAt: T0 + HOUR };
    const outbox = [{ id: 'O1', receivedId: 'R-A', alarmId: 'A', envelopeFrom: 'gw@example.com', recipients: ['facility@example.com'], message: Buffer.from('x') }];
    const stale = { ...muted!, count: 0 };
    assert.equal(store.commitAlarmChange({ expected: stale, alarm: notified, receivedId: 'R-A', outcome: 'unmuted', reason: 'silence S1 ended; still active', outbox }, T0 + HOUR), false, 'changed since read');
    assert.equal(store.listOutbox(['pending']).length, 0, 'nothing was saved');
    assert.equal(store.commitAlarmChange({ expected: muted!, alarm: notified, receivedId: 'R-A', outcome: 'unmuted', reason: 'silence S1 ended; still active', outbox }, T0 + HOUR), true);
    assert.equal(store.getAlarm('A')?.notifications, 1);
    assert.equal(store.getAlarm('A')?.mutedBy, undefined);
    assert.deepEqual(store.mutedAlarms(), []);
    assert.deepEqual(store.alarmLog('A').map((l) => [l.outcome, l.reason]), [['silenced', 'muted'], ['unmuted', 'silence S1 ended; still active']]);
    assert.deepEqual(store.listOutbox(['pending']).map((e) => [e.id, e.alarmId, e.receivedId]), [['O1', 'A', 'R-A']]);
  });
});

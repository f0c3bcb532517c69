import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, type ApiClient } from '../helpers/api-client.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

/**
 * Silences over API v1 against a real gateway (the shipped configuration, mail over real
 * SMTP, notifications to a real upstream), on a fake clock: a silence made over HTTP mutes
 * the motor alarm's repeat, and expiring it over HTTP lets the alarm be notified.
 */

const corpus = loadCorpus();
const T0 = Date.UTC(2026, 10, 24, 9, 0, 0); // a Tuesday, 10:00 in Berlin: the day shift

interface SilenceJson {
  id: string;
  state: string;
  matchers: string[];
  comment: string;
  createdBy: string;
  startsAt: string;
  endsAt: string | null;
  weekly: { days: string[]; from: string; to: string; timeZone: string } | null;
  expiredAt: string | null;
  holdsUntil: string | null;
}

function header(message: UpstreamMessage | undefined, name: string): string {
  const value = message?.parsed.headers.get(name);
  return typeof value === 'string' ? value : '';
}

describe('API v1 silences, end to end', () => {
  const dir = testDir();
  const clock = new FakeClock(T0);
  let upstream: Upstream;
  let gateway: RunningGateway;
  let api: ApiClient;

  const sendMotorAlarm = async (): Promise<void> => {
    const mail = corpus.find((m) => m.file === 's7-tmail-no-date.eml')!;
    const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
    assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
  };

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    // A long poll: the loops wake by events; the 31 minutes the clock moves need few polls.
    gateway = await runGateway(configFrom(dir, shippedAlarmsConfig(dir, { delivery: relayDelivery(upstream.port, { pollInterval: '1m' }) })), undefined, { clock });
    api = apiClient(`http://127.0.0.1:${gateway.http!.address().port}`);
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('a silence made over HTTP mutes the repeat; the preview names the alarm; expiring it releases the alarm; both acts are audited', async () => {
    await sendMotorAlarm();
    const [first] = await upstream.waitForMessages(1);
    const alarmId = header(first, 'x-annunciator-alarm');
    assert.ok(alarmId);

    const preview = await api.post<{ alarms: Array<{ id: string }> }>('/silences/preview', { matchers: ['device.id=plc-line4', 'title~(?i)overtemperature'] });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.deepEqual(preview.body.alarms.map((a) => a.id), [alarmId]);
    const none = await api.post<{ alarms: unknown[] }>('/silences/preview', { matchers: ['device.id=ups-hall2'] });
    assert.deepEqual(none.body.alarms, []);

    const created = await api.post<{ silence: SilenceJson; matchingActiveAlarms: number }>('/silences', { matchers: ['device.id=plc-line4', 'title~(?i)overtemperature'], comment: 'motor service', duration: '2h' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const silence = created.body.silence;
    assert.equal(created.body.matchingActiveAlarms, 1);
    assert.equal(silence.state, 'active');
    assert.equal(silence.createdBy, 'local');
    assert.equal(silence.startsAt, new Date(T0).toISOString());
    assert.equal(silence.endsAt, new Date(T0 + 2 * 3_600_000).toISOString());
    assert.deepEqual(silence.matchers, ['device.id=plc-line4', 'title~(?i)overtemperature']);

    const listed = await api.get<{ silences: SilenceJson[] }>('/silences');
    assert.deepEqual(listed.body.silences.map((s) => s.id), [silence.id]);

    // The motor rule repeats after 30 minutes: the repeat falls in the silence and is muted.
    await clock.advance(31 * 60_000);
    await sendMotorAlarm();
    await eventually(async () => (await gateway.store.alarms.get(alarmId))?.mutedBy?.by === 'silence', 10_000, 'the repeat muted');
    const history = await gateway.store.alarms.history(alarmId);
    assert.equal(history.at(-1)?.outcome, 'silenced');
    assert.match(history.at(-1)?.reason ?? '', new RegExp(`muted by silence ${silence.id} \\(motor service\\)`));
    assert.equal(upstream.messages.length, 1, 'nothing sent for the muted repeat');

    const expired = await api.delete<{ silence: SilenceJson; released: number }>(`/silences/${silence.id}`);
    assert.equal(expired.status, 200, JSON.stringify(expired.body));
    assert.equal(expired.body.released, 1);
    assert.equal(expired.body.silence.state, 'expired');
    assert.equal(expired.body.silence.expiredAt, new Date(clock.now()).toISOString());
    await clock.advance(1);
    const [, released] = await upstream.waitForMessages(2);
    assert.equal(header(released, 'x-annunciator-alarm'), alarmId);
    assert.equal(header(released, 'x-annunciator-kind'), 'firing');
    await eventually(async () => (await gateway.store.alarms.history(alarmId)).at(-1)?.outcome === 'unmuted', 10_000, 'the release in the history');

    // Gone from the current list, there with all=true; a second expiry is a conflict, an unknown id not found.
    assert.deepEqual((await api.get<{ silences: SilenceJson[] }>('/silences')).body.silences, []);
    const all = await api.get<{ silences: SilenceJson[] }>('/silences?all=true');
    assert.deepEqual(all.body.silences.map((s) => [s.id, s.state]), [[silence.id, 'expired']]);
    const again = await api.post<{ error: string }>(`/silences/${silence.id}/expire`);
    assert.equal(again.status, 409);
    assert.match(again.body.error, /had already expired/);
    const unknown = await api.post<{ error: string }>('/silences/NO-SUCH-SILENCE/expire');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /no silence NO-SUCH-SILENCE/);

    const audit = await gateway.store.audit.list({ limit: 10, target: silence.id });
    assert.deepEqual(audit.map((e) => e.action), ['silence.expire', 'silence.create']);
    assert.equal(audit[1]?.actor, 'local');
    assert.equal(audit[1]?.via, 'loopback');
    assert.equal(audit[1]?.peer, '127.0.0.1');
    assert.deepEqual({ matchers: audit[1]?.detail?.matchers, comment: audit[1]?.detail?.comment }, { matchers: 'device.id=plc-line4 title~(?i)overtemperature', comment: 'motor service' });
    assert.equal(audit[0]?.detail?.released, 1);
  });

  it('a weekly silence: days, from/to, zone and until', async () => {
    const created = await api.post<{ silence: SilenceJson }>('/silences', {
      matchers: ['site=Plant North'],
      comment: 'night shift tests',
      weekly: { days: ['mon', 'tue'], from: '22:00', to: '06:00', until: '2026-12-31T00:00:00+01:00' },
      timeZone: 'Europe/Berlin',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.silence.weekly, { days: ['mon', 'tue'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' });
    assert.equal(created.body.silence.state, 'pending', 'Tuesday morning: not in the window yet');
    assert.equal(created.body.silence.endsAt, '2026-12-30T23:00:00.000Z');
    // A silence not yet holding is listed, and expiring it ends it.
    assert.ok((await api.get<{ silences: SilenceJson[] }>('/silences')).body.silences.some((s) => s.id === created.body.silence.id));
    const expired = await api.post<{ released: number }>(`/silences/${created.body.silence.id}/expire`);
    assert.equal(expired.status, 200);
    assert.equal(expired.body.released, 0);
  });

  it('refuses a bad matcher or window with 400 and the reason, and stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ matchers: ['title~(a'], comment: 'x', duration: '1h' }, /"title~\(a": invalid regular expression/],
      [{ matchers: ['titel=x'], comment: 'x', duration: '1h' }, /unknown field "titel"/],
      [{ matchers: [], comment: 'x', duration: '1h' }, /name what to silence with matchers/],
      [{ matchers: ['device.id=x'], comment: ' ', duration: '1h' }, /say why with comment/],
      [{ matchers: ['device.id=x'], comment: 'x' }, /give the end with endsAt TIME or duration DURATION/],
      [{ matchers: ['device.id=x'], comment: 'x', duration: 'soon' }, /duration soon is not a duration/],
      [{ matchers: ['device.id=x'], comment: 'x', endsAt: 'tomorrow' }, /endsAt tomorrow is not a time/],
      [{ matchers: ['device.id=x'], comment: 'x', endsAt: '2026-11-01T00:00:00Z' }, /already past/],
      [{ matchers: ['device.id=x'], comment: 'x', weekly: { days: 'monday', from: '22:00', to: '06:00' } }, /weekly .*"monday" is not a day/],
      [{ matchers: ['device.id=x'], comment: 'x', weekly: { days: 'mon', from: '22:00', to: '06:00' }, endsAt: '2026-12-01T00:00:00Z' }, /endsAt does not go with weekly/],
      [{ matchers: ['device.id=x'], comment: 'x', duration: '1h', timeZone: 'Mars/Olympus' }, /timeZone Mars\/Olympus: unknown time zone/],
      [{ comment: 'x', duration: '1h' }, /^bad request: /],
    ];
    const before = (await api.get<{ silences: SilenceJson[] }>('/silences?all=true')).body.silences.length;
    for (const [body, reason] of cases) {
      const response = await api.post<{ error: string }>('/silences', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(response.body.error, reason, JSON.stringify(body));
    }
    const preview = await api.post<{ error: string }>('/silences/preview', { matchers: ['severity=urgent'] });
    assert.equal(preview.status, 400);
    assert.match(preview.body.error, /severity is one of/);
    assert.equal((await api.get<{ silences: SilenceJson[] }>('/silences?all=true')).body.silences.length, before);
  });

  it('the OpenAPI document describes the silence endpoints', async () => {
    const doc = await api.get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json');
    assert.ok(doc.body.paths['/silences']?.post);
    assert.ok(doc.body.paths['/silences/{id}']?.delete);
    assert.ok(doc.body.paths['/silences/preview']?.post);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, type ApiClient } from '../helpers/api-client.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { writeMotorEscalationRules } from '../helpers/motor-escalation.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

const MIN = 60_000;

interface Summary {
  id: string;
  state: string;
  severity: string;
  title: string;
  device: { id: string; name: string; site: string | null; area: string | null };
  count: number;
  firstSeen: string;
  lastSeen: string;
  ack: { by: string; at: string; channel: string; comment: string | null } | null;
  muted: unknown;
}
interface Page {
  alarms: Summary[];
  next: string | null;
}

/** A device's alarm mail over real SMTP; the gateway's 250 says it is stored. */
async function deviceMail(gateway: RunningGateway, from: string, subject: string, body: string): Promise<void> {
  const data = Buffer.from(`From: ${from}\r\nTo: ops@example.com\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);
  const result = await sendAsDevice({ port: gateway.port, mailFrom: from, rcptTo: ['ops@example.com'], data });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

const kindOf = (m: UpstreamMessage): string => String(m.parsed.headers.get('x-annunciator-kind') ?? '');
const alarmOf = (m: UpstreamMessage): string => String(m.parsed.headers.get('x-annunciator-alarm') ?? '');

/**
 * API v1, alarms side, over real HTTP against a whole gateway (the shipped configuration,
 * devices mailing over SMTP, notifications relayed to a real SMTP upstream), on a fake
 * clock for escalation.
 */
describe('API v1: alarms, devices, outbox (real gateway)', { timeout: 120_000 }, () => {
  const dir = testDir();
  const clock = new FakeClock(Date.parse('2026-03-02T10:00:00Z'));
  let upstream: Upstream;
  let gateway: RunningGateway;
  let api: ApiClient;
  /** Recipients the upstream refuses for good while listed here. */
  const refused = new Set<string>();
  const ids: Record<string, string> = {};

  const list = async (query = ''): Promise<Page> => {
    const response = await api.get<Page>(`/alarms${query}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  };
  const idsOf = async (query = ''): Promise<string[]> => (await list(query)).alarms.map((a) => a.id);

  before(async () => {
    upstream = await startUpstream({ security: 'none', rcptReply: (address) => (refused.has(address.toLowerCase()) ? 550 : 250) });
    // Polls once a minute of the fake clock (a queued notification wakes the worker at once): an advance of an hour is 60 polls, not 36,000.
    const raw = shippedAlarmsConfig(dir, { delivery: relayDelivery(upstream.port, { pollInterval: '1m' }) });
    // The motor alarm (plc-line4) escalates to tom after 15 min, to the on-call schedule after 1 h, until acknowledged.
    writeMotorEscalationRules(dir.path, '15m', '1h');
    gateway = await runGateway(configFrom(dir, raw), undefined, { clock });
    api = apiClient(`http://127.0.0.1:${gateway.http!.address().port}`);

    await deviceMail(gateway, 'ups-hall2@plant.local', 'UPS Hall 2: On battery power', 'Code: 0x0A1');
    await deviceMail(gateway, 'plc@plant.local', '[critical] Pump P1 dry run', 'Pump P1 runs dry since 10:00');
    await deviceMail(gateway, 'plc-line4@plant.local', 'Motor M12 overtemperature', 'temperature 95 C exceeds limit 90');
    await deviceMail(gateway, 'stranger@elsewhere.test', 'Door 7 open', 'The door of the store room is OPEN');
    await upstream.waitForMessages(4, 20_000);
    for (const a of (await gateway.store.alarms.list(['active'])).values()) ids[a.device.id] = a.id;
    assert.equal(Object.keys(ids).length, 4, JSON.stringify(ids));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  describe('GET /alarms', () => {
    it('lists the active alarms newest first with summaries in RFC 3339', async () => {
      const page = await list();
      assert.equal(page.alarms.length, 4);
      assert.equal(page.next, null);
      const ups = page.alarms.find((a) => a.id === ids['ups-hall2'])!;
      assert.deepEqual(ups.device, { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2, electrical room' });
      assert.equal(ups.severity, 'major');
      assert.equal(ups.state, 'active');
      assert.equal(ups.count, 1);
      assert.equal(ups.firstSeen, new Date(clock.now()).toISOString());
      assert.equal(ups.ack, null);
      assert.equal(ups.muted, null);
      const seen = page.alarms.map((a) => [a.lastSeen, a.id]);
      assert.deepEqual(seen, [...seen].sort().reverse(), 'last seen, then id, descending');
    });

    it('filters by severity (one or many), device, site, area, text and acknowledgement', async () => {
      assert.deepEqual(await idsOf('?severity=critical'), (await list()).alarms.filter((a) => a.severity === 'critical').map((a) => a.id));
      assert.ok((await idsOf('?severity=critical')).includes(ids['controllino-pump-house']!));
      const many = await idsOf('?severity=critical&severity=major');
      assert.deepEqual(many, await idsOf('?severity=critical,major'), 'repeated or comma-separated');
      assert.ok(many.includes(ids['ups-hall2']!) && !many.includes(ids['stranger@elsewhere.test']!));
      assert.deepEqual(await idsOf('?device=UPS-HALL2'), [ids['ups-hall2']]);
      assert.deepEqual((await idsOf('?site=plant%20north')).sort(), [ids['ups-hall2'], ids['controllino-pump-house'], ids['plc-line4']].sort());
      assert.deepEqual(await idsOf(`?area=${encodeURIComponent('Pump house')}`), [ids['controllino-pump-house']]);
      assert.deepEqual(await idsOf('?text=store%20ROOM'), [ids['stranger@elsewhere.test']], 'in the text, any case');
      assert.deepEqual(await idsOf('?text=dry%20run'), [ids['controllino-pump-house']], 'in the title');
      assert.deepEqual(await idsOf('?acknowledged=true'), []);
      assert.equal((await idsOf('?acknowledged=false')).length, 4);
      assert.deepEqual(await idsOf('?state=resolved'), []);
      assert.equal((await idsOf('?state=all')).length, 4);
    });

    it('filters by matchers (repeatable, all must hold), and refuses a bad one with the reason', async () => {
      assert.deepEqual(await idsOf(`?filter=${encodeURIComponent('title~(?i)motor m\\d+')}`), [ids['plc-line4']]);
      assert.deepEqual(
        (await idsOf(`?filter=${encodeURIComponent('device.site=Plant North')}&filter=${encodeURIComponent('device!=ups-hall2')}`)).sort(),
        [ids['controllino-pump-house'], ids['plc-line4']].sort(),
      );
      assert.deepEqual(await idsOf(`?filter=${encodeURIComponent('code=0x0A1')}`), [ids['ups-hall2']]);
      assert.deepEqual(await idsOf(`?filter=${encodeURIComponent('fields.motor=M12')}`), [ids['plc-line4']]);
      const unknownField = await api.get<{ error: string }>(`/alarms?filter=${encodeURIComponent('colour=red')}`);
      assert.equal(unknownField.status, 400);
      assert.match(unknownField.body.error, /unknown field "colour"/);
      const badRegex = await api.get<{ error: string }>(`/alarms?filter=${encodeURIComponent('title~(unclosed')}`);
      assert.equal(badRegex.status, 400);
      assert.match(badRegex.body.error, /^filter: "title~\(unclosed": /);
      const notAMatcher = await api.get<{ error: string }>(`/alarms?filter=justtext`);
      assert.equal(notAMatcher.status, 400);
      assert.match(notAMatcher.body.error, /is not a matcher/);
    });

    it('pages with limit and the cursor it gives, and refuses bad paging and filters', async () => {
      const all = await idsOf();
      const walked: string[] = [];
      let query = '?limit=1';
      for (let pages = 0; pages < 10; pages += 1) {
        const page = await list(query);
        assert.ok(page.alarms.length <= 1);
        walked.push(...page.alarms.map((a) => a.id));
        if (!page.next) break;
        query = `?limit=1&cursor=${page.next}`;
      }
      assert.deepEqual(walked, all, 'the pages, in order, are the whole list');
      // With a matcher the pages are filtered after the store, and still line up.
      const first = await list(`?limit=1&filter=${encodeURIComponent('severity!=warning')}`);
      const second = await list(`?limit=1&filter=${encodeURIComponent('severity!=warning')}&cursor=${first.next}`);
      assert.notEqual(first.alarms[0]!.id, second.alarms[0]!.id);
      for (const bad of ['?limit=0', '?limit=1001', '?limit=x', '?cursor=nonsense', '?state=open', '?severity=huge', '?acknowledged=maybe']) {
        const response = await api.get<{ error: string }>(`/alarms${bad}`);
        assert.equal(response.status, 400, bad);
        assert.equal(typeof response.body.error, 'string', bad);
      }
    });
  });

  describe('GET /alarms/:id', () => {
    it('gives the alarm, its history and the notifications sent for it with their delivery state', async () => {
      const response = await api.get<{
        alarm: Summary & { text: string; description: string | null; fields: Record<string, string>; code: string | null; receivers: string[] };
        history: { at: string; outcome: string; reason: string }[];
        notifications: { id: string; kind: string | null; status: string; attempts: number; lastAccount: string | null; sentAt: string | null; recipients: string[]; rejectedRecipients: string[]; lastError: string | null }[];
      }>(`/alarms/${ids['ups-hall2']}`);
      assert.equal(response.status, 200);
      const { alarm, history, notifications } = response.body;
      assert.equal(alarm.id, ids['ups-hall2']);
      assert.equal(alarm.code, '0x0A1');
      assert.equal(alarm.description, 'UPS for the hall 2 control cabinets');
      assert.match(alarm.text, /Code: 0x0A1/);
      assert.deepEqual(history.map((h) => h.outcome), ['raised']);
      assert.equal(history[0]!.at, new Date(clock.now()).toISOString());
      assert.equal(notifications.length, 1);
      const [firing] = notifications;
      assert.equal(firing!.kind, 'firing');
      assert.equal(firing!.status, 'sent');
      assert.equal(firing!.attempts, 1);
      assert.equal(firing!.lastAccount, 'lan-relay');
      assert.equal(firing!.lastError, null);
      assert.match(firing!.sentAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual([...firing!.recipients].sort(), ['anna.berger@example.com', 'facility@example.com']);
      assert.deepEqual(firing!.rejectedRecipients, []);
      const sent = upstream.messages.find((m) => alarmOf(m) === ids['ups-hall2']);
      assert.ok(sent, 'the notification listed is the one the upstream got');
    });

    it('answers 404 with an error for an unknown alarm', async () => {
      const response = await api.get<{ error: string }>('/alarms/01NOTANALARM');
      assert.equal(response.status, 404);
      assert.match(response.body.error, /no alarm 01NOTANALARM/);
    });
  });

  describe('acknowledge, unacknowledge, comment', () => {
    it('acknowledges several alarms with a comment; the receivers that were told hear of it; each is audited', async () => {
      const before = upstream.messages.length;
      const response = await api.post<{ results: { id: string; outcome: string; ack: Summary['ack'] }[] }>('/alarms/acknowledge', {
        ids: [ids['ups-hall2'], ids['controllino-pump-house'], '01NOSUCHALARM'],
        comment: 'on my way',
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(
        response.body.results.map((r) => [r.id, r.outcome, r.ack?.by ?? null, r.ack?.channel ?? null, r.ack?.comment ?? null]),
        [
          [ids['ups-hall2'], 'recorded', 'local', 'api', 'on my way'],
          [ids['controllino-pump-house'], 'recorded', 'local', 'api', 'on my way'],
          ['01NOSUCHALARM', 'unknown', null, null, null],
        ],
      );
      assert.equal(response.body.results[0]!.ack!.at, new Date(clock.now()).toISOString());
      // The announcement is a timer due now: the fake clock lets it fire.
      await clock.advance(1000);
      // The existing announcement: the addresses each alarm was sent to are told who took it.
      const messages = await upstream.waitForMessages(before + 2, 20_000);
      const told = messages.slice(before).filter((m) => kindOf(m) === 'acknowledged');
      assert.equal(told.length, 2, messages.slice(before).map(kindOf).join());
      const upsTold = told.find((m) => alarmOf(m) === ids['ups-hall2'])!;
      assert.deepEqual([...upsTold.rcptTo].sort(), ['anna.berger@example.com', 'facility@example.com']);
      assert.match(upsTold.parsed.text ?? '', /acknowledged by local via api .*on my way/i);

      assert.deepEqual((await idsOf('?acknowledged=true')).sort(), [ids['ups-hall2'], ids['controllino-pump-house']].sort());
      const audit = await gateway.store.audit.list({ limit: 10, action: 'alarm.acknowledge' });
      assert.deepEqual(audit.map((e) => [e.target, e.actor, e.via, e.peer, e.detail?.comment]).sort(), [
        [ids['controllino-pump-house'], 'local', 'api', '127.0.0.1', 'on my way'],
        [ids['ups-hall2'], 'local', 'api', '127.0.0.1', 'on my way'],
      ].sort());
    });

    it('a second acknowledgement says who was first; one of an unknown alarm is 404; a bad body is 400', async () => {
      const again = await api.post<{ id: string; outcome: string; ack: Summary['ack'] }>(`/alarms/${ids['ups-hall2']}/acknowledge`, { comment: 'me too' });
      assert.equal(again.status, 200);
      assert.equal(again.body.outcome, 'already');
      assert.equal(again.body.ack?.comment, 'on my way', 'the first acknowledgement stands');
      assert.equal((await api.post(`/alarms/01NOSUCHALARM/acknowledge`, {})).status, 404);
      for (const body of [{}, { ids: [] }, { ids: 'x' }, { ids: [ids['plc-line4']], comment: 5 }]) {
        const response = await api.post<{ error: string }>('/alarms/acknowledge', body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.match(response.body.error, /^bad request/);
      }
      assert.equal((await gateway.store.alarms.get(ids['plc-line4']!))?.ack, undefined, 'nothing acknowledged by a refused request');
    });

    it('unacknowledging resumes the escalation with the time it had left; it is in the history and the audit log', async () => {
      const motor = ids['plc-line4']!;
      const escalations = () => upstream.messages.filter((m) => alarmOf(m) === motor && kindOf(m) === 'escalation').length;
      await clock.advance(15 * MIN);
      await eventually(() => escalations() === 1, 20_000, 'escalation level 1');

      // Acknowledged 20 min in: level 2 (due at 60 min) is stopped with 40 min left.
      await clock.advance(5 * MIN);
      const acked = await api.post<{ outcome: string }>(`/alarms/${motor}/acknowledge`, { comment: 'looking' });
      assert.equal(acked.body.outcome, 'recorded');
      await clock.advance(30 * MIN);
      assert.equal(escalations(), 1, 'no level while acknowledged');

      const unacked = await api.post<{ outcome: string; was: Summary['ack']; escalationResumed: boolean }>(`/alarms/${motor}/unacknowledge`, { comment: 'cannot fix it, need help' });
      assert.equal(unacked.status, 200, JSON.stringify(unacked.body));
      assert.equal(unacked.body.outcome, 'recorded');
      assert.equal(unacked.body.was?.comment, 'looking');
      assert.equal(unacked.body.escalationResumed, true);
      const summary = (await list(`?device=plc-line4`)).alarms[0]!;
      assert.equal(summary.ack, null, 'nobody has it now');

      await clock.advance(40 * MIN - 1000);
      assert.equal(escalations(), 1, 'level 2 not before the 40 min it had left');
      await clock.advance(1000);
      await eventually(() => escalations() === 2, 20_000, 'escalation level 2 after the unack');

      const history = (await gateway.store.alarms.history(motor)).map((h) => h.outcome);
      assert.deepEqual(
        history.filter((o) => ['escalated', 'acknowledged', 'unacknowledged'].includes(o)),
        ['escalated', 'acknowledged', 'unacknowledged', 'escalated'],
      );
      const unackLine = (await gateway.store.alarms.history(motor)).find((h) => h.outcome === 'unacknowledged')!;
      assert.match(unackLine.reason, /^acknowledgement by local via api withdrawn by local via api: cannot fix it, need help; escalation resumes/);
      const [audit] = await gateway.store.audit.list({ limit: 1, action: 'alarm.unacknowledge' });
      assert.equal(audit?.target, motor);
      assert.equal(audit?.detail?.comment, 'cannot fix it, need help');

      const twice = await api.post<{ error: string }>(`/alarms/${motor}/unacknowledge`, {});
      assert.equal(twice.status, 409);
      assert.match(twice.body.error, /not acknowledged/);
      assert.equal((await api.post(`/alarms/01NOSUCHALARM/unacknowledge`, {})).status, 404);
      // Acknowledged anew, it is announced like a first acknowledgement.
      const reacked = await api.post<{ outcome: string }>(`/alarms/${motor}/acknowledge`, {});
      assert.equal(reacked.body.outcome, 'recorded');
    });

    it('comments go into the history and the audit log; an empty one is 400, one on an unknown alarm 404', async () => {
      const id = ids['stranger@elsewhere.test']!;
      const response = await api.post<{ id: string; by: string; at: string; text: string }>(`/alarms/${id}/comments`, { text: 'facility knows, door is broken' });
      assert.equal(response.status, 201);
      assert.deepEqual(response.body, { id, by: 'local', at: new Date(clock.now()).toISOString(), text: 'facility knows, door is broken' });
      const detail = await api.get<{ history: { outcome: string; reason: string }[] }>(`/alarms/${id}`);
      assert.deepEqual(detail.body.history.at(-1), { ...detail.body.history.at(-1)!, outcome: 'commented', reason: 'comment by local via api: facility knows, door is broken' });
      const [audit] = await gateway.store.audit.list({ limit: 1, action: 'alarm.comment' });
      assert.deepEqual([audit?.target, audit?.actor, audit?.detail], [id, 'local', { comment: 'facility knows, door is broken' }]);
      assert.equal((await api.post(`/alarms/${id}/comments`, { text: '   ' })).status, 400);
      assert.equal((await api.post(`/alarms/${id}/comments`, {})).status, 400);
      assert.equal((await api.post(`/alarms/01NOSUCHALARM/comments`, { text: 'x' })).status, 404);
    });

    it('comments on and takes back several alarms in one act, saying per alarm what happened', async () => {
      const [ups, pump] = [ids['ups-hall2']!, ids['controllino-pump-house']!];
      const commented = await api.post<{ by: string; results: { id: string; outcome: string }[] }>('/alarms/comments', { ids: [ups, pump, '01NOSUCHALARM'], text: 'shift handover' });
      assert.equal(commented.status, 201);
      assert.deepEqual(commented.body.results, [{ id: ups, outcome: 'recorded' }, { id: pump, outcome: 'recorded' }, { id: '01NOSUCHALARM', outcome: 'unknown' }]);
      for (const id of [ups, pump]) assert.equal((await gateway.store.alarms.history(id)).at(-1)?.reason, 'comment by local via api: shift handover');
      // Both were acknowledged above ('on my way'); one unknown, and one taken back twice in the list counts once.
      const unacked = await api.post<{ results: { id: string; outcome: string; was: Summary['ack'] }[] }>('/alarms/unacknowledge', { ids: [ups, pump, ups, '01NOSUCHALARM'], comment: 'handing over' });
      assert.equal(unacked.status, 200, JSON.stringify(unacked.body));
      assert.deepEqual(unacked.body.results.map((r) => [r.id, r.outcome, r.was?.comment ?? null]), [[ups, 'recorded', 'on my way'], [pump, 'recorded', 'on my way'], ['01NOSUCHALARM', 'unknown', null]]);
      assert.deepEqual((await idsOf('?acknowledged=true')).filter((id) => id === ups || id === pump), []);
      const again = await api.post<{ results: { outcome: string }[] }>('/alarms/unacknowledge', { ids: [ups] });
      assert.deepEqual(again.body.results.map((r) => r.outcome), ['not-acknowledged']);
      assert.equal((await api.post('/alarms/unacknowledge', { ids: [] })).status, 400);
      assert.equal((await api.post('/alarms/comments', { ids: [ups] })).status, 400);
    });
  });

  describe('GET /devices', () => {
    it('lists the device map and the devices seen, with when each was last heard from and its active alarms', async () => {
      const response = await api.get<{ devices: { id: string; name: string; configured: boolean; lastSeen: string | null; activeAlarms: number; site: string | null }[] }>('/devices');
      assert.equal(response.status, 200);
      const byId = new Map(response.body.devices.map((d) => [d.id, d]));
      const alarms = await gateway.store.alarms.list(['active', 'resolved']);
      const ups = byId.get('ups-hall2')!;
      assert.equal(ups.configured, true);
      assert.equal(ups.activeAlarms, 1);
      assert.equal(ups.lastSeen, new Date(alarms.find((a) => a.device.id === 'ups-hall2')!.lastSeen).toISOString());
      assert.equal(ups.site, 'Plant North');
      const boiler = byId.get('hmi-kessel')!;
      assert.deepEqual([boiler.configured, boiler.lastSeen, boiler.activeAlarms], [true, null, 0], 'configured, never heard from');
      const stranger = byId.get('stranger@elsewhere.test')!;
      assert.deepEqual([stranger.configured, stranger.activeAlarms], [false, 1]);
      assert.equal(response.body.devices.filter((d) => d.configured).length, 5, 'every device of the map');
    });
  });

  describe('outbox', () => {
    it('lists entries by status without their messages, pages them, and refuses a bad status', async () => {
      const sent = await api.get<{ entries: { id: string; status: string; createdAt: string; size: number; message?: unknown }[]; next: string | null }>('/outbox?status=sent');
      assert.equal(sent.status, 200);
      assert.ok(sent.body.entries.length >= 6, String(sent.body.entries.length));
      assert.ok(sent.body.entries.every((e) => e.status === 'sent' && e.size > 0 && !('message' in e)));
      const walked: string[] = [];
      let query = '/outbox?status=sent&limit=4';
      for (let i = 0; i < 20; i += 1) {
        const page = await api.get<{ entries: { id: string }[]; next: string | null }>(query);
        walked.push(...page.body.entries.map((e) => e.id));
        if (!page.body.next) break;
        query = `/outbox?status=sent&limit=4&cursor=${page.body.next}`;
      }
      assert.deepEqual(walked, sent.body.entries.map((e) => e.id));
      assert.deepEqual((await api.get<{ entries: unknown[] }>('/outbox')).body.entries, [], 'by default what waits or failed: nothing');
      assert.equal((await api.get('/outbox?status=lost')).status, 400);
      assert.equal((await api.get('/outbox?cursor=xyz')).status, 400);
    });

    it('a failed notification is listed, retried when asked (and delivered), each act audited', async () => {
      refused.add('quality@example.com');
      await deviceMail(gateway, 'logger-cold-room@plant.local', 'Cold room 3 temperature high', 'temperature 9.5 C above upper limit 8');
      const failed = await eventually(async () => (await api.get<{ entries: { id: string; lastError: string; attempts: number; recipients: string[] }[] }>('/outbox?status=failed')).body.entries[0], 20_000, 'a failed entry');
      assert.match(failed.lastError, /550/);
      refused.delete('quality@example.com');
      const before = upstream.messages.length;
      const retried = await api.post<{ retried: number; results: { id: string; outcome: string }[] }>('/outbox/retry', { ids: [failed.id, 'NOSUCHENTRY'] });
      assert.equal(retried.status, 200);
      assert.deepEqual(retried.body, { retried: 1, results: [{ id: failed.id, outcome: 'retried' }, { id: 'NOSUCHENTRY', outcome: 'unknown' }] });
      // At once: the delivery worker is woken, not left to its next poll (the fake clock stands still).
      await upstream.waitForMessages(before + 1, 20_000);
      await eventually(async () => (await gateway.store.outbox.get(failed.id))?.status === 'sent', 20_000, 'the retried entry sent');
      const again = await api.post<{ results: { outcome: string }[] }>('/outbox/retry', { ids: [failed.id] });
      assert.deepEqual(again.body.results.map((r) => r.outcome), ['sent'], 'a sent entry is not sent again');
      const all = await api.post<{ retried: number }>('/outbox/retry', { all: true });
      assert.equal(all.status, 200);
      assert.equal(all.body.retried, 0);
      for (const body of [{}, { ids: [] }, { all: false }, { ids: ['x'], all: true }]) assert.equal((await api.post('/outbox/retry', body)).status, 400, JSON.stringify(body));
      const audit = await gateway.store.audit.list({ limit: 10, action: 'outbox.retry' });
      assert.deepEqual(audit.map((e) => [e.target, e.actor, e.detail]), [
        [null, 'local', { all: true, entries: 0 }],
        [failed.id, 'local', { ids: [failed.id], entries: 1 }],
      ]);
    });

    it('deletes an entry (its alarm history says so), 404 for an unknown one, audited', async () => {
      const ups = ids['ups-hall2']!;
      const [firing] = (await api.get<{ notifications: { id: string }[] }>(`/alarms/${ups}`)).body.notifications;
      const deleted = await api.delete<{ deleted: string; status: string; alarmIds: string[] }>(`/outbox/${firing!.id}`);
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.body, { deleted: firing!.id, status: 'sent', alarmIds: [ups] });
      const history = (await gateway.store.alarms.history(ups)).at(-1)!;
      assert.equal(history.outcome, 'sent-record-deleted');
      assert.match(history.reason, /deleted from the outbox by local via api/);
      const missing = await api.delete<{ error: string }>(`/outbox/${firing!.id}`);
      assert.equal(missing.status, 404);
      assert.match(missing.body.error, /no outbox entry/);
      const [audit] = await gateway.store.audit.list({ limit: 1, action: 'outbox.delete' });
      assert.equal(audit?.target, firing!.id);
      assert.deepEqual(audit?.detail?.alarmIds, [ups]);
    });
  });

  it('the OpenAPI document lists these paths', async () => {
    const doc = await api.get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json');
    assert.equal(doc.status, 200);
    const paths = doc.body.paths;
    for (const [path, method] of [
      ['/alarms', 'get'],
      ['/alarms/{id}', 'get'],
      ['/alarms/acknowledge', 'post'],
      ['/alarms/{id}/acknowledge', 'post'],
      ['/alarms/{id}/unacknowledge', 'post'],
      ['/alarms/{id}/comments', 'post'],
      ['/devices', 'get'],
      ['/outbox', 'get'],
      ['/outbox/retry', 'post'],
      ['/outbox/{id}', 'delete'],
    ] as const) {
      assert.ok(paths[path]?.[method], `${method.toUpperCase()} ${path} in the OpenAPI document`);
    }
  });
});

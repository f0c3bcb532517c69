import assert from 'node:assert/strict';
import { request } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { configFrom, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { apiClient } from '../helpers/api-client.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { VERSION } from '../../src/base/version.js';

const corpus = loadCorpus();
/** ups-on-battery.eml raises one alarm, severity major (rules/ups.yaml). */
const ACTIVE_SEVERITY_INDEX = 1;

async function alarmMail(port: number, file = 'ups-on-battery.eml'): Promise<string> {
  const mail = corpus.find((m) => m.file === file)!;
  const sent = await sendAsDevice({ port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
  return sent.dataReply ?? sent.replies.join(' | ');
}

async function mail(port: number, subject: string): Promise<string> {
  const data = Buffer.from(`From: plc@plant.local\r\nTo: ops@example.com\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`);
  const result = await sendAsDevice({ port, mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'], data });
  return result.dataReply ?? result.replies.join(' | ');
}

/** The samples of an exposition, `name{labels}` -> value; throws on a line that is not the text format. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        typed.add(meta[2]!);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    const name = sample[1]!;
    assert.ok([...typed].some((t) => name === t || name.startsWith(`${t}_`)), `${name} has no TYPE line before it`);
    const value = Number(sample[3]);
    // Go's ParseFloat, which Prometheus reads values with, takes NaN in any case (prom-client writes `Nan`).
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(sample[3]!), line);
    samples.set(`${name}${sample[2] ?? ''}`, value);
  }
  return samples;
}

describe('operator endpoints: /-/healthy, /-/ready, /metrics on a running gateway', () => {
  const dir = testDir();
  const clock = new FakeClock();
  let upstream: Upstream;
  let gateway: RunningGateway;
  let base: string;
  let upstreamReply = 250;

  before(async () => {
    upstream = await startUpstream({ security: 'none', dataReply: () => upstreamReply });
    const raw = shippedAlarmsConfig(dir, {
      // A small size limit, to see a refusal at the end of DATA.
      listeners: [{ ...loopbackListeners()[0], limits: { maxMessageSize: 65_536 } }],
      api: { listen: { address: '127.0.0.1', port: 0 }, baseUrl: 'https://alarms.plant.example.com', linkSecret: { env: 'LINK_SECRET' } },
      delivery: relayDelivery(upstream.port),
    });
    gateway = await runGateway(configFrom(dir, raw, { LINK_SECRET: 'an-operator-test-link-secret-of-enough-bytes' }), undefined, { clock, healthClock: clock });
    base = `http://127.0.0.1:${gateway.http!.address().port}`;
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('/-/healthy answers 200 while the process serves', async () => {
    const response = await fetch(`${base}/-/healthy`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /healthy/);
  });

  it('/-/ready answers 200 with every part ready', async () => {
    const response = await fetch(`${base}/-/ready`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ready' });
  });

  it('/metrics starts at zero and counts a mail accepted, queued and delivered, in the text format', async () => {
    const before = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(before.get('annunciator_messages_received_total{listener="lan",outcome="accepted",reason=""}'), 0);
    assert.equal(before.get('annunciator_notifications_total{account="lan-relay",outcome="delivered"}'), 0);

    const delivered = gateway.events.once('delivered');
    assert.match(await alarmMail(gateway.port), /^250 /);
    await delivered;

    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await response.text());
    assert.equal(samples.get('annunciator_messages_received_total{listener="lan",outcome="accepted",reason=""}'), 1);
    assert.equal(samples.get('annunciator_notifications_queued_total'), 1);
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="delivered"}'), 1);
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="deferred"}'), 0);
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="failed"}'), 0);
    assert.equal(samples.get('annunciator_outbox_pending'), 0);
    assert.equal(samples.get('annunciator_outbox_oldest_pending_age_seconds'), 0);
    const active = ['critical', 'major', 'minor', 'warning', 'info'].map((severity) => samples.get(`annunciator_alarms_active{severity="${severity}"}`));
    assert.deepEqual(active, [0, 0, 0, 0, 0].map((n, i) => (i === ACTIVE_SEVERITY_INDEX ? 1 : n)), 'the one alarm the mail raised, by its severity');
    assert.equal(samples.get('annunciator_store_healthy'), 1);
    assert.equal(samples.get('annunciator_leader'), 1);
    assert.ok(samples.has('process_cpu_seconds_total'), 'the process metrics are there');

    assert.equal(samples.get('annunciator_alarms{state="unacknowledged",severity="major"}'), 1);
    assert.equal(samples.get('annunciator_alarms{state="acknowledged",severity="major"}'), 0);
    assert.equal(samples.get('annunciator_alarms{state="muted",severity="critical"}'), 0);
    assert.equal(samples.get('annunciator_timers_pending{kind="prune"}'), 1, 'retention is armed at start');
    assert.equal(samples.get('annunciator_timers_pending{kind="escalate"}'), 0);
    // The fake clock stood still: queued and delivered at the same instant, every bucket holds it.
    assert.equal(samples.get('annunciator_delivery_latency_seconds_bucket{le="0.1",account="lan-relay"}'), 1);
    assert.equal(samples.get('annunciator_delivery_latency_seconds_count{account="lan-relay"}'), 1);
    assert.equal(samples.get('annunciator_last_delivery_timestamp_seconds{account="lan-relay"}'), clock.now() / 1000);
    assert.equal(samples.has('annunciator_last_delivery_error_timestamp_seconds{account="lan-relay"}'), false, 'no error on record yet');
    const accepts = samples.get('annunciator_store_commit_seconds_count{kind="accept"}')!;
    assert.ok(accepts >= 1, 'the mail was committed before its 250');
    assert.equal(samples.get('annunciator_store_commit_seconds_bucket{le="+Inf",kind="accept"}'), accepts);
    assert.ok(samples.get('annunciator_store_commit_seconds_count{kind="transaction"}')! >= 2, 'the pipeline and the outbox committed');
    const buckets = [...samples.keys()].filter((k) => k.startsWith('annunciator_store_commit_seconds_bucket{') && k.includes('kind="transaction"'));
    const counts = buckets.map((k) => samples.get(k)!);
    assert.equal(buckets.length, 13, '12 bounds and +Inf');
    assert.deepEqual([...counts].sort((a, b) => a - b), counts, 'buckets are cumulative');
    const build = [...samples.keys()].find((k) => k.startsWith('annunciator_build_info{'));
    assert.equal(build, `annunciator_build_info{version="${VERSION}",node_version="${process.version}",store_backend="sqlite"}`);
    assert.equal(samples.get(build!), 1);
  });

  it('/metrics counts SMTP refusals by stage, reply class, code and reason; a refused message is not accepted', async () => {
    const big = Buffer.from(`From: plc@plant.local\r\nTo: ops@example.com\r\nSubject: too big\r\n\r\n${'x'.repeat(70_000)}\r\n`);
    const sent = await sendAsDevice({ port: gateway.port, mailFrom: 'plc@plant.local', rcptTo: ['ops@example.com'], data: big });
    assert.match(sent.dataReply ?? '', /^552 /);
    const samples = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(samples.get('annunciator_smtp_refusals_total{listener="lan",stage="data",class="5xx",code="552",reason="size-limit"}'), 1);
    assert.equal(samples.get('annunciator_messages_received_total{listener="lan",outcome="refused",reason="size-limit"}'), 1);
    assert.equal(samples.get('annunciator_messages_received_total{listener="lan",outcome="accepted",reason=""}'), 1, 'still the one mail before');
  });

  it('the acknowledgement pages keep their answers for a malformed path and an unparsable body', async () => {
    const bad = await fetch(`${base}/%zz`);
    assert.equal(bad.status, 404);
    assert.match(bad.headers.get('content-type') ?? '', /^text\/html/);
    const json = await fetch(`${base}/ack/not-a-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(json.status, 403, 'the body is not parsed: the token decides');
    const head = await new Promise<number>((resolve, reject) => {
      request(`${base}/-/nothing`, { method: 'HEAD' }, (res) => resolve(res.statusCode ?? 0))
        .on('error', reject)
        .end();
    });
    assert.equal(head, 404);
  });

  it('/metrics counts a deferred delivery by account and shows the waiting notification and its age', async () => {
    upstreamReply = 451;
    const deferred = gateway.events.once('deferred');
    // Back on mains: the alarm resolves and its resolution is notified (notifyResolved).
    assert.match(await alarmMail(gateway.port, 'ups-back-on-line.eml'), /^250 /);
    await deferred;
    await clock.advance(30);
    let samples = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="deferred"}'), 1);
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="delivered"}'), 1);
    assert.equal(samples.get('annunciator_notifications_queued_total'), 2);
    assert.equal(samples.get('annunciator_outbox_pending'), 1);
    assert.equal(samples.get('annunciator_outbox_oldest_pending_age_seconds'), 0.03);
    assert.equal(samples.get('annunciator_alarms_active{severity="major"}'), 0, 'the alarm resolved');

    upstreamReply = 250;
    const delivered = gateway.events.once('delivered');
    await clock.advance(1000);
    await delivered;
    samples = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="delivered"}'), 2);
    assert.equal(samples.get('annunciator_outbox_pending'), 0);
    // Queued, deferred, delivered at a retry within the 1.03 s the fake clock went on: no
    // sooner than the retry's initial delay (50 ms), on whichever step of the clock the
    // worker woke at (its timer for the retry, or its poll).
    assert.equal(samples.get('annunciator_delivery_latency_seconds_bucket{le="2.5",account="lan-relay"}'), 2);
    assert.equal(samples.get('annunciator_delivery_latency_seconds_bucket{le="+Inf",account="lan-relay"}'), 2);
    const sum = samples.get('annunciator_delivery_latency_seconds_sum{account="lan-relay"}')!;
    assert.ok(sum >= 0.05 && sum <= 1.03, `latency sum ${sum}`);
    const lastDelivery = samples.get('annunciator_last_delivery_timestamp_seconds{account="lan-relay"}')!;
    const lastError = samples.get('annunciator_last_delivery_error_timestamp_seconds{account="lan-relay"}')!;
    assert.ok(lastError !== undefined && lastError < lastDelivery && lastDelivery <= clock.now() / 1000, 'the deferral is on record, the retry that delivered after it');
  });

  it('/metrics and GET /api/v1/delivery show a failed delivery by account, with its error and time', async () => {
    upstreamReply = 550;
    const failed = gateway.events.once('failed');
    assert.match(await alarmMail(gateway.port), /^250 /);
    await failed;
    const failedAt = clock.now();
    const samples = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(samples.get('annunciator_notifications_total{account="lan-relay",outcome="failed"}'), 1);
    assert.equal(samples.get('annunciator_last_delivery_error_timestamp_seconds{account="lan-relay"}'), failedAt / 1000);
    assert.equal(samples.get('annunciator_delivery_latency_seconds_count{account="lan-relay"}'), 2, 'a failure is no delivery');

    const api = apiClient(base);
    const health = await api.get<{ at: string; queue: unknown; accounts: Array<{ name: string; type: string; upstream: string; lastSuccessAt: string | null; lastError: { message: string; at: string } | null; waiting: unknown }> }>('/delivery');
    assert.equal(health.status, 200);
    assert.equal(health.body.at, new Date(clock.now()).toISOString());
    assert.deepEqual(health.body.queue, { pending: 0, oldestPendingAt: null, oldestPendingAgeSeconds: 0 });
    assert.equal(health.body.accounts.length, 1);
    const [account] = health.body.accounts;
    assert.equal(account!.name, 'lan-relay');
    assert.equal(account!.type, 'smtp');
    assert.equal(account!.upstream, `127.0.0.1:${upstream.port}`);
    assert.match(account!.lastError!.message, /550/);
    assert.equal(account!.lastError!.at, new Date(failedAt).toISOString());
    // The retry before may have delivered on the fake clock's last step, the time of this failure.
    assert.ok(account!.lastSuccessAt !== null && Date.parse(account!.lastSuccessAt) <= failedAt);
    assert.deepEqual(account!.waiting, { pending: 0, oldestPendingAt: null, oldestPendingAgeSeconds: 0 });
    upstreamReply = 250;
  });

  // Last: the store stays broken.
  it('/-/ready answers 503 naming the store when the store file is deleted; /-/healthy stays 200', async () => {
    const file = join(dir.path, 'data', 'annunciator.db');
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    assert.match(await mail(gateway.port, 'after'), /^451 /);
    await clock.advance(1000);

    const ready = await fetch(`${base}/-/ready`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { status: string; notReady: Record<string, string> };
    assert.equal(body.status, 'not ready');
    assert.deepEqual(Object.keys(body.notReady), ['store']);
    assert.match(body.notReady.store!, /was deleted/);
    assert.equal((await fetch(`${base}/-/healthy`)).status, 200);
    const samples = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(samples.get('annunciator_store_healthy'), 0);
    assert.equal(samples.get('annunciator_smtp_refusals_total{listener="lan",stage="data",class="4xx",code="451",reason="store-failure"}'), 1, 'the device was told to retry');
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { batchConfirmPage, escapeHtml } from '../../src/api/ack-page.js';
import { startHttpServer, type HttpServer } from '../../src/api/server.js';
import { signAckToken } from '../../src/base/ack-token.js';
import { Secret } from '../../src/config/secret.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import type { Acknowledge } from '../../src/lifecycle/ack.js';
import type { HeldNotification } from '../../src/lifecycle/batch.js';
import { createLogger } from '../../src/log/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { alarmRecord, receivedMail } from '../helpers/alarm-factory.js';
import { testDir } from '../helpers/gateway.js';
import { acknowledge, acknowledger, alarmsWith, commitPipeline } from '../helpers/store.js';

const dir = testDir();
const KEY = 'a-link-secret-of-more-than-32-bytes-for-tests';
const T0 = Date.UTC(2026, 10, 24, 2, 14, 7);
const HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>';
const FORMAT = { timeZone: 'Europe/Berlin', locale: 'en-GB' };
const RECEIVERS = [{ name: 'shift', emails: ['shift@example.com'] }];

function alarm(id: string, overrides: Partial<Alarm> = {}): Alarm {
  return alarmRecord(id, {
    device: { id: 'press-1', name: 'Press 1', site: 'Hall A', matchedBy: 'sender' },
    title: `Alarm ${id}`,
    severity: 'warning',
    firstSeen: T0,
    rules: ['hall-a-presses'],
    ...overrides,
  });
}

function held(batchKey: string, alarmId: string): HeldNotification {
  return { batchKey, batchKind: 'group', label: 'site=Hall A', flushAt: T0 + 1000, receivers: RECEIVERS, alarmId, kind: 'firing', reason: 'held for the group', at: T0 };
}

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
  alarmId?: string;
  batchId?: string;
  by?: string;
  ackedBy?: string;
}

describe('acknowledgement links for groups and digests', () => {
  const store = SqliteStore.open(join(dir.path, 'data'));
  const logLines: LogLine[] = [];
  const logger = createLogger({
    level: 'info',
    format: 'json',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as LogLine);
        done();
      },
    }),
  });
  /** Alarms the store pretends not to hold (as after a purge). */
  const hidden = new Set<string>();
  const view: Pick<Store, 'alarms' | 'batches'> = {
    alarms: alarmsWith(store.alarms, async (id) => (hidden.has(id) ? undefined : await store.alarms.get(id))),
    batches: store.batches,
  };
  const acknowledged: Alarm[] = [];
  const viewAcknowledge: Acknowledge = acknowledger(store, acknowledged, (id) => hidden.has(id));
  let clock = T0 + 120_000;
  let server: HttpServer;
  let base: string;
  let mixed: string;
  let hostile: string;
  let purged: string;
  const token = (batchId: string, receiver = 'shift', expiresAt = T0 + 7 * 86_400_000, key = KEY): string => signAckToken({ batchId, receiver, expiresAt }, key);

  async function raise(a: Alarm, batchKey: string): Promise<void> {
    await store.accept(receivedMail(a.firstEventId, T0));
    await commitPipeline(store, a.firstEventId, { alarm: a, outcome: 'raised', reason: 'new', outbox: [], held: [held(batchKey, a.id)] }, T0);
  }

  before(async () => {
    // A group of three, one of them acknowledged already (by the CLI).
    await raise(alarm('B1', { title: 'Hydraulic pressure low', severity: 'major' }), 'group|mixed');
    await raise(alarm('B2', { title: 'Guard door open' }), 'group|mixed');
    await raise(alarm('B3', { title: 'Lube oil level low' }), 'group|mixed');
    await acknowledge(store, 'B3', { by: 'anna', channel: 'cli', at: T0 + 60_000 }, T0 + 60_000);
    // A group whose device wrote something hostile.
    await raise(alarm('C1', { title: HOSTILE, device: { id: 'x', name: '"Dev" <b>', matchedBy: 'sender' } }), 'group|hostile');
    await raise(alarm('C2', { title: 'Die temperature high' }), 'group|hostile');
    // A group whose alarms are gone.
    await raise(alarm('D1'), 'group|purged');
    mixed = (await store.batches.ofAlarm('B1'))[0]!.id;
    hostile = (await store.batches.ofAlarm('C1'))[0]!.id;
    purged = (await store.batches.ofAlarm('D1'))[0]!.id;
    hidden.add('D1');
    server = await startHttpServer({ listen: { address: '127.0.0.1', port: 0 }, linkKey: new Secret(KEY), store: view, acknowledge: viewAcknowledge, logger, format: FORMAT, now: () => clock });
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    await server.close();
    await store.close();
    dir.remove();
  });

  it('GET lists the batch alarms with their state and acknowledgement, and acknowledges nothing', async () => {
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(`${base}/ack/${token(mixed)}`, { method });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      if (method === 'HEAD') continue;
      const html = await response.text();
      assert.match(html, /<h1>3 alarms — site&#61;Hall A<\/h1>/);
      for (const title of ['Hydraulic pressure low', 'Guard door open', 'Lube oil level low']) assert.ok(html.includes(`<b>${title}</b>`), title);
      assert.ok(html.indexOf('Hydraulic pressure low') < html.indexOf('Guard door open'), 'the most severe first, as in the mail');
      assert.match(html, /<td>Press 1 \(Hall A\)<\/td><td>active<\/td><td>not yet<\/td>/);
      assert.match(html, /<td>by anna at Tue 24 Nov 2026 03:15:07 CET \(cli\)<\/td>/);
      assert.match(html, /<form method="post"><p>Acknowledge as <b>shift<\/b>/);
      assert.match(html, /<button type="submit">Acknowledge the 2 alarms not yet acknowledged<\/button>/);
    }
    assert.equal((await store.alarms.get('B1'))?.ack, undefined, 'GET and HEAD must not acknowledge');
    assert.equal((await store.alarms.get('B2'))?.ack, undefined);
  });

  it('GET of a batch with every alarm pending offers "Acknowledge all N alarms", and escapes what devices wrote', async () => {
    const html = await (await fetch(`${base}/ack/${token(hostile, '<i>eve</i>')}`)).text();
    assert.match(html, /<button type="submit">Acknowledge all 2 alarms<\/button>/);
    assert.doesNotMatch(html, /<script>|<img|<i>eve|"Dev" <b>/);
    assert.ok(html.includes(escapeHtml(HOSTILE)));
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src&#61;x onerror&#61;alert(1)&gt;'));
    assert.ok(html.includes('&quot;Dev&quot; &lt;b&gt;'));
    assert.ok(html.includes('&lt;i&gt;eve&lt;/i&gt;'));
  });

  it('the page escapes a hostile batch label and title (pure)', () => {
    const page = batchConfirmPage({ id: 'X', kind: 'group', label: `site=${HOSTILE}` }, [alarm('Z1', { title: HOSTILE })], '<b>r</b>', FORMAT);
    assert.doesNotMatch(page.html, /<script>|<img|<b>r<\/b>/);
    assert.ok(page.html.includes(`<title>Acknowledge: 1 alarm — site&#61;${escapeHtml(HOSTILE)}</title>`));
    assert.match(page.html, /<button type="submit">Acknowledge alarm<\/button>/);
  });

  it('POST acknowledges each alarm not yet acknowledged, with channel link, and says which were already', async () => {
    clock = T0 + 300_000;
    const before = logLines.length;
    const response = await fetch(`${base}/ack/${token(mixed)}`, { method: 'POST' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const html = await response.text();
    assert.match(html, /Acknowledged now by <b>shift<\/b> at Tue 24 Nov 2026 03:19:07 CET: 2 alarms\./);
    assert.match(html, /<li>Lube oil level low: already acknowledged by <b>anna<\/b> at Tue 24 Nov 2026 03:15:07 CET \(cli\)<\/li>/);
    for (const id of ['B1', 'B2']) {
      assert.deepEqual((await store.alarms.get(id))?.ack, { by: 'shift', channel: 'link', at: T0 + 300_000, ref: 'link' }, id);
      assert.deepEqual((await store.alarms.history(id)).map((l) => l.outcome), ['raised', 'acknowledged']);
    }
    assert.equal((await store.alarms.get('B3'))?.ack?.by, 'anna', 'the first acknowledgement stays');
    assert.deepEqual(acknowledged.map((a) => a.id).sort(), ['B1', 'B2']);
    const lines = logLines.slice(before).filter((l) => l.batchId === mixed);
    assert.deepEqual(lines.map((l) => l.alarmId).sort(), ['B1', 'B2', 'B3'], 'one line per alarm, with alarmId and batchId');
    assert.equal(lines.filter((l) => l.msg === 'alarm acknowledged by link').length, 2);
    assert.equal(lines.find((l) => l.alarmId === 'B3')?.ackedBy, 'anna');
  });

  it('a second POST records nothing and reports every alarm as already acknowledged; GET then has no button', async () => {
    clock = T0 + 400_000;
    const response = await fetch(`${base}/ack/${token(mixed, 'tom')}`, { method: 'POST' });
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.doesNotMatch(html, /Acknowledged now/);
    assert.match(html, /Already acknowledged, not recorded for tom: 3 alarms\./);
    assert.match(html, /Guard door open: already acknowledged by <b>shift<\/b>/);
    assert.equal((await store.alarms.get('B1'))?.ack?.by, 'shift');
    assert.equal(acknowledged.length, 2);
    const page = await (await fetch(`${base}/ack/${token(mixed, 'tom')}`)).text();
    assert.match(page, /All 3 alarms of this group were acknowledged already/);
    assert.doesNotMatch(page, /<form/);
  });

  it('refuses a forged or altered batch token with 403, an expired one with 410', async () => {
    const forged = await fetch(`${base}/ack/${token(hostile, 'mallory', T0 + 86_400_000, 'not-the-gateway-key-but-long-enough!!')}`, { method: 'POST' });
    assert.equal(forged.status, 403);
    const [, sig] = token(mixed).split('.') as [string, string];
    const swapped = Buffer.from(JSON.stringify({ b: hostile, r: 'shift', e: T0 + 7 * 86_400_000 }), 'utf8').toString('base64url');
    const altered = await fetch(`${base}/ack/${swapped}.${sig}`, { method: 'POST' });
    assert.equal(altered.status, 403);
    assert.match(await altered.text(), /not issued by this gateway, or it was changed/);
    const expired = await fetch(`${base}/ack/${token(hostile, 'shift', clock - 1)}`, { method: 'POST' });
    assert.equal(expired.status, 410);
    assert.equal((await store.alarms.get('C1'))?.ack, undefined);
    assert.equal((await store.alarms.get('C2'))?.ack, undefined);
  });

  it('answers 404 for an unknown batch and for a batch with no alarms left', async () => {
    const unknown = await fetch(`${base}/ack/${token('01KNOSUCHBATCH000000000000')}`);
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /no group or digest 01KNOSUCHBATCH000000000000/);
    for (const method of ['GET', 'POST']) {
      const gone = await fetch(`${base}/ack/${token(purged)}`, { method });
      assert.equal(gone.status, 404);
      assert.match(await gone.text(), /None of the alarms of/);
    }
    assert.equal((await store.alarms.get('D1'))?.ack, undefined);
  });
});

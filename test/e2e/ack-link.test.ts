import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const corpus = loadCorpus();
const BASE_URL = 'https://alarms.plant.example.com';

describe('acknowledgement by link, end to end', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    const raw = shippedAlarmsConfig(dir, {
      api: { listen: { address: '127.0.0.1', port: 0 }, baseUrl: BASE_URL, linkSecret: { env: 'ANNUNCIATOR_LINK_SECRET' }, linkLifetime: '7d' },
      delivery: relayDelivery(upstream.port),
    });
    gateway = await runGateway(configFrom(dir, raw, { ANNUNCIATOR_LINK_SECRET: 'an-end-to-end-link-secret-of-enough-bytes' }));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('the notification carries a link; GET shows the alarm, POST acknowledges it; a forged link is refused', async () => {
    assert.ok(gateway.http, 'the api server runs with the gateway');
    const mail = corpus.find((m) => m.file === 'ups-on-battery.eml')!;
    const sentAt = Date.now();
    const sent = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
    assert.match(sent.dataReply ?? '', /^250 /);
    const message = await eventually(() => upstream.messages.find((m) => m.parsed.headers.get('x-annunciator-alarm')), 10_000, 'a notification');
    const alarmId = String(message.parsed.headers.get('x-annunciator-alarm'));
    const link = /Acknowledge: (https:\/\/alarms\.plant\.example\.com\/ack\/\S+)/.exec(message.parsed.text ?? '')?.[1];
    assert.ok(link, message.parsed.text);
    // The reverse proxy's part: the link's path, on the gateway's own port.
    const local = `http://127.0.0.1:${gateway.http.address().port}${new URL(link).pathname}`;

    const page = await fetch(local);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post">/);
    assert.equal((await gateway.store.alarms.get(alarmId))?.ack, undefined, 'GET does not acknowledge');

    // The token's claims: this alarm, the route's first receiver, valid for linkLifetime (7d)
    // from when the notification was due. ups-on-battery goes to facility-team, with oncall
    // named first at night and at weekends (rules/00-night-oncall.yaml; the clock is real).
    const [payload, signature] = new URL(link).pathname.slice('/ack/'.length).split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a: string; r: string; e: number };
    assert.deepEqual(Object.keys(claims), ['a', 'r', 'e']);
    assert.equal(claims.a, alarmId);
    const told = (await gateway.store.alarms.get(alarmId))?.receivers ?? []; // addresses, in route order
    assert.ok(told.includes('facility@example.com'), told.join(', '));
    assert.equal(claims.r, told[0] === 'oncall@example.com' ? 'oncall' : 'facility-team', told.join(', '));
    assert.ok(claims.e >= sentAt + 7 * 86_400_000 && claims.e <= Date.now() + 7 * 86_400_000, `expires ${new Date(claims.e).toISOString()}, 7 days after the notification`);

    // The same signature on other claims, while the alarm is still open: refused, nothing recorded.
    const forged = Buffer.from(JSON.stringify({ a: alarmId, r: 'mallory', e: Date.now() + 86_400_000 })).toString('base64url');
    const refused = await fetch(`http://127.0.0.1:${gateway.http.address().port}/ack/${forged}.${signature}`, { method: 'POST' });
    assert.equal(refused.status, 403);
    assert.equal((await gateway.store.alarms.get(alarmId))?.ack, undefined, 'a forged link acknowledges nothing');

    const done = await fetch(local, { method: 'POST' });
    assert.equal(done.status, 200);
    const ack = (await gateway.store.alarms.get(alarmId))?.ack;
    assert.equal(ack?.channel, 'link');
    assert.equal(ack?.by, claims.r, 'recorded with the receiver named in the token');
  });
});

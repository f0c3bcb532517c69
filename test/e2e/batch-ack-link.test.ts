import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { configFrom, eventually, loopbackListeners, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

/**
 * Acknowledgement links for a group notification through real sockets: two alarms grouped
 * into one mail, its "Acknowledge all" link opened and posted with node's fetch.
 */

const BASE_URL = 'https://alarms.plant.example.com';

function header(message: UpstreamMessage, name: string): string {
  const value = message.parsed.headers.get(name);
  return typeof value === 'string' ? value : '';
}

describe('acknowledgement by link for a group notification, end to end', () => {
  const dir = testDir();
  // The group wait (1 s) passes when the test says so.
  const clock = new FakeClock();
  let upstream: Upstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    const rules = join(dir.path, 'rules');
    mkdirSync(rules, { recursive: true });
    writeFileSync(
      join(rules, 'grouping.yaml'),
      ['rules:', '  - name: hall-a-presses', '    when: { fact: device.id, operator: matches, value: "^press-" }', '    then:', '      receivers: [shift]', '      group: { by: [site], wait: 1s }', ''].join('\n'),
    );
    const raw = {
      gateway: { hostname: 'gw.test', domain: 'gw.test', dataDir: join(dir.path, 'data') },
      log: { level: 'error', format: 'json' },
      listeners: loopbackListeners(),
      receivers: [
        { name: 'shift', email: 'shift@example.com' },
        { name: 'oncall', email: 'oncall@example.com' },
      ],
      devices: ['press-1', 'press-2'].map((id) => ({ id, name: id.toUpperCase(), match: { senders: [`${id}@plant.local`] }, site: 'Hall A' })),
      alarms: { rulesDir: rules, templatesDir: join(REPO_ROOT, 'templates'), timeZone: 'Europe/Berlin', watch: false, defaultRoute: { receivers: ['oncall'] } },
      api: { listen: { address: '127.0.0.1', port: 0 }, baseUrl: BASE_URL, linkSecret: { env: 'ANNUNCIATOR_LINK_SECRET' }, linkLifetime: '7d' },
      delivery: relayDelivery(upstream.port),
    };
    gateway = await runGateway(configFrom(dir, raw, { ANNUNCIATOR_LINK_SECRET: 'an-end-to-end-link-secret-of-enough-bytes' }), undefined, { clock });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  const sendAlarm = (device: string, subject: string): Promise<void> => sendDeviceAlarm(gateway.port, device, subject);

  it('the group mail carries one link; GET lists both alarms, POST acknowledges both, again reports them acknowledged; a tampered link is refused', async () => {
    assert.ok(gateway.http, 'the api server runs with the gateway');
    await Promise.all([sendAlarm('press-1', 'Hydraulic pressure low'), sendAlarm('press-2', 'Guard door open')]);
    await eventually(async () => (await gateway.store.alarms.list(['active'])).length === 2 && (await gateway.store.batches.nextDueAt()) !== undefined, 10_000, 'both alarms held for the group');
    await clock.advance(999);
    assert.equal((await gateway.store.outbox.list(['pending', 'sending', 'sent', 'failed'])).length, 0, 'held for the whole group wait');
    await clock.advance(1);
    const group = await eventually(() => upstream.messages.find((m) => header(m, 'x-annunciator-kind') === 'group'), 10_000, 'the group notification');
    assert.deepEqual(group.rcptTo, ['shift@example.com']);
    const batchId = header(group, 'x-annunciator-batch');
    const alarmIds = header(group, 'x-annunciator-alarms').split(', ');
    assert.equal(alarmIds.length, 2);
    const text = group.parsed.text ?? '';
    const link = /Acknowledge all: (https:\/\/alarms\.plant\.example\.com\/ack\/\S+)/.exec(text)?.[1];
    assert.ok(link, text);
    assert.ok((typeof group.parsed.html === 'string' ? group.parsed.html : '').includes(link), 'the HTML part has the same link');
    // The reverse proxy's part: the link's path, on the gateway's own port.
    const origin = `http://127.0.0.1:${gateway.http.address().port}`;
    const local = `${origin}${new URL(link).pathname}`;

    const page = await fetch(local);
    assert.equal(page.status, 200);
    const html = await page.text();
    for (const title of ['Hydraulic pressure low', 'Guard door open']) assert.ok(html.includes(title), `the page lists ${title}`);
    assert.match(html, /<button type="submit">Acknowledge all 2 alarms<\/button>/);
    for (const id of alarmIds) assert.equal((await gateway.store.alarms.get(id))?.ack, undefined, 'GET does not acknowledge');

    const done = await fetch(local, { method: 'POST' });
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Acknowledged now by <b>shift<\/b>.*: 2 alarms\./);
    for (const id of alarmIds) {
      const ack = (await gateway.store.alarms.get(id))?.ack;
      assert.equal(ack?.channel, 'link', id);
      assert.equal(ack?.by, 'shift', 'recorded as the batch receiver named in the token');
    }

    const again = await fetch(local, { method: 'POST' });
    assert.equal(again.status, 200);
    const second = await again.text();
    assert.doesNotMatch(second, /Acknowledged now/);
    assert.match(second, /Already acknowledged, not recorded for shift: 2 alarms\./);
    assert.equal((second.match(/already acknowledged by <b>shift<\/b>/g) ?? []).length, 2);

    // Tampered: another batch (or an alarm) named under this link's signature.
    const [, signature] = new URL(link).pathname.slice('/ack/'.length).split('.') as [string, string];
    const expiresAt = clock.now() + 86_400_000;
    for (const wire of [{ b: `${batchId}X`, r: 'mallory', e: expiresAt }, { a: alarmIds[0], r: 'mallory', e: expiresAt }]) {
      const forged = Buffer.from(JSON.stringify(wire)).toString('base64url');
      const refused = await fetch(`${origin}/ack/${forged}.${signature}`, { method: 'POST' });
      assert.equal(refused.status, 403);
    }
    for (const id of alarmIds) assert.equal((await gateway.store.alarms.get(id))?.ack?.by, 'shift');
  });
});

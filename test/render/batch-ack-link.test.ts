import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { verifyAckToken } from '../../src/api/ack-token.js';
import { configSchema } from '../../src/config/schema.js';
import { Secret } from '../../src/config/secret.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { summarizeBatch, type Batch } from '../../src/lifecycle/batch.js';
import { decide } from '../../src/lifecycle/decide.js';
import { renderBatchNotification, type BatchNotificationContext } from '../../src/render/batch-notification.js';
import type { AckLinkOptions } from '../../src/render/notification.js';
import { loadTemplates } from '../../src/render/templates.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

const templates = loadTemplates(join(REPO_ROOT, 'templates'));
const T0 = Date.UTC(2026, 10, 26, 8, 0, 0);
const SENT_AT = T0 + 30_000;
const KEY = 'render-test-link-secret-32-bytes-or-more';
const LINKS: AckLinkOptions = { baseUrl: 'https://alarms.plant.example.com', key: new Secret(KEY), lifetime: 7 * 86_400_000 };
const LINK = /https:\/\/alarms\.plant\.example\.com\/ack\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/;
const BATCH_ID = '01KBATCH0000000000000000AB';

function alarm(n: number): Alarm {
  const event = alarmEvent({ id: `E${n}`, title: `Press ${n} guard door open`, device: { id: `press-${n}`, name: `Press ${n}`, site: 'Hall A', matchedBy: 'sender' } });
  return decide({ active: undefined, event, route: route(), fingerprint: `fp${n}`, now: T0 + n, newAlarmId: () => `ALM${n}` }).alarm!;
}

const ctx: BatchNotificationContext = {
  relay: configSchema.shape.relay.parse({}),
  hostname: 'gw1.plant.local',
  domain: 'alarms.example.com',
  timeZone: 'Europe/Berlin',
  locale: 'en-GB',
  template: 'group',
  maxListed: 50,
};

async function render(kind: Batch['kind'], extra: Partial<BatchNotificationContext> = {}, receivers: Batch['receivers'] = [{ name: 'shift', emails: ['shift@example.com'] }, { name: 'oncall', emails: ['oncall@example.com'] }]) {
  const alarms = [alarm(1), alarm(2)];
  const batch: Batch = { id: BATCH_ID, key: `${kind}|x`, kind, label: kind === 'group' ? 'site=Hall A' : 'device press-1', openedAt: T0, flushAt: SENT_AT, receivers };
  const summary = summarizeBatch(alarms.map((a) => ({ alarmId: a.id, kind: 'firing' as const, reason: 'r', at: T0 })), (id) => alarms.find((a) => a.id === id));
  const parsed = await simpleParser((await renderBatchNotification(batch, summary, SENT_AT, templates, { ...ctx, ...extra })).message);
  return { text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' };
}

describe('acknowledgement links in group and digest notifications', () => {
  it('a group mail carries "Acknowledge all" with a batch token for the first receiver, expiring lifetime after it was sent', async () => {
    const { text, html } = await render('group', { ackLinks: LINKS });
    const line = /Acknowledge all: (\S+)/.exec(text);
    assert.ok(line, text);
    const token = LINK.exec(line[1]!)?.[1];
    assert.ok(token, line[1]);
    assert.deepEqual(verifyAckToken(token, KEY, SENT_AT), { ok: true, claims: { batchId: BATCH_ID, receiver: 'shift', expiresAt: SENT_AT + LINKS.lifetime } });
    assert.match(html, /Acknowledge all: <a href="https:\/\/alarms\.plant\.example\.com\/ack\/[A-Za-z0-9_.-]+"/);
    assert.ok(html.includes(`/ack/${token}`));
  });

  it('a digest carries the link too; "recipient" when the batch names no receiver', async () => {
    const { text } = await render('digest', { ackLinks: LINKS }, []);
    const token = LINK.exec(/Acknowledge all: (\S+)/.exec(text)?.[1] ?? '')?.[1];
    assert.ok(token, text);
    const verdict = verifyAckToken(token, KEY, SENT_AT);
    assert.ok(verdict.ok);
    assert.equal(verdict.claims.batchId, BATCH_ID);
    assert.equal(verdict.claims.receiver, 'recipient');
  });

  it('with replies read as well, the reply line says "Or reply"', async () => {
    const { text, html } = await render('group', { ackLinks: LINKS, replyAckWord: 'ACK' });
    assert.match(text, /Acknowledge all: \S+\nOr reply to this mail with ACK as the first word to acknowledge every alarm listed\./);
    assert.match(html, /Or reply to this mail with <b>ACK<\/b>/);
  });

  it('escapes the link in HTML', async () => {
    const { html } = await render('group', { ackLinks: { ...LINKS, baseUrl: 'https://example.com/a"b<c' } });
    assert.doesNotMatch(html, /a"b<c/);
    assert.match(html, /a&quot;b&lt;c\/ack\//);
  });

  it('carries no link when api is not configured', async () => {
    for (const extra of [{}, { replyAckWord: 'ACK' }]) {
      const { text, html } = await render('group', extra);
      assert.doesNotMatch(text, /Acknowledge all|\/ack\//);
      assert.doesNotMatch(html, /Acknowledge all|\/ack\//);
    }
    assert.match((await render('group', { replyAckWord: 'ACK' })).text, /^Reply to this mail with ACK/m);
  });
});

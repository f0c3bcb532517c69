import { simpleParser } from 'mailparser';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyAckToken } from '../../src/base/ack-token.js';
import { configSchema } from '../../src/config/schema.js';
import { Secret } from '../../src/config/secret.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { summarizeBatch, type Batch, type BatchItem } from '../../src/lifecycle/batch.js';
import { decide } from '../../src/lifecycle/decide.js';
import { renderBatchNotification, type BatchNotificationContext } from '../../src/render/batch-notification.js';
import type { AckLinkOptions } from '../../src/render/notification.js';
import { loadTemplates } from '../../src/render/templates.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

const templates = loadTemplates(join(REPO_ROOT, 'templates'));
const T0 = Date.UTC(2026, 10, 26, 8, 0, 0);

function alarm(n: number, overrides: Partial<Alarm> = {}): Alarm {
  const event = alarmEvent({ id: `E${n}`, title: `Sensor ${n} signal lost`, device: { id: 'burst-plc', name: 'Burst PLC', site: 'Hall B', matchedBy: 'sender' } });
  return { ...decide({ active: undefined, event, route: route(), fingerprint: `fp${n}`, now: T0 + n, newAlarmId: () => `ALM${n}` }).alarm!, ...overrides };
}

function batch(kind: Batch['kind'], label: string): Batch {
  return { id: '01KBATCH0000000000000000AB', key: `${kind}|x|oncall@example.com`, kind, label, openedAt: T0, flushAt: T0 + 300_000, receivers: [{ name: 'oncall', emails: ['oncall@example.com'] }] };
}

const ctx: BatchNotificationContext = {
  relay: configSchema.shape.relay.parse({}),
  hostname: 'gw1.plant.local',
  domain: 'alarms.example.com',
  timeZone: 'Europe/Berlin',
  locale: 'en-GB',
  template: 'group',
  maxListed: 3,
};

async function render(kind: Batch['kind'], alarms: Alarm[], items: BatchItem[]) {
  const byId = new Map(alarms.map((a) => [a.id, a]));
  const out = await renderBatchNotification(batch(kind, kind === 'digest' ? 'device burst-plc' : 'site=Hall B'), summarizeBatch(items, (id) => byId.get(id)), T0 + 300_000, templates, ctx);
  return { out, parsed: await simpleParser(out.message) };
}

describe('renderBatchNotification (shipped group templates)', () => {
  it('a digest says how many notifications it folded, lists the first alarms and counts the rest', async () => {
    const alarms = Array.from({ length: 5 }, (_, i) => alarm(i + 1, i === 0 ? { severity: 'critical' } : {}));
    const items: BatchItem[] = [...alarms.map((a) => ({ alarmId: a.id, kind: 'firing' as const, reason: 'flood', at: T0 })), { alarmId: 'ALM2', kind: 'resolved', reason: 'flood', at: T0 + 9 }];
    const { out, parsed } = await render('digest', alarms, items);
    assert.equal(parsed.subject, '[DIGEST CRITICAL] 6 notifications folded, 5 alarms — device burst-plc #01KBATCH0000000000000000AB');
    assert.equal(parsed.messageId, '<01KBATCH0000000000000000AB.digest@alarms.example.com>');
    assert.equal(parsed.headers.get('x-annunciator-kind'), 'digest');
    assert.equal(parsed.headers.get('x-annunciator-batch'), '01KBATCH0000000000000000AB');
    assert.equal(parsed.headers.get('x-annunciator-alarms'), 'ALM1, ALM2, ALM3', 'the listed alarms, most severe first');
    assert.equal(parsed.headers.get('auto-submitted'), 'auto-generated');
    assert.deepEqual(out.recipients, ['oncall@example.com']);
    const text = parsed.text ?? '';
    assert.match(text, /6 notifications about 5 alarms were folded into this one mail over 5 min/);
    assert.match(text, /\.\.\. and 2 more alarms/);
    assert.ok(!text.includes('Sensor 5 signal lost'), 'beyond maxListed: counted, not listed');
    assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(out.message.toString('latin1')), 'CRLF only');
  });

  it('names every listed alarm in X-Annunciator-Alarms, folded, however many are listed', async () => {
    const alarms = Array.from({ length: 60 }, (_, i) => alarm(i + 1, { id: `01KALARM${String(i + 1).padStart(18, '0')}` }));
    const items: BatchItem[] = alarms.map((a) => ({ alarmId: a.id, kind: 'firing' as const, reason: 'flood', at: T0 }));
    const byId = new Map(alarms.map((a) => [a.id, a]));
    const out = await renderBatchNotification(batch('digest', 'device burst-plc'), summarizeBatch(items, (id) => byId.get(id)), T0 + 300_000, templates, { ...ctx, maxListed: 60 });
    const parsed = await simpleParser(out.message);
    assert.deepEqual(String(parsed.headers.get('x-annunciator-alarms')).split(', ').sort(), alarms.map((a) => a.id).sort());
    const head = out.message.toString('latin1').split('\r\n\r\n')[0]!;
    assert.ok(head.split('\r\n').every((line) => line.length <= 998), 'header lines within SMTP limits');
  });

  it('a group lists its alarms as they are now, and escapes what devices wrote', async () => {
    const alarms = [alarm(1, { title: '<script>alert(1)</script> Guard door' }), alarm(2, { state: 'resolved', resolvedAt: T0 + 60_000 }), alarm(3, { ack: { by: 'anna', at: T0, channel: 'cli' } })];
    const { parsed } = await render('group', alarms, alarms.map((a) => ({ alarmId: a.id, kind: 'firing' as const, reason: 'group', at: T0 })));
    assert.match(parsed.subject ?? '', /^\[MAJOR\] 3 alarms — site=Hall B #01KBATCH/);
    const html = typeof parsed.html === 'string' ? parsed.html : '';
    assert.ok(!html.includes('<script>'), 'HTML-escaped');
    assert.ok(html.includes('&lt;script&gt;'));
    const text = parsed.text ?? '';
    assert.match(text, /Now: 2 active, 1 resolved, 1 acknowledged\./);
    assert.match(text, /acknowledged by anna/);
    assert.match(text, /resolved Thu 26 Nov 2026 09:01:00 CET/);
  });

  it('keeps the batch id in the subject even when a template leaves it out', async () => {
    const lib = loadTemplates(join(REPO_ROOT, 'templates'));
    const set = lib.get('short')!;
    const shortAsGroup = { ...lib, get: (name: string) => (name === 'group' ? { ...set, render: () => ({ subject: 'Alarms', text: 'x\r\n' }) } : lib.get(name)) };
    const out = await renderBatchNotification(batch('group', 'site=Hall B'), summarizeBatch([{ alarmId: 'ALM1', kind: 'firing', reason: 'r', at: T0 }], () => alarm(1)), T0, shortAsGroup, ctx);
    assert.equal((await simpleParser(out.message)).subject, 'Alarms [#01KBATCH0000000000000000AB]');
  });
});

const SENT_AT = T0 + 30_000;
const KEY = 'render-test-link-secret-32-bytes-or-more';
const LINKS: AckLinkOptions = { baseUrl: 'https://alarms.plant.example.com', key: new Secret(KEY), lifetime: 7 * 86_400_000 };
const LINK = /https:\/\/alarms\.plant\.example\.com\/ack\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/;
const BATCH_ID = '01KBATCH0000000000000000AB';

/** A batch of two alarms rendered with `extra` context (ack links, reply word). */
async function renderWithLinks(kind: Batch['kind'], extra: Partial<BatchNotificationContext> = {}, receivers: Batch['receivers'] = [{ name: 'shift', emails: ['shift@example.com'] }, { name: 'oncall', emails: ['oncall@example.com'] }]) {
  const alarms = [alarm(1), alarm(2)];
  const batch: Batch = { id: BATCH_ID, key: `${kind}|x`, kind, label: kind === 'group' ? 'site=Hall A' : 'device press-1', openedAt: T0, flushAt: SENT_AT, receivers };
  const summary = summarizeBatch(alarms.map((a) => ({ alarmId: a.id, kind: 'firing' as const, reason: 'r', at: T0 })), (id) => alarms.find((a) => a.id === id));
  const parsed = await simpleParser((await renderBatchNotification(batch, summary, SENT_AT, templates, { ...ctx, ...extra })).message);
  return { text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' };
}

describe('acknowledgement links in group and digest notifications', () => {
  it('a group mail carries "Acknowledge all" with a batch token for the first receiver, expiring lifetime after it was sent', async () => {
    const { text, html } = await renderWithLinks('group', { ackLinks: LINKS });
    const line = /Acknowledge all: (\S+)/.exec(text);
    assert.ok(line, text);
    const token = LINK.exec(line[1]!)?.[1];
    assert.ok(token, line[1]);
    assert.deepEqual(verifyAckToken(token, KEY, SENT_AT), { ok: true, claims: { batchId: BATCH_ID, receiver: 'shift', expiresAt: SENT_AT + LINKS.lifetime } });
    assert.match(html, /Acknowledge all: <a href="https:\/\/alarms\.plant\.example\.com\/ack\/[A-Za-z0-9_.-]+"/);
    assert.ok(html.includes(`/ack/${token}`));
  });

  it('a digest carries the link too; "recipient" when the batch names no receiver', async () => {
    const { text } = await renderWithLinks('digest', { ackLinks: LINKS }, []);
    const token = LINK.exec(/Acknowledge all: (\S+)/.exec(text)?.[1] ?? '')?.[1];
    assert.ok(token, text);
    const verdict = verifyAckToken(token, KEY, SENT_AT);
    assert.ok(verdict.ok);
    assert.equal(verdict.claims.batchId, BATCH_ID);
    assert.equal(verdict.claims.receiver, 'recipient');
  });

  it('with replies read as well, the reply line says "Or reply"', async () => {
    const { text, html } = await renderWithLinks('group', { ackLinks: LINKS, replyAckWord: 'ACK' });
    assert.match(text, /Acknowledge all: \S+\nOr reply to this mail with ACK as the first word to acknowledge every alarm listed\./);
    assert.match(html, /Or reply to this mail with <b>ACK<\/b>/);
  });

  it('escapes the link in HTML', async () => {
    const { html } = await renderWithLinks('group', { ackLinks: { ...LINKS, baseUrl: 'https://example.com/a"b<c' } });
    assert.doesNotMatch(html, /a"b<c/);
    assert.match(html, /a&quot;b&lt;c\/ack\//);
  });

  it('carries no link when api is not configured', async () => {
    for (const extra of [{}, { replyAckWord: 'ACK' }]) {
      const { text, html } = await renderWithLinks('group', extra);
      assert.doesNotMatch(text, /Acknowledge all|\/ack\//);
      assert.doesNotMatch(html, /Acknowledge all|\/ack\//);
    }
    assert.match((await renderWithLinks('group', { replyAckWord: 'ACK' })).text, /^Reply to this mail with ACK/m);
  });
});

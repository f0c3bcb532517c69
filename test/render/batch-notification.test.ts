import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { configSchema } from '../../src/config/schema.js';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { summarizeBatch, type Batch, type BatchItem } from '../../src/lifecycle/batch.js';
import { decide } from '../../src/lifecycle/decide.js';
import { renderBatchNotification, type BatchNotificationContext } from '../../src/render/batch-notification.js';
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

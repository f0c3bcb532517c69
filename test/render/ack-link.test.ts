import { simpleParser } from 'mailparser';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verifyAckToken } from '../../src/base/ack-token.js';
import { configSchema } from '../../src/config/schema.js';
import { Secret } from '../../src/config/secret.js';
import type { Alarm, Due } from '../../src/lifecycle/alarm.js';
import { renderNotification, type AckLinkOptions, type NotificationContext } from '../../src/render/notification.js';
import { loadTemplates } from '../../src/render/templates.js';
import type { Route } from '../../src/rules/route.js';
import { alarmEvent, route } from '../helpers/alarm-factory.js';

const templates = loadTemplates(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates'));
const T0 = Date.UTC(2026, 10, 24, 2, 14, 7);
const KEY = 'render-test-link-secret-32-bytes-or-more';
const LINKS: AckLinkOptions = { baseUrl: 'https://alarms.plant.example.com', key: new Secret(KEY), lifetime: 7 * 86_400_000 };

function due(routeOverrides: Partial<Route> = {}): Due {
  const event = alarmEvent();
  const r = route(routeOverrides);
  const alarm: Alarm = {
    id: '01JDALARM00000000000000000',
    fingerprint: 'fp',
    state: 'active',
    device: event.device,
    title: event.title,
    severity: r.severity,
    fields: event.fields,
    text: event.text,
    count: 1,
    firstSeen: T0,
    lastSeen: T0,
    firstEventId: event.id,
    lastEventId: event.id,
    notifications: 1,
    countAtLastNotification: 0,
    receivers: [],
    rules: r.rules,
  };
  return { kind: 'firing', alarm, event, route: r, reason: 'new alarm, routed by rule ups-power', sequence: 1, at: T0 };
}

function context(ackLinks?: AckLinkOptions): NotificationContext {
  return { relay: configSchema.shape.relay.parse({}), hostname: 'gw1.plant.local', domain: 'alarms.example.com', timeZone: 'Europe/Berlin', locale: 'en-GB', ...(ackLinks ? { ackLinks } : {}) };
}

async function parts(d: Due, ackLinks?: AckLinkOptions): Promise<{ text: string; html: string }> {
  const out = await renderNotification(d, templates, context(ackLinks));
  const parsed = await simpleParser(out.message);
  return { text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' };
}

const LINK = /https:\/\/alarms\.plant\.example\.com\/ack\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/;

describe('acknowledgement links in notifications', () => {
  it('the default templates show the link when api is configured, with a token for the first receiver', async () => {
    const { text, html } = await parts(due(), LINKS);
    const inText = /Acknowledge: (\S+)/.exec(text);
    assert.ok(inText, text);
    const token = LINK.exec(inText[1]!)?.[1];
    assert.ok(token, inText[1]);
    assert.deepEqual(verifyAckToken(token, KEY, T0), { ok: true, claims: { alarmId: '01JDALARM00000000000000000', receiver: 'facility-team', expiresAt: T0 + 7 * 86_400_000 } });
    assert.match(html, /Acknowledge: <a href="https:\/\/alarms\.plant\.example\.com\/ack\/[A-Za-z0-9_.-]+"/);
    assert.ok(html.includes(`/ack/${token}`));
  });

  it('names "recipient" when the route has no receiver', async () => {
    const { text } = await parts(due({ receivers: [] }), LINKS);
    const token = LINK.exec(text)?.[1];
    assert.ok(token);
    const verdict = verifyAckToken(token, KEY, T0);
    assert.ok(verdict.ok);
    assert.equal(verdict.claims.receiver, 'recipient');
  });

  it('escapes the link in HTML', async () => {
    const { html } = await parts(due(), { ...LINKS, baseUrl: 'https://example.com/a"b<c' });
    assert.doesNotMatch(html, /a"b<c/);
    assert.match(html, /a&quot;b&lt;c\/ack\//);
  });

  it('carries no link when api is not configured', async () => {
    const { text, html } = await parts(due());
    assert.doesNotMatch(text, /Acknowledge:|\/ack\//);
    assert.doesNotMatch(html, /Acknowledge:|\/ack\//);
  });
});

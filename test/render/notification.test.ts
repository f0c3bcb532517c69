import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { configSchema, type RawConfig } from '../../src/config/schema.js';
import type { Alarm, Due, DueKind } from '../../src/lifecycle/alarm.js';
import type { AlarmEvent, DeviceIdentity } from '../../src/parse/alarm-event.js';
import type { Route } from '../../src/rules/route.js';
import { NotificationError, renderNotification, type NotificationContext } from '../../src/render/notification.js';
import { cutText } from '../../src/base/cut-text.js';
import { notificationView } from '../../src/render/notification-view.js';
import { plainText, plainTextValues } from '../../src/render/plain-text.js';
import { tokenOfMessageId } from '../../src/lifecycle/reply-ack.js';
import type { OutgoingMessage } from '../../src/render/outgoing-message.js';
import { loadTemplates, TemplateError } from '../../src/render/templates.js';

const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates');
const templates = loadTemplates(TEMPLATES_DIR);

/** 03:14:07 CET in Berlin; 21:14:07 EST the evening before in New York. */
const T0 = Date.UTC(2026, 10, 24, 2, 14, 7);
const ALARM_ID = '01JDALARM00000000000000000';
const KINDS: DueKind[] = ['firing', 'reminder', 'resolved'];

// --- A small factory: a motor overtemperature alarm at each stage of its life. ---

interface DueOverrides {
  alarm?: Partial<Alarm>;
  event?: Partial<AlarmEvent>;
  route?: Partial<Route>;
  device?: Partial<DeviceIdentity>;
  sequence?: number;
  reason?: string;
}

function makeDue(kind: DueKind, overrides: DueOverrides = {}): Due {
  const device: DeviceIdentity = { id: 'plc-line4', name: 'PLC Line 4', site: 'Line4', area: 'Hall 1', description: 'S7-1500 in cabinet 4', matchedBy: 'sender', ...overrides.device };
  const fields = { Motor: 'M12', 'Winding temperature': '142 C', Limit: '120 C' };
  // Firing: the first occurrence. Reminder: 12 occurrences over 7 min 33 s, first notified at 1.
  // Resolved: cleared exactly 7 minutes after the first occurrence.
  const stage = {
    firing: { sequence: 1, count: 1, countAtLastNotification: 0, lastSeen: T0, receivedAt: T0, reason: 'new alarm, routed by rule motors' },
    reminder: { sequence: 2, count: 12, countAtLastNotification: 1, lastSeen: T0 + 453_000, receivedAt: T0 + 453_000, reason: 'reminder after 12 occurrences, routed by rule motors' },
    resolved: { sequence: 3, count: 12, countAtLastNotification: 12, lastSeen: T0 + 420_000, receivedAt: T0 + 420_000, reason: 'resolved after 420 s, routed by rule motors' },
    escalation: { sequence: 2, count: 1, countAtLastNotification: 1, lastSeen: T0, receivedAt: T0, reason: 'escalation level 1 of policy motors: not acknowledged after 15 min' },
    acknowledged: { sequence: 3, count: 1, countAtLastNotification: 1, lastSeen: T0, receivedAt: T0, reason: 'acknowledged by anna via mqtt' },
  }[kind];
  const event: AlarmEvent = {
    id: '01JDEVENT00000000000000000',
    receivedAt: stage.receivedAt,
    source: 'smtp',
    listener: 'lan',
    device,
    sender: 'plc-line4@plant.local',
    recipients: ['alarms@plant.local'],
    peer: { address: '10.0.4.12', helo: 'plc-line4' },
    title: kind === 'resolved' ? 'Motor M12 temperature normal' : 'Motor M12 overtemperature',
    text: kind === 'resolved' ? 'Motor M12 winding temperature 96 C.\n' : 'Motor M12 winding temperature 142 C.\nLimit 120 C. Drive stopped.\n',
    fields,
    state: kind === 'resolved' ? 'cleared' : 'active',
    attachments: [],
    patterns: ['motor-temperature'],
    ...overrides.event,
  };
  const route: Route = {
    rules: ['motors'],
    isDefault: false,
    receivers: [
      { name: 'line4-oncall', emails: ['oncall-line4@example.com', 'anna@example.com'] },
      { name: 'anna', emails: ['Anna@Example.com'] },
    ],
    severity: 'critical',
    template: 'default',
    mode: 'notify',
    repeatInterval: 3_600_000,
    notifyResolved: true,
    attachOriginal: false,
    ...overrides.route,
  };
  const alarm: Alarm = {
    id: ALARM_ID,
    fingerprint: 'fp-motor-m12',
    state: kind === 'resolved' ? 'resolved' : 'active',
    device,
    title: 'Motor M12 overtemperature',
    severity: route.severity,
    code: 'M12-OT',
    fields,
    text: event.text,
    count: stage.count,
    firstSeen: T0,
    lastSeen: stage.lastSeen,
    ...(kind === 'resolved' ? { resolvedAt: T0 + 420_000 } : {}),
    firstEventId: '01JDFIRST00000000000000000',
    lastEventId: event.id,
    notifications: stage.sequence,
    lastNotifiedAt: stage.receivedAt,
    countAtLastNotification: stage.countAtLastNotification,
    receivers: route.receivers.flatMap((r) => r.emails),
    rules: route.rules,
    ...overrides.alarm,
  };
  const at = kind === 'resolved' ? T0 + 420_000 : stage.receivedAt;
  return { kind, alarm, event, route, reason: overrides.reason ?? stage.reason, sequence: overrides.sequence ?? stage.sequence, at };
}

function relay(input: Record<string, unknown> = {}): RawConfig['relay'] {
  return configSchema.shape.relay.parse(input);
}

function context(overrides: Partial<NotificationContext> = {}): NotificationContext {
  return { relay: relay(), hostname: 'gw1.plant.local', domain: 'alarms.example.com', timeZone: 'Europe/Berlin', locale: 'en-GB', ...overrides };
}

interface Rendered {
  out: OutgoingMessage;
  parsed: ParsedMail;
  raw: string;
  text: string;
  html: string;
}

async function render(due: Due, ctx: Partial<NotificationContext> = {}): Promise<Rendered> {
  const out = await renderNotification(due, templates, context(ctx));
  const parsed = await simpleParser(out.message);
  return { out, parsed, raw: out.message.toString('utf8'), text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' };
}

function addresses(value: AddressObject | AddressObject[] | undefined): { name: string; address: string }[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((group) => group.value.map((a) => ({ name: a.name, address: a.address ?? '' })));
}

function headerBlock(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
}

function assertOnlyCrlf(message: Buffer): void {
  const text = message.toString('latin1');
  assert.ok(!/(?<!\r)\n/.test(text), 'bare LF in the message');
  assert.ok(!/\r(?!\n)/.test(text), 'lone CR in the message');
}

const SUFFIX = 'Motor M12 overtemperature — PLC Line 4 (Line4, Hall 1) #01JDALARM00000000000000000';

describe('renderNotification: the default template', () => {
  it('firing: [SEVERITY] title — device (site, area) #alarm', async () => {
    const { parsed } = await render(makeDue('firing'));
    assert.equal(parsed.subject, `[CRITICAL] ${SUFFIX}`);
  });

  it('reminder: [REMINDER xCOUNT] with the same rest, so the subjects stay alike', async () => {
    const { parsed } = await render(makeDue('reminder'));
    assert.equal(parsed.subject, `[REMINDER x12] ${SUFFIX}`);
  });

  it('resolved: [RESOLVED after DURATION], naming the alarm by its title, not the clearing mail\'s', async () => {
    const { parsed } = await render(makeDue('resolved'));
    assert.equal(parsed.subject, `[RESOLVED after 7 min] ${SUFFIX}`);
  });

  it('leaves out the parentheses for a device without site or area', async () => {
    const { parsed } = await render(makeDue('firing', { device: { site: undefined, area: ' ' } }));
    assert.equal(parsed.subject, `[CRITICAL] Motor M12 overtemperature — PLC Line 4 #${ALARM_ID}`);
  });

  it('text: severity and title first, then device, state, times, count', async () => {
    const { text } = await render(makeDue('reminder'));
    const lines = text.split(/\r?\n/);
    assert.equal(lines[0], 'CRITICAL: Motor M12 overtemperature');
    assert.equal(lines[1], 'STILL ACTIVE: reminder 2; 11 new occurrences since the last notification.');
    for (const line of [
      'Device      PLC Line 4 (Line4, Hall 1)',
      '            S7-1500 in cabinet 4',
      'State       active',
      'First seen  Tue 24 Nov 2026 03:14:07 CET',
      'Last seen   Tue 24 Nov 2026 03:21:40 CET',
      'Active for  7 min 33 s',
      'Count       12 occurrences',
    ]) {
      assert.ok(lines.includes(line), `missing ${JSON.stringify(line)} in\n${text}`);
    }
  });

  it('text: the fields as aligned name : value lines, in the order they appeared', async () => {
    const { text } = await render(makeDue('firing'));
    assert.ok(text.includes('Details\n  Motor               : M12\n  Winding temperature : 142 C\n  Limit               : 120 C\n'), text);
  });

  it('text: the device\'s text quoted, the alarm id, the reason and the rules', async () => {
    const { text } = await render(makeDue('firing'));
    assert.ok(text.includes('> Motor M12 winding temperature 142 C.\n> Limit 120 C. Drive stopped.\n'), text);
    assert.ok(text.includes(`Alarm       ${ALARM_ID}\n`), text);
    assert.ok(text.includes('Why         new alarm, routed by rule motors\n'), text);
    assert.ok(text.includes('Rules       motors\n'), text);
    assert.ok(text.includes('Sent to     line4-oncall, anna\n'), text);
  });

  it('text: a resolution says how long it lasted and when it cleared', async () => {
    const { text } = await render(makeDue('resolved'));
    assert.ok(text.includes('RESOLVED after 7 min: the device reported the return to normal.'), text);
    assert.ok(text.includes('Resolved    Tue 24 Nov 2026 03:21:07 CET (lasted 7 min)'), text);
    assert.ok(text.includes('> Motor M12 winding temperature 96 C.'), text);
  });

  it('HTML: a severity colour bar, the fields as a table in order, the device text in <pre>', async () => {
    const { html } = await render(makeDue('firing'));
    assert.match(html, /<td bgcolor="#b00020" style="background:#b00020;/);
    const cells = [...html.matchAll(/<td[^>]*>([^<]*)<\/td><td[^>]*font-family:Consolas[^>]*>([^<]*)<\/td>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(cells, [['Motor', 'M12'], ['Winding temperature', '142 C'], ['Limit', '120 C']]);
    assert.match(html, /<pre [^>]*>Motor M12 winding temperature 142 C\.\r?\nLimit 120 C\. Drive stopped\.\r?\n<\/pre>/);
    assert.ok(html.includes(ALARM_ID));
  });

  it('HTML: the colour follows the severity', async () => {
    const { html } = await render(makeDue('firing', { route: { severity: 'warning' } }));
    assert.match(html, /bgcolor="#1f618d"/);
  });

  it('leaves out the details table when the device gave no fields', async () => {
    const { text, html } = await render(makeDue('firing', { alarm: { fields: {} } }));
    assert.ok(!text.includes('Details'));
    assert.ok(!html.includes('Details'));
  });
});

describe('renderNotification: every shipped template set', () => {
  // `group` lists several alarms: test/render/batch-notification.test.ts.
  for (const name of templates.names().filter((n) => n !== 'group')) {
    for (const kind of KINDS) {
      it(`${name} renders a ${kind} notification with CRLF line ends only`, async () => {
        const { out, parsed, text } = await render(makeDue(kind, { route: { template: name } }));
        assertOnlyCrlf(out.message);
        assert.ok(parsed.subject && parsed.subject.includes('Motor M12 overtemperature'), parsed.subject);
        assert.ok(text.includes('Motor M12 overtemperature'), text);
        assert.equal(typeof parsed.html === 'string', templates.get(name)?.files.html !== undefined);
      });
    }
  }

  it('short: a terse subject and three lines for a pager', async () => {
    const { parsed, text } = await render(makeDue('reminder', { route: { template: 'short' } }));
    // The short subject has no #ALARMID of its own: it is appended, so a reply can name its alarm.
    assert.equal(parsed.subject, `[REMINDER x12] Motor M12 overtemperature @ PLC Line 4 [#${ALARM_ID}]`);
    assert.deepEqual(text.trimEnd().split(/\r?\n/), ['CRITICAL REMINDER x12: Motor M12 overtemperature', 'PLC Line 4 (Line4, Hall 1), since 03:14 CET', `#${ALARM_ID}`]);
  });
});

describe('renderNotification: addresses and envelope', () => {
  it('is From the gateway by relay.from, whatever rewrite says, and To every receiver once', async () => {
    const { out, parsed } = await render(makeDue('firing'));
    assert.deepEqual(addresses(parsed.from), [{ name: 'PLC Line 4', address: 'plc-line-4@alarms.example.com' }]);
    assert.deepEqual(addresses(parsed.to).map((a) => a.address), ['oncall-line4@example.com', 'anna@example.com']);
    assert.equal(out.envelopeFrom, 'plc-line-4@alarms.example.com');
    assert.deepEqual(out.recipients, ['oncall-line4@example.com', 'anna@example.com']);
  });

  it('fills relay.from with the same variables as pass-through', async () => {
    const { out, parsed } = await render(makeDue('firing'), { relay: relay({ from: { address: 'alarms+{device}@{domain}', displayName: 'Annunciator: {device} via {listener}' } }) });
    assert.deepEqual(addresses(parsed.from), [{ name: 'Annunciator: PLC Line 4 via lan', address: 'alarms+plc-line-4@alarms.example.com' }]);
    assert.equal(out.envelopeFrom, 'alarms+plc-line-4@alarms.example.com');
  });

  it('renders for a route whose receivers have no address, but to nobody: the caller records that', async () => {
    const { out, parsed } = await render(makeDue('firing', { route: { receivers: [{ name: 'nobody', emails: [] }] } }));
    assert.deepEqual(out.recipients, []);
    assert.equal(parsed.to, undefined);
    assert.equal(parsed.subject, `[CRITICAL] ${SUFFIX}`);
  });
});

describe('renderNotification: headers', () => {
  it('numbers the Message-ID by the alarm and the sequence; the first has no In-Reply-To', async () => {
    const { parsed } = await render(makeDue('firing'));
    assert.equal(parsed.messageId, `<${ALARM_ID}.1@alarms.example.com>`);
    assert.equal(parsed.inReplyTo, undefined);
    assert.equal(parsed.references, undefined);
  });

  it('threads the second notification under the first', async () => {
    const { parsed } = await render(makeDue('reminder'));
    assert.equal(parsed.messageId, `<${ALARM_ID}.2@alarms.example.com>`);
    assert.equal(parsed.inReplyTo, `<${ALARM_ID}.1@alarms.example.com>`);
    assert.equal(parsed.references, `<${ALARM_ID}.1@alarms.example.com>`);
  });

  it('threads a later one under the previous, referencing the first too', async () => {
    const { parsed } = await render(makeDue('resolved'));
    assert.equal(parsed.messageId, `<${ALARM_ID}.3@alarms.example.com>`);
    assert.equal(parsed.inReplyTo, `<${ALARM_ID}.2@alarms.example.com>`);
    assert.deepEqual(parsed.references, [`<${ALARM_ID}.1@alarms.example.com>`, `<${ALARM_ID}.2@alarms.example.com>`]);
  });

  it('tells how to acknowledge by reply when replies are read, but not once the alarm is acknowledged', async () => {
    const { text, html } = await render(makeDue('firing'), { replyAckWord: 'ACK' });
    assert.match(text, /Or reply to this mail with ACK as the first word to acknowledge it\./);
    assert.match(html, /Reply to this mail with <b>ACK<\/b> as the first word/);
    assert.ok(!(await render(makeDue('firing'))).text.includes('reply to this mail'));
    assert.ok(!(await render(makeDue('acknowledged'), { replyAckWord: 'ACK' })).text.includes('reply to this mail'));
  });

  it('gives an ack announcement an id of its own, answering the notification it follows', async () => {
    const { parsed } = await render(makeDue('acknowledged'));
    assert.equal(parsed.messageId, `<${ALARM_ID}.3-ack@alarms.example.com>`);
    assert.equal(parsed.inReplyTo, `<${ALARM_ID}.3@alarms.example.com>`);
    assert.deepEqual(parsed.references, [`<${ALARM_ID}.1@alarms.example.com>`, `<${ALARM_ID}.3@alarms.example.com>`]);
    assert.equal(tokenOfMessageId(parsed.messageId!, 'alarms.example.com'), ALARM_ID, 'a reply to it still names the alarm');
  });

  it('dates a firing or reminder by its event and a resolution by when it resolved', async () => {
    assert.equal((await render(makeDue('reminder'))).parsed.date?.getTime(), T0 + 453_000);
    assert.equal((await render(makeDue('resolved', { event: { receivedAt: T0 + 999_000 } }))).parsed.date?.getTime(), T0 + 420_000);
  });

  it('labels the message with alarm, kind and severity, and asks for no auto-replies', async () => {
    const { parsed } = await render(makeDue('reminder'));
    assert.equal(parsed.headers.get('x-annunciator-alarm'), ALARM_ID);
    assert.equal(parsed.headers.get('x-annunciator-kind'), 'reminder');
    assert.equal(parsed.headers.get('x-annunciator-severity'), 'critical');
    assert.equal(parsed.headers.get('x-annunciator-id'), '01JDEVENT00000000000000000');
    assert.equal(parsed.headers.get('auto-submitted'), 'auto-generated');
  });

  it('marks only critical alarms as important', async () => {
    const critical = await render(makeDue('firing'));
    assert.match(headerBlock(critical.raw), /^Importance: high\r\nX-Priority: 1 \(Highest\)\r$/m);
    assert.equal(critical.parsed.headers.get('priority'), 'high');
    const major = await render(makeDue('firing', { route: { severity: 'major' } }));
    assert.ok(!/^(Importance|X-Priority):/im.test(headerBlock(major.raw)));
  });
});

describe('renderNotification: hostile values', () => {
  const title = 'Pump <script>alert(1)</script>"><img src=x onerror=alert(1)>\r\nBcc: victim@evil.example\r\n\r\nInjected body';
  const hostile = (): Due =>
    makeDue('firing', {
      alarm: { title, fields: { 'Name\u0000<b>': 'value\u0007"><img src=x onerror=alert(2)>', Line: 'a\r\nX-Injected: 1' } },
      device: { name: 'PLC\r\nBcc: victim2@evil.example', description: '<iframe src=//evil.example>' },
      event: { text: 'Terminal \u001b[31mred\u001b[0m\u0000 and a bell\u0007\r\nline two\rline three</pre><script>x()</script>' },
    });

  it('escapes everything in the HTML part', async () => {
    const { html } = await render(hostile());
    assert.ok(!/<script|<img|<iframe|<b>/i.test(html), html);
    assert.ok(html.includes('Pump &lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;'), html);
    assert.ok(html.includes('&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;'), html);
  });

  it('keeps the subject on one line: no CR/LF and no injected header', async () => {
    const { parsed, raw } = await render(hostile());
    assert.ok(parsed.subject && !/[\r\n]/.test(parsed.subject), parsed.subject);
    assert.ok(parsed.subject?.startsWith('[CRITICAL] Pump <script>alert(1)</script>"><img src=x onerror=alert(1)> Bcc: victim@evil.example Injected body — PLC Bcc: victim2@evil.example'), parsed.subject);
    assert.equal(parsed.bcc, undefined);
    assert.equal(parsed.headers.has('bcc'), false);
    assert.equal(parsed.headers.has('x-injected'), false);
    assert.ok(!/^(bcc|x-injected):/im.test(headerBlock(raw)), headerBlock(raw));
    assert.deepEqual(addresses(parsed.from), [{ name: 'PLC Bcc: victim2@evil.example', address: 'plc-bcc-victim2-evil.example@alarms.example.com' }]);
  });

  it('sends only to the receivers, whatever the values say', async () => {
    const { out } = await render(hostile());
    assert.deepEqual(out.recipients, ['oncall-line4@example.com', 'anna@example.com']);
  });

  it('keeps no control character in the text part, and only CRLF line ends in the message', async () => {
    const { out, text } = await render(hostile());
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text), JSON.stringify(text));
    assert.ok(text.includes('> Terminal [31mred[0m and a bell\n> line two\n> line three</pre><script>x()</script>'), text);
    assertOnlyCrlf(out.message);
  });
});

describe('renderNotification: time zone and locale', () => {
  it('writes dates in the configured zone', async () => {
    const berlin = (await render(makeDue('firing'), { timeZone: 'Europe/Berlin' })).text;
    const newYork = (await render(makeDue('firing'), { timeZone: 'America/New_York' })).text;
    assert.ok(berlin.includes('First seen  Tue 24 Nov 2026 03:14:07 CET'), berlin);
    assert.ok(newYork.includes('First seen  Mon 23 Nov 2026 21:14:07 GMT-5'), newYork);
  });

  it('writes names of days and months in the configured locale', async () => {
    const { text } = await render(makeDue('firing'), { locale: 'de-DE' });
    assert.ok(text.includes('First seen  Di. 24 Nov. 2026 03:14:07 MEZ'), text);
  });
});

describe('renderNotification: the original mail', () => {
  const original = Buffer.from('From: plc-line4@plant.local\nSubject: ALARM Motor M12\n\nMotor M12 winding temperature 142 C.\n', 'latin1');

  it('attaches it as message/rfc822 original.eml when the route asks, with CRLF line ends', async () => {
    const { out, parsed, raw } = await render(makeDue('firing', { route: { attachOriginal: true } }), { original });
    assertOnlyCrlf(out.message);
    // mailparser infers message/rfc822 from the .eml name alone, so the part's own header is checked.
    assert.match(raw, /\r\nContent-Type: message\/rfc822; name=original\.eml\r\nContent-Transfer-Encoding: 7bit\r\nContent-Disposition: attachment; filename=original\.eml\r\n/);
    assert.equal(parsed.attachments.length, 1);
    const [attachment] = parsed.attachments;
    assert.equal(attachment?.contentType, 'message/rfc822');
    assert.equal(attachment?.filename, 'original.eml');
    assert.equal(attachment?.content.toString('latin1'), original.toString('latin1').replace(/\n/g, '\r\n'));
    assert.ok(parsed.text?.includes('Motor M12 overtemperature'));
  });

  it('does not attach it when the route does not ask', async () => {
    const { parsed } = await render(makeDue('firing'), { original });
    assert.equal(parsed.attachments.length, 0);
  });

  it('attaches nothing when asked but not given the original', async () => {
    const { parsed } = await render(makeDue('firing', { route: { attachOriginal: true } }));
    assert.equal(parsed.attachments.length, 0);
  });

  it('attaches an original that is not valid 8bit MIME as an opaque file, byte for byte', async () => {
    const long = Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.alloc(1200, 0x41), Buffer.from('\r\n')]);
    const { out, parsed, raw } = await render(makeDue('firing', { route: { attachOriginal: true } }), { original: long });
    assertOnlyCrlf(out.message);
    assert.match(raw, /\r\nContent-Type: application\/octet-stream; name=original\.eml\r\nContent-Transfer-Encoding: base64\r\n/);
    assert.equal(parsed.attachments[0]?.filename, 'original.eml');
    assert.deepEqual(parsed.attachments[0]?.content, long);
  });

  it('attaches the mail of an undecodable-mail alarm as an opaque file, byte for byte, even when it is valid 8bit MIME', async () => {
    const due = makeDue('firing', { route: { attachOriginal: true }, event: { undecodable: { reason: 'Max allowed child nodes exceeded', size: original.length } } });
    const { parsed, raw } = await render(due, { original });
    assert.match(raw, /\r\nContent-Type: application\/octet-stream; name=original\.eml\r\nContent-Transfer-Encoding: base64\r\n/);
    assert.deepEqual(parsed.attachments[0]?.content, original);
  });
});

/** The Content-Transfer-Encoding of the message's part of that type. */
function partEncoding(raw: string, type: 'text/plain' | 'text/html'): string | undefined {
  return new RegExp(`Content-Type: ${type.replace('/', '\\/')}; charset=utf-8\r\nContent-Transfer-Encoding: ([\\w-]+)`).exec(raw)?.[1];
}

/** Numbered lines of device text, each ~34 bytes, up to about `bytes`; with characters HTML must escape. */
function longText(bytes: number): string {
  const lines: string[] = [];
  for (let n = 1, size = 0; size < bytes; n++) {
    const line = `line ${String(n).padStart(5, '0')} <b>temp</b> & 142 C`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

describe('renderNotification: transfer encoding per part', () => {
  it('keeps a short part quoted-printable, readable in the raw mail', async () => {
    const { raw, text } = await render(makeDue('firing'));
    // All ASCII with short lines: nodemailer sends such a part as it is (7bit), else quoted-printable.
    assert.match(partEncoding(raw, 'text/plain') ?? '', /^(quoted-printable|7bit)$/);
    assert.match(partEncoding(raw, 'text/html') ?? '', /^(quoted-printable|7bit)$/);
    const accented = await render(makeDue('firing', { event: { text: 'Temperatur überschritten — 142 °C\n' } }));
    assert.equal(partEncoding(accented.raw, 'text/plain'), 'quoted-printable');
    assert.match(raw, /> Motor M12 winding temperature 142 C\./);
    assert.match(text, /> Motor M12 winding temperature 142 C\.\n> Limit 120 C\. Drive stopped\./);
  });

  it('sends a large part base64, decoding to the same text', async () => {
    const device = `${longText(40 * 1024)}Temperatur überschritten — 142 °C\n`;
    const { raw, text, html } = await render(makeDue('firing', { event: { text: device } }));
    assert.equal(partEncoding(raw, 'text/plain'), 'base64');
    assert.equal(partEncoding(raw, 'text/html'), 'base64');
    const quoted = device.replace(/\n$/, '').split('\n').map((line) => `> ${line}`).join('\n');
    assert.ok(text.includes(quoted), 'the whole device text, quoted, in the text part');
    assert.ok(html.includes(device.replace(/\n$/, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')), 'the whole device text, escaped, in the HTML part');
    assert.doesNotMatch(text, /\[Cut:/);
  });
});

describe('renderNotification: the device text is cut at alarms.maxQuotedText', () => {
  const device = longText(100 * 1024);
  const totalKiB = `${Math.round(Buffer.byteLength(device) / 1024)} KiB`;

  it('quotes whole lines up to the limit in both parts, and says it cut and how long the whole is', async () => {
    const max = 16 * 1024;
    const { text, html, raw } = await render(makeDue('firing', { event: { text: device } }), { maxQuotedText: max });
    const lines = device.split('\n');
    // The lines that fit whole within the limit (each followed by its line break).
    let fit = 0;
    for (let bytes = 0; bytes + Buffer.byteLength(lines[fit] ?? '') <= max; fit++) bytes += Buffer.byteLength(lines[fit] ?? '') + 1;
    const last = lines[fit - 1] ?? '';
    const next = lines[fit] ?? '';
    assert.ok(text.includes(`> ${last}\n`), 'the last line that fits, whole');
    assert.ok(!text.includes(next), 'nothing after it');
    assert.match(text, new RegExp(`\\[Cut: the first 1[56](\\.\\d)? KiB of ${totalKiB} shown\\.\\]`));
    assert.doesNotMatch(text, /original\.eml/);
    // HTML: same lines, escaped as before, and the note.
    assert.ok(html.includes(`${last.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</pre>`));
    assert.ok(!html.includes(next.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')));
    assert.doesNotMatch(html, /<b>temp/);
    assert.match(html, new RegExp(`Cut: the first 1[56](\\.\\d)? KiB of ${totalKiB} shown\\.</div>`));
    assert.ok(raw.length < 80 * 1024, `the notification stays small (${raw.length} bytes)`);
  });

  it('says the whole text is in the attachment when the original is attached', async () => {
    const original = Buffer.from(`Subject: x\r\n\r\n${device}`, 'utf8');
    const { text, html, parsed } = await render(makeDue('firing', { event: { text: device }, route: { attachOriginal: true } }), { maxQuotedText: 16 * 1024, original });
    assert.match(text, new RegExp(`of ${totalKiB} shown\\. The whole text is in the attached original\\.eml\\.\\]`));
    assert.match(html, /The whole text is in the attached original\.eml\.<\/div>/);
    assert.equal(parsed.attachments[0]?.filename, 'original.eml');
  });

  it('gives templates that read event.text the same quoted text, not the whole mail', () => {
    const view = notificationView(makeDue('firing', { event: { text: device } }), { hostname: 'gw', domain: 'gw' }, {}, { maxQuotedText: 16 * 1024, originalAttached: false });
    assert.ok(view.text.length <= 16 * 1024 && view.text.length > 15 * 1024);
    assert.equal(view.event.text, view.text);
    const whole = notificationView(makeDue('firing'), { hostname: 'gw', domain: 'gw' }, {}, { maxQuotedText: 16 * 1024, originalAttached: false });
    assert.equal(whole.event.text, whole.text, 'a text within the limit: the event as it is');
  });

  it('leaves a text within the limit whole, without a note', async () => {
    const { text, html } = await render(makeDue('firing'), { maxQuotedText: 1024 });
    assert.match(text, /> Limit 120 C\. Drive stopped\./);
    assert.doesNotMatch(text, /Cut:/);
    assert.doesNotMatch(html, /Cut:/);
  });

  it('never splits a character at the limit, in a text of one long line', async () => {
    // 2-byte characters and an odd limit: the limit falls inside the 8193rd character.
    const { text, html } = await render(makeDue('firing', { event: { text: 'ü'.repeat(20_000) } }), { maxQuotedText: 16 * 1024 + 1 });
    assert.ok(text.includes(`> ${'ü'.repeat(8192)}\n`));
    assert.ok(!text.includes('ü'.repeat(8193)));
    assert.ok(!text.includes('\uFFFD') && !html.includes('\uFFFD'), 'no replacement character');
    assert.match(text, /\[Cut: the first 16 KiB of 39\.1 KiB shown\.\]/);
  });
});

describe('cutText', () => {
  it('cuts at the last line break within the limit', () => {
    assert.deepEqual(cutText('alpha\nbeta\ngamma\n', 12), { text: 'alpha\nbeta', cut: { shownBytes: 10, totalBytes: 17 } });
    assert.deepEqual(cutText('alpha\r\nbeta\r\ngamma', 13), { text: 'alpha\r\nbeta', cut: { shownBytes: 11, totalBytes: 18 } });
  });

  it('steps back over a multi-byte character the limit falls into (3- and 4-byte UTF-8)', () => {
    assert.deepEqual(cutText(`${'a'.repeat(9)}€bc`, 10), { text: 'a'.repeat(9), cut: { shownBytes: 9, totalBytes: 14 } });
    assert.deepEqual(cutText(`${'a'.repeat(9)}€bc`, 12), { text: `${'a'.repeat(9)}€`, cut: { shownBytes: 12, totalBytes: 14 } });
    assert.deepEqual(cutText(`ab🚨🚨`, 8), { text: 'ab🚨', cut: { shownBytes: 6, totalBytes: 10 } });
  });

  it('returns a text within the limit as it is', () => {
    assert.deepEqual(cutText('äöü', 6), { text: 'äöü' });
    assert.deepEqual(cutText('', 1), { text: '' });
  });
});

describe('renderNotification: what it refuses', () => {
  it('refuses a pass-through route, by mode or by the reserved template name', async () => {
    for (const route of [{ mode: 'passthrough' as const }, { template: 'passthrough' }]) {
      await assert.rejects(renderNotification(makeDue('firing', { route }), templates, context()), (error: unknown) => error instanceof NotificationError && error.code === 'passthrough-route');
    }
  });

  it('refuses a template set that does not exist, naming where it was looked for', async () => {
    await assert.rejects(renderNotification(makeDue('firing', { route: { template: 'pager' } }), templates, context()), (error: unknown) => {
      return error instanceof TemplateError && error.code === 'unknown-template' && error.problems[0]?.file === join(TEMPLATES_DIR, 'pager') && /no template set "pager"/.test(error.message);
    });
  });
});

describe('notificationView', () => {
  const gateway = { hostname: 'gw1', domain: 'example.com' };

  it('counts every occurrence as new for the first notification', () => {
    const view = notificationView(makeDue('firing', { alarm: { count: 3 } }), gateway);
    assert.equal(view.foldedSinceLast, 3);
    assert.equal(view.isFiring, true);
    assert.equal(view.durationMs, 0);
  });

  it('counts occurrences since the previous notification for a reminder', () => {
    const view = notificationView(makeDue('reminder'), gateway);
    assert.equal(view.foldedSinceLast, 11);
    assert.equal(view.durationMs, 453_000);
    assert.equal(view.resolvedAt, undefined);
  });

  it('measures a resolved alarm up to its resolution', () => {
    const view = notificationView(makeDue('resolved', { alarm: { lastSeen: T0 + 999_000 } }), gateway);
    assert.equal(view.durationMs, 420_000);
    assert.equal(view.resolvedAt, T0 + 420_000);
  });

  it('lists fields in the order they appeared with labels padded to the longest name', () => {
    const view = notificationView(makeDue('firing', { alarm: { fields: { b: '1', 'a longer': '2', c: '3' } } }), gateway);
    assert.deepEqual(view.fields, [
      { name: 'b', value: '1', label: 'b       ' },
      { name: 'a longer', value: '2', label: 'a longer' },
      { name: 'c', value: '3', label: 'c       ' },
    ]);
  });

  it('takes the severity from the route and the text from the event', () => {
    const view = notificationView(makeDue('resolved', { alarm: { severity: 'info' } }), gateway);
    assert.equal(view.severity, 'critical');
    assert.equal(view.text, 'Motor M12 winding temperature 96 C.\n');
    assert.equal(view.location, 'Line4, Hall 1');
    assert.deepEqual(view.gateway, gateway);
  });
});

describe('plainText', () => {
  it('cleans line breaks and control characters, and gives a clean value back as it is', () => {
    assert.equal(plainText('a\r\nb\rc\u2028d\u2029e\u0007f\u0085g\u007f\th\n'), 'a\nb\nc\nd\ne' + 'f' + 'g' + '\th\n');
    const clean = `${'x'.repeat(100)}\n\tü€🚨`;
    assert.equal(plainText(clean), clean);
  });

  it('cleans every place a long text occurs in a view, each long text on its own', () => {
    const dirty = `${'line\r\n'.repeat(500)}bell\u0007`;
    const other = `${'other\r'.repeat(500)}end`;
    const view = { text: dirty, event: { text: dirty, note: other }, alarm: { text: dirty }, lines: [dirty, 'a\rb'] };
    const cleaned = plainTextValues(view);
    const want = `${'line\n'.repeat(500)}bell`;
    assert.equal(cleaned.text, want);
    assert.equal(cleaned.event.text, want);
    assert.equal(cleaned.alarm.text, want);
    assert.deepEqual(cleaned.lines, [want, 'a\nb']);
    assert.equal(cleaned.event.note, `${'other\n'.repeat(500)}end`);
    assert.equal(view.text, dirty, 'the view itself is left as it was');
    assert.equal(view.event.text, dirty);
    assert.deepEqual(view.lines, [dirty, 'a\rb']);
  });

  it('gives back what has nothing to clean as it is, and copies only the objects on the way to what changed', () => {
    const clean = { title: 'Motor M7', fields: [{ label: 'Temp', value: '142 C' }], device: { id: 'plc', tags: ['a', 'b'] } };
    assert.equal(plainTextValues(clean), clean, 'nothing to clean: the same object');
    const view = { ...clean, alarm: { text: 'bell\u0007', state: 'active' } };
    const cleaned = plainTextValues(view);
    assert.notEqual(cleaned, view);
    assert.notEqual(cleaned.alarm, view.alarm);
    assert.deepEqual(cleaned.alarm, { text: 'bell', state: 'active' });
    assert.equal(cleaned.fields, view.fields, 'an untouched branch is shared, not copied');
    assert.equal(cleaned.device, view.device);
    assert.equal(view.alarm.text, 'bell\u0007', 'the view itself is left as it was');
    const withProto = JSON.parse('{"__proto__": "x\\u0007", "a": "b"}') as Record<string, unknown>;
    const cleanedProto = plainTextValues(withProto);
    assert.equal(Object.getPrototypeOf(cleanedProto), Object.prototype, 'a field named __proto__ stays a field');
    assert.deepEqual(Object.entries(cleanedProto), [['__proto__', 'x'], ['a', 'b']]);
  });
});

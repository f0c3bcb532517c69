import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { configSchema, type RawConfig } from '../../src/config/schema.js';
import type { Received } from '../../src/ingest/received.js';
import { decodeMail, type DecodedMail } from '../../src/parse/decode-mail.js';
import type { OutgoingMessage } from '../../src/render/outgoing-message.js';
import { renderPassthrough } from '../../src/render/passthrough.js';
import { deviceName } from '../../src/parse/device-name.js';
import { CORPUS_DIR } from '../helpers/corpus.js';

const RECEIVED_AT = Date.UTC(2026, 10, 24, 2, 30, 0);

function received(overrides: { peer?: Partial<Received['peer']>; envelope?: Partial<Received['envelope']>; id?: string; listener?: string } = {}): Received {
  return {
    id: overrides.id ?? '01JD0000000000000000000000',
    receivedAt: RECEIVED_AT,
    listener: overrides.listener ?? 'lan',
    peer: { address: '10.0.0.5', port: 40000, helo: 'plc-line4', secure: false, ...overrides.peer },
    envelope: { mailFrom: 'plc-line4@plant.local', rcptTo: ['ops@example.com'], ...overrides.envelope },
    raw: Buffer.alloc(0),
  };
}

function mail(overrides: Partial<DecodedMail> = {}): DecodedMail {
  return { subject: 'ALARM Line4 Motor M12 overtemperature', text: 'Motor M12 winding temperature 142 C.\n', attachments: [], ...overrides };
}

function relay(input: Record<string, unknown> = {}): RawConfig['relay'] {
  return configSchema.shape.relay.parse(input);
}

async function render(r: Received, m: DecodedMail, relayInput: Record<string, unknown> = {}): Promise<{ out: OutgoingMessage; parsed: ParsedMail; text: string }> {
  const out = await renderPassthrough(r, m, { relay: relay(relayInput), hostname: 'gw.test', domain: 'gw.test' });
  return { out, parsed: await simpleParser(out.message), text: out.message.toString('utf8') };
}

function addresses(value: AddressObject | AddressObject[] | undefined): { name: string; address: string }[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((group) => group.value.map((a) => ({ name: a.name, address: a.address ?? '' })));
}

/** The header block of the output, as raw text. */
function headerBlock(message: Buffer): string {
  const text = message.toString('utf8');
  return text.slice(0, text.indexOf('\r\n\r\n') + 2);
}

function assertOnlyCrlf(message: Buffer): void {
  const text = message.toString('latin1');
  assert.ok(!/(?<!\r)\n/.test(text), `bare LF in ${JSON.stringify(text)}`);
  assert.ok(!/\r(?!\n)/.test(text), `lone CR in ${JSON.stringify(text)}`);
}

describe('renderPassthrough: From', () => {
  it('adds a From from the template where the device sent none', async () => {
    const { out, parsed } = await render(received(), mail());
    assert.deepEqual(addresses(parsed.from), [{ name: 'plc-line4', address: 'plc-line4@gw.test' }]);
    assert.equal(out.envelopeFrom, 'plc-line4@gw.test');
  });

  it('names a device without an envelope sender after its HELO, made safe for an address', async () => {
    const { out, parsed } = await render(received({ envelope: { mailFrom: null }, peer: { helo: 'S7-1500 Line4' } }), mail());
    assert.deepEqual(addresses(parsed.from), [{ name: 'S7-1500 Line4', address: 's7-1500-line4@gw.test' }]);
    assert.equal(out.envelopeFrom, 's7-1500-line4@gw.test');
  });

  it('names a device with neither sender nor HELO after its IP address', async () => {
    const { out } = await render(received({ envelope: { mailFrom: null }, peer: { helo: undefined } }), mail());
    assert.equal(out.envelopeFrom, '10-0-0-5@gw.test');
  });

  it('keeps the device From with rewrite "missing"', async () => {
    const { out, parsed } = await render(received(), mail({ from: { name: 'Kesselhaus HMI', address: 'hmi-kessel@plant.local' } }));
    assert.deepEqual(addresses(parsed.from), [{ name: 'Kesselhaus HMI', address: 'hmi-kessel@plant.local' }]);
    assert.equal(out.envelopeFrom, 'hmi-kessel@plant.local');
  });

  it('replaces the device From with rewrite "always"', async () => {
    const { out, parsed } = await render(received(), mail({ from: { name: 'Kesselhaus HMI', address: 'hmi-kessel@plant.local' } }), {
      from: { address: 'alarms@plant.example.com', displayName: '{device} via Annunciator', rewrite: 'always' },
    });
    assert.deepEqual(addresses(parsed.from), [{ name: 'Kesselhaus HMI via Annunciator', address: 'alarms@plant.example.com' }]);
    assert.equal(out.envelopeFrom, 'alarms@plant.example.com');
  });

  it('fills the template with the device name made safe for an address', async () => {
    const { parsed } = await render(received(), mail({ from: { name: 'Kesselhaus HMI', address: 'hmi-kessel@plant.local' } }), { from: { rewrite: 'always' } });
    assert.deepEqual(addresses(parsed.from), [{ name: 'Kesselhaus HMI', address: 'kesselhaus-hmi@gw.test' }]);
  });

  it('fills the other template variables and leaves unknown ones as they are', async () => {
    const { parsed } = await render(received({ listener: 'plant-lan', peer: { helo: 'PLC_1' } }), mail(), {
      from: { address: '{listener}.{helo}@{domain}', displayName: '{ip} {sender} {nope}' },
    });
    assert.deepEqual(addresses(parsed.from), [{ name: '10.0.0.5 plc-line4@plant.local {nope}', address: 'plant-lan.plc_1@gw.test' }]);
  });
});

describe('renderPassthrough: Sender and Reply-To', () => {
  const deviceFrom = { name: 'HMI', address: 'hmi@plant.local' };

  it('envelopeSender "sender": Sender is the envelope sender when it differs from From', async () => {
    const { parsed } = await render(received(), mail(), { envelopeSender: 'sender' });
    assert.equal(parsed.headers.get('sender') !== undefined, true);
    assert.deepEqual(addresses(parsed.headers.get('sender') as AddressObject), [{ name: '', address: 'plc-line4@plant.local' }]);
    assert.equal(parsed.replyTo, undefined);
  });

  it('envelopeSender "sender": no Sender when the envelope sender is the From address (any case)', async () => {
    const { parsed } = await render(received({ envelope: { mailFrom: 'HMI@Plant.Local' } }), mail({ from: deviceFrom }), { envelopeSender: 'sender' });
    assert.equal(parsed.headers.has('sender'), false);
  });

  it('envelopeSender "sender": no Sender for the null reverse-path', async () => {
    const { parsed } = await render(received({ envelope: { mailFrom: null } }), mail(), { envelopeSender: 'sender' });
    assert.equal(parsed.headers.has('sender'), false);
  });

  it('envelopeSender "reply-to": Reply-To is the device From replaced by rewrite "always"', async () => {
    const { parsed } = await render(received(), mail({ from: deviceFrom }), { envelopeSender: 'reply-to', from: { address: 'alarms@gw.test', rewrite: 'always' } });
    assert.deepEqual(addresses(parsed.replyTo), [{ name: '', address: 'hmi@plant.local' }]);
    assert.equal(parsed.headers.has('sender'), false);
  });

  it('envelopeSender "reply-to": Reply-To is the envelope sender when the device sent no From', async () => {
    const { parsed } = await render(received(), mail(), { envelopeSender: 'reply-to' });
    assert.deepEqual(addresses(parsed.replyTo), [{ name: '', address: 'plc-line4@plant.local' }]);
    assert.equal(parsed.headers.has('sender'), false);
  });

  it('envelopeSender "reply-to": no Reply-To when it would repeat the From address', async () => {
    const { parsed } = await render(received({ envelope: { mailFrom: 'hmi@plant.local' } }), mail({ from: deviceFrom }), { envelopeSender: 'reply-to' });
    assert.equal(parsed.replyTo, undefined);
  });

  it('envelopeSender "none": neither Sender nor Reply-To', async () => {
    const { parsed } = await render(received(), mail({ from: deviceFrom }), { envelopeSender: 'none', from: { address: 'alarms@gw.test', rewrite: 'always' } });
    assert.equal(parsed.headers.has('sender'), false);
    assert.equal(parsed.replyTo, undefined);
  });
});

describe('renderPassthrough: recipients', () => {
  it('come from the envelope, never from the To header', async () => {
    const raw = Buffer.from('From: plc@plant.local\r\nTo: boss@example.com\r\nCc: cc@example.com\r\nBcc: hidden@example.com\r\nSubject: x\r\n\r\ny\r\n');
    const r = { ...received({ envelope: { rcptTo: ['ops@example.com', 'shift@example.com'] } }), raw };
    const { out, parsed, text } = await render(r, await decodeMail(raw, 'windows-1252'));
    assert.deepEqual(out.recipients, ['ops@example.com', 'shift@example.com']);
    assert.deepEqual(addresses(parsed.to).map((a) => a.address), ['ops@example.com', 'shift@example.com']);
    assert.equal(parsed.cc, undefined);
    assert.equal(parsed.bcc, undefined);
    for (const dropped of ['boss@example.com', 'cc@example.com', 'hidden@example.com']) assert.ok(!text.includes(dropped), dropped);
  });

  it('come from relay.recipients when configured, overriding the envelope', async () => {
    const { out, parsed } = await render(received({ envelope: { rcptTo: ['whatever@plc.local'] } }), mail(), { recipients: ['alarms@example.com', 'oncall@example.com'] });
    assert.deepEqual(out.recipients, ['alarms@example.com', 'oncall@example.com']);
    assert.deepEqual(addresses(parsed.to).map((a) => a.address), ['alarms@example.com', 'oncall@example.com']);
  });
});

describe('renderPassthrough: header injection', () => {
  const hostile = 'Alarm\r\nBcc: victim@evil.example\r\nX-Injected: yes';

  it('a hostile subject with CR/LF cannot inject a header', async () => {
    const { parsed, out } = await render(received(), mail({ subject: hostile }));
    assert.equal(parsed.headers.has('bcc'), false);
    assert.equal(parsed.headers.has('x-injected'), false);
    assert.equal(parsed.bcc, undefined);
    assert.equal(parsed.subject, 'Alarm Bcc: victim@evil.example X-Injected: yes');
    assert.ok(!/^(Bcc|X-Injected):/im.test(headerBlock(out.message)));
  });

  it('a subject carrying a blank line cannot start the body early', async () => {
    const { parsed } = await render(received(), mail({ subject: 'A\r\n\r\nfake body', text: 'real body' }));
    assert.equal(parsed.subject, 'A fake body');
    assert.equal(parsed.text?.trim(), 'real body');
  });

  it('a hostile display name, HELO and attachment name cannot inject a header', async () => {
    const { parsed, out } = await render(
      received({ peer: { helo: 'plc\r\nX-Injected: helo' } }),
      mail({
        from: { name: 'HMI\r\nX-Injected: name', address: 'hmi@plant.local' },
        attachments: [{ filename: 'a.csv\r\nX-Injected: file', contentType: 'text/csv', content: Buffer.from('a,b\r\n'), inline: false }],
      }),
    );
    assert.equal(parsed.headers.has('x-injected'), false);
    assert.ok(!/^X-Injected:/im.test(out.message.toString('utf8')));
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]!.headers.has('x-injected'), false);
    assert.equal(parsed.attachments[0]!.filename, 'a.csv X-Injected: file');
  });

  it('a Message-ID with CR/LF is replaced, not copied', async () => {
    const { parsed } = await render(received(), mail({ messageId: '<a@b>\r\nBcc: victim@evil.example' }));
    assert.equal(parsed.headers.has('bcc'), false);
    assert.equal(parsed.messageId, '<01JD0000000000000000000000@gw.test>');
  });
});

describe('renderPassthrough: Message-ID and Date', () => {
  it('keeps a valid Message-ID', async () => {
    const { parsed } = await render(received(), mail({ messageId: '<1764036847.0109@ups-hall2>' }));
    assert.equal(parsed.messageId, '<1764036847.0109@ups-hall2>');
  });

  it('generates one from the received id where there is none', async () => {
    const { parsed } = await render(received({ id: '01JDXYZ' }), mail());
    assert.equal(parsed.messageId, '<01JDXYZ@gw.test>');
  });

  it('replaces malformed Message-IDs with one from the received id', async () => {
    for (const bad of ['no-brackets@host', '<no-at-sign>', '<a b@host>', '<a@b@c>', '<>', '<a@>', 'x<a@b>']) {
      const { parsed } = await render(received(), mail({ messageId: bad }));
      assert.equal(parsed.messageId, '<01JD0000000000000000000000@gw.test>', bad);
    }
  });

  it('keeps the device Date', async () => {
    const date = new Date('2026-11-24T02:14:07Z');
    const { parsed } = await render(received(), mail({ date }));
    assert.equal(parsed.date?.toISOString(), date.toISOString());
  });

  it('uses the time of receipt where the device sent no Date', async () => {
    const { parsed } = await render(received(), mail());
    assert.equal(parsed.date?.getTime(), RECEIVED_AT);
  });
});

describe('renderPassthrough: the message', () => {
  it('starts with a Received trace header naming peer, gateway and id', async () => {
    const { out, parsed } = await render(received(), mail());
    const text = out.message.toString('utf8');
    assert.ok(text.startsWith('Received: from plc-line4 ([10.0.0.5])\r\n\tby gw.test (Annunciator) with ESMTP id 01JD0000000000000000000000;\r\n\t'), text.slice(0, 200));
    assert.ok(text.includes('Tue, 24 Nov 2026 02:30:00 +0000\r\n'));
    assert.ok(parsed.headers.has('received'));
  });

  it('says ESMTPS for a TLS session and "unknown" without HELO', async () => {
    const { out } = await render(received({ peer: { secure: true, helo: undefined } }), mail());
    assert.ok(out.message.toString('utf8').startsWith('Received: from unknown ([10.0.0.5])\r\n\tby gw.test (Annunciator) with ESMTPS id '));
  });

  it('adds the X-Annunciator id and device headers', async () => {
    const { parsed } = await render(received(), mail());
    assert.equal(parsed.headers.get('x-annunciator-id'), '01JD0000000000000000000000');
    assert.equal(parsed.headers.get('x-annunciator-device'), 'plc-line4');
  });

  it('carries subject and text, non-ASCII included, with an all-ASCII header', async () => {
    const { parsed, out } = await render(received(), mail({ subject: 'Störung Förderband 2', text: 'Störung seit 04:12\n' }));
    assert.equal(parsed.subject, 'Störung Förderband 2');
    assert.equal(parsed.text?.trim(), 'Störung seit 04:12');
    // eslint-disable-next-line no-control-regex
    assert.ok(/^[\u0000-\u007f]*$/.test(headerBlock(out.message)), 'headers are RFC 2047 encoded');
  });

  it('writes only CRLF line endings for text with LF, CR and CRLF', async () => {
    const { out, parsed } = await render(received(), mail({ subject: 'x', text: 'line 1\nline 2\rline 3\r\nline 4\n.\n' }));
    assertOnlyCrlf(out.message);
    assert.equal(parsed.text?.replace(/\r\n/g, '\n').trim(), 'line 1\nline 2\nline 3\nline 4\n.');
  });

  it('writes only CRLF line endings for every corpus mail', async () => {
    for (const file of ['remote-io-di-bare-lf.eml', 'ups-on-battery.eml', 'datalogger-csv-attachment.eml', 'latin1-raw-subject.eml', 'folded-subject-utf8.eml']) {
      const raw = readFileSync(join(CORPUS_DIR, file));
      const { out } = await render({ ...received(), raw }, await decodeMail(raw, 'windows-1252'));
      assertOnlyCrlf(out.message);
    }
  });

  it('writes only CRLF line endings for a multi-line HTML mail', async () => {
    // A well-formed CRLF HTML mail: mailparser hands back its HTML with bare LF.
    const raw = Buffer.from('Subject: Alarm 4711\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<h1>Alarm 4711</h1>\r\n<p>Compressor C2</p>\r\n');
    const decoded = await decodeMail(raw, 'windows-1252');
    const { out } = await render({ ...received(), raw }, decoded);
    assertOnlyCrlf(out.message);
    const synthetic = await render(received(), mail({ text: 'x', html: '<p>a</p>\n<p>b</p>\r<p>c</p>' }));
    assertOnlyCrlf(synthetic.out.message);
  });

  it('carries the HTML part', async () => {
    const { parsed } = await render(received(), mail({ text: 'Alarm 4711', html: '<h1>Alarm 4711</h1>' }));
    assert.equal(parsed.html, '<h1>Alarm 4711</h1>');
  });

  it('carries attachments, inline ones with their Content-ID', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const { parsed } = await render(
      received(),
      mail({
        html: '<img src="cid:logo@plant">',
        attachments: [
          { filename: 'cold-room-3.csv', contentType: 'text/csv', content: Buffer.from('time,temp\n03:00,7.8\n'), inline: false },
          { filename: 'logo.png', contentType: 'image/png', content: png, contentId: '<logo@plant>', inline: true },
        ],
      }),
    );
    const csv = parsed.attachments.find((a) => a.filename === 'cold-room-3.csv');
    assert.ok(csv);
    assert.equal(csv.contentType, 'text/csv');
    assert.equal(csv.contentDisposition, 'attachment');
    assert.equal(csv.content.toString(), 'time,temp\n03:00,7.8\n');
    const logo = parsed.attachments.find((a) => a.filename === 'logo.png');
    assert.ok(logo);
    assert.equal(logo.contentId, '<logo@plant>');
    assert.equal(logo.contentDisposition, 'inline');
    assert.deepEqual(logo.content, png);
  });

  it('renders a corpus mail end to end as the device meant it', async () => {
    const raw = readFileSync(join(CORPUS_DIR, 'latin1-raw-subject.eml'));
    const r = { ...received({ envelope: { mailFrom: 'hmi-kessel@plant.local', rcptTo: ['schicht@example.com'] } }), raw };
    const { out, parsed } = await render(r, await decodeMail(raw, 'windows-1252'));
    assert.equal(parsed.subject, 'Störung Förderband 2 - Motorschutz ausgelöst');
    assert.equal(parsed.text?.trim(), 'Störung seit 04:12, Quittierung erforderlich.');
    assert.deepEqual(out.recipients, ['schicht@example.com']);
    assert.equal(out.envelopeFrom, 'hmi-kessel@plant.local');
  });
});

describe('deviceName', () => {
  it('prefers the From display name', () => {
    assert.equal(deviceName(received(), mail({ from: { name: 'Kesselhaus HMI', address: 'hmi@plant.local' } })), 'Kesselhaus HMI');
  });

  it('then the local part of the From address', () => {
    assert.equal(deviceName(received(), mail({ from: { name: '', address: 'hmi-kessel@plant.local' } })), 'hmi-kessel');
  });

  it('then the local part of the envelope sender', () => {
    assert.equal(deviceName(received({ envelope: { mailFrom: 'ups-hall2@plant.local' } }), mail()), 'ups-hall2');
  });

  it('then the HELO name', () => {
    assert.equal(deviceName(received({ envelope: { mailFrom: null }, peer: { helo: 'S7-1500' } }), mail()), 'S7-1500');
  });

  it('then the address with dots and colons as dashes', () => {
    assert.equal(deviceName(received({ envelope: { mailFrom: null }, peer: { helo: undefined } }), mail()), '10-0-0-5');
    assert.equal(deviceName(received({ envelope: { mailFrom: null }, peer: { helo: '  ', address: 'fd00::7' } }), mail()), 'fd00--7');
  });

  it('is header-safe and at most 64 characters', () => {
    const name = deviceName(received(), mail({ from: { name: `Panel\r\nBcc: x ${'y'.repeat(100)}`, address: 'p@plant.local' } }));
    assert.ok(!/[\r\n]/.test(name));
    assert.equal(name.length, 64);
    assert.ok(name.startsWith('Panel Bcc: x '));
  });
});

describe('renderPassthrough: a plain 7-bit text mail', () => {
  const raw = Buffer.from('From: PLC <plc-line4@plant.local>\r\nSubject: Motor M12 overtemperature\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nWinding temperature 142 C\r\n..starts with dots\r\ntrailing blanks  \r\n' + `${'x'.repeat(200)}\r\n`.repeat(3));

  it('passes the body on byte for byte under new headers, and it reads as the same text', async () => {
    const decoded = await decodeMail(raw, 'windows-1252');
    assert.ok(decoded.plainBody, 'decoded by the fast path');
    const { out, parsed } = await render({ ...received(), raw }, decoded);
    const text = out.message.toString('latin1');
    assert.ok(text.endsWith(`\r\n\r\n${raw.subarray(raw.indexOf('\r\n\r\n') + 4).toString('latin1')}`), 'the body as it came after the blank line');
    assert.match(headerBlock(out.message), /^Content-Transfer-Encoding: 7bit\r$/m);
    assert.equal((headerBlock(out.message).match(/^Content-(Type|Transfer-Encoding):/gim) ?? []).length, 2, 'one Content-Type, one Content-Transfer-Encoding');
    assert.equal(parsed.text, decoded.text);
    assert.equal(parsed.subject, 'Motor M12 overtemperature');
    assert.deepEqual(addresses(parsed.to).map((a) => a.address), ['ops@example.com']);
    assertOnlyCrlf(out.message);
    // What lets the store keep the body once: the message's last bytes are the received mail's from the offset on.
    const body = out.bodyOfReceived!;
    assert.equal(body.offset, raw.indexOf('\r\n\r\n') + 4);
    assert.equal(body.length, raw.length - body.offset);
    assert.ok(out.message.subarray(out.message.length - body.length).equals(raw.subarray(body.offset)));
  });

  it('does not claim the received mail\'s bytes for a body that is a copy of them', async () => {
    const decoded = await decodeMail(raw, 'windows-1252');
    const { out } = await render({ ...received(), raw: Buffer.from(raw) }, decoded);
    assert.equal(out.bodyOfReceived, undefined);
  });

  it('writes the body anew when the mail has attachments or HTML beside it', async () => {
    const decoded = { ...(await decodeMail(raw, 'windows-1252')), html: '<p>x</p>' };
    const { out, parsed } = await render({ ...received(), raw }, decoded);
    assert.equal(out.bodyOfReceived, undefined);
    assert.doesNotMatch(headerBlock(out.message), /^Content-Transfer-Encoding: 7bit/m);
    assert.equal(parsed.html, '<p>x</p>');
  });
});

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type MailComposerClass from 'nodemailer/lib/mail-composer';
import { simpleParser } from 'mailparser';
import type * as QuotedPrintable from 'nodemailer/lib/qp';
import { composeMime, qpWrap, type MimeMail, type MimeText } from '../../src/render/mime-message.js';

const MailComposer = createRequire(import.meta.url)('nodemailer/lib/mail-composer') as typeof MailComposerClass;
const qp = createRequire(import.meta.url)('nodemailer/lib/qp') as typeof QuotedPrintable;
const BOUNDARY = '0123456789abcdef';

/** What nodemailer's MailComposer makes of the same mail: the reference composeMime must match byte for byte. */
async function byNodemailer(mail: MimeMail): Promise<Buffer> {
  const part = (t: MimeText) => (typeof t === 'string' ? t : { content: t.content, contentTransferEncoding: t.contentTransferEncoding });
  return new MailComposer({
    baseBoundary: BOUNDARY,
    textEncoding: 'quoted-printable',
    from: mail.from,
    ...(mail.sender ? { sender: mail.sender } : {}),
    ...(mail.to?.length ? { to: mail.to } : {}),
    ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
    subject: mail.subject,
    text: part(mail.text),
    ...(mail.html !== undefined ? { html: part(mail.html) } : {}),
    date: mail.date,
    messageId: mail.messageId,
    ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo } : {}),
    ...(mail.references ? { references: mail.references } : {}),
    headers: mail.headers,
    ...(mail.attachments ? { attachments: mail.attachments.map((a) => ({ ...a, contentDisposition: 'attachment' as const })) } : {}),
  })
    .compile()
    .build();
}

const base: MimeMail = {
  headers: { 'X-Annunciator-Alarm': '01JDALARM', 'X-Annunciator-Kind': 'firing', 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
  from: { name: 'Annunciator (Hall 2)', address: 'annunciator@plant.example' },
  to: ['oncall@example.com', 'maintenance@example.com'],
  subject: 'Motor M7 overtemperature [#ABC123]',
  messageId: '<abc123.2@plant.example>',
  inReplyTo: '<abc123.1@plant.example>',
  references: ['<abc123.1@plant.example>'],
  date: new Date(Date.UTC(2026, 10, 24, 2, 14, 7)),
  text: 'Winding temperature 142 C exceeds limit 130\n',
  html: '<p>Winding temperature <b>142 C</b></p>\n',
  baseBoundary: BOUNDARY,
};

async function assertSameAsNodemailer(mail: MimeMail, label: string): Promise<void> {
  const ours = composeMime(mail);
  const theirs = await byNodemailer(mail);
  assert.equal(ours.toString('latin1'), theirs.toString('latin1'), label);
}

/** A small deterministic generator, so a failing case can be run again. */
function randomText(seed: number, length: number): string {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabet = ['a', 'Z', '7', ' ', ' ', '\t', '\n', '\r\n', '\r', '=', '.', 'ä', 'ß', '€', '😀', '<b>', '=?', '"', '\\', ';', 'x'.repeat(90)];
  let out = '';
  while (out.length < length) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

describe('composeMime', () => {
  it('writes what nodemailer writes for every shape of notification', async () => {
    const original = Buffer.from('Subject: Motor M7\r\nFrom: plc@plant\r\n\r\nWinding 142 C\r\n');
    const cases: Array<[string, MimeMail]> = [
      ['text and html, ASCII', base],
      ['text only', { ...base, html: undefined }],
      ['text only, no recipients, no thread', { ...base, html: undefined, to: [], inReplyTo: undefined, references: undefined }],
      ['empty text', { ...base, text: '', html: undefined }],
      ['accents everywhere', { ...base, from: { name: 'Leitstand Größe', address: 'gw@plant.example' }, subject: 'Übertemperatur Motor M7 – Halle 2 ' + 'sehr lang '.repeat(12), text: 'Temperatur 142 °C\nGrenze 130 °C\n', html: '<p>Temperatur 142 °C</p>' }],
      ['long ASCII lines go quoted-printable', { ...base, text: 'x'.repeat(300) + '\nshort\n', html: '<p>' + 'y '.repeat(200) + '</p>' }],
      ['trailing spaces and tabs', { ...base, text: 'value \t\nnext line  \n', html: '<p> </p>\t' }],
      ['no final line break', { ...base, text: 'ends here', html: '<p>ends</p>' }],
      ['ends with CR', { ...base, html: undefined, text: 'ends with CR\r' }],
      ['large parts in base64', { ...base, text: { content: 'Winding 142 °C\n'.repeat(2000), contentTransferEncoding: 'base64' }, html: { content: '<p>142</p>\n'.repeat(3000), contentTransferEncoding: 'base64' } }],
      ['message/rfc822 attachment', { ...base, attachments: [{ filename: 'original.eml', contentType: 'message/rfc822', content: original }] }],
      ['8bit message/rfc822 attachment', { ...base, attachments: [{ filename: 'original.eml', contentType: 'message/rfc822', content: Buffer.from('Subject: Störung\r\n\r\nÜberlast\r\n', 'latin1') }] }],
      ['opaque attachment', { ...base, attachments: [{ filename: 'original.eml', contentType: 'application/octet-stream', content: Buffer.from([0, 1, 2, 255, 13, 10, 0x41]) }] }],
      // Base64 line breaks at the edges: nothing, under one line, exactly one and exactly three lines of 76, one byte more.
      ...[0, 1, 56, 57, 171, 172].map((size): [string, MimeMail] => [`opaque attachment of ${size} bytes`, { ...base, attachments: [{ filename: 'blob.bin', contentType: 'application/octet-stream', content: Buffer.alloc(size, 0xa5) }] }]),
      ['text only with an attachment', { ...base, html: undefined, attachments: [{ filename: 'original.eml', contentType: 'message/rfc822', content: original }] }],
      ['critical', { ...base, headers: { ...base.headers, Importance: 'high', 'X-Priority': '1 (Highest)', 'X-Annunciator-Alarms': Array.from({ length: 40 }, (_, i) => `01JDALARM${i}`).join(', ') } }],
      ['a relayed plain mail: empty text, its own encoding header, Sender and Reply-To', { ...base, text: '', html: undefined, sender: 'plc-line4@plant.local', replyTo: 'Öl <oil@plant.local>', headers: { 'X-Annunciator-Id': '01JD', 'X-Annunciator-Device': 'PLC Line 4 – Halle 2', 'Content-Transfer-Encoding': '7bit' } }],
      ['a non-ASCII header of its own', { ...base, headers: { ...base.headers, 'X-Annunciator-Id': 'Gerät ä' } }],
    ];
    for (const [label, mail] of cases) await assertSameAsNodemailer(mail, label);
  });

  it('writes what nodemailer writes for random texts, subjects and names', async () => {
    for (let seed = 1; seed <= 150; seed++) {
      const text = randomText(seed, 20 + (seed % 7) * 60);
      const mail: MimeMail = {
        ...base,
        subject: randomText(seed + 1000, 10 + (seed % 5) * 30).replace(/[\r\n]/g, ' '),
        from: { name: randomText(seed + 2000, 12).replace(/[\r\n\t]/g, ' '), address: 'gw@plant.example' },
        text,
        html: seed % 3 === 0 ? undefined : randomText(seed + 3000, 200),
        ...(seed % 4 === 0 ? { attachments: [{ filename: 'original.eml', contentType: 'message/rfc822', content: Buffer.from(randomText(seed, 100).replace(/\r?\n|\r/g, '\r\n'), 'utf8') }] } : {}),
      };
      await assertSameAsNodemailer(mail, `seed ${seed}`);
    }
  });

  it('writes a sender and receivers it has written before as nodemailer does, also after a thousand others', async () => {
    const accented: MimeMail = { ...base, from: { name: 'Leitstand Größe', address: 'gw@plant.example' }, to: ['Jörg Meier <j@plant.example>', 'ops@plant.example'], replyTo: 'Öl <oil@plant.local>', sender: 'plc@plant.local' };
    await assertSameAsNodemailer(accented, 'first time');
    await assertSameAsNodemailer(accented, 'again');
    for (let i = 0; i < 1100; i++) composeMime({ ...base, from: { name: `Gateway ${i}`, address: `gw${i}@plant.example` }, to: [`r${i}@plant.example`] });
    await assertSameAsNodemailer(accented, 'after a thousand other senders and receivers');
    await assertSameAsNodemailer({ ...accented, to: ['ops@plant.example', 'Jörg Meier <j@plant.example>'] }, 'the same receivers in another order');
  });

  it('wraps quoted-printable lines as nodemailer does, skipping the work only where it would change nothing', () => {
    const lines = (seed: number) => {
      let state = seed;
      const next = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      return Array.from({ length: 1 + Math.floor(next() * 12) }, () => randomText(Math.floor(next() * 1e6), Math.floor(next() * 120)).replace(/\r\n|\r|\n/g, ' '));
    };
    for (let seed = 1; seed <= 400; seed++) {
      const body = lines(seed).join(seed % 5 === 0 ? '\n' : '\r\n') + (seed % 3 === 0 ? '' : '\r\n');
      const encoded = qp.encode(Buffer.from(body, 'utf8'));
      assert.equal(qpWrap(encoded), qp.wrap(encoded, 76), `seed ${seed}`);
    }
    for (const edge of ['x'.repeat(74) + '\r\n' + 'y'.repeat(51), 'x'.repeat(74) + '\r\n' + 'y'.repeat(52), 'x'.repeat(75) + '\r\n', 'a\r\n'.repeat(30) + 'end=', 'a\r\n'.repeat(30) + 'end=C3', 'a\r\n'.repeat(30) + 'tail\nx']) {
      assert.equal(qpWrap(edge), qp.wrap(edge, 76), JSON.stringify(edge));
    }
  });

  it('gives a message a mail parser reads back: headers, parts and the attachment', async () => {
    const raw = composeMime({ ...base, baseBoundary: undefined, subject: 'Übertemperatur [#ABC123]', attachments: [{ filename: 'original.eml', contentType: 'message/rfc822', content: Buffer.from('Subject: x\r\n\r\nbody\r\n') }] });
    const parsed = await simpleParser(raw);
    assert.equal(parsed.subject, 'Übertemperatur [#ABC123]');
    assert.equal(parsed.messageId, '<abc123.2@plant.example>');
    assert.equal(parsed.inReplyTo, '<abc123.1@plant.example>');
    assert.equal(parsed.text, 'Winding temperature 142 C exceeds limit 130\n');
    assert.match(String(parsed.html), /<b>142 C<\/b>/);
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]!.filename, 'original.eml');
    assert.equal(parsed.headers.get('x-annunciator-kind'), 'firing');
  });

  it('draws a new boundary for every message', () => {
    const boundaryOf = (raw: Buffer) => /boundary="([^"]+)"/.exec(raw.toString())?.[1];
    const first = boundaryOf(composeMime({ ...base, baseBoundary: undefined }));
    const second = boundaryOf(composeMime({ ...base, baseBoundary: undefined }));
    assert.ok(first && second);
    assert.notEqual(first, second);
  });
});

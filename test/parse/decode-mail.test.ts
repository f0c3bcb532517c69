import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { decodeMail } from '../../src/parse/decode-mail.js';
import { repairUndeclared8bit } from '../../src/parse/repair-charset.js';
import { CORPUS_DIR, loadCorpus, normaliseText } from '../helpers/corpus.js';

const corpusFile = (name: string): Buffer => readFileSync(join(CORPUS_DIR, name));

describe('decodeMail on the device corpus', () => {
  for (const mail of loadCorpus()) {
    it(`${mail.file}: subject and text as the device meant them`, async () => {
      const decoded = await decodeMail(mail.raw, 'windows-1252');
      assert.equal(decoded.subject, mail.subject);
      assert.equal(normaliseText(decoded.text), normaliseText(mail.text));
      assert.ok(!decoded.subject.includes('\ufffd') && !decoded.text.includes('\ufffd'), 'no replacement characters');
    });
  }

  it('latin1-raw-subject.eml: raw ISO-8859-1 bytes become the intended umlauts', async () => {
    const decoded = await decodeMail(corpusFile('latin1-raw-subject.eml'), 'windows-1252');
    assert.equal(decoded.subject, 'Störung Förderband 2 - Motorschutz ausgelöst');
    assert.equal(decoded.text.trim(), 'Störung seit 04:12, Quittierung erforderlich.');
    assert.deepEqual(decoded.from, { name: '', address: 'hmi-kessel@plant.local' });
  });

  it('latin1-raw-subject.eml: the fallback charset iso-8859-1 gives the same text', async () => {
    const decoded = await decodeMail(corpusFile('latin1-raw-subject.eml'), 'iso-8859-1');
    assert.equal(decoded.subject, 'Störung Förderband 2 - Motorschutz ausgelöst');
  });

  it('encoded-word-qp.eml: RFC 2047 subject, quoted-printable latin1 body and display name', async () => {
    const decoded = await decodeMail(corpusFile('encoded-word-qp.eml'), 'windows-1252');
    assert.equal(decoded.subject, 'Störung Kessel 1: Druck zu hoch');
    assert.match(decoded.text, /überschreitet/);
    assert.deepEqual(decoded.from, { name: 'Kesselhaus HMI', address: 'hmi-kessel@plant.local' });
    assert.equal(decoded.html, undefined);
  });

  it('folded-subject-utf8.eml: unfolds the subject and keeps UTF-8 text', async () => {
    const decoded = await decodeMail(corpusFile('folded-subject-utf8.eml'), 'windows-1252');
    assert.ok(!decoded.subject.includes('\n') && !decoded.subject.includes('\r'));
    assert.match(decoded.text, /Überlauf droht/);
  });

  it('hmi-html-only.eml: keeps the HTML and renders it as text', async () => {
    const decoded = await decodeMail(corpusFile('hmi-html-only.eml'), 'windows-1252');
    assert.ok(decoded.html?.includes('<h1>Alarm 4711</h1>'), decoded.html);
    assert.match(decoded.text, /ALARM 4711/);
    assert.match(decoded.text, /oil pressure low/);
    assert.ok(!decoded.text.includes('<'), 'no markup in the text');
  });

  it('datalogger-csv-attachment.eml: decodes the base64 CSV attachment', async () => {
    const decoded = await decodeMail(corpusFile('datalogger-csv-attachment.eml'), 'windows-1252');
    assert.equal(decoded.attachments.length, 1);
    const csv = decoded.attachments[0]!;
    assert.equal(csv.filename, 'cold-room-3.csv');
    assert.equal(csv.contentType, 'text/csv');
    assert.equal(csv.inline, false);
    assert.ok(Buffer.isBuffer(csv.content));
    assert.equal(csv.content.toString('utf8'), 'time,temp\n03:00,7.8\n03:05,8.6\n03:10,9.1\n03:15,9.4\n');
    assert.equal(decoded.text.trim(), 'Cold room 3: temperature 9.4 C above upper limit 8.0 C for 15 min.');
  });

  it('ups-on-battery.eml: keeps Date and Message-ID', async () => {
    const decoded = await decodeMail(corpusFile('ups-on-battery.eml'), 'windows-1252');
    assert.equal(decoded.messageId, '<1764036847.0109@ups-hall2>');
    assert.ok(decoded.date instanceof Date);
    assert.equal(decoded.date.toISOString(), '2026-11-24T02:14:07.000Z');
    assert.deepEqual(decoded.from, { name: '', address: 'ups-hall2@plant.local' });
    assert.deepEqual(decoded.attachments, []);
  });

  it('s7-tmail-no-date.eml: no Date header means no date (not the parse time)', async () => {
    const decoded = await decodeMail(corpusFile('s7-tmail-no-date.eml'), 'windows-1252');
    assert.equal(decoded.date, undefined);
    assert.equal(decoded.messageId, undefined);
    assert.deepEqual(decoded.from, { name: '', address: 'plc-line4@plant.local' });
  });

  it('controllino-bare.eml: no From header means no from', async () => {
    const decoded = await decodeMail(corpusFile('controllino-bare.eml'), 'windows-1252');
    assert.equal(decoded.from, undefined);
    assert.equal(decoded.subject, 'a Horse');
  });

  it('remote-io-di-bare-lf.eml: bare LF line endings decode like CRLF', async () => {
    const decoded = await decodeMail(corpusFile('remote-io-di-bare-lf.eml'), 'windows-1252');
    assert.equal(decoded.subject, 'E1212-07 DI-3 ON (Pump P3 dry run)');
    assert.equal(normaliseText(decoded.text), 'Event: DI-3 changed OFF->ON\nDevice: E1212-07 192.0.2.57');
    assert.deepEqual(decoded.from, { name: '', address: 'iologik-07@plant.local' });
  });
});

describe('decodeMail on hand-made messages', () => {
  it('gives an empty subject and text for an empty message', async () => {
    const decoded = await decodeMail(Buffer.alloc(0), 'windows-1252');
    assert.equal(decoded.subject, '');
    assert.equal(decoded.text, '');
    assert.equal(decoded.from, undefined);
    assert.deepEqual(decoded.attachments, []);
  });

  it('never returns an Invalid Date for an unparseable Date header', async () => {
    const decoded = await decodeMail(Buffer.from('Date: not a date\r\nSubject: x\r\n\r\ny\r\n'), 'windows-1252');
    // mailparser substitutes the parse time for a date it cannot read; either that or
    // undefined is acceptable, an Invalid Date is not.
    assert.ok(decoded.date === undefined || !Number.isNaN(decoded.date.getTime()), String(decoded.date));
    assert.equal(decoded.subject, 'x');
  });

  it('takes the first From address that has an address', async () => {
    const decoded = await decodeMail(Buffer.from('From: "Panel 1" <panel-1@plant.local>, other@plant.local\r\nSubject: x\r\n\r\ny\r\n'), 'windows-1252');
    assert.deepEqual(decoded.from, { name: 'Panel 1', address: 'panel-1@plant.local' });
  });

  it('marks an inline part with a Content-ID as inline', async () => {
    const raw = Buffer.from(
      [
        'Subject: x',
        'MIME-Version: 1.0',
        'Content-Type: multipart/related; boundary="r"',
        '',
        '--r',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p><img src="cid:logo@plant"></p>',
        '--r',
        'Content-Type: image/png',
        'Content-Disposition: inline; filename="logo.png"',
        'Content-ID: <logo@plant>',
        'Content-Transfer-Encoding: base64',
        '',
        'iVBORw0KGgo=',
        '--r--',
        '',
      ].join('\r\n'),
    );
    const decoded = await decodeMail(raw, 'windows-1252');
    assert.equal(decoded.attachments.length, 1);
    const image = decoded.attachments[0]!;
    assert.equal(image.inline, true);
    assert.equal(image.contentId, '<logo@plant>');
    assert.equal(image.contentType, 'image/png');
    assert.deepEqual([...image.content], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });
});

describe('decodeMail: a plain 7-bit text mail (header block parsed, body taken as it came)', () => {
  const crlf = (text: string): Buffer => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
  const fullParse = async (raw: Buffer): Promise<string> => (await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true })).text ?? '';

  for (const [name, raw] of [
    ['ASCII lines, trailing blanks and an unterminated last line', crlf('From: PLC <plc@plant.local>\nSubject: =?utf-8?q?St=C3=B6rung?=\nContent-Type: text/plain; charset=us-ascii\n\nline one  \n\tindented\n.dot\nlast')],
    ['no Content-Type, empty lines at the end', crlf('Subject: x\n\nWinding temperature 142 C\n\n\n')],
    ['an empty body', crlf('Subject: x\n\n')],
    ['lines of 998 bytes, the last one unterminated', crlf(`Subject: x\n\n${'x'.repeat(998)}\n${'y'.repeat(998)}`)],
  ] as const) {
    it(`${name}: the same text as a full parse, and the body kept as it came`, async () => {
      const decoded = await decodeMail(raw, 'windows-1252');
      assert.equal(decoded.text, await fullParse(raw));
      assert.ok(decoded.plainBody, 'fast path taken');
      assert.equal(decoded.plainBody.toString('latin1'), raw.toString('latin1').slice(raw.indexOf('\r\n\r\n') + 4));
    });
  }

  it('decodes the headers as a full parse does', async () => {
    const decoded = await decodeMail(crlf('From: "PLC Line 4" <plc@plant.local>\nSubject: =?utf-8?q?St=C3=B6rung?=\nDate: Tue, 24 Nov 2026 03:14:07 +0100\nMessage-ID: <1@plc>\n\nbody\n'), 'windows-1252');
    assert.equal(decoded.subject, 'Störung');
    assert.deepEqual(decoded.from, { name: 'PLC Line 4', address: 'plc@plant.local' });
    assert.equal(decoded.date?.toISOString(), '2026-11-24T02:14:07.000Z');
    assert.equal(decoded.messageId, '<1@plc>');
  });

  for (const [name, raw] of [
    ['8-bit bytes (a charset to repair)', crlf('Subject: x\n\nSt\xf6rung\n')],
    ['a line longer than 998 bytes', crlf(`Subject: x\n\n${'x'.repeat(999)}\n`)],
    ['an unterminated last line longer than 998 bytes', crlf(`Subject: x\n\nfirst\n${'x'.repeat(999)}`)],
    ['a bare LF in the body', Buffer.from('Subject: x\r\n\r\nline\nline\r\n')],
    ['a bare CR in the body', Buffer.from('Subject: x\r\n\r\nline\rline\r\n')],
    ['a CR as the last byte', Buffer.from('Subject: x\r\n\r\nline\r')],
    ['a DEL byte', crlf('Subject: x\n\nrub\x7fout\n')],
    ['a control character', crlf('Subject: x\n\nbell\x07\n')],
    ['quoted-printable', crlf('Subject: x\nContent-Transfer-Encoding: quoted-printable\n\nSt=C3=B6rung\n')],
    ['format=flowed', crlf('Subject: x\nContent-Type: text/plain; format=flowed\n\nsoft \nbreak\n')],
    ['HTML', crlf('Subject: x\nContent-Type: text/html\n\n<p>x</p>\n')],
    ['multipart', crlf('Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n')],
    ['a UTF-16 charset', crlf('Subject: x\nContent-Type: text/plain; charset=utf-16\n\nxx\n')],
    ['a single part sent as an attachment', crlf('Subject: x\nContent-Type: text/plain\nContent-Disposition: attachment; filename=log.txt\n\nlog line\n')],
  ] as const) {
    it(`${name}: fully parsed`, async () => {
      const decoded = await decodeMail(raw, 'windows-1252');
      assert.equal(decoded.plainBody, undefined);
      assert.equal(decoded.text, await fullParse(repairUndeclared8bit(raw, 'windows-1252')));
    });
  }
});

describe('decodeMail: the header block of a plain mail, decoded without the parser pipeline', () => {
  // Each block with a plain 7-bit body: the fast path decodes the header block alone; the
  // reference is a full simpleParser run over the whole (repaired) mail.
  const body = '\r\nWinding temperature 142 C exceeds limit 130\r\n';
  const reference = async (raw: Buffer) => {
    const parsed = await simpleParser(repairUndeclared8bit(raw, 'windows-1252'), { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
    const groups = Array.isArray(parsed.from) ? parsed.from : parsed.from ? [parsed.from] : [];
    const first = groups.flatMap((g) => g.value).find((a) => a.address);
    return {
      subject: parsed.subject ?? '',
      from: first ? { name: first.name ?? '', address: first.address! } : undefined,
      date: parsed.headers.has('date') ? parsed.date : undefined,
      messageId: parsed.messageId,
      text: parsed.text,
    };
  };
  const blocks: Array<[string, string]> = [
    ['plain', 'From: PLC Line 4 <plc@plant.local>\r\nTo: <oncall@example.com>\r\nSubject: Motor M12 overtemperature\r\nContent-Type: text/plain; charset=us-ascii\r\n'],
    ['encoded words in the name and subject, Q and B, two charsets', 'From: =?iso-8859-1?q?K=F6hler_SPS?= <plc@plant.local>\r\nSubject: =?utf-8?b?U3TDtnJ1bmc=?= =?iso-8859-1?q?_K=E4lte?=\r\n'],
    ['a malformed encoded word and an unknown charset', 'Subject: =?utf-8?q?broken and =?x-unknown?q?abc?= end\r\nFrom: =?x-unknown?q?Name?= <a@b.c>\r\n'],
    ['a group, the first member with an address', 'From: Operators: Line 4 <line4@plant.local>, b@plant.local;\r\nSubject: g\r\n'],
    ['a From with no address, a comment, then another', 'From: PLC\r\nFrom: plc@plant.local (PLC Line 4)\r\nSubject: two From headers\r\n'],
    ['a From with a comment only', 'From: plc@plant.local (PLC Line 4)\r\n'],
    ['a repeated Subject and Message-ID', 'Subject: first\r\nSubject: second\r\nMessage-ID: <1@plc>\r\nMessage-ID: <2@plc>\r\n'],
    ['a subject folded over three lines', 'Subject: [CRITICAL] Wastewater plant WWTP-North:\r\n\tinfluent pump station PS-2 high-high level,\r\n  both duty pumps failed to start\r\n'],
    ['raw UTF-8 in the subject', 'Subject: Störung Förderband 2\r\n'],
    ['raw Latin-1 in the subject (repaired first)', 'Subject: St\xf6rung F\xf6rderband 2\r\n'],
    ['a Message-ID without brackets, dates in other forms', 'Message-ID: 4711.plc@plant.local\r\nDate: 24 Nov 2026 03:14 +0100 (CET)\r\n'],
    ['an empty Subject and an empty Message-ID', 'Subject:\r\nMessage-ID:\r\nFrom:\r\n'],
    ['an mbox From line first', 'From plc@plant.local Tue Nov 24 03:14:07 2026\r\nSubject: mbox\r\nFrom: plc@plant.local\r\n'],
    ['a line without a colon, odd key spelling', 'garbage line\r\nSUBJECT : shouting\r\nfrom:plc@plant.local\r\n'],
    ['a continuation line first', ' leading fold\r\nSubject: after a fold\r\n'],
    ['Content-Type with comments and a quoted charset, 7BIT in capitals', 'Subject: ct\r\nContent-Type: text/plain (device text); charset="UTF-8"\r\nContent-Transfer-Encoding: 7BIT\r\n'],
    ['List headers and priorities', 'Subject: l\r\nList-ID: Alarms <alarms.plant.local>\r\nX-Priority: 1 (Highest)\r\nImportance: high\r\n'],
    ['a 10 KB subject', `Subject: ${'x'.repeat(10_000)}\r\n`],
    ['a header block over 16 KiB (the full parse)', `${Array.from({ length: 400 }, (_, i) => `X-Tag-${i}: ${'v'.repeat(50)}\r\n`).join('')}Subject: big block\r\nFrom: plc@plant.local\r\n`],
  ];
  for (const [name, block] of blocks) {
    it(`${name}: the fields a full parse gives`, async () => {
      const raw = Buffer.from(block + body, 'latin1');
      const decoded = await decodeMail(Buffer.from(raw), 'windows-1252');
      const expected = await reference(raw);
      assert.ok(decoded.plainBody, 'the fast path was taken');
      assert.equal(decoded.subject, expected.subject);
      assert.deepEqual(decoded.from, expected.from);
      assert.equal(decoded.messageId, expected.messageId);
      assert.equal(decoded.text, expected.text);
      assert.equal(decoded.date?.toISOString(), expected.date?.toISOString());
    });
  }

  it('an unparseable Date is the time of the parse, as a full parse makes it', async () => {
    const raw = Buffer.from(`Subject: d\r\nDate: yesterday afternoon\r\n${body}`);
    const before = Date.now();
    const decoded = await decodeMail(raw, 'windows-1252');
    const expected = await reference(raw);
    assert.ok(decoded.plainBody);
    assert.ok(decoded.date && expected.date);
    assert.ok(decoded.date.getTime() >= before && Math.abs(decoded.date.getTime() - expected.date.getTime()) < 60_000);
  });

  it('a mail that begins with an empty line is fully parsed', async () => {
    const raw = Buffer.from(`\r\nSubject: not a header\r\n\r\nbody\r\n`);
    const decoded = await decodeMail(raw, 'windows-1252');
    assert.equal(decoded.plainBody, undefined);
    assert.equal(decoded.subject, '');
    assert.equal(decoded.text, (await reference(raw)).text);
  });
});

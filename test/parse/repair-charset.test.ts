import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { headerEnd, repairUndeclared8bit } from '../../src/parse/repair-charset.js';
import { CORPUS_DIR } from '../helpers/corpus.js';

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('repairUndeclared8bit', () => {
  it('transcodes a raw ISO-8859-1 subject to UTF-8', () => {
    const raw = latin1('From: a@b.example\r\nSubject: Störung Förderband\r\n\r\nok\r\n');
    const fixed = repairUndeclared8bit(raw, 'iso-8859-1');
    assert.equal(fixed.toString('utf8'), 'From: a@b.example\r\nSubject: Störung Förderband\r\n\r\nok\r\n');
  });

  it('repairs the corpus latin1-raw-subject.eml header and body', () => {
    const raw = readFileSync(join(CORPUS_DIR, 'latin1-raw-subject.eml'));
    const fixed = repairUndeclared8bit(raw, 'windows-1252').toString('utf8');
    assert.ok(fixed.includes('Subject: Störung Förderband 2 - Motorschutz ausgelöst\r\n'), fixed);
    assert.ok(fixed.includes('\r\n\r\nStörung seit 04:12, Quittierung erforderlich.\r\n'), fixed);
    assert.ok(!fixed.includes('\ufffd'));
  });

  it('uses the fallback charset given: windows-1250 maps 0x80 to the euro sign', () => {
    const raw = latin1('Subject: Kosten 5 \x80\r\n\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1250').toString('utf8'), 'Subject: Kosten 5 €\r\n\r\n');
  });

  it('honours a fallback charset other than latin1', () => {
    // 0xC4 0xC5 are "ФХ" in ISO-8859-5 (Cyrillic) but "ÄÅ" in latin1.
    const raw = latin1('Subject: \xc4\xc5\r\n\r\n\xc4\xc5\r\n');
    assert.equal(repairUndeclared8bit(raw, 'iso-8859-5').toString('utf8'), 'Subject: ФХ\r\n\r\nФХ\r\n');
  });

  it('returns the same Buffer instance for valid UTF-8', () => {
    const raw = utf8('Subject: Störung\r\n\r\nÜberlauf droht\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252'), raw);
  });

  it('returns the same Buffer instance for plain 7-bit mail', () => {
    const raw = utf8('Subject: a Horse\r\n\r\nThe horse does not eat cucumber salad\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252'), raw);
  });

  it('returns the same Buffer instance for every corpus mail that is already clean', () => {
    for (const file of ['controllino-bare.eml', 'encoded-word-qp.eml', 'folded-subject-utf8.eml', 'datalogger-csv-attachment.eml', 'remote-io-di-bare-lf.eml']) {
      const raw = readFileSync(join(CORPUS_DIR, file));
      assert.equal(repairUndeclared8bit(raw, 'windows-1252'), raw, file);
    }
  });

  it('leaves a body with a declared charset untouched', () => {
    const body = latin1('Kesseldruck \xfcberschreitet Grenzwert\r\n');
    const head = latin1('Subject: ok\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n');
    const raw = Buffer.concat([head, body]);
    const fixed = repairUndeclared8bit(raw, 'windows-1252');
    assert.equal(fixed, raw);
    assert.deepEqual(fixed.subarray(head.length), body);
  });

  it('leaves a body whose charset is declared on a folded Content-Type line untouched', () => {
    const raw = latin1('Subject: ok\r\nContent-Type: text/plain;\r\n charset="iso-8859-1"\r\n\r\n\xfcber\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252'), raw);
  });

  it('leaves a declared-charset body untouched while repairing the header', () => {
    const raw = latin1('Subject: St\xf6rung\r\nContent-Type: text/plain; charset=iso-8859-2\r\n\r\n\xb1\r\n');
    const fixed = repairUndeclared8bit(raw, 'windows-1252');
    const split = headerEnd(fixed);
    assert.equal(fixed.subarray(0, split.headerEnd).toString('utf8'), 'Subject: Störung\r\nContent-Type: text/plain; charset=iso-8859-2\r\n');
    assert.deepEqual([...fixed.subarray(split.bodyStart)], [0xb1, 0x0d, 0x0a]);
  });

  it('leaves a multipart body untouched', () => {
    const body = latin1('--b1\r\nContent-Type: text/plain\r\n\r\n\xfcber\r\n--b1--\r\n');
    const raw = Buffer.concat([latin1('Subject: ok\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'), body]);
    assert.equal(repairUndeclared8bit(raw, 'windows-1252'), raw);
  });

  it('repairs a multipart header but leaves its body bytes as they are', () => {
    const body = latin1('--b1\r\n\r\n\xfc\r\n--b1--\r\n');
    const raw = Buffer.concat([latin1('Subject: St\xf6rung\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'), body]);
    const fixed = repairUndeclared8bit(raw, 'windows-1252');
    assert.ok(fixed.toString('utf8').startsWith('Subject: Störung\r\n'));
    assert.deepEqual(fixed.subarray(fixed.length - body.length), body);
  });

  it('leaves a non-text single part (application/octet-stream) untouched', () => {
    const raw = latin1('Subject: ok\r\nContent-Type: application/octet-stream\r\n\r\n\xff\xfe\x00\x80\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252'), raw);
  });

  it('repairs the body of a text part that declares no charset', () => {
    const raw = latin1('Subject: ok\r\nContent-Type: text/plain\r\n\r\n\xfcber\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252').toString('utf8'), 'Subject: ok\r\nContent-Type: text/plain\r\n\r\nüber\r\n');
  });

  it('repairs the body of a message without Content-Type', () => {
    const raw = latin1('Subject: ok\r\n\r\nQuittierung f\xfcr St\xf6rung\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252').toString('utf8'), 'Subject: ok\r\n\r\nQuittierung für Störung\r\n');
  });

  it('repairs a latin1 body when the header is clean UTF-8', () => {
    const raw = Buffer.concat([utf8('Subject: Störung\r\n\r\n'), latin1('\xfcber\r\n')]);
    assert.equal(repairUndeclared8bit(raw, 'windows-1252').toString('utf8'), 'Subject: Störung\r\n\r\nüber\r\n');
  });

  it('splits header and body at a bare-LF blank line', () => {
    const raw = latin1('Subject: St\xf6rung\nFrom: a@b\n\nSt\xf6rung seit 04:12\n');
    const fixed = repairUndeclared8bit(raw, 'windows-1252');
    assert.equal(fixed.toString('utf8'), 'Subject: Störung\nFrom: a@b\n\nStörung seit 04:12\n');
  });

  it('with bare LF, a declared charset in the header still protects the body', () => {
    const raw = latin1('Subject: St\xf6rung\nContent-Type: text/plain; charset=iso-8859-1\n\n\xfc\n');
    const fixed = repairUndeclared8bit(raw, 'windows-1252');
    assert.ok(fixed.toString('utf8').startsWith('Subject: Störung\n'));
    assert.deepEqual([...fixed.subarray(fixed.length - 2)], [0xfc, 0x0a]);
  });

  it('handles a message that is all header (no blank line)', () => {
    const raw = latin1('Subject: St\xf6rung\r\n');
    assert.equal(repairUndeclared8bit(raw, 'windows-1252').toString('utf8'), 'Subject: Störung\r\n');
  });

  it('does not mistake a Content-Type line inside the body for the header one', () => {
    const raw = latin1('Subject: ok\r\n\r\nContent-Type: text/plain; charset=utf-8\r\n\xfc\r\n');
    // The body declares nothing in the header, so it is repaired.
    assert.ok(repairUndeclared8bit(raw, 'windows-1252').toString('utf8').endsWith('\r\nü\r\n'));
  });
});

describe('headerEnd', () => {
  it('finds a CRLF blank line', () => {
    const raw = Buffer.from('Subject: x\r\n\r\nbody');
    const split = headerEnd(raw);
    assert.equal(raw.subarray(0, split.headerEnd).toString(), 'Subject: x\r\n');
    assert.equal(raw.subarray(split.bodyStart).toString(), 'body');
    assert.deepEqual(split, { headerEnd: 12, bodyStart: 14 });
  });

  it('finds a bare-LF blank line', () => {
    const raw = Buffer.from('Subject: x\nFrom: y\n\nbody\n');
    const split = headerEnd(raw);
    assert.equal(raw.subarray(0, split.headerEnd).toString(), 'Subject: x\nFrom: y\n');
    assert.equal(raw.subarray(split.bodyStart).toString(), 'body\n');
  });

  it('finds the first blank line, not a later one', () => {
    const raw = Buffer.from('A: 1\r\n\r\nline\r\n\r\nmore');
    assert.deepEqual(headerEnd(raw), { headerEnd: 6, bodyStart: 8 });
  });

  it('finds a blank line that mixes LF then CRLF', () => {
    const raw = Buffer.from('A: 1\n\r\nbody');
    assert.deepEqual(headerEnd(raw), { headerEnd: 5, bodyStart: 7 });
    assert.equal(raw.subarray(7).toString(), 'body');
  });

  it('treats a message without a blank line as all header', () => {
    const raw = Buffer.from('Subject: x\r\nFrom: y\r\n');
    assert.deepEqual(headerEnd(raw), { headerEnd: raw.length, bodyStart: raw.length });
    assert.deepEqual(headerEnd(Buffer.alloc(0)), { headerEnd: 0, bodyStart: 0 });
  });

  it('does not split at a lone CR CR', () => {
    const raw = Buffer.from('A: 1\r\rB: 2');
    assert.deepEqual(headerEnd(raw), { headerEnd: raw.length, bodyStart: raw.length });
  });
});

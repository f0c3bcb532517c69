import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyText, headerText } from '../../src/render/header-text.js';

describe('headerText', () => {
  it('leaves ordinary text alone', () => {
    assert.equal(headerText('Störung Förderband 2 - Motorschutz ausgelöst'), 'Störung Förderband 2 - Motorschutz ausgelöst');
  });

  it('turns CR and LF into a space so nothing can start a new header', () => {
    assert.equal(headerText('Alarm\r\nBcc: victim@evil.example'), 'Alarm Bcc: victim@evil.example');
    assert.equal(headerText('Alarm\nBcc: x'), 'Alarm Bcc: x');
    assert.equal(headerText('Alarm\rBcc: x'), 'Alarm Bcc: x');
    for (const hostile of ['a\r\nb', 'a\nb', 'a\rb', '\r\n\r\nbody', 'x\r\n.\r\n']) {
      assert.ok(!/[\r\n]/.test(headerText(hostile)), JSON.stringify(hostile));
    }
  });

  it('replaces other control characters, DEL and Unicode line separators', () => {
    assert.equal(headerText('a\u0000b\u0007c\u001bd\u007fe'), 'a b c d e');
    assert.equal(headerText('a\u2028b\u2029c'), 'a b c');
    assert.equal(headerText('a\tb\u000bc\u000cd'), 'a b c d');
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f\u2028\u2029]/.test(headerText('\u0001\u0002x\u001f\u007f\u2028')));
  });

  it('folds runs of white space and trims the ends', () => {
    assert.equal(headerText('  UPS   on\t\tbattery  '), 'UPS on battery');
    assert.equal(headerText('a\r\n\r\n\r\nb'), 'a b');
    assert.equal(headerText('   '), '');
    assert.equal(headerText(''), '');
  });

  it('unfolds a folded header value', () => {
    assert.equal(headerText('[CRITICAL] pump station PS-2\r\n high-high level'), '[CRITICAL] pump station PS-2 high-high level');
  });

  it('caps the length at 998 characters by default, ending with an ellipsis', () => {
    const long = 'x'.repeat(2000);
    const capped = headerText(long);
    assert.equal(capped.length, 998);
    assert.ok(capped.endsWith('…'));
    assert.equal(capped.slice(0, 997), 'x'.repeat(997));
  });

  it('keeps text exactly at the limit as it is', () => {
    assert.equal(headerText('y'.repeat(998)), 'y'.repeat(998));
    assert.equal(headerText('abcde', 5), 'abcde');
  });

  it('caps at a given length', () => {
    assert.equal(headerText('abcdefghij', 5), 'abcd…');
    assert.equal(headerText('Pump station PS-2 failed', 10).length, 10);
  });

  it('measures the length after folding white space', () => {
    assert.equal(headerText('a\r\n\r\n\r\n\r\nb', 3), 'a b');
  });
});

describe('bodyText', () => {
  it('turns bare LF into CRLF', () => {
    assert.equal(bodyText('a\nb\n'), 'a\r\nb\r\n');
  });

  it('turns a lone CR into CRLF', () => {
    assert.equal(bodyText('a\rb\r'), 'a\r\nb\r\n');
  });

  it('keeps CRLF as one line break, not two', () => {
    assert.equal(bodyText('a\r\nb\r\n'), 'a\r\nb\r\n');
  });

  it('normalises mixed line endings', () => {
    assert.equal(bodyText('a\r\nb\nc\rd'), 'a\r\nb\r\nc\r\nd');
    assert.equal(bodyText('a\r\r\nb'), 'a\r\n\r\nb');
    assert.equal(bodyText('a\n\rb'), 'a\r\n\r\nb');
  });

  it('is idempotent', () => {
    const once = bodyText('a\nb\rc\r\nd');
    assert.equal(bodyText(once), once);
  });

  it('leaves no bare CR or LF', () => {
    const out = bodyText('x\n\r\r\n\n\r.\n.\r\n');
    assert.ok(!/\r(?!\n)/.test(out), JSON.stringify(out));
    assert.ok(!/(?<!\r)\n/.test(out), JSON.stringify(out));
  });

  it('removes control characters but keeps TAB', () => {
    assert.equal(bodyText('a\u0000b\u0007c\u001bd\u007fe'), 'abcde');
    assert.equal(bodyText('Name\t: UPS\u000b\u000c'), 'Name\t: UPS');
  });

  it('keeps non-ASCII text', () => {
    assert.equal(bodyText('Überlauf droht\n'), 'Überlauf droht\r\n');
  });

  it('returns an empty string for an empty body', () => {
    assert.equal(bodyText(''), '');
  });
});

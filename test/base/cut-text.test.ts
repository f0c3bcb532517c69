import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cutText } from '../../src/base/cut-text.js';

/** The cut as it was written first: the whole text encoded, then cut; the reference for the one that encodes only the start. */
function cutWhole(text: string, maxBytes: number): { text: string; cut?: { shownBytes: number; totalBytes: number } } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text };
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  const head = bytes.toString('utf8', 0, end);
  const lastBreak = Math.max(head.lastIndexOf('\n'), head.lastIndexOf('\r'));
  const shown = (lastBreak > 0 ? head.slice(0, lastBreak) : head).replace(/[\r\n]+$/, '');
  return { text: shown, cut: { shownBytes: Buffer.byteLength(shown, 'utf8'), totalBytes: bytes.length } };
}

describe('cutText', () => {
  it('keeps a text that fits, and says nothing was cut', () => {
    assert.deepEqual(cutText('short\nlines', 100), { text: 'short\nlines' });
    assert.deepEqual(cutText('Störung', 8), { text: 'Störung' });
  });

  it('cuts at the last line break before the limit and counts the bytes', () => {
    const text = 'line one\nline two\nline three\n';
    assert.deepEqual(cutText(text, 20), { text: 'line one\nline two', cut: { shownBytes: 17, totalBytes: 29 } });
  });

  it('never splits a character: two-, three- and four-byte ones at every position around the limit', () => {
    for (const char of ['ö', '€', '😀']) {
      for (let pad = 0; pad < 8; pad += 1) {
        const text = `${'x'.repeat(pad)}${char.repeat(40)}\n${'y'.repeat(30)}`;
        for (let max = 1; max < 60; max += 1) {
          const got = cutText(text, max);
          assert.deepEqual(got, cutWhole(text, max), `${char} pad ${pad} max ${max}`);
          assert.ok(!got.text.includes('\ufffd'), `${char} pad ${pad} max ${max}: a replacement character`);
        }
      }
    }
  });

  it('a long device text: the same cut as encoding it whole', () => {
    const line = 'Line 4 station 12: winding temperature high, value 142.0 °C, limit 130.0 °C, check fan.\n';
    const text = line.repeat(1200);
    for (const max of [16 * 1024, 16 * 1024 + 1, 1000, 89]) assert.deepEqual(cutText(text, max), cutWhole(text, max));
  });
});

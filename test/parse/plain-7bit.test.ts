import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onlyTextBytes, plain7bitText } from '../../src/parse/plain-7bit.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** The definition, a byte at a time: printable ASCII and TAB in CRLF lines of at most 998 bytes, ending with CRLF or nothing. */
function reference(body: Buffer): boolean {
  let lineLength = 0;
  for (let i = 0; i < body.length; i += 1) {
    const byte = body[i]!;
    if ((byte >= 0x20 && byte < 0x7f) || byte === 0x09) {
      if (++lineLength > 998) return false;
    } else if (byte === 0x0d && body[i + 1] === 0x0a) {
      i += 1;
      lineLength = 0;
    } else {
      return false;
    }
  }
  return true;
}

/** `bytes` at byte offset `shift` of a fresh ArrayBuffer, so the word scan meets every alignment. */
function at(shift: number, bytes: Buffer): Buffer {
  const backing = Buffer.alloc(shift + bytes.length + 3, 0x00);
  bytes.copy(backing, shift);
  return backing.subarray(shift, shift + bytes.length);
}

describe('plain7bitText', () => {
  it('agrees with the byte-by-byte definition on 5,000 random bodies, at every alignment', () => {
    const random = seededRandom(7);
    const pieces = ['Winding temperature 142 C', '\r\n', '\r\n', '\t', ' ', '\r', '\n', '\x00', '\x07', '\x1f', '\x7f', '\x80', 'é', '~', '.', 'x'.repeat(500)];
    let plain = 0;
    for (let i = 0; i < 5000; i += 1) {
      const parts: string[] = [];
      const count = Math.floor(random() * 12);
      for (let k = 0; k < count; k += 1) {
        // Mostly text, so that plain bodies and bodies with one odd byte both come up often.
        parts.push(random() < 0.8 ? pieces[Math.floor(random() * 2)]! : pieces[Math.floor(random() * pieces.length)]!);
      }
      const bytes = Buffer.from(parts.join(''), 'latin1');
      const expected = reference(bytes);
      if (expected) plain += 1;
      for (let shift = 0; shift < 4; shift += 1) {
        const body = at(shift, bytes);
        assert.equal(plain7bitText(body) !== undefined, expected, `${JSON.stringify(bytes.toString('latin1'))} at offset ${shift}`);
        if (expected) assert.equal(plain7bitText(body), bytes.toString('latin1'));
      }
    }
    assert.ok(plain > 1000 && plain < 4000, `both kinds were tried (${plain} plain)`);
  });

  it('finds one odd byte anywhere in a large body, in every position of a word', () => {
    const body = Buffer.from('Winding temperature high, value 142.0 C, limit 130.0 C, check fan.\r\n'.repeat(100), 'latin1');
    assert.ok(onlyTextBytes(body));
    for (const odd of [0x00, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f, 0x7f, 0x80, 0xff]) {
      for (const position of [0, 1, 2, 3, 1000, 1001, 1002, 1003, body.length - 1]) {
        const copy = Buffer.from(body);
        copy[position] = odd;
        for (let shift = 0; shift < 4; shift += 1) assert.equal(onlyTextBytes(at(shift, copy)), false, `0x${odd.toString(16)} at ${position}, offset ${shift}`);
      }
    }
  });

  it('judges line ends and lengths', () => {
    const check = (text: string): boolean => plain7bitText(Buffer.from(text, 'latin1')) !== undefined;
    assert.equal(check(''), true);
    assert.equal(check('\r\n'), true);
    assert.equal(check('last line without a break'), true);
    assert.equal(check(`${'x'.repeat(998)}\r\n${'y'.repeat(998)}`), true);
    assert.equal(check(`${'x'.repeat(999)}\r\n`), false);
    assert.equal(check(`ok\r\n${'x'.repeat(999)}`), false);
    assert.equal(check('\n'), false, 'a bare LF first');
    assert.equal(check('a\nb'), false);
    assert.equal(check('a\rb'), false);
    assert.equal(check('a\r'), false, 'a CR as the last byte');
    assert.equal(check('a\r\r\n'), false, 'a CR before the CRLF');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../src/base/ids.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function decodeTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}

describe('newId', () => {
  it('is 26 characters long', () => {
    assert.equal(newId().length, 26);
    assert.equal(newId(0).length, 26);
  });

  it('uses only the Crockford base32 alphabet (no I, L, O, U)', () => {
    for (let i = 0; i < 200; i += 1) {
      const id = newId();
      assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.ok(!/[ILOU]/.test(id));
    }
  });

  it('encodes the time in the first 10 characters', () => {
    const now = Date.UTC(2026, 10, 24, 3, 14, 7, 123);
    assert.equal(decodeTime(newId(now)), now);
    assert.ok(newId(0).startsWith('0000000000'));
    assert.ok(newId(31).startsWith('000000000Z'));
    assert.ok(newId(32).startsWith('0000000010'));
    assert.ok(newId(2 ** 48 - 1).startsWith('7ZZZZZZZZZ'));
  });

  it('defaults to the current time', () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    const t = decodeTime(id);
    assert.ok(t >= before && t <= after, `${t} not in [${before}, ${after}]`);
  });

  it('sorts by time, as strings', () => {
    const times = [0, 1, 31, 32, 1023, 1024, Date.UTC(2020, 0, 1), Date.UTC(2026, 10, 24), Date.UTC(2026, 10, 24) + 1, 2 ** 48 - 1];
    const ids = times.map((t) => newId(t));
    const shuffled = [...ids].reverse();
    assert.deepEqual(shuffled.sort(), ids);
  });

  it('sorts a later millisecond after an earlier one whatever the random part', () => {
    for (let i = 0; i < 200; i += 1) {
      const t = 1_764_000_000_000 + i;
      assert.ok(newId(t) < newId(t + 1));
    }
  });

  it('shares the time prefix within one millisecond and differs in the random part', () => {
    const now = 1_764_000_000_000;
    const ids = new Set(Array.from({ length: 1000 }, () => newId(now)));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.equal(id.slice(0, 10), newId(now).slice(0, 10));
  });

  it('uses every symbol in the random part over many ids', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i += 1) for (const ch of newId(0).slice(10)) seen.add(ch);
    assert.equal(seen.size, 32);
  });
});

describe('ids made in the same millisecond', () => {
  it('count up, so they sort in the order they were made', () => {
    const at = Date.UTC(2026, 10, 26, 9, 0, 0);
    const ids = Array.from({ length: 1000 }, () => newId(at));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });
});

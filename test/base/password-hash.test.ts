import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, isPasswordHash, parsePasswordHash, verifyPassword } from '../../src/base/password-hash.js';

describe('scrypt password hashes', () => {
  it('round-trips: the parameters travel in the string; only the same password verifies', async () => {
    const line = await hashPassword('pässword-1', { logN: 14 });
    assert.match(line, /^scrypt\$16384\$8\$1\$/);
    const parsed = parsePasswordHash(`${line}\n`);
    assert.ok(isPasswordHash(parsed));
    assert.equal(parsed.salt.length, 16);
    assert.equal(await verifyPassword('pässword-1', parsed), true);
    assert.equal(await verifyPassword('pa\u0308ssword-1', parsed), true, 'the same text in another Unicode form (NFC)');
    assert.equal(await verifyPassword('pässword-2', parsed), false);
    assert.equal(await verifyPassword('', parsed), false);
  });

  it('says what is wrong with a string that is not such a hash, without repeating it', () => {
    const salt = Buffer.alloc(16, 1).toString('base64');
    const hash = Buffer.alloc(32, 2).toString('base64');
    const cases: Array<[string, RegExp]> = [
      ['hunter2', /is not a password hash/],
      [`bcrypt$16384$8$1$${salt}$${hash}`, /is not a password hash/],
      [`scrypt$1000$8$1$${salt}$${hash}`, /power of two/],
      [`scrypt$1024$8$1$${salt}$${hash}`, /from 2\^14 to 2\^20/],
      [`scrypt$${2 ** 22}$8$1$${salt}$${hash}`, /from 2\^14 to 2\^20/],
      [`scrypt$16384$0$1$${salt}$${hash}`, /r outside/],
      [`scrypt$16384$8$99$${salt}$${hash}`, /p outside/],
      [`scrypt$16384$8$1$not*base64$${hash}`, /not base64/],
      [`scrypt$16384$8$1$${salt}$AAAA`, /16 to 64 bytes/],
    ];
    for (const [text, problem] of cases) {
      const parsed = parsePasswordHash(text);
      assert.ok(!isPasswordHash(parsed), text);
      assert.match(parsed.problem, problem, text);
      assert.ok(!parsed.problem.includes(salt) && !parsed.problem.includes('hunter2'), 'the secret is not repeated');
    }
  });
});

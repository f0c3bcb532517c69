import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ackUrl, signAckToken, verifyAckToken, type AckClaims } from '../../src/base/ack-token.js';

const KEY = 'k'.repeat(32) + '-test-link-secret';
const NOW = Date.UTC(2026, 10, 24, 2, 14, 7);
const CLAIMS: AckClaims = { alarmId: '01JDALARM00000000000000000', receiver: 'line4-oncall', expiresAt: NOW + 7 * 86_400_000 };

/** Flips one character of a base64url string to another valid one. */
function flip(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

describe('acknowledgement tokens', () => {
  it('round-trips the claims and is URL-safe', () => {
    const token = signAckToken(CLAIMS, KEY);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(encodeURIComponent(token), token);
    assert.deepEqual(verifyAckToken(token, KEY, NOW), { ok: true, claims: CLAIMS });
    assert.deepEqual(verifyAckToken(token, Buffer.from(KEY, 'utf8'), NOW), { ok: true, claims: CLAIMS }, 'a Buffer key is the same key');
  });

  it('refuses a tampered payload as a bad signature', () => {
    const [payload, sig] = signAckToken(CLAIMS, KEY).split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ a: CLAIMS.alarmId, r: 'mallory', e: CLAIMS.expiresAt }), 'utf8').toString('base64url');
    assert.deepEqual(verifyAckToken(`${forged}.${sig}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verifyAckToken(`${flip(payload, 3)}.${sig}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
  });

  it('refuses a tampered signature', () => {
    const [payload, sig] = signAckToken(CLAIMS, KEY).split('.') as [string, string];
    assert.deepEqual(verifyAckToken(`${payload}.${flip(sig, 5)}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
  });

  it('refuses a token signed with another key', () => {
    const token = signAckToken(CLAIMS, 'another-key-of-at-least-32-bytes-length');
    assert.deepEqual(verifyAckToken(token, KEY, NOW), { ok: false, reason: 'bad-signature' });
  });

  it('refuses an expired token, from the expiry instant on, but only a genuine one', () => {
    const token = signAckToken(CLAIMS, KEY);
    assert.equal(verifyAckToken(token, KEY, CLAIMS.expiresAt - 1).ok, true);
    assert.deepEqual(verifyAckToken(token, KEY, CLAIMS.expiresAt), { ok: false, reason: 'expired' });
    assert.deepEqual(verifyAckToken(token, KEY, CLAIMS.expiresAt + 86_400_000), { ok: false, reason: 'expired' });
    const forgedExpired = signAckToken({ ...CLAIMS, expiresAt: NOW - 1 }, 'wrong-key-wrong-key-wrong-key-wrong');
    assert.deepEqual(verifyAckToken(forgedExpired, KEY, NOW), { ok: false, reason: 'bad-signature' });
  });

  it('refuses malformed tokens', () => {
    const token = signAckToken(CLAIMS, KEY);
    const [payload, sig] = token.split('.') as [string, string];
    for (const bad of ['', '.', 'abc', `${payload}.`, `.${sig}`, `${token}.x`, `${payload}.${sig.slice(0, 20)}`, `${payload}!.${sig}`, `${payload}.${sig}=`, '<script>.x']) {
      assert.deepEqual(verifyAckToken(bad, KEY, NOW), { ok: false, reason: 'malformed' }, JSON.stringify(bad));
    }
  });

  it('refuses a genuinely signed payload that is not claims as malformed', () => {
    // Only the key holder can make one; still, the verifier must not trust its shape.
    const weird = signAckToken({ alarmId: '', receiver: 'x', expiresAt: NOW + 1000 }, KEY);
    assert.deepEqual(verifyAckToken(weird, KEY, NOW), { ok: false, reason: 'malformed' });
  });

  it('builds links under the base URL', () => {
    assert.equal(ackUrl('https://alarms.plant.example.com', 'P.S'), 'https://alarms.plant.example.com/ack/P.S');
    assert.equal(ackUrl('https://example.com/annunciator/', 'P.S'), 'https://example.com/annunciator/ack/P.S');
  });
});

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signAckToken, verifyAckToken, type AckClaims } from '../../src/base/ack-token.js';

const KEY = 'k'.repeat(32) + '-test-link-secret';
const NOW = Date.UTC(2026, 10, 24, 2, 14, 7);
const EXPIRES = NOW + 7 * 86_400_000;
const ALARM: AckClaims = { alarmId: '01JDALARM00000000000000000', receiver: 'line4-oncall', expiresAt: EXPIRES };
const BATCH: AckClaims = { batchId: '01KBATCH0000000000000000AB', receiver: 'shift', expiresAt: EXPIRES };

/** A token made the way tokens were made before batch links existed (and by anyone holding the key). */
function handMade(wire: unknown, key = KEY): string {
  const payload = Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
  const sig = createHmac('sha256', key).update('annunciator-ack-link-v1.').update(payload).digest('base64url');
  return `${payload}.${sig}`;
}

function decode(token: string): unknown {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'));
}

function flip(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

describe('batch acknowledgement tokens', () => {
  it('a batch token round-trips its claims', () => {
    const token = signAckToken(BATCH, KEY);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(decode(token), { b: BATCH.batchId, r: 'shift', e: EXPIRES });
    assert.deepEqual(verifyAckToken(token, KEY, NOW), { ok: true, claims: BATCH });
  });

  it('alarm tokens are unchanged: the same bytes as before, and old tokens still verify', () => {
    const legacy = handMade({ a: ALARM.alarmId, r: ALARM.receiver, e: EXPIRES });
    assert.equal(signAckToken(ALARM, KEY), legacy);
    assert.deepEqual(verifyAckToken(legacy, KEY, NOW), { ok: true, claims: ALARM });
    const verdict = verifyAckToken(legacy, KEY, NOW);
    assert.ok(verdict.ok);
    assert.equal(verdict.claims.batchId, undefined, 'an alarm token is never read as a batch token');
  });

  it('refuses a batch token whose signature is forged or whose payload was changed', () => {
    const [payload, sig] = signAckToken(BATCH, KEY).split('.') as [string, string];
    assert.deepEqual(verifyAckToken(`${payload}.${flip(sig, 7)}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
    const otherBatch = Buffer.from(JSON.stringify({ b: '01KOTHERBATCH0000000000000', r: 'shift', e: EXPIRES }), 'utf8').toString('base64url');
    assert.deepEqual(verifyAckToken(`${otherBatch}.${sig}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verifyAckToken(signAckToken(BATCH, 'another-key-of-at-least-32-bytes-length'), KEY, NOW), { ok: false, reason: 'bad-signature' });
  });

  it('an alarm token cannot be turned into a batch token, nor the other way', () => {
    const [, alarmSig] = signAckToken({ ...ALARM, alarmId: BATCH.batchId! }, KEY).split('.') as [string, string];
    const asBatch = Buffer.from(JSON.stringify({ b: BATCH.batchId, r: 'line4-oncall', e: EXPIRES }), 'utf8').toString('base64url');
    assert.deepEqual(verifyAckToken(`${asBatch}.${alarmSig}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
    const [, batchSig] = signAckToken(BATCH, KEY).split('.') as [string, string];
    const asAlarm = Buffer.from(JSON.stringify({ a: BATCH.batchId, r: 'shift', e: EXPIRES }), 'utf8').toString('base64url');
    assert.deepEqual(verifyAckToken(`${asAlarm}.${batchSig}`, KEY, NOW), { ok: false, reason: 'bad-signature' });
  });

  it('refuses an expired batch token, and genuinely signed payloads that are not claims', () => {
    const token = signAckToken(BATCH, KEY);
    assert.equal(verifyAckToken(token, KEY, EXPIRES - 1).ok, true);
    assert.deepEqual(verifyAckToken(token, KEY, EXPIRES), { ok: false, reason: 'expired' });
    for (const wire of [{ a: 'A1', b: 'B1', r: 'x', e: EXPIRES }, { b: '', r: 'x', e: EXPIRES }, { b: 7, r: 'x', e: EXPIRES }, { r: 'x', e: EXPIRES }, { b: 'B1', e: EXPIRES }]) {
      assert.deepEqual(verifyAckToken(handMade(wire), KEY, NOW), { ok: false, reason: 'malformed' }, JSON.stringify(wire));
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureBackoff, retryDelay, type BackoffCurve } from '../../src/base/backoff.js';

const policy = (overrides: Partial<BackoffCurve> = {}): BackoffCurve => ({
  initialDelay: 30_000,
  maxDelay: 30 * 60_000,
  factor: 2,
  jitter: 0,
  ...overrides,
});

const middle = (): number => 0.5;

describe('retryDelay', () => {
  it('waits the initial delay after the first failed attempt', () => {
    assert.equal(retryDelay(1, policy()), 30_000);
  });

  it('treats attempt 0 (and below) like the first', () => {
    assert.equal(retryDelay(0, policy()), 30_000);
    assert.equal(retryDelay(-3, policy()), 30_000);
  });

  it('grows exponentially by the factor', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => retryDelay(n, policy())), [30_000, 60_000, 120_000, 240_000, 480_000]);
    assert.deepEqual([1, 2, 3].map((n) => retryDelay(n, policy({ factor: 3, initialDelay: 1000 }))), [1000, 3000, 9000]);
  });

  it('stays constant with factor 1', () => {
    assert.deepEqual([1, 5, 50].map((n) => retryDelay(n, policy({ factor: 1 }))), [30_000, 30_000, 30_000]);
  });

  it('is capped at maxDelay', () => {
    assert.equal(retryDelay(6, policy()), 960_000);
    assert.equal(retryDelay(7, policy()), 1_800_000);
    assert.equal(retryDelay(8, policy()), 1_800_000);
    assert.equal(retryDelay(100, policy()), 1_800_000);
  });

  it('stays at maxDelay for huge attempt counts (no Infinity or NaN)', () => {
    const delay = retryDelay(100_000, policy({ factor: 10 }));
    assert.equal(delay, 1_800_000);
  });

  it('never grows once capped, for any attempt', () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 40; attempt += 1) {
      const delay = retryDelay(attempt, policy());
      assert.ok(delay >= previous, `attempt ${attempt}`);
      assert.ok(delay <= 1_800_000, `attempt ${attempt}`);
      previous = delay;
    }
  });

  it('uses an initial delay larger than maxDelay only up to maxDelay', () => {
    assert.equal(retryDelay(1, policy({ initialDelay: 60_000, maxDelay: 10_000 })), 10_000);
  });

  it('with jitter, random 0.5 gives the exact delay', () => {
    assert.equal(retryDelay(2, policy({ jitter: 0.2 }), middle), 60_000);
  });

  it('with jitter, random 0 gives the lower bound (1 - jitter)', () => {
    assert.equal(retryDelay(2, policy({ jitter: 0.2 }), () => 0), 48_000);
  });

  it('with jitter, random near 1 approaches the upper bound (1 + jitter)', () => {
    assert.equal(retryDelay(2, policy({ jitter: 0.2 }), () => 0.999999), 72_000);
    assert.equal(retryDelay(2, policy({ jitter: 0.2 }), () => 1), 72_000);
  });

  it('with jitter, stays within ±jitter of the delay for any random value', () => {
    for (let i = 0; i <= 100; i += 1) {
      const r = i / 100;
      const delay = retryDelay(3, policy({ jitter: 0.25 }), () => r);
      assert.ok(delay >= 90_000 && delay <= 150_000, `random ${r}: ${delay}`);
    }
  });

  it('applies jitter around the capped delay', () => {
    assert.equal(retryDelay(50, policy({ jitter: 0.1 }), () => 0), 1_620_000);
    assert.equal(retryDelay(50, policy({ jitter: 0.1 }), () => 1), 1_980_000);
  });

  it('with jitter 1, can go down to zero but never below', () => {
    assert.equal(retryDelay(1, policy({ jitter: 1 }), () => 0), 0);
    assert.equal(retryDelay(1, policy({ jitter: 1 }), () => 1), 60_000);
  });

  it('ignores random when jitter is 0', () => {
    assert.equal(retryDelay(2, policy({ jitter: 0 }), () => 0), 60_000);
    assert.equal(retryDelay(2, policy({ jitter: 0 }), () => 0.99), 60_000);
  });

  it('returns whole milliseconds', () => {
    const delay = retryDelay(1, policy({ initialDelay: 1000, jitter: 0.3 }), () => 0.123456);
    assert.equal(delay, Math.round(delay));
    assert.equal(delay, Math.round(1000 - 300 + 0.123456 * 600));
  });

  it('uses Math.random by default, within the jitter bounds', () => {
    for (let i = 0; i < 50; i += 1) {
      const delay = retryDelay(1, policy({ jitter: 0.2 }));
      assert.ok(delay >= 24_000 && delay <= 36_000, String(delay));
    }
  });
});

describe('failureBackoff', () => {
  it('waits a poll interval after the first failure, doubling after each further one', () => {
    assert.deepEqual([1, 2, 3, 4].map((f) => failureBackoff(f, 1000)), [1000, 2000, 4000, 8000]);
  });

  it('waits at most 16 polls and at most 30 s, but never less than one poll', () => {
    assert.equal(failureBackoff(50, 100), 1600);
    assert.equal(failureBackoff(50, 5000), 30_000);
    assert.equal(failureBackoff(50, 60_000), 60_000);
  });
});

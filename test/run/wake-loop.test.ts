import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Linger } from '../../src/base/linger.js';
import { WakeLoop } from '../../src/run/wake-loop.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A loop whose passes are recorded: when each started (real time), and a way to hold one open. */
class CountingLoop extends WakeLoop {
  readonly starts: number[] = [];
  hold: Promise<void> | undefined;
  #next: Array<() => void> = [];

  protected override async pass(): Promise<void> {
    this.starts.push(performance.now());
    for (const resolve of this.#next.splice(0)) resolve();
    await this.hold;
  }

  protected override nextWakeIn(): number {
    return 60_000;
  }

  protected override passFailed(): void {}

  /** Resolves when the next pass starts. */
  nextPass(): Promise<void> {
    return new Promise((resolve) => this.#next.push(resolve));
  }
}

const turns = async (count: number): Promise<void> => {
  for (let i = 0; i < count; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

describe('WakeLoop: the linger between passes', () => {
  it('without one, a wake-up during a pass runs the next pass right after it', async () => {
    const loop = new CountingLoop(new FakeClock(), 0);
    let release!: () => void;
    loop.hold = new Promise((resolve) => (release = resolve));
    loop.start();
    assert.equal(loop.starts.length, 1);
    loop.wake();
    const second = loop.nextPass();
    loop.hold = undefined;
    release();
    await second;
    assert.equal(loop.starts.length, 2);
    await loop.stop();
  });

  it('with one, the first wake-up runs at once; those soon after a pass wait out the linger together, in one pass', async () => {
    const loop = new CountingLoop(new FakeClock(), 80);
    loop.start();
    assert.equal(loop.starts.length, 1, 'after a quiet spell the pass starts at once');
    await turns(3);
    const second = loop.nextPass();
    for (let i = 0; i < 5; i += 1) {
      loop.wake();
      await turns(1);
    }
    assert.equal(loop.starts.length, 1, 'no pass during the linger');
    await second;
    assert.equal(loop.starts.length, 2, 'five wake-ups, one pass');
    // The first pass ended as soon as it started (it holds nothing).
    const waited = loop.starts[1]! - loop.starts[0]!;
    assert.ok(waited >= 75, `waited ${waited} ms`);
    await turns(3);
    assert.equal(loop.starts.length, 2);
    await loop.stop();
  });

  it('stopping during the linger drops the pass it waits for', async () => {
    const loop = new CountingLoop(new FakeClock(), 60_000);
    loop.start();
    await turns(3);
    loop.wake();
    await loop.stop();
    assert.equal(loop.starts.length, 1);
    // Nothing is left to fire: the test process would otherwise stay up for a minute.
  });
});

describe('Linger', () => {
  it('asks for no wait before the first batch and with a linger of 0', () => {
    assert.equal(new Linger(10).wait(), 0);
    const none = new Linger(0);
    none.ended();
    assert.equal(none.wait(), 0);
  });

  it('right after a batch ended, asks for about the whole linger', () => {
    const linger = new Linger(50);
    linger.ended();
    const wait = linger.wait();
    assert.ok(wait > 40 && wait <= 50, String(wait));
  });
});

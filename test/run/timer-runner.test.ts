import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GatewayEventBus } from '../../src/events.js';
import { timerAt } from '../../src/lifecycle/timer.js';
import { silentLogger } from '../../src/log/logger.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { TimerRunner } from '../../src/run/timer-runner.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { baseConfig, configFrom, testDir } from '../helpers/gateway.js';

/** A member of `target`, methods bound to it (the store's private fields are not the proxy's). */
function bound(target: object, name: string | symbol): unknown {
  const value = Reflect.get(target, name, target) as unknown;
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

describe('TimerRunner (fake clock, real SQLite file)', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('a timer that falls due while a pass works is handled at once, not a poll interval later', async () => {
    const clock = new FakeClock();
    const store = new SqliteStore(join(dir.path, 'timers.db'));
    const T0 = clock.now();
    await store.timers.arm(timerAt('flush-batch', 'B1', null, T0 + 1000));
    // The clock moves on (a busy machine) between the pass asking for due timers (none at T0)
    // and the loop asking when to wake: by then the timer is due.
    let moved = false;
    const timers = new Proxy(store.timers, {
      get(target, name) {
        if (name !== 'nextDueAt') return bound(target, name);
        return async () => {
          if (!moved) {
            moved = true;
            await clock.advance(1000);
          }
          return target.nextDueAt();
        };
      },
    });
    const slowStore = new Proxy(store, { get: (target, name) => (name === 'timers' ? timers : bound(target, name)) }) as Store;
    const events = new GatewayEventBus();
    const config = configFrom(dir, baseConfig(dir));
    const pipeline = new Pipeline({ config, logger: silentLogger(), lateAfter: 1000 });
    const runner = new TimerRunner({ store: slowStore, pipeline, events, clock, logger: silentLogger(), pollInterval: 60_000 });
    const fired = new Promise<{ key: string; lateBy: number }>((resolve) => events.on('timer-fired', resolve));
    try {
      runner.start();
      // The clock stays where it is (advance(0) runs what is due now): the timer must fire without the poll interval passing.
      let result: { key: string; lateBy: number } | undefined;
      void fired.then((r) => (result = r));
      const deadline = Date.now() + 5000;
      while (!result && Date.now() < deadline) {
        await clock.advance(0);
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(result, 'fired without waiting for the next poll (60 s of the clock)');
      assert.equal(result.key, 'B1');
      assert.equal(result.lateBy, 0);
      assert.equal(clock.now(), T0 + 1000);
    } finally {
      await runner.stop();
      await store.close();
    }
  });
});

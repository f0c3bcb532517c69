import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterDigest, describeScope, floodScope, floodStep, type FloodSettings, type FloodState } from '../../src/lifecycle/flood.js';

const T0 = Date.UTC(2026, 10, 26, 8, 0, 0);
const S = 1000;
const settings: FloodSettings = { per: 'device', limit: 10, window: 60 * S, digestInterval: 300 * S };

/** `n` notifications of one scope, `gap` ms apart from `start`: which were held. */
function run(n: number, start: number, gap: number, state?: FloodState): { held: boolean[]; state: FloodState } {
  const held: boolean[] = [];
  let current = state;
  for (let i = 0; i < n; i += 1) {
    const step = floodStep(current, 'device:plc-4', start + i * gap, settings);
    held.push(step.hold);
    current = step.state;
  }
  return { held, state: current! };
}

describe('flood control (pure, fake clock)', () => {
  it('lets the limit through one by one and folds the rest of a burst', () => {
    const { held, state } = run(500, T0, 100);
    assert.equal(held.filter((h) => !h).length, 10, 'exactly the limit goes out one by one');
    assert.deepEqual(held.slice(0, 10), Array(10).fill(false));
    assert.ok(held.slice(10).every(Boolean), 'everything after the limit is held');
    assert.equal(state.floodingSince, T0 + 10 * 100);
  });

  it('says why the first held notification was held', () => {
    let state: FloodState | undefined;
    let reason: string | undefined;
    for (let i = 0; i < 11; i += 1) {
      const step = floodStep(state, 'device:plc-4', T0 + i, settings);
      state = step.state;
      reason = step.reason;
    }
    assert.match(reason ?? '', /^flood control: device plc-4 made 11 notifications due within 1 min \(limit 10\); folded into a digest sent every 5 min$/);
  });

  it('a steady rate at the limit never floods', () => {
    const { held } = run(100, T0, 6 * S);
    assert.ok(held.every((h) => !h), '10 per minute is within a limit of 10');
  });

  it('counts per window: the count starts again after a window', () => {
    const first = run(10, T0, S);
    const second = run(10, T0 + 61 * S, S, first.state);
    assert.ok([...first.held, ...second.held].every((h) => !h));
  });

  it('ends a flood after a digest interval with nothing held', () => {
    const flooding = run(20, T0, 10).state;
    assert.ok(flooding.floodingSince !== undefined);
    const quiet = floodStep(flooding, 'device:plc-4', T0 + 20 * 10 + settings.digestInterval, settings);
    assert.equal(quiet.hold, false);
    assert.equal(quiet.state.floodingSince, undefined);
    assert.match(quiet.reason ?? '', /flood of device plc-4 over: nothing for 5 min/);
  });

  it('keeps holding while the device keeps going, even across windows', () => {
    const flooding = run(20, T0, 10).state;
    const later = run(5, T0 + 2 * 60 * S, 10 * S, flooding);
    assert.ok(later.held.every(Boolean));
  });

  it('after a digest: a rate over the limit keeps the flood, a fallen rate ends it with a fresh window', () => {
    const flooding = run(500, T0, 100).state;
    const still = afterDigest(flooding, 490, 300 * S, T0 + 300 * S, settings);
    assert.equal(still.ended, false);
    assert.equal(still.state, flooding);
    assert.match(still.reason, /rate still 98 per 1 min \(limit 10\)/);
    const fell = afterDigest(flooding, 40, 300 * S, T0 + 300 * S, settings);
    assert.equal(fell.ended, true);
    assert.equal(fell.state.floodingSince, undefined);
    assert.equal(fell.state.count, 0);
    assert.equal(fell.state.windowStart, T0 + 300 * S);
    // A digest shorter than a window is not read as a higher rate than it was.
    assert.equal(afterDigest(flooding, 10, 10 * S, T0, settings).ended, true);
  });

  it('scopes by device, or by site when the device has one', () => {
    const device = { id: 'plc-4', name: 'PLC 4', site: 'Plant North', matchedBy: 'sender' as const };
    assert.equal(floodScope({ device }, 'device'), 'device:plc-4');
    assert.equal(floodScope({ device }, 'site'), 'site:Plant North');
    assert.equal(floodScope({ device: { ...device, site: ' ' } }, 'site'), 'device:plc-4');
    assert.equal(describeScope('site:Plant North'), 'site Plant North');
  });
});

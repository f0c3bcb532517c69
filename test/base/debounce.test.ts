import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Debounce } from '../../src/base/debounce.js';

describe('Debounce', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('runs the action once, ms after the last of a burst of triggers', () => {
    let runs = 0;
    const debounce = new Debounce(200, () => (runs += 1));
    debounce.trigger();
    mock.timers.tick(150);
    debounce.trigger();
    mock.timers.tick(150);
    debounce.trigger();
    mock.timers.tick(199);
    assert.equal(runs, 0);
    mock.timers.tick(1);
    assert.equal(runs, 1);
    mock.timers.tick(1000);
    assert.equal(runs, 1);
  });

  it('runs again for a trigger after the run', () => {
    let runs = 0;
    const debounce = new Debounce(50, () => (runs += 1), { unref: true });
    debounce.trigger();
    mock.timers.tick(50);
    debounce.trigger();
    mock.timers.tick(50);
    assert.equal(runs, 2);
  });

  it('cancel() drops the pending run', () => {
    let runs = 0;
    const debounce = new Debounce(50, () => (runs += 1));
    debounce.trigger();
    debounce.cancel();
    mock.timers.tick(100);
    assert.equal(runs, 0);
    debounce.cancel();
  });
});

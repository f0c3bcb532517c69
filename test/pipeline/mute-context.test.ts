import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { findMute } from '../../src/lifecycle/mute.js';
import { muteContext } from '../../src/pipeline/message.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AlarmRepository } from '../../src/store/store.js';
import { motor, powerFailure, T0, ups } from '../helpers/inhibit-fixtures.js';

describe('muteContext: the active alarms are read only when an inhibit rule could hold the alarm back', () => {
  const store = new SqliteStore(':memory:');
  after(() => store.close());
  let lists = 0;
  // The store's own repository, counted: every call still reaches SQLite.
  const alarms = new Proxy(store.alarms, {
    get(target, key: keyof AlarmRepository) {
      if (key !== 'list') return target[key];
      return (...args: Parameters<AlarmRepository['list']>) => {
        lists += 1;
        return target.list(...args);
      };
    },
  });
  const tx = { silences: store.silences, alarms };
  const config = { inhibit: [powerFailure] };

  it('an alarm no rule targets: no read, no sources', async () => {
    await store.alarms.save(ups);
    lists = 0;
    const context = await muteContext(config, tx, T0, ups);
    assert.equal(lists, 0);
    assert.deepEqual(context.sources, []);
    assert.equal(findMute(ups, context), undefined);
  });

  it('an alarm a rule targets: the active alarms are read, and its source inhibits it', async () => {
    lists = 0;
    const context = await muteContext(config, tx, T0, motor);
    assert.equal(lists, 1);
    assert.deepEqual(context.sources.map((a) => a.id), ['UPS']);
    assert.equal(findMute(motor, context)?.by, 'inhibition');
  });

  it('without a target (alarms looked at again later): read whenever inhibit rules exist, and never without them', async () => {
    lists = 0;
    assert.deepEqual((await muteContext(config, tx, T0)).sources.map((a) => a.id), ['UPS']);
    assert.deepEqual((await muteContext({ inhibit: [] }, tx, T0, motor)).sources, []);
    assert.equal(lists, 1);
  });
});

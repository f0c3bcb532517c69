import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { baseConfig, configFrom, eventually, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';

const HOUR = 3_600_000;

/**
 * Retention over a fake clock and a real SQLite file: the prune timer the gateway arms at
 * start deletes what is done once it is older than its age, and arms itself again.
 */
describe('retention (fake clock)', { timeout: 60_000 }, () => {
  const dir = testDir();
  const clock = new FakeClock(Date.parse('2026-11-24T08:00:00Z'));
  let gateway: RunningGateway;
  before(async () => {
    const raw = { ...baseConfig(dir, { delivery: { pollInterval: '10m' } }), store: { retention: { messages: '2h', notifications: '2h', resolvedAlarms: '2h', every: '1h' } } };
    gateway = await runGateway(configFrom(dir, raw), undefined, { clock });
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('keeps a relayed mail and its notification within the retention, deletes both after it', async () => {
    await sendDeviceAlarm(gateway.port, 'plc-line4', 'Motor M12 overtemperature');
    const [sent] = await eventually(async () => {
      const rows = await gateway.store.outbox.list(['sent']);
      return rows.length === 1 ? rows : undefined;
    }, 10_000, 'the mail written to the files account');
    assert.ok(await gateway.store.inbox.get(sent!.receivedId!));

    await clock.advance(HOUR);
    assert.ok(await gateway.store.outbox.get(sent!.id), 'an hour later: kept');
    const armed = await gateway.store.timers.get('prune', 'store');
    assert.ok(armed && armed.firedAt === undefined && armed.dueAt > clock.now(), 'pruning ran at start and armed itself again');

    await clock.advance(2 * HOUR);
    assert.equal(await gateway.store.outbox.get(sent!.id), undefined, 'three hours later: the notification is gone');
    assert.equal(await gateway.store.inbox.get(sent!.receivedId!), undefined, 'and the mail it came from');
    const next = await gateway.store.timers.get('prune', 'store');
    assert.ok(next && next.firedAt === undefined && next.dueAt > clock.now() && next.dueAt <= clock.now() + HOUR, 'the next prune is armed, at most an hour ahead');
  });
});

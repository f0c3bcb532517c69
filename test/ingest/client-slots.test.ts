import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientSlots, connectionRefusal } from '../../src/ingest/smtp/client-slots.js';

describe('ClientSlots', () => {
  it('starts at zero for every address', () => {
    const slots = new ClientSlots();
    assert.equal(slots.count('10.0.0.1'), 0);
  });

  it('acquire returns the count including the new connection', () => {
    const slots = new ClientSlots();
    assert.equal(slots.acquire('10.0.0.1'), 1);
    assert.equal(slots.acquire('10.0.0.1'), 2);
    assert.equal(slots.acquire('10.0.0.1'), 3);
    assert.equal(slots.count('10.0.0.1'), 3);
  });

  it('counts each address on its own', () => {
    const slots = new ClientSlots();
    slots.acquire('10.0.0.1');
    slots.acquire('10.0.0.1');
    assert.equal(slots.acquire('10.0.0.2'), 1);
    assert.equal(slots.count('10.0.0.1'), 2);
    assert.equal(slots.count('10.0.0.2'), 1);
    assert.equal(slots.count('10.0.0.3'), 0);
  });

  it('release gives one slot back', () => {
    const slots = new ClientSlots();
    slots.acquire('a');
    slots.acquire('a');
    slots.release('a');
    assert.equal(slots.count('a'), 1);
    assert.equal(slots.acquire('a'), 2);
  });

  it('releasing the last slot brings the address back to zero', () => {
    const slots = new ClientSlots();
    slots.acquire('a');
    slots.release('a');
    assert.equal(slots.count('a'), 0);
    assert.equal(slots.acquire('a'), 1);
  });

  it('does not go negative on an extra release', () => {
    const slots = new ClientSlots();
    slots.release('never-seen');
    assert.equal(slots.count('never-seen'), 0);
    slots.acquire('b');
    slots.release('b');
    slots.release('b');
    assert.equal(slots.count('b'), 0);
    assert.equal(slots.acquire('b'), 1);
  });

  it('does not let one address release another address slots', () => {
    const slots = new ClientSlots();
    slots.acquire('a');
    slots.release('b');
    assert.equal(slots.count('a'), 1);
  });

  it('does not keep entries for released addresses (no growth over many clients)', () => {
    const slots = new ClientSlots();
    for (let i = 0; i < 1000; i += 1) {
      slots.acquire(`10.0.${Math.floor(i / 256)}.${i % 256}`);
      slots.release(`10.0.${Math.floor(i / 256)}.${i % 256}`);
    }
    const open = (slots as unknown as { open: Map<string, number> }).open;
    assert.equal(open.size, 0);
  });

  it('counts the connections of all addresses together', () => {
    const slots = new ClientSlots();
    slots.acquire('a');
    slots.acquire('a');
    slots.acquire('b');
    assert.equal(slots.total, 3);
    slots.release('a');
    slots.release('never-seen');
    assert.equal(slots.total, 2);
    slots.release('b');
    slots.release('b');
    assert.equal(slots.total, 1);
  });
});

describe('connectionRefusal', () => {
  const limits = { maxConnections: 3, maxConnectionsPerClient: 2 };

  it('admits while both limits have room', () => {
    const slots = new ClientSlots();
    slots.acquire('a');
    assert.equal(connectionRefusal(slots, 'a', limits), undefined);
  });

  it('refuses any address once the total is reached, whatever each address holds', () => {
    const slots = new ClientSlots();
    for (const address of ['a', 'b', 'c']) slots.acquire(address);
    assert.deepEqual(connectionRefusal(slots, 'd', limits), { scope: 'total', limit: 3 });
    slots.release('b');
    assert.equal(connectionRefusal(slots, 'd', limits), undefined);
  });

  it('refuses an address at its own limit while others are admitted', () => {
    const slots = new ClientSlots();
    slots.acquire('a');
    slots.acquire('a');
    assert.deepEqual(connectionRefusal(slots, 'a', limits), { scope: 'client', limit: 2 });
    assert.equal(connectionRefusal(slots, 'b', limits), undefined);
  });
});

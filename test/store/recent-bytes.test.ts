import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentBytes } from '../../src/store/sqlite/recent-bytes.js';

describe('RecentBytes: large values kept from their commit to the read that follows', () => {
  const bytes = (n: number, fill = 'x') => Buffer.alloc(n, fill);

  it('keeps what a commit made durable and hands each value out once', () => {
    const recent = new RecentBytes(1000);
    const a = bytes(100);
    recent.stage('a', a);
    assert.equal(recent.take('a'), undefined, 'not before the commit');
    recent.committed();
    assert.equal(recent.take('a'), a);
    assert.equal(recent.take('a'), undefined, 'a second read goes to the file');
    assert.equal(recent.size, 0);
  });

  it('keeps nothing of a transaction that rolled back', () => {
    const recent = new RecentBytes(1000);
    recent.stage('a', bytes(100));
    recent.discarded();
    recent.committed();
    assert.equal(recent.take('a'), undefined);
    assert.equal(recent.size, 0);
  });

  it('stays within its budget, the oldest out first; a value larger than the budget is not kept', () => {
    const recent = new RecentBytes(250);
    for (const id of ['a', 'b', 'c']) {
      recent.stage(id, bytes(100, id));
      recent.committed();
    }
    recent.stage('huge', bytes(251));
    recent.committed();
    assert.equal(recent.size, 200);
    assert.equal(recent.take('a'), undefined);
    assert.equal(recent.take('huge'), undefined);
    assert.equal(recent.take('b')?.toString(), 'b'.repeat(100));
    assert.equal(recent.take('c')?.toString(), 'c'.repeat(100));
  });

  it('a value written again replaces the one kept', () => {
    const recent = new RecentBytes(1000);
    recent.stage('a', bytes(100, 'o'));
    recent.committed();
    recent.stage('a', bytes(50, 'n'));
    recent.committed();
    assert.equal(recent.size, 50);
    assert.equal(recent.take('a')?.toString(), 'n'.repeat(50));
  });
});

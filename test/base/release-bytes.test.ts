import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RELEASE_FROM, releaseBytes } from '../../src/base/release-bytes.js';

describe('releaseBytes: a large Buffer\'s memory given back at once', () => {
  it('frees a Buffer that spans its whole ArrayBuffer: it reads as empty and the memory is gone now, not at the next collection', () => {
    const size = 32 * 1024 * 1024;
    const bytes = Buffer.alloc(size, 0x41);
    const before = process.memoryUsage().arrayBuffers;
    releaseBytes(bytes);
    const after = process.memoryUsage().arrayBuffers;
    assert.equal(bytes.byteLength, 0);
    assert.ok(before - after >= size, `array buffer memory fell by ${before - after} bytes, expected ${size}`);
  });

  it('leaves alone what others may share: a slice, part of a larger buffer, a pooled small Buffer', () => {
    const whole = Buffer.alloc(4 * RELEASE_FROM, 0x42);
    const slice = whole.subarray(1);
    releaseBytes(slice);
    const front = whole.subarray(0, 2 * RELEASE_FROM);
    releaseBytes(front);
    assert.equal(whole.byteLength, 4 * RELEASE_FROM, 'the buffer the views are of is intact');
    assert.equal(slice.byteLength, 4 * RELEASE_FROM - 1);
    assert.equal(front[0], 0x42);
    const pooled = Buffer.from('a small one from the pool');
    const neighbour = Buffer.from('its neighbour in the pool');
    releaseBytes(pooled);
    assert.equal(neighbour.toString(), 'its neighbour in the pool');
  });

  it('leaves small Buffers to the collector, and a second release of the same bytes does nothing', () => {
    const small = Buffer.alloc(RELEASE_FROM - 1, 1);
    releaseBytes(small);
    assert.equal(small.byteLength, RELEASE_FROM - 1);
    const large = Buffer.alloc(RELEASE_FROM, 1);
    releaseBytes(large);
    assert.doesNotThrow(() => releaseBytes(large));
    assert.equal(large.byteLength, 0);
  });

  it('leaves shared memory alone (another thread may be reading it)', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(2 * RELEASE_FROM));
    releaseBytes(shared);
    assert.equal(shared.byteLength, 2 * RELEASE_FROM);
  });
});

import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: number[] = [];

/** Random bytes drawn 4 KiB at a time: a system call per id cost ~2 % of CPU under load. */
const pool = Buffer.alloc(4096);
let poolUsed = pool.length;

function randomBlock(size: number): Buffer {
  if (poolUsed + size > pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  poolUsed += size;
  return pool.subarray(poolUsed - size, poolUsed);
}

/**
 * Time-ordered identifiers in the ULID layout (48-bit time, 80 random bits, Crockford
 * base32), so ids sort by arrival in logs, the store and `annunciator queue`. Monotonic
 * within a millisecond: ids made in the same millisecond count up rather than draw anew,
 * so an ON and an OFF that arrive together keep their order.
 */
export function newId(now: number = Date.now()): string {
  const time = now;
  if (time === lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    const random = randomBlock(16);
    lastRandom = Array.from({ length: 16 }, (_, i) => random[i]! % 32);
    lastTime = time;
  }
  let prefix = '';
  let t = time;
  for (let i = 0; i < 10; i += 1) {
    prefix = ALPHABET[t % 32] + prefix;
    t = Math.floor(t / 32);
  }
  return prefix + lastRandom.map((d) => ALPHABET[d]).join('');
}

function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i -= 1) {
    if (next[i]! < 31) {
      next[i]! += 1;
      return next;
    }
    next[i] = 0;
  }
  return next;
}

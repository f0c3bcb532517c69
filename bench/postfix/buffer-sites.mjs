// Loaded with `node --import` into every thread of the gateway: counts the Buffers of 8 KiB
// and more that JavaScript makes (Buffer.alloc, allocUnsafe, allocUnsafeSlow, from, concat),
// by the three stack frames that made them, and writes the 25 largest sites to
// $HEAP_PROBE_DIR/buffers-PID-THREAD.json at exit (worker threads: every 500 ms). Divide by
// the messages of the run for the bytes each site makes per message. Buffers made in C++
// (socket reads, SQLite values, a posted message's copy) do not pass here. Some calls nest
// (Buffer.from of a string allocates through allocUnsafe): such bytes show at both sites.
//
//   python3 bench/postfix/memory.py alarm --loads 102400:50:300 \
//       --flags="--max-semi-space-size=8 --import $PWD/bench/postfix/buffer-sites.mjs" --env HEAP_PROBE_DIR=/tmp/buffers
import fs from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';

const dir = process.env.HEAP_PROBE_DIR ?? '.';
const sites = new Map();
const count = (bytes) => {
  if (bytes < 8192) return;
  const frames = new Error().stack.split('\n').slice(3, 6).map((line) => line.trim().replace(/\(.*node_modules\//, '(').replace(/\(file:\/\/.*?\/dist\//, '(dist/'));
  const site = frames.join(' | ');
  const seen = sites.get(site) ?? { buffers: 0, bytes: 0 };
  seen.buffers += 1;
  seen.bytes += bytes;
  sites.set(site, seen);
};
for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'from', 'concat']) {
  const original = Buffer[name];
  Buffer[name] = function (...args) {
    const made = original.apply(this, args);
    // Buffer.from(arrayBuffer, ...) is a view of memory made elsewhere, not a new Buffer.
    if (!(args[0] instanceof ArrayBuffer || args[0] instanceof SharedArrayBuffer)) count(made.length);
    return made;
  };
}
const write = () => {
  const largest = [...sites].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 25).map(([site, s]) => ({ mib: Math.round((s.bytes / 1048576) * 10) / 10, buffers: s.buffers, site }));
  fs.writeFileSync(`${dir}/buffers-${process.pid}-${threadId}.json`, JSON.stringify({ thread: threadId, main: isMainThread, largest }, null, 1));
};
process.on('exit', write);
if (!isMainThread) setInterval(write, 500).unref();

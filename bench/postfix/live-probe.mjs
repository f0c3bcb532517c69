// Loaded with `node --expose-gc --import` into every thread of the gateway: once a second it
// reads this thread's memory, forces a full collection, and reads it again; the peaks of
// both go to $HEAP_PROBE_DIR/live-PID-THREAD.json, in MiB. What falls between "before" and
// "after" is garbage V8 had not collected yet: the part of the peak a collector setting
// could win, as against memory the gateway holds. The forced collections change the run
// (they lower its peak): use it to split a peak, not to measure one.
//
//   python3 bench/postfix/memory.py alarm --loads 1024:10:300,1024:50:600 \
//       --flags="--max-semi-space-size=8 --expose-gc --import $PWD/bench/postfix/live-probe.mjs" --env HEAP_PROBE_DIR=/tmp/live
import fs from 'node:fs';
import { threadId } from 'node:worker_threads';

const dir = process.env.HEAP_PROBE_DIR ?? '.';
const mib = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
const peak = { heapUsedBefore: 0, heapUsedAfter: 0, arrayBuffersBefore: 0, arrayBuffersAfter: 0 };
setInterval(() => {
  const before = process.memoryUsage();
  globalThis.gc();
  const after = process.memoryUsage();
  peak.heapUsedBefore = Math.max(peak.heapUsedBefore, before.heapUsed);
  peak.heapUsedAfter = Math.max(peak.heapUsedAfter, after.heapUsed);
  peak.arrayBuffersBefore = Math.max(peak.arrayBuffersBefore, before.arrayBuffers);
  peak.arrayBuffersAfter = Math.max(peak.arrayBuffersAfter, after.arrayBuffers);
  fs.writeFileSync(`${dir}/live-${process.pid}-${threadId}.json`, JSON.stringify({ thread: threadId, ...Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, mib(v)])) }));
}, 1000).unref();

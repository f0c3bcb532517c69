// Loaded with `node --import` into every thread of the gateway (worker threads inherit the
// flag): records each garbage collection of this thread (start on the machine's monotonic
// clock in ms, the clock the load generator and the sink stamp messages with; duration;
// V8's kind: 1 scavenge, 4 mark-compact, 8 incremental marking, 16 weak callbacks) and writes
// them to $GC_PROBE_DIR/gc-PID-THREAD.json every second and at exit. e2e-tail.py lays them
// over the slowest messages of a run. Threads started with `eval: true` do not load it.
import fs from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';

const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const collections = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) collections.push([threadId, +(e.startTime + offset).toFixed(3), +e.duration.toFixed(3), e.detail?.kind ?? 0]);
}).observe({ entryTypes: ['gc'] });
const write = () => fs.writeFileSync(`${process.env.GC_PROBE_DIR ?? '.'}/gc-${process.pid}-${threadId}.json`, JSON.stringify(collections));
process.on('exit', write);
setInterval(write, 1000).unref();

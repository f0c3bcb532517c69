// Loaded with `node --import` into every thread of the gateway (worker threads inherit the
// flag): samples this thread's V8 heap every 50 ms and writes its peaks, in MiB, to
// $HEAP_PROBE_DIR/probe-PID-THREAD.json at exit (worker threads: every 500 ms as well).
// heapTotal/heapUsed and the spaces are the thread's own; external/arrayBuffers are the
// Buffers and ArrayBuffers its objects hold; malloced is what V8 took from malloc.
// Threads started with `eval: true` (the checkpoint thread) do not load it.
import fs from 'node:fs';
import v8 from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';

const dir = process.env.HEAP_PROBE_DIR ?? '.';
const peak = {};
const spaces = {};
const sample = () => {
  const m = process.memoryUsage();
  const h = v8.getHeapStatistics();
  const now = { heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, malloced: h.malloced_memory };
  for (const [k, v] of Object.entries(now)) peak[k] = Math.max(peak[k] ?? 0, v);
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = Math.max(spaces[s.space_name] ?? 0, s.physical_space_size);
};
const mib = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v > 0).map(([k, v]) => [k, Math.round((v / 1048576) * 10) / 10]));
const write = () => {
  sample();
  fs.writeFileSync(`${dir}/probe-${process.pid}-${threadId}.json`, JSON.stringify({ thread: threadId, main: isMainThread, peak: mib(peak), spaces: mib(spaces) }));
};
setInterval(sample, 50).unref();
if (!isMainThread) setInterval(write, 500).unref();
process.on('exit', write);

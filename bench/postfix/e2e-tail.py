#!/usr/bin/env python3
"""Where the slowest messages of one memory.py run lost their time: for each of the slowest 1 %
(at least 10), its end-to-end time split at the 250 (send → 250 as the load generator saw it,
250 → arrival at the sink), and the garbage collections of any gateway thread that overlapped
it (gc-probe.mjs). Negative "after 250" means the sink had the message before the load
generator read its 250: the load generator itself was late.

  mkdir -p /tmp/gcp && python3 bench/postfix/memory.py alarm --keep --loads 1024:@50:1000 \\
      --flags="--max-semi-space-size=8 --import $PWD/bench/postfix/gc-probe.mjs" --env GC_PROBE_DIR=/tmp/gcp
  python3 bench/postfix/e2e-tail.py WORK r0 /tmp/gcp      # WORK: the "work" memory.py printed; r0: the first load
"""
import glob, json, os, statistics, sys

if len(sys.argv) < 3: sys.exit(__doc__)
work, run = sys.argv[1], sys.argv[2]
probes = sys.argv[3] if len(sys.argv) > 3 else None
sent = json.load(open(os.path.join(work, f'{run}.json')))['sent']
first = {}
for line in open(os.path.join(work, 'sink.log')):
    r, k, at = line.split()
    if r == run: first[int(k)] = min(first.get(int(k), int(at)), int(at))
# (e2e, send → 250, 250 → arrival, message, sent at, arrived at), in ms on the monotonic clock
rows = sorted(((first[int(k)] - int(v[0])) / 1e6, (int(v[1]) - int(v[0])) / 1e6, (first[int(k)] - int(v[1])) / 1e6, int(k), int(v[0]) / 1e6, first[int(k)] / 1e6)
              for k, v in sent.items() if int(k) in first)
if not rows: sys.exit(f'e2e-tail.py: no message of run {run} reached the sink')
gcs = [g for f in glob.glob(os.path.join(probes, 'gc-*.json')) for g in json.load(open(f))] if probes else []
start, end = rows[0][4], max(r[5] for r in rows)
during = [g for g in gcs if g[1] + g[2] >= start and g[1] <= end]
print(f'{len(rows)} messages; median e2e {statistics.median(r[0] for r in rows):.1f} ms '
      f'(send → 250 {statistics.median(r[1] for r in rows):.1f}, 250 → sink {statistics.median(r[2] for r in rows):.1f})')
if probes:
    print(f'{len(during)} collections during the run, {sum(g[2] for g in during) / (end - start) * 100:.1f} % of its time')
for e2e, ack, after, k, s, e in rows[-max(10, len(rows) // 100):]:
    overlap = [g for g in gcs if g[1] < e and g[1] + g[2] > s]
    gc = ', '.join(f'thread {g[0]} kind {g[3]} {g[2]:.1f} ms' for g in overlap) or '-'
    print(f'message {k:5d}: e2e {e2e:5.1f} ms = send → 250 {ack:5.1f} + 250 → sink {after:5.1f}; collections overlapping: {gc}')

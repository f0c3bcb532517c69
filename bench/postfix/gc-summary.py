#!/usr/bin/env python3
"""What V8's collectors did in a gateway log written with `--trace-gc-nvp`, per isolate (the
main thread first, then the worker threads): how many scavenges and mark-compacts, their
pauses, and the bytes each promoted into the old generation. What a change keeps alive past
the young generation shows as promoted bytes per message, long before it shows as RSS.

  python3 bench/postfix/memory.py alarm --keep --loads 102400:50:1000 \\
      --flags="--max-semi-space-size=8 --trace-gc-nvp"          # prints the scratch directory
  python3 bench/postfix/gc-summary.py SCRATCH/gateway.log [MESSAGES]
"""
import collections, json, re, sys

if len(sys.argv) < 2: sys.exit(__doc__)
messages = int(sys.argv[2]) if len(sys.argv) > 2 else 0
isolates = collections.OrderedDict()
for line in open(sys.argv[1], errors='replace'):
    m = re.match(r'\[\d+:(0x[0-9a-f]+)(?::\d+)?\]\s+\d+ ms: GC: (\{.*\})', line)
    if not m: continue
    isolates.setdefault(m.group(1), []).append(json.loads(m.group(2)))
if not isolates: sys.exit('gc-summary.py: no `GC: {...}` lines (was the gateway run with --trace-gc-nvp?)')
for n, (address, events) in enumerate(isolates.items()):
    kinds = collections.OrderedDict()
    for e in events:
        k = kinds.setdefault({'s': 'scavenge', 'mc': 'mark-compact'}.get(e['gc'], e['gc']), [0, 0.0, 0])
        k[0] += 1; k[1] += e.get('pause', 0); k[2] += e.get('promoted', 0)
    promoted = sum(k[2] for k in kinds.values())
    per = f', {promoted / messages / 1024:.1f} KiB promoted per message' if messages else ''
    print(f'{"main" if n == 0 else "worker"} isolate {address}: ' + '; '.join(
        f'{name} {k[0]}x, {k[1]:.0f} ms paused, {k[2] / 1048576:.1f} MiB promoted' for name, k in kinds.items())
        + f'; heap committed at most {max(e.get("end_memory_size", 0) for e in events) / 1048576:.0f} MiB{per}')

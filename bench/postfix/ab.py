#!/usr/bin/env python3
"""A/B of two Annunciator checkouts on the gateway alone, in alternating pairs.

On a shared 2-core machine the speed moves by a third between runs, more than most changes
do; a ratio taken within a pair (the two runs back to back) and the median over pairs is
what can tell a change apart. Each run is one `memory.py` (the bench's sink and loads, no
Postfix): A, then B, then A, ...; per load it prints each pair's B ÷ A for delivered msg/s
and CPU ms per message, then the medians, and the peak RSS of each side.

  python3 bench/postfix/ab.py alarm --a /path/to/before --b . --loads 1024:10:1500 --pairs 5
  python3 bench/postfix/ab.py relay --a BEFORE --b AFTER --loads 102400:10:600,1024:10:2000
  python3 bench/postfix/ab.py alarm --a . --b . --env-a MALLOC_ARENA_MAX=     # one checkout, two settings (K= unsets K)

Both checkouts need `dist/` built (`npm run build`). Everything talks to 127.0.0.1 only.
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('kind', choices=['relay', 'alarm'])
ap.add_argument('--a', required=True, help='the checkout to compare against (before)')
ap.add_argument('--b', required=True, help='the checkout under test (after)')
ap.add_argument('--loads', default='1024:10:1500', help='SIZE:C:N,... as memory.py takes them (default: %(default)s)')
ap.add_argument('--pairs', type=int, default=3)
ap.add_argument('--flags-a', default=None, help='node flags for A (default: its shebang\'s)')
ap.add_argument('--flags-b', default=None, help='node flags for B (default: its shebang\'s)')
ap.add_argument('--env-a', action='append', default=[], help='K=V for A\'s gateway process (repeatable)')
ap.add_argument('--env-b', action='append', default=[], help='K=V for B\'s gateway process (repeatable)')
a = ap.parse_args()

for side in (a.a, a.b):
    if not os.path.isfile(os.path.join(side, 'dist', 'cli', 'main.js')):
        sys.exit(f'ab.py: {side}/dist/cli/main.js is missing: run `npm run build` there first')

def run(checkout, flags, env, label):
    cmd = [sys.executable, os.path.join(HERE, 'memory.py'), a.kind, '--checkout', os.path.abspath(checkout), '--loads', a.loads, '--label', label]
    if flags is not None: cmd.append(f'--flags={flags}')
    for kv in env: cmd.append(f'--env={kv}')
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f'ab.py: the {label} run failed (memory.py exit {done.returncode}):\n' + '\n'.join((done.stderr or done.stdout).strip().splitlines()[-15:]))
    return json.loads(done.stdout.strip().splitlines()[-1])

def loads_of(result):
    return [k for k, v in result.items() if isinstance(v, dict) and 'msg_s' in v]

pairs = []
for i in range(a.pairs):
    ra = run(a.a, a.flags_a, a.env_a, 'A'); rb = run(a.b, a.flags_b, a.env_b, 'B')
    pairs.append((ra, rb))
    line = ', '.join('%s: %.0f -> %.0f msg/s, %.2f -> %.2f ms' % (k, ra[k]['msg_s'], rb[k]['msg_s'], ra[k]['cpu_ms_per_msg'], rb[k]['cpu_ms_per_msg']) for k in loads_of(ra))
    print('pair %d: %s; peak RSS %.0f -> %.0f MiB' % (i + 1, line, ra['peak_rss_mib'], rb['peak_rss_mib']), flush=True)

print(f'\n{a.kind}, {a.pairs} pairs, B ÷ A per pair (median first):')
for k in loads_of(pairs[0][0]):
    speed = [rb[k]['msg_s'] / ra[k]['msg_s'] for ra, rb in pairs]
    cost = [rb[k]['cpu_ms_per_msg'] / ra[k]['cpu_ms_per_msg'] for ra, rb in pairs]
    fmt = lambda xs: '**%.2f** (%s)' % (statistics.median(xs), ' '.join('%.2f' % x for x in xs))
    print(f'  {k}: delivered msg/s {fmt(speed)}; CPU per message {fmt(cost)}')
peaks_a = ' '.join('%.0f' % ra['peak_rss_mib'] for ra, _ in pairs)
peaks_b = ' '.join('%.0f' % rb['peak_rss_mib'] for _, rb in pairs)
print(f'  peak RSS, MiB: A {peaks_a}; B {peaks_b}')

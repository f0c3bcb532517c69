#!/usr/bin/env python3
"""Where the gateway's memory goes under the bench load (no Postfix needed).

Starts one Annunciator system as bench.py does (gateway-config.mjs: relay or alarm, the
counting sink as the only upstream, the shipped HTTP server on a free port unless --no-http),
warms it up, runs the closed-loop loads one after the other, and samples the resident memory
of its process every 50 ms (/proc: VmRSS, RssAnon = heaps, RssFile = mostly the node binary).
Prints one JSON line: cold start, idle RSS, per load delivered msg/s, the highest RSS and
RssAnon and the CPU ms per delivered message (also by thread name: the main thread, our
worker threads, V8's JIT and GC helpers, libuv's pool), and the peak (VmHWM) at the end.

  python3 bench/postfix/memory.py alarm                       # this checkout's dist/, shebang flags
  python3 bench/postfix/memory.py alarm --flags="--max-semi-space-size=2 --optimize-for-size"
  python3 bench/postfix/memory.py alarm --no-http --checkout /other/checkout --label before
  python3 bench/postfix/memory.py alarm --loads 1024:@50:1000           # an open loop at 50 msg/s: e2e p50/p99/max
  python3 bench/postfix/memory.py alarm --flags="--max-semi-space-size=2 --import $PWD/bench/postfix/heap-probe.mjs" \\
      --env HEAP_PROBE_DIR=/tmp/probe        # plus the peak heap, external and malloc'd memory of each thread

On a shared machine the peak swings by +-30 MB between runs (it depends on when V8 collects):
interleave the variants and compare several runs. Everything talks to 127.0.0.1 only; the
processes it starts are stopped by PID; the scratch directory is removed unless --keep.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time
from shebang import shebang, with_env

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('kind', choices=['relay', 'alarm'])
ap.add_argument('--checkout', default=os.path.dirname(os.path.dirname(HERE)), help='Annunciator checkout with dist/ built (default: this one)')
ap.add_argument('--no-http', action='store_true', help='without the shipped http section')
ap.add_argument('--flags', default=None, help='node flags (default: those of dist/cli/main.js\'s shebang, whose environment applies in any case); write --flags="..."')
ap.add_argument('--loads', default='1024:10:300,1024:50:300,102400:10:100,102400:50:100', help='SIZE:C:N (closed loop) or SIZE:@RATE:N (open loop, e2e percentiles),... (default: %(default)s)')
ap.add_argument('--warmup', type=int, default=50)
ap.add_argument('--env', action='append', default=[], help='K=V for the gateway process (repeatable; K= removes K, also one the shebang sets)')
ap.add_argument('--label', default='')
ap.add_argument('--keep', action='store_true', help='keep the scratch directory (store, gateway log, samples.json)')
a = ap.parse_args()
ANN = os.path.abspath(a.checkout)
TICK = os.sysconf('SC_CLK_TCK')

def free_port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p

def wait_port(p, t=60):
    end = time.monotonic() + t
    while time.monotonic() < end:
        try: socket.create_connection(('127.0.0.1', p), 0.2).close(); return True
        except OSError: time.sleep(0.01)
    return False

def status(p):
    d = {}
    for line in open(f'/proc/{p}/status'):
        k, _, v = line.partition(':')
        if k in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'Threads'): d[k] = int(v.split()[0])
    return d

def thread_cpu(p):
    """CPU seconds per thread name (comm): node-MainThread, WorkerThread (ours: delivery, checkpoints),
    node-V8Worker (JIT compiles, concurrent GC), libuv-worker (fdatasync, file I/O), ..."""
    out = {}
    for t in os.listdir(f'/proc/{p}/task'):
        try:
            comm = open(f'/proc/{p}/task/{t}/comm').read().strip()
            f = open(f'/proc/{p}/task/{t}/stat').read().rsplit(')', 1)[1].split()
        except OSError: continue   # the thread ended meanwhile
        out[comm] = out.get(comm, 0) + (int(f[11]) + int(f[12])) / TICK
    return out

def cpu(p):
    f = open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK

def gateway_pid(root):
    """The gateway: root, or under an unsupported node the child it re-runs itself in (the largest)."""
    best, most, todo = root, -1, [root]
    while todo:
        p = todo.pop()
        try:
            todo += [int(k) for k in open(f'/proc/{p}/task/{p}/children').read().split()]
            rss = status(p).get('VmRSS', 0)
            if rss > most: best, most = p, rss
        except OSError: pass
    return best

W = tempfile.mkdtemp(prefix='annunciator-memory-')
procs = []
try:
    sink_port = free_port(); sink_log = os.path.join(W, 'sink.log'); ready = os.path.join(W, 'ready')
    procs.append(subprocess.Popen(['node', os.path.join(HERE, 'sink.mjs'), '--port', str(sink_port), '--log', sink_log, '--ready', ready]))
    while not os.path.exists(ready): time.sleep(0.02)
    port = free_port(); cfg = os.path.join(W, 'annunciator.yaml')
    subprocess.run(['node', os.path.join(HERE, 'gateway-config.mjs'), a.kind, ANN, cfg, os.path.join(W, 'data'), str(port), str(sink_port), '10', 'off'],
                   check=True, env={**os.environ, 'HTTP': 'off' if a.no_http else 'on'})
    main = os.path.join(ANN, 'dist', 'cli', 'main.js')
    shebang_env, shebang_flags = shebang(main)
    flags = shebang_flags if a.flags is None else a.flags.split()
    extra_env = dict(kv.split('=', 1) for kv in a.env)
    env = with_env(os.environ, shebang_env, extra_env)
    log = open(os.path.join(W, 'gateway.log'), 'w')
    t0 = time.monotonic()
    gw = subprocess.Popen(['node', *flags, main, 'start', '--config', cfg], cwd=ANN, stdout=log, stderr=subprocess.STDOUT, env=env)
    procs.append(gw)
    if not wait_port(port):
        log.flush()
        tail = open(os.path.join(W, 'gateway.log'), errors='replace').read().strip().splitlines()[-10:]
        sys.exit('the gateway did not listen within 60 s' + (f' (it exited {gw.poll()})' if gw.poll() is not None else '') + '; the end of its log:\n' + '\n'.join(tail))
    cold = time.monotonic() - t0
    samples, phase, stop = [], ['idle'], [False]
    def sample():
        while not stop[0]:
            try: s = status(gateway_pid(gw.pid)); s['t'] = round(time.monotonic() - t0, 3); s['phase'] = phase[0]; samples.append(s)
            except (OSError, ValueError): pass
            time.sleep(0.05)
    threading.Thread(target=sample, daemon=True).start()
    time.sleep(1.0)
    idle = status(gateway_pid(gw.pid))

    def arrived(run):
        with open(sink_log) as f: return sum(1 for line in f if line.split()[0] == run)

    def run_load(run, size, c, n, rate=0):
        phase[0] = run
        pid = gateway_pid(gw.pid); c0 = cpu(pid); t0 = thread_cpu(pid); t = time.monotonic()
        subprocess.run(['node', os.path.join(HERE, 'loadgen.mjs'), '--port', str(port), '-n', str(n), '-c', str(c), '--size', str(size),
                        '--run', run, '--out', os.path.join(W, f'{run}.json')] + (['--rate', str(rate)] if rate else []), check=True, stdout=subprocess.DEVNULL)
        last, changed = -1, time.monotonic()
        while True:
            k = arrived(run)
            if k >= n: break
            if k != last: last, changed = k, time.monotonic()
            elif time.monotonic() - changed > 30: print(f'stalled: {run} {k}/{n}', file=sys.stderr); break
            time.sleep(0.05)
        t1 = thread_cpu(pid)
        by_thread = {k: round((v - t0.get(k, 0)) * 1000 / n, 2) for k, v in sorted(t1.items())}
        result = {'msg_s': round(n / (time.monotonic() - t), 1), 'cpu_ms_per_msg': round((cpu(pid) - c0) * 1000 / n, 2),
                  'cpu_ms_per_msg_by_thread': {k: v for k, v in by_thread.items() if v > 0}}
        if rate:
            # End to end per message, as bench.py takes it: the load generator's send and the
            # sink's arrival, both on the monotonic clock of this machine.
            sent = json.load(open(os.path.join(W, f'{run}.json')))['sent']
            first = {}
            with open(sink_log) as f:
                for line in f:
                    r, k, at = line.split()
                    if r == run: first[int(k)] = min(first.get(int(k), int(at)), int(at))
            lat = sorted((first[int(k)] - int(v[0])) / 1e6 for k, v in sent.items() if int(k) in first)
            pct = lambda p: round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 1)
            result.update(e2e_p50_ms=pct(50), e2e_p99_ms=pct(99), e2e_max_ms=round(lat[-1], 1))
        return result

    mib = lambda kib: round(kib / 1024, 1)
    result = {'label': a.label, 'kind': a.kind, 'http': not a.no_http, 'flags': ' '.join(flags), 'env': ' '.join(f'{k}={v}' for k, v in {**shebang_env, **extra_env}.items()), 'cold_s': round(cold, 2),
              'idle_rss_mib': mib(idle['VmRSS']), 'idle_anon_mib': mib(idle['RssAnon']), 'idle_file_mib': mib(idle['RssFile'])}
    run_load('warm', 1024, 10, a.warmup)
    for i, load in enumerate(a.loads.split(',')):
        size, c, n = load.split(':')
        # SIZE:@RATE:N is an open loop at RATE msg/s, one connection per message, as bench.py's --rates
        rate = float(c[1:]) if c.startswith('@') else 0
        size, c, n = int(size), (0 if rate else int(c)), int(n)
        r = run_load(f'r{i}', size, c, n, rate)
        during = [s for s in samples if s['phase'] == f'r{i}'] or [status(gateway_pid(gw.pid))]
        r.update(max_rss_mib=mib(max(s['VmRSS'] for s in during)), max_anon_mib=mib(max(s['RssAnon'] for s in during)))
        result[f'{size // 1024}KiB_at{rate:g}' if rate else f'{size // 1024}KiB_C{c}'] = r
    end = status(gateway_pid(gw.pid))
    result.update(peak_rss_mib=mib(end['VmHWM']), threads=end['Threads'])
    stop[0] = True
    json.dump(samples, open(os.path.join(W, 'samples.json'), 'w'))
    if a.keep: result['work'] = W
    print(json.dumps(result))
finally:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try: p.wait(30)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
    if not a.keep: shutil.rmtree(W, ignore_errors=True)

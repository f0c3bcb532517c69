"""How the installed `annunciator` command starts node: the first line of dist/cli/main.js.

  #!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=8
  -> ({'MALLOC_ARENA_MAX': '2'}, ['--max-semi-space-size=8'])

bench.py and memory.py start the gateway as `node FLAGS dist/cli/main.js start` with that
environment, so that what they measure is what a user runs.
"""


def shebang(script):
    """The environment the first line sets and the node flags it passes."""
    with open(script) as f:
        first = f.readline().strip()
    parts = first[2:].split() if first.startswith('#!') else []
    if 'node' not in parts:
        return {}, []
    at = parts.index('node')
    env = dict(p.split('=', 1) for p in parts[:at] if '=' in p and not p.startswith('-'))
    return env, parts[at + 1:]


def with_env(base, *overrides):
    """base updated by each mapping in turn; a value of '' removes the variable (`--env K=`)."""
    env = dict(base)
    for o in overrides:
        for k, v in o.items():
            if v == '': env.pop(k, None)
            else: env[k] = v
    return env

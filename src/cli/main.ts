#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=8
// The young generation in 8 MiB semi-spaces (V8 grows them to 16 MiB by default): measured in
// alternating pairs on the gateway alone (bench/postfix/ab.py), 8 delivered 7-21 % more than 2
// at every bench load for 5-20 % less CPU per message and ~30 MB more peak memory; 4 delivered
// ~10 % less than 8, 16 no more.
// Two malloc arenas instead of glibc's eight per core: each thread that mallocs (V8's compiler
// and GC helpers, libuv's pool, our workers) otherwise gets an arena of its own that keeps
// what it freed. Alarm mode's peak is 30 MB lower for the same throughput (bench/postfix/
// README.md); it must be in the environment before node starts, hence here. musl ignores it.
// `npm start` passes the same two.
// Only the version check is imported statically: on an unsupported Node.js it says so, or
// runs the command under a supported one that `npm install` fetched, before the real
// command line (program.ts) and its dependencies load.
import { onSupportedNode } from './node-version.js';

if (onSupportedNode()) await import('./program.js');

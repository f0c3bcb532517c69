#!/usr/bin/env -S node --max-semi-space-size=8
// The young generation in 8 MiB semi-spaces (V8 grows them to 16 MiB by default): measured in
// alternating pairs on the gateway alone (bench/postfix/ab.py), 8 delivers 10-20 % more than
// both 4 and 16 and costs 10-15 % less CPU per message than 2, for ~25 MB more peak memory
// than 2. `npm start` passes the same flag.
// Only the version check is imported statically: on an unsupported Node.js it says so, or
// runs the command under a supported one that `npm install` fetched, before the real
// command line (program.ts) and its dependencies load.
import { onSupportedNode } from './node-version.js';

if (onSupportedNode()) await import('./program.js');

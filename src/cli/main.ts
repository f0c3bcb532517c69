#!/usr/bin/env -S node --max-semi-space-size=2
// The young generation in 2 MiB semi-spaces (V8 grows them to 16 MiB by default): the
// gateway's peak resident memory under load is ~30 MB lower, throughput the same
// (bench/postfix). `npm start` and the systemd unit pass the same flag.
// Only the version check is imported statically: on an unsupported Node.js it says so, or
// runs the command under a supported one that `npm install` fetched, before the real
// command line (program.ts) and its dependencies load.
import { onSupportedNode } from './node-version.js';

if (onSupportedNode()) await import('./program.js');

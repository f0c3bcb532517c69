#!/usr/bin/env node
// Writes the bench configuration of one Annunciator system to OUT, generated from the
// checkout's shipped config/annunciator.yaml (so it follows the project's config format):
//
//   alarm  the shipped configuration as it is (devices, rules/, templates/, receivers,
//          schedules), with flood control off unless FLOOD=on, so that every alarm is one
//          mail and "delivered" can be counted.
//   relay  the same file without its `alarms` section: the README's pure relay (commit,
//          rewrite, relay).
//
// In both: dataDir DATADIR; the shipped first listener moved to 127.0.0.1:PORT with
// 127.0.0.0/8 trusted and its connection limits raised (every bench device shares
// 127.0.0.1; a plant has one address per PLC); JSON logs at info; delivery through one
// account only, the counting sink at 127.0.0.1:SINKPORT with `security: none`, and
// delivery.concurrency CONCURRENCY; the shipped HTTP server on a free port (HTTP=off: without
// it). Relative paths of the shipped file (rulesDir,
// templatesDir) are made absolute against its directory.
//
// usage: node gateway-config.mjs relay|alarm CHECKOUT OUT DATADIR PORT SINKPORT CONCURRENCY [FLOOD]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [kind, checkout, out, dataDir, port, sinkPort, concurrency, flood] = process.argv.slice(2);
if (kind !== 'relay' && kind !== 'alarm') {
  console.error('usage: node gateway-config.mjs relay|alarm CHECKOUT OUT DATADIR PORT SINKPORT CONCURRENCY [on|off]');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(checkout), 'package.json'));
const YAML = require('yaml');
const shipped = path.resolve(checkout, 'config', 'annunciator.yaml');
const doc = YAML.parseDocument(fs.readFileSync(shipped, 'utf8'));
const fromShipped = (p) => path.resolve(path.dirname(shipped), p);

doc.setIn(['gateway', 'dataDir'], path.resolve(dataDir));
doc.set('log', { level: 'info', format: 'json' });

const template = doc.getIn(['listeners', 0])?.toJSON() ?? {};
doc.set('listeners', [{
  ...template,
  name: 'bench',
  address: '127.0.0.1',
  port: Number(port),
  trustedNetworks: ['127.0.0.0/8'],
  limits: { ...(template.limits ?? {}), maxConnections: 400, maxConnectionsPerClient: 200 },
}]);

if (kind === 'relay') {
  doc.delete('alarms');
} else {
  for (const key of ['rulesDir', 'templatesDir']) {
    const value = doc.getIn(['alarms', key]);
    if (typeof value === 'string') doc.setIn(['alarms', key], fromShipped(value));
  }
  if (flood !== 'on') doc.setIn(['alarms', 'floodControl', 'enabled'], false);
}

// Only the sink: the shipped `files` account (or any other) would take the mail instead.
doc.setIn(['delivery', 'accounts'], [{ name: 'sink', type: 'smtp', host: '127.0.0.1', port: Number(sinkPort), security: 'none' }]);
doc.setIn(['delivery', 'concurrency'], Number(concurrency));
// No outgoing MQTT, IMAP reply mailboxes or ack-link server in the bench, should the shipped file grow them.
for (const key of ['mqtt', 'replies', 'api']) doc.delete(key);
// The shipped HTTP server (console, API, /metrics) stays, as a user runs it, on a free port;
// HTTP=off drops it, to measure without.
if (process.env.HTTP === 'off') doc.delete('http');
else if (doc.has('http')) doc.setIn(['http', 'listen'], { address: '127.0.0.1', port: 0 });

fs.writeFileSync(out, doc.toString({ lineWidth: 0 }));

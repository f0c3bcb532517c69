import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { ASSETS_DIR } from '../../src/api/console/serve.js';
import type { ApiContext } from '../../src/api/context.js';
import { registerEventStream, STREAMED_EVENTS } from '../../src/api/v1/events.js';
import { VERSION } from '../../src/base/version.js';
import { GatewayEventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log/logger.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** The console's page and assets, GET /api/v1/info and the event stream, over real HTTP. */

interface StreamEvent {
  event: string;
  id?: string;
  data: Record<string, unknown>;
}

/** A reader of a text/event-stream response: each event as it comes, and the comment lines. */
class EventReader {
  readonly events: StreamEvent[] = [];
  readonly comments: string[] = [];
  #buffer = '';
  #waiters: Array<() => void> = [];

  constructor(readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end;
      while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) this.comments.push(line);
          const colon = line.indexOf(':');
          if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
        }
        if (fields.event) this.events.push({ event: fields.event, ...(fields.id ? { id: fields.id } : {}), data: JSON.parse(fields.data ?? '{}') as Record<string, unknown> });
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  async next(match: (e: StreamEvent) => boolean, timeoutMs = 10_000): Promise<StreamEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such event in ${timeoutMs} ms; had ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async comment(timeoutMs = 10_000): Promise<string> {
    await eventually(() => this.comments.length > 0, timeoutMs, 'a comment line');
    return this.comments[0]!;
  }

  close(): void {
    this.response.destroy();
  }
}

function openStream(port: number, headers: Record<string, string> = {}): Promise<EventReader> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { accept: 'text/event-stream', ...headers } }, (res) => resolve(new EventReader(res)));
    req.on('error', reject);
    req.end();
  });
}

describe('the console and its API over HTTP', () => {
  const dir = testDir();
  const corpus = loadCorpus();
  let upstream: Upstream;
  let gateway: RunningGateway;
  let base: string;
  let port: number;

  before(async () => {
    upstream = await startUpstream({ security: 'none' });
    gateway = await runGateway(configFrom(dir, shippedAlarmsConfig(dir, { delivery: relayDelivery(upstream.port, { pollInterval: '100ms' }) })));
    port = gateway.http!.address().port;
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('serves the page at / with a strict Content-Security-Policy, and revalidates it by ETag', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const csp = response.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const html = await response.text();
    assert.match(html, /<script type="module" src="\/console\/app\.js"><\/script>/);
    assert.doesNotMatch(html, /<script>|<style|\sstyle=|\son\w+=/, 'no inline script, style or handler (the CSP would refuse them)');

    const etag = response.headers.get('etag')!;
    assert.ok(etag);
    const again = await fetch(`${base}/`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('serves every module the page imports, with its type; an unknown file is 404', async () => {
    const seen = new Set<string>();
    const queue = ['/console/app.js', '/console/console.css', '/console/icon.svg'];
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 200, path);
      const type = response.headers.get('content-type') ?? '';
      assert.match(type, path.endsWith('.js') ? /^text\/javascript/ : path.endsWith('.css') ? /^text\/css/ : /^image\/svg\+xml/, path);
      assert.ok(response.headers.get('content-security-policy'), `${path} carries the CSP`);
      if (!path.endsWith('.js')) continue;
      const source = await response.text();
      for (const [, spec] of source.matchAll(/^import .* from '(\.{1,2}\/[^']+)';$/gm)) queue.push(new URL(spec!, `http://x${path}`).pathname);
    }
    assert.ok(seen.size >= 12, `${seen.size} files`);
    assert.equal((await fetch(`${base}/console/nothing.js`)).status, 404);
    assert.equal((await fetch(`${base}/console/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${base}/console/index.html`)).status, 404, 'the page is at / only');
  });

  it('its scripts build the page from text, never from markup, and load nothing from elsewhere', () => {
    const files = readdirSync(ASSETS_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|html|css)$/.test(f));
    assert.ok(files.length >= 14);
    for (const file of files) {
      const text = readFileSync(join(ASSETS_DIR, file), 'utf8');
      assert.doesNotMatch(text, /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, `${file} builds DOM from text only`);
      assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${file} names no other origin (plant LANs are offline)`);
      assert.doesNotMatch(text, /@import|url\(/, `${file} pulls in no other file`);
    }
  });

  it('GET /api/v1/info tells the version, the gateway, and the zone and locale times are shown in', async () => {
    const response = await fetch(`${base}/api/v1/info`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { version: VERSION, gateway: 'gw.test', timeZone: 'Europe/Berlin', locale: 'en-GB', principal: { name: 'local', role: 'admin', via: 'loopback' } });
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  it('GET /api/v1/events streams an alarm as it is raised, queued and delivered, and stops listening when the client goes', async () => {
    type Name = Parameters<typeof gateway.events.listenerCount>[0];
    const counts = () => Object.fromEntries(STREAMED_EVENTS.map((name) => [name, gateway.events.listenerCount(name as Name)]));
    const before = gateway.events.listenerCount('alarm-changed');
    const listening = counts();
    const stream = await openStream(port);
    try {
      assert.equal(stream.response.statusCode, 200);
      assert.match(String(stream.response.headers['content-type']), /^text\/event-stream/);
      assert.equal(stream.response.headers['cache-control'], 'no-store');
      const ready = await stream.next((e) => e.event === 'ready');
      assert.match(String(ready.data.at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(gateway.events.listenerCount('alarm-changed'), before + 1);

      const mail = corpus.find((m) => m.file === 'ups-on-battery.eml')!;
      await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw });
      const raised = await stream.next((e) => e.event === 'alarm-changed');
      const alarm = raised.data.alarm as Record<string, unknown>;
      assert.equal(raised.data.outcome, 'raised');
      assert.equal(alarm.title, 'UPS-HALL2: On battery power in response to an input power problem.');
      assert.equal(alarm.severity, 'major');
      assert.equal(alarm.state, 'active');
      assert.equal(alarm.ack, null);
      assert.equal(alarm.muted, null);
      assert.deepEqual(alarm.device, { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2, electrical room' });
      await stream.next((e) => e.event === 'queued');
      const delivered = await stream.next((e) => e.event === 'delivered');
      assert.equal(delivered.data.alarmId, alarm.id);
      assert.equal(delivered.data.account, 'lan-relay');
      const ids = stream.events.map((e) => Number(e.id));
      assert.deepEqual(ids, ids.map((_, i) => i + 1), 'ids count up from 1');
    } finally {
      stream.close();
    }
    await eventually(() => gateway.events.listenerCount('alarm-changed') === before, 5000, 'the stream to stop listening');
    assert.deepEqual(counts(), listening, 'every listener of the stream removed');
  });

  it('a stream is answered 404 for a POST and the API keeps its JSON errors', async () => {
    const response = await fetch(`${base}/api/v1/events`, { method: 'POST' });
    assert.equal(response.status, 404);
    assert.match(((await response.json()) as { error: string }).error, /no such endpoint/);
  });
});

describe('the console with users configured', () => {
  const dir = testDir();
  let gateway: RunningGateway;
  let base: string;
  before(async () => {
    const raw = shippedAlarmsConfig(dir, { http: { listen: { address: '127.0.0.1', port: 0 }, users: [{ name: 'anna', role: 'viewer', passwordHash: { env: 'HASH' } }] } });
    // Any well-formed hash: nobody logs in here.
    gateway = await runGateway(configFrom(dir, raw, { HASH: `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}` }));
    base = `http://127.0.0.1:${gateway.http!.address().port}`;
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('serves the page and its modules to anyone (they hold no data), but not the events or the info without a login', async () => {
    assert.equal((await fetch(`${base}/`)).status, 200);
    assert.equal((await fetch(`${base}/console/app.js`)).status, 200);
    const listening = gateway.events.listenerCount('alarm-changed');
    for (const path of ['/api/v1/events', '/api/v1/info']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 401, path);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(((await response.json()) as { error: string }).error, /not logged in/);
    }
    assert.equal(gateway.events.listenerCount('alarm-changed'), listening, 'a refused stream listens to nothing');
  });
});

describe('the event stream on its own', () => {
  it('sends a comment line while idle, so proxies keep it open, and lets go of its listeners when the client goes', async () => {
    const events = new GatewayEventBus();
    const app = Fastify({ logger: false });
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    const context = { events, now: () => Date.parse('2026-12-01T10:00:00Z'), logger: silentLogger() } as unknown as ApiContext;
    await app.register(async (scope) => registerEventStream(scope, context, { heartbeatMs: 20 }), { prefix: '/api/v1' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as { port: number }).port;
      const stream = await openStream(port);
      assert.deepEqual((await stream.next((e) => e.event === 'ready')).data, { at: '2026-12-01T10:00:00.000Z' });
      for (const name of STREAMED_EVENTS) assert.equal(events.listenerCount(name as 'queued'), 1, name);
      assert.equal(await stream.comment(), ': heartbeat');
      events.emit('queued', { outboxIds: ['N1', 'N2'] });
      assert.deepEqual((await stream.next((e) => e.event === 'queued')).data, { outboxIds: ['N1', 'N2'] });
      stream.close();
      await eventually(() => STREAMED_EVENTS.every((name) => events.listenerCount(name as 'queued') === 0), 5000, 'every listener removed');
    } finally {
      app.server.closeAllConnections();
      await app.close();
    }
  });
});

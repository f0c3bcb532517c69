import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../helpers/api-client.js';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { configFrom, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

interface DeliveryBody {
  at: string;
  queue: { pending: number; oldestPendingAt: string | null; oldestPendingAgeSeconds: number };
  accounts: Array<{ name: string; lastSuccessAt: string | null; lastError: { message: string; at: string } | null; waiting: { pending: number; oldestPendingAt: string | null } }>;
}

describe('GET /api/v1/delivery: delivery health per account, kept across a restart', () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway | undefined;
  let upstreamReply = 250;
  const config = (extraHttp: Record<string, unknown> = {}) =>
    configFrom(
      dir,
      shippedAlarmsConfig(dir, {
        http: { listen: { address: '127.0.0.1', port: 0 }, ...extraHttp },
        // A second account that is never reached: the first takes every notification.
        delivery: relayDelivery(upstream.port, {
          retry: { initialDelay: '1h', maxDelay: '1h', maxAge: '1d', jitter: 0 },
          accounts: [
            { name: 'lan-relay', host: '127.0.0.1', port: upstream.port, security: 'none' },
            { name: 'backup', host: '127.0.0.1', port: 1, security: 'none' },
          ],
        }),
      }),
      { API_TOKEN: 'a-viewer-token-of-enough-length-0123456789' },
    );
  const base = () => `http://127.0.0.1:${gateway!.http!.address().port}`;

  before(async () => {
    upstream = await startUpstream({ security: 'none', dataReply: () => upstreamReply });
    gateway = await runGateway(config());
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  it('lists every configured account; one that never delivered has no times', async () => {
    const response = await apiClient(base()).get<DeliveryBody>('/delivery');
    assert.equal(response.status, 200);
    assert.deepEqual(
      response.body.accounts.map((a) => [a.name, a.lastSuccessAt, a.lastError]),
      [
        ['lan-relay', null, null],
        ['backup', null, null],
      ],
    );
    assert.deepEqual(response.body.queue, { pending: 0, oldestPendingAt: null, oldestPendingAgeSeconds: 0 });
  });

  it('shows a success, then a deferral waiting on its account with its error and age', async () => {
    const delivered = gateway!.events.once('delivered');
    await sendDeviceAlarm(gateway!.port, 'plc-1', 'Pump 1 tripped');
    await delivered;
    upstreamReply = 451;
    const deferred = gateway!.events.once('deferred');
    await sendDeviceAlarm(gateway!.port, 'plc-2', 'Pump 2 tripped');
    const { entry } = await deferred;
    const body = (await apiClient(base()).get<DeliveryBody>('/delivery')).body;
    const relay = body.accounts.find((a) => a.name === 'lan-relay')!;
    assert.ok(relay.lastSuccessAt !== null);
    assert.match(relay.lastError!.message, /451/);
    assert.ok(Date.parse(relay.lastError!.at) >= Date.parse(relay.lastSuccessAt));
    assert.equal(relay.waiting.pending, 1);
    assert.equal(relay.waiting.oldestPendingAt, new Date(entry.createdAt).toISOString());
    assert.equal(body.queue.pending, 1);
    assert.ok(body.queue.oldestPendingAgeSeconds >= 0);
    assert.equal(body.accounts.find((a) => a.name === 'backup')!.waiting.pending, 0);
  });

  it('after a restart the last success and the last error come back from the outbox', async () => {
    const before = (await apiClient(base()).get<DeliveryBody>('/delivery')).body.accounts.find((a) => a.name === 'lan-relay')!;
    await gateway!.stop();
    gateway = undefined;
    gateway = await runGateway(config());
    const after = (await apiClient(base()).get<DeliveryBody>('/delivery')).body.accounts.find((a) => a.name === 'lan-relay')!;
    assert.equal(after.lastSuccessAt, before.lastSuccessAt);
    assert.deepEqual(after.lastError, before.lastError);
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    assert.match(metrics, new RegExp(`^annunciator_last_delivery_timestamp_seconds\\{account="lan-relay"\\} ${Date.parse(before.lastSuccessAt!) / 1000}$`, 'm'));
  });

  it('with tokens configured, a request without one gets 401; the route is in the OpenAPI document', async () => {
    await gateway!.stop();
    gateway = undefined;
    gateway = await runGateway(config({ tokens: [{ name: 'grafana', role: 'viewer', token: { env: 'API_TOKEN' } }] }));
    const response = await apiClient(base()).get<{ error: string }>('/delivery');
    assert.equal(response.status, 401);
    assert.match(response.body.error, /not logged in/);
    const openapi = (await (await fetch(`${base()}/api/v1/openapi.json`)).json()) as { paths: Record<string, { get?: { responses: Record<string, unknown> } }> };
    assert.ok(openapi.paths['/delivery']?.get?.responses['200'], 'GET /delivery is documented');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { hashPassword } from '../../src/base/password-hash.js';
import { Secret } from '../../src/config/secret.js';
import type { GatewayConfig, HttpConfig } from '../../src/config/types.js';
import { gatewayAuthenticator } from '../../src/api/auth/authenticate.js';
import { installGuard } from '../../src/api/auth/guard.js';
import type { ApiContext } from '../../src/api/context.js';
import { registerAuthRoutes } from '../../src/api/v1/auth.js';
import { silentLogger } from '../../src/log/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { apiClient } from '../helpers/api-client.js';
import { testDir } from '../helpers/gateway.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The guard and the authenticator on a fastify server of their own, over real HTTP, with
 * test-only routes that need each role: API v1 had no responder or admin act yet when
 * this was written (the gateway-level tests are in auth.test.ts). The clock is a number
 * the test moves, so a week passes without a gateway's timers.
 */
describe('guard: roles, CSRF and session expiry through installGuard and gatewayAuthenticator', () => {
  const dir = testDir();
  let store: SqliteStore;
  let app: FastifyInstance;
  let base: string;
  let now = Date.parse('2026-03-02T08:00:00Z');
  const acts: string[] = [];

  before(async () => {
    store = SqliteStore.open(dir.path);
    const http: HttpConfig = {
      listen: { address: '127.0.0.1', port: 0 },
      users: [
        { name: 'vic', role: 'viewer', passwordHash: new Secret(await hashPassword('vic-password-1', { logN: 14 })) },
        { name: 'rita', role: 'responder', passwordHash: new Secret(await hashPassword('rita-password-1', { logN: 14 })) },
      ],
      tokens: [{ name: 'viewer-script', role: 'viewer', token: new Secret('v'.repeat(40)) }],
      sessionLifetime: 3 * DAY,
    };
    const logger = silentLogger();
    // Only what the auth routes read; the rest of the gateway is not here.
    const context = { store, config: () => ({ http }) as GatewayConfig, now: () => now, logger } as unknown as ApiContext;
    app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.decorateRequest('principal', undefined);
    installGuard(app, gatewayAuthenticator({ http: () => http, sessions: store.loginSessions, now: () => now, logger }), { logger });
    await app.register(async (scope) => {
      await registerAuthRoutes(scope, context);
      scope.get('/whoami', { config: { role: 'viewer' } }, async (req) => ({ name: req.principal!.name }));
      scope.post('/test/respond', { config: { role: 'responder' } }, async (req) => {
        acts.push(`respond by ${req.principal!.name}`);
        return { done: true };
      });
      scope.post('/test/admin', { config: { role: 'admin' } }, async () => ({ done: true }));
    }, { prefix: '/api/v1' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await app?.close();
    await store?.close();
    dir.remove();
  });

  it('a viewer cannot do a responder act (403, nothing done); a responder can, with the CSRF token', async () => {
    const vic = apiClient(base);
    assert.equal((await vic.post('/login', { name: 'vic', password: 'vic-password-1' })).status, 200);
    const refused = await vic.post('/test/respond');
    assert.equal(refused.status, 403);
    assert.match((refused.body as { error: string }).error, /vic is a viewer; this needs the role responder/);
    const script = await apiClient(base, { token: 'v'.repeat(40) }).post('/test/respond');
    assert.equal(script.status, 403, 'a viewer token neither');
    const rita = apiClient(base);
    assert.equal((await rita.post('/login', { name: 'rita', password: 'rita-password-1' })).status, 200);
    assert.equal((await rita.post('/test/respond', {}, { 'x-csrf-token': '' })).status, 403, 'no CSRF token');
    assert.equal((await rita.post('/test/respond')).status, 200);
    assert.equal((await rita.post('/test/admin')).status, 403);
    assert.deepEqual(acts, ['respond by rita']);
  });

  it('a session lasts while used, but never beyond 7 days after login', async () => {
    const rita = apiClient(base);
    assert.equal((await rita.post('/login', { name: 'rita', password: 'rita-password-1' })).status, 200);
    for (const days of [2.5, 2.5, 1.5]) {
      now += days * DAY;
      assert.equal((await rita.get('/whoami')).status, 200, 'used within the 3-day lifetime');
    }
    now += DAY;
    assert.equal((await rita.get('/whoami')).status, 401, 'idle one day of three, but 7.5 days old');
  });

  it('a later login prunes sessions that have expired', async () => {
    await store.loginSessions.create({ idHash: 'idle', name: 'vic', createdAt: now - 4 * DAY, lastSeenAt: now - 4 * DAY, peer: null });
    await store.loginSessions.create({ idHash: 'fresh', name: 'vic', createdAt: now - DAY, lastSeenAt: now - DAY, peer: null });
    assert.equal((await apiClient(base).post('/login', { name: 'vic', password: 'vic-password-1' })).status, 200);
    assert.equal(await store.loginSessions.get('idle'), undefined, 'idle past the 3-day lifetime: deleted');
    assert.ok(await store.loginSessions.get('fresh'));
  });
});

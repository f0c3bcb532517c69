import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/base/password-hash.js';
import { apiClient, type ApiClient } from '../helpers/api-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { configFrom, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';

const MINUTE = 60_000;
const TOKEN = 'a-script-token-of-more-than-32-characters-0123456789';
const PASSWORDS = { anna: 'anna-password-1', vic: 'vic-password-22', ada: 'ada-password-333' };

/** A login from a chosen loopback address (the rate limit counts per address); fetch cannot pick one. */
function loginFrom(port: number, localAddress: string, name: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ name, password });
    const req = request({ host: '127.0.0.1', port, localAddress, method: 'POST', path: '/api/v1/login', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('API authentication with users and tokens configured (real HTTP, fake clock)', () => {
  const dir = testDir();
  const clock = new FakeClock(Date.parse('2026-03-02T08:00:00Z'));
  let gateway: RunningGateway;
  let base: string;
  let port: number;
  let raw: Record<string, unknown>;
  const users = [
    { name: 'anna', role: 'responder', passwordHash: { file: 'anna.hash' } },
    { name: 'vic', role: 'viewer', passwordHash: { file: 'vic.hash' } },
    { name: 'ada', role: 'admin', passwordHash: { file: 'ada.hash' } },
  ];

  before(async () => {
    // 2^14: the cheapest cost a hash may have, so the many logins here stay quick.
    for (const [name, password] of Object.entries(PASSWORDS)) dir.write(`${name}.hash`, `${await hashPassword(password, { logN: 14 })}\n`);
    dir.write('script.token', `${TOKEN}\n`);
    raw = shippedAlarmsConfig(dir, {
      http: { listen: { address: '127.0.0.1', port: 0 }, users, tokens: [{ name: 'nightly-script', role: 'responder', token: { file: 'script.token' } }], sessionLifetime: '5m' },
    });
    gateway = await runGateway(configFrom(dir, raw), undefined, { clock });
    port = gateway.http!.address().port;
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  const login = async (name: keyof typeof PASSWORDS): Promise<ApiClient> => {
    const client = apiClient(base);
    const response = await client.post('/login', { name, password: PASSWORDS[name] });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return client;
  };

  it('without a session or token: 401, and loopback is no free pass once users exist', async () => {
    const client = apiClient(base);
    for (const path of ['/whoami', '/session']) {
      const response = await client.get(path);
      assert.equal(response.status, 401, path);
      assert.match((response.body as { error: string }).error, /not logged in/);
    }
    assert.equal((await client.post('/logout')).status, 401);
    assert.equal((await fetch(`${base}/api/v1/whoami`, { headers: { cookie: `annunciator_session=${'A'.repeat(43)}` } })).status, 401, 'an unknown session id');
  });

  it('a wrong password and an unknown name get the same 401 and are audited with the name tried and the peer, never the password', async () => {
    const wrong = await apiClient(base).post('/login', { name: 'anna', password: 'not-her-password' });
    const unknown = await apiClient(base).post('/login', { name: 'mallory', password: 'whatever-it-is' });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    assert.deepEqual(wrong.body, { error: 'wrong name or password' });
    assert.equal(wrong.headers.get('set-cookie'), null);
    const failed = await gateway.store.audit.list({ limit: 10, action: 'login.failed' });
    assert.deepEqual(failed.map((e) => [e.actor, e.peer, e.via]), [['mallory', '127.0.0.1', 'login'], ['anna', '127.0.0.1', 'login']]);
    assert.doesNotMatch(JSON.stringify(failed), /not-her-password|whatever-it-is/);
  });

  it('logs in: the cookie is HttpOnly, SameSite=Strict, Path=/ (no Secure on plain HTTP); whoami and session show the user; the store keeps only a hash', async () => {
    const client = apiClient(base);
    const response = await client.post<{ name: string; role: string; csrfToken: string; expiresAt: string }>('/login', { name: 'anna', password: PASSWORDS.anna });
    assert.equal(response.status, 200);
    assert.equal(response.body.name, 'anna');
    assert.equal(response.body.role, 'responder');
    assert.match(response.body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(response.body.expiresAt, new Date(clock.now() + 5 * MINUTE).toISOString());
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('annunciator_session='))!;
    const attributes = cookie.split(';').map((a) => a.trim());
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(attributes.includes(attribute), `${attribute} in ${cookie}`);
    assert.ok(!attributes.includes('Secure'), 'plain HTTP without an https baseUrl: a browser would drop a Secure cookie');
    assert.deepEqual((await client.get('/whoami')).body, { name: 'anna', role: 'responder', via: 'session' });
    const session = await client.get<{ csrfToken: string }>('/session');
    assert.equal(session.body.csrfToken, response.body.csrfToken);
    const id = client.session.cookie!.split('=')[1]!;
    assert.equal(await gateway.store.loginSessions.get(id), undefined, 'not the id itself');
    assert.equal((await gateway.store.loginSessions.get(createHash('sha256').update(id).digest('hex')))?.name, 'anna');
    const logins = await gateway.store.audit.list({ limit: 1, action: 'login' });
    assert.deepEqual(logins.map((e) => [e.actor, e.via, e.peer]), [['anna', 'session', '127.0.0.1']]);
  });

  it('a session POST without the CSRF token, with a wrong one, or from another site is refused with 403', async () => {
    const client = await login('anna');
    const missing = await client.post('/logout', {}, { 'x-csrf-token': '' });
    assert.equal(missing.status, 403);
    assert.match((missing.body as { error: string }).error, /missing X-CSRF-Token/);
    const wrong = await client.post('/logout', {}, { 'x-csrf-token': 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    assert.match((wrong.body as { error: string }).error, /wrong X-CSRF-Token/);
    const crossSite = await client.post('/logout', {}, { 'x-csrf-token': client.session.csrf!, origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    assert.match((crossSite.body as { error: string }).error, /another site/);
    const fetchSite = await client.post('/logout', {}, { 'x-csrf-token': client.session.csrf!, 'sec-fetch-site': 'cross-site' });
    assert.equal(fetchSite.status, 403);
    assert.equal((await client.get('/whoami')).status, 200, 'still logged in: nothing of the above logged out');
    const sameOrigin = await client.post('/logout', {}, { 'x-csrf-token': client.session.csrf!, origin: base });
    assert.equal(sameOrigin.status, 200, 'the own origin with the right token passes');
  });

  it('a bearer token works without a CSRF token; a wrong token is 401', async () => {
    const script = apiClient(base, { token: TOKEN });
    assert.deepEqual((await script.get('/whoami')).body, { name: 'nightly-script', role: 'responder', via: 'token' });
    // Past the guard (no 403 for a missing CSRF token): logout answers that a token has no login.
    const post = await script.post('/logout', {}, { origin: 'https://evil.example' });
    assert.equal(post.status, 400);
    assert.match((post.body as { error: string }).error, /nothing to log out of/);
    assert.equal((await apiClient(base, { token: `${TOKEN}x` }).get('/whoami')).status, 401);
    assert.equal((await apiClient(base, { token: TOKEN.slice(1) }).get('/whoami')).status, 401);
    assert.equal((await fetch(`${base}/api/v1/whoami`, { headers: { authorization: `Basic ${TOKEN}` } })).status, 401);
  });

  it('on a real responder act (POST /silences): a viewer gets 403, a session needs its CSRF token, a token needs none', async () => {
    const silence = { matchers: ['device.id=plc-auth-test'], comment: 'auth test', duration: '1h' };
    const vic = await login('vic');
    const refused = await vic.post('/silences', silence);
    assert.equal(refused.status, 403);
    assert.match((refused.body as { error: string }).error, /vic is a viewer; this needs the role responder/);
    // Nor acknowledge, one or many: refused before anything is looked up or recorded.
    for (const [path, body] of [['/alarms/acknowledge', { ids: ['01ANYALARM'], comment: 'mine' }], ['/alarms/01ANYALARM/acknowledge', { comment: 'mine' }]] as const) {
      const ack = await vic.post(path, body);
      assert.equal(ack.status, 403, path);
      assert.match((ack.body as { error: string }).error, /vic is a viewer/);
    }
    assert.deepEqual(await gateway.store.audit.list({ limit: 1, action: 'alarm.acknowledge' }), []);
    const anna = await login('anna');
    assert.equal((await anna.post('/silences', silence, { 'x-csrf-token': '' })).status, 403);
    assert.equal((await anna.post('/silences', silence)).status, 201);
    assert.equal((await apiClient(base, { token: TOKEN }).post('/silences', silence)).status, 201);
    const made = await gateway.store.audit.list({ limit: 2, action: 'silence.create' });
    assert.deepEqual(made.map((e) => [e.actor, e.via]), [['nightly-script', 'token'], ['anna', 'session']]);
  });

  it('logout ends the session: the old cookie is 401 and the cookie is cleared', async () => {
    const client = await login('vic');
    const cookie = client.session.cookie!;
    const response = await client.post('/logout');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { ended: true });
    assert.match(response.headers.getSetCookie().join('\n'), /annunciator_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    assert.equal((await fetch(`${base}/api/v1/whoami`, { headers: { cookie } })).status, 401);
    assert.deepEqual((await gateway.store.audit.list({ limit: 1, action: 'logout' })).map((e) => e.actor), ['vic']);
  });

  it('a session expires after sessionLifetime without use; use keeps it alive', async () => {
    const idle = await login('vic');
    const used = await login('anna');
    await clock.advance(3 * MINUTE);
    assert.equal((await used.get('/whoami')).status, 200);
    await clock.advance(3 * MINUTE);
    assert.equal((await idle.get('/whoami')).status, 401, 'idle 6 min with a 5 min lifetime');
    const alive = await used.get<{ expiresAt: string }>('/session');
    assert.equal(alive.status, 200, 'used 3 min ago');
    assert.equal(alive.body.expiresAt, new Date(clock.now() + 5 * MINUTE).toISOString(), 'this use moved the end');
  });

  it('rate limits failed logins per address and per name: 429 with Retry-After, for 15 minutes', async () => {
    // Five wrong passwords for ada from 127.0.0.2: the sixth try is refused even with the right password, and from another address too.
    for (let i = 0; i < 5; i++) assert.equal((await loginFrom(port, '127.0.0.2', 'ada', `guess-${i}`)).status, 401);
    const limited = await loginFrom(port, '127.0.0.3', 'ADA', PASSWORDS.ada);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], String(15 * 60));
    assert.match(String(limited.body.error), /too many failed logins/);
    assert.equal((await loginFrom(port, '127.0.0.3', 'anna', PASSWORDS.anna)).status, 200, 'another name from another address is not held up');
    // Five wrong names from 127.0.0.4: that address is refused, whatever the name.
    for (let i = 0; i < 5; i++) assert.equal((await loginFrom(port, '127.0.0.4', `nobody${i}`, 'x')).status, 401);
    assert.equal((await loginFrom(port, '127.0.0.4', 'vic', PASSWORDS.vic)).status, 429);
    assert.equal((await loginFrom(port, '127.0.0.5', 'vic', PASSWORDS.vic)).status, 200);
    await clock.advance(10 * MINUTE);
    const later = await loginFrom(port, '127.0.0.3', 'ada', PASSWORDS.ada);
    assert.equal(later.status, 429);
    assert.equal(later.headers['retry-after'], String(5 * 60));
    await clock.advance(5 * MINUTE);
    assert.equal((await loginFrom(port, '127.0.0.3', 'ada', PASSWORDS.ada)).status, 200, 'the window has passed');
    assert.equal((await loginFrom(port, '127.0.0.4', 'vic', PASSWORDS.vic)).status, 200);
    const failed = await gateway.store.audit.list({ limit: 10, action: 'login.failed' });
    assert.deepEqual(failed.slice(0, 5).map((e) => [e.actor, e.peer]), [4, 3, 2, 1, 0].map((i) => [`nobody${i}`, '127.0.0.4']));
  });

  it('refuses a login posted from another site', async () => {
    const response = await apiClient(base).post('/login', { name: 'anna', password: PASSWORDS.anna }, { origin: 'http://evil.example' });
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('set-cookie'), null);
  });

  it('a reload changes users at once: a removed user is logged out, a changed role applies, sessionLifetime too', async () => {
    const anna = await login('anna');
    const vic = await login('vic');
    const next = {
      ...raw,
      http: { ...(raw.http as object), users: [users[1], { ...users[2]!, role: 'viewer' }], sessionLifetime: '10m' },
    };
    dir.write('annunciator.yaml', stringify(next));
    const outcome = gateway.reload();
    assert.equal(outcome.ok, true, outcome.message);
    assert.match(outcome.message, /http\.users/);
    assert.doesNotMatch(outcome.message, /restart: .*http\.users/);
    assert.equal((await anna.get('/whoami')).status, 401, 'anna is no longer configured');
    assert.equal((await vic.get('/whoami')).status, 200);
    const ada = await login('ada');
    assert.equal((await ada.get<{ role: string }>('/whoami')).body.role, 'viewer');
    await clock.advance(11 * MINUTE);
    assert.equal((await vic.get('/whoami')).status, 401, 'the new 10 min lifetime holds');
  });

});

describe('a server open to the network whose users a reload removed', () => {
  const dir = testDir();
  let gateway: RunningGateway;

  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('lets nobody in: the listen address stays until a restart, so there is no loopback admin', async () => {
    dir.write('anna.hash', `${await hashPassword(PASSWORDS.anna, { logN: 14 })}\n`);
    const raw = shippedAlarmsConfig(dir, { http: { listen: { address: '0.0.0.0', port: 0 }, users: [{ name: 'anna', role: 'responder', passwordHash: { file: 'anna.hash' } }] } });
    gateway = await runGateway(configFrom(dir, raw));
    const base = `http://127.0.0.1:${gateway.http!.address().port}`;
    assert.equal((await apiClient(base).get('/whoami')).status, 401);
    dir.write('annunciator.yaml', stringify({ ...raw, http: { listen: { address: '127.0.0.1', port: 0 } } }));
    const outcome = gateway.reload();
    assert.equal(outcome.ok, true, outcome.message);
    assert.match(outcome.message, /restart: .*http\.listen/);
    assert.equal((await apiClient(base).get('/whoami')).status, 401, 'still bound to 0.0.0.0: no user, so nobody');
    assert.equal((await apiClient(base).post('/silences', { matchers: ['device=x'], duration: '1h' })).status, 401);
  });
});

describe('API without users on loopback: everyone is the admin local', () => {
  const dir = testDir();
  let gateway: RunningGateway;
  let base: string;

  before(async () => {
    gateway = await runGateway(configFrom(dir, shippedAlarmsConfig(dir, {})));
    base = `http://127.0.0.1:${gateway.http!.address().port}`;
  });
  after(async () => {
    await gateway?.stop();
    dir.remove();
  });

  it('whoami is local admin by loopback, with no login', async () => {
    assert.deepEqual((await apiClient(base).get('/whoami')).body, { name: 'local', role: 'admin', via: 'loopback' });
    const localhost = `http://localhost:${gateway.http!.address().port}`;
    assert.equal((await apiClient(localhost).get('/whoami')).status, 200);
  });

  it('login is refused (there are no users), and a page of another site cannot act as local', async () => {
    assert.equal((await apiClient(base).post('/login', { name: 'local', password: 'anything-at-all' })).status, 401);
    const crossSite = await apiClient(base).post('/logout', {}, { origin: 'http://evil.example' });
    assert.equal(crossSite.status, 403);
  });

  it('a request under another host name (DNS rebinding to 127.0.0.1) is nobody', async () => {
    const response = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gateway.http!.address().port, path: '/api/v1/whoami', headers: { host: 'evil.example:9525' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(response, 401);
  });
});

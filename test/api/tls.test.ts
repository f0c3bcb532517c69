import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/base/password-hash.js';
import { createCa, type TestCa } from '../helpers/certs.js';
import { configFrom, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';

interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpsCall(port: number, ca: string, method: string, path: string, body?: unknown): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, method, path, ca, servername: 'localhost', headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** The TLS handshake's outcome for a client limited to `maxVersion`. */
function handshake(port: number, ca: string, options: { minVersion?: 'TLSv1' | 'TLSv1.2'; maxVersion: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' }): Promise<{ ok: true; protocol: string | null } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      resolve({ ok: true, protocol: socket.getProtocol() });
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, error: `${error.code ?? ''} ${error.message}` }));
  });
}

describe('the HTTP server over TLS (http.tls: cert, key, minVersion)', () => {
  const dir = testDir();
  let ca: TestCa;
  let gateway: RunningGateway;
  let strict: RunningGateway;
  let port: number;

  before(async () => {
    ca = createCa();
    const leaf = ca.issue('localhost');
    dir.write('http-cert.pem', leaf.cert);
    dir.write('http-key.pem', leaf.key);
    dir.write('anna.hash', `${await hashPassword('anna-password-1', { logN: 14 })}\n`);
    const http = (minVersion: string) => ({
      listen: { address: '127.0.0.1', port: 0 },
      tls: { cert: 'http-cert.pem', key: 'http-key.pem', minVersion },
      users: [{ name: 'anna', role: 'responder', passwordHash: { file: 'anna.hash' } }],
    });
    gateway = await runGateway(configFrom(dir, shippedAlarmsConfig(dir, { http: http('TLSv1.2') })));
    port = gateway.http!.address().port;
    const strictDir = testDir();
    strictDir.write('http-cert.pem', leaf.cert);
    strictDir.write('http-key.pem', leaf.key);
    strictDir.write('anna.hash', `${await hashPassword('anna-password-1', { logN: 14 })}\n`);
    strict = await runGateway(configFrom(strictDir, shippedAlarmsConfig(strictDir, { http: http('TLSv1.3') })));
    after(() => strictDir.remove());
  });
  after(async () => {
    await gateway?.stop();
    await strict?.stop();
    dir.remove();
  });

  it('serves HTTPS that verifies against the test CA; a client that does not trust it is refused', async () => {
    const answer = await httpsCall(port, ca.cert, 'GET', '/-/healthy');
    assert.equal(answer.status, 200);
    const other = createCa('Some Other CA');
    await assert.rejects(httpsCall(port, other.cert, 'GET', '/-/healthy'), /self-signed|unable to verify|certificate/i);
  });

  it('a login over HTTPS sets a Secure cookie', async () => {
    const answer = await httpsCall(port, ca.cert, 'POST', '/api/v1/login', { name: 'anna', password: 'anna-password-1' });
    assert.equal(answer.status, 200, answer.body);
    const cookie = ([] as string[]).concat(answer.headers['set-cookie'] ?? []).find((c) => c.startsWith('annunciator_session='))!;
    assert.ok(cookie.split(';').map((a) => a.trim()).includes('Secure'), cookie);
    assert.match(cookie, /HttpOnly/);
  });

  it('refuses a client below minVersion: TLS 1.1 at the default 1.2, TLS 1.2 at 1.3', async () => {
    const tls12 = await handshake(port, ca.cert, { maxVersion: 'TLSv1.2' });
    assert.deepEqual(tls12, { ok: true, protocol: 'TLSv1.2' }, 'TLS 1.2 is the default minimum');
    const tls11 = await handshake(port, ca.cert, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
    assert.equal(tls11.ok, false);
    const strictPort = strict.http!.address().port;
    const refused = await handshake(strictPort, ca.cert, { maxVersion: 'TLSv1.2' });
    assert.equal(refused.ok, false);
    assert.match((refused as { error: string }).error, /protocol version|PROTOCOL_VERSION/i);
    assert.deepEqual(await handshake(strictPort, ca.cert, { maxVersion: 'TLSv1.3' }), { ok: true, protocol: 'TLSv1.3' });
  });
});

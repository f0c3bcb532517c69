import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import { parse, stringify } from 'yaml';
import { createCa, type KeyAndCert } from '../helpers/certs.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** stdout is one JSON document and nothing else. */
function jsonOf(result: CliResult): unknown {
  assert.match(result.stdout, /^\{\n[\s\S]*\n\}\n$/, `one JSON object on stdout: ${result.stdout}`);
  return JSON.parse(result.stdout);
}

/** What `trust --json` should say about a certificate, worked out from the PEM on its own. */
function expected(pem: string) {
  const cert = forge.pki.certificateFromPem(pem);
  const dn = (attributes: forge.pki.CertificateField[]) => attributes.map((a) => `${a.shortName}=${String(a.value)}`).join(', ');
  return {
    subject: dn(cert.subject.attributes),
    issuer: dn(cert.issuer.attributes),
    validFrom: cert.validity.notBefore.toISOString(),
    validTo: cert.validity.notAfter.toISOString(),
    sha256: new X509Certificate(pem).fingerprint256,
  };
}

describe('annunciator trust --json', () => {
  const dir = testDir();
  const ca = createCa('Annunciator Test CA');
  const leaf: KeyAndCert = ca.issue('mail.plant.local');
  // The server sends its certificate and the CA's, as a relay with an intermediate does.
  const tls = { key: leaf.key, cert: `${leaf.cert}${ca.cert}` };
  const caFile = dir.write('test-ca.pem', ca.cert);
  let implicit: Upstream;
  let starttls: Upstream;
  before(async () => {
    implicit = await startUpstream({ security: 'tls', tls });
    starttls = await startUpstream({ security: 'starttls', tls });
  });
  after(async () => {
    await implicit.close();
    await starttls.close();
    dir.remove();
  });
  const trust = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['trust', ...args], { killAfter: 30_000, env: { ANNUNCIATOR_CONFIG: '/nonexistent/annunciator.yaml', NODE_EXTRA_CA_CERTS: undefined, ...env } });
  const chain = () => [
    { ...expected(leaf.cert), subjectAltName: 'DNS:localhost, IP Address:127.0.0.1' },
    { ...expected(ca.cert), subjectAltName: null },
  ];

  it('shows the chain: subjects, issuers, validity in RFC 3339, SHA-256; verified when the trust store has the CA', async () => {
    const result = await trust([`127.0.0.1:${implicit.port}`, '--json'], { NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.deepEqual(jsonOf(result), {
      host: '127.0.0.1',
      port: implicit.port,
      starttls: false,
      protocol: 'TLSv1.3',
      chain: chain(),
      trusted: true,
      verifyError: null,
      pinned: false,
      pin: null,
    });
  });

  it('says it did not verify, and why, when the trust store does not know the CA', async () => {
    const result = await trust([`127.0.0.1:${starttls.port}`, '--starttls', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(jsonOf(result), {
      host: '127.0.0.1',
      port: starttls.port,
      starttls: true,
      protocol: 'TLSv1.3',
      chain: chain(),
      trusted: false,
      verifyError: 'SELF_SIGNED_CERT_IN_CHAIN',
      pinned: false,
      pin: null,
    });
  });

  it('--accept --account: the pin written (account, fingerprint, files), and it is in the configuration', async () => {
    mkdirSync(join(dir.path, 'accept'));
    const configFile = dir.write(join('accept', 'annunciator.yaml'), `# plant relay\n${stringify({ delivery: { accounts: [{ name: 'plant', host: '127.0.0.1', port: starttls.port, security: 'starttls', auth: { user: 'alarms', password: { env: 'PW' } } }] } })}`);
    const result = await trust([`127.0.0.1:${starttls.port}`, '--starttls', '--accept', '--account', 'plant', '--json'], { ANNUNCIATOR_CONFIG: configFile });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const certificateFile = join(dir.path, 'accept', 'pins', `127.0.0.1_${starttls.port}.pem`);
    const sha256 = new X509Certificate(leaf.cert).fingerprint256;
    assert.deepEqual(jsonOf(result), {
      host: '127.0.0.1',
      port: starttls.port,
      starttls: true,
      protocol: 'TLSv1.3',
      chain: chain(),
      trusted: false,
      verifyError: 'SELF_SIGNED_CERT_IN_CHAIN',
      pinned: true,
      pin: { account: 'plant', sha256, configFile, certificateFile },
    });
    assert.doesNotMatch(result.stdout, /password|PW|BEGIN/, 'no secrets, no key material');
    assert.equal(new X509Certificate(readFileSync(certificateFile)).fingerprint256, sha256, 'the leaf saved');
    const written = parse(readFileSync(configFile, 'utf8')) as { delivery: { accounts: Array<{ tls?: { pin?: unknown } }> } };
    assert.deepEqual(written.delivery.accounts[0]?.tls?.pin, { sha256, certificate: `pins/127.0.0.1_${starttls.port}.pem` });
  });

  it('--accept for an unknown account: the chain with pinned false, the refusal on stderr, exit 1, nothing written', async () => {
    mkdirSync(join(dir.path, 'unknown'));
    const text = stringify({ delivery: { accounts: [{ name: 'plant', host: '127.0.0.1', port: starttls.port }] } });
    const configFile = dir.write(join('unknown', 'annunciator.yaml'), text);
    const result = await trust([`127.0.0.1:${implicit.port}`, '--accept', '--account', 'nope', '--json'], { ANNUNCIATOR_CONFIG: configFile });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, `${configFile}: delivery.accounts: no account named "nope"\n`);
    assert.deepEqual(jsonOf(result), {
      host: '127.0.0.1',
      port: implicit.port,
      starttls: false,
      protocol: 'TLSv1.3',
      chain: chain(),
      trusted: false,
      verifyError: 'SELF_SIGNED_CERT_IN_CHAIN',
      pinned: false,
      pin: null,
    });
    assert.equal(readFileSync(configFile, 'utf8'), text);
    assert.equal(existsSync(join(dir.path, 'unknown', 'pins')), false);
  });

  it('a probe that fails: exit 69, the reason on stderr, nothing on stdout', async () => {
    const down = await startUpstream({ security: 'tls', tls });
    const port = down.port;
    await down.close();
    const result = await trust([`127.0.0.1:${port}`, '--json']);
    assert.equal(result.code, 69);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^annunciator trust: 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
  });
});

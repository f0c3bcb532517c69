import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface KeyAndCert {
  key: string;
  cert: string;
}

function newKey(): { forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  // Node generates the key natively; node-forge only signs, which is fast.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem };
}

function baseCert(publicKey: forge.pki.rsa.PublicKey, commonName: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Annunciator test' }]);
  return cert;
}

export interface TestCa extends KeyAndCert {
  issue(commonName: string, altNames?: string[]): KeyAndCert;
}

/** A certificate authority made for one test run, and leaf certificates signed by it. */
export function createCa(name = 'Annunciator Test CA'): TestCa {
  const { forgeKey, publicKey, pem } = newKey();
  const caCert = baseCert(publicKey, name);
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(forgeKey, forge.md.sha256.create());
  return {
    key: pem,
    cert: forge.pki.certificateToPem(caCert),
    issue(commonName, altNames = ['localhost', '127.0.0.1']) {
      const leaf = newKey();
      const cert = baseCert(leaf.publicKey, commonName);
      cert.setIssuer(caCert.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: altNames.map((n) => (/^[\d.]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
      ]);
      cert.sign(forgeKey, forge.md.sha256.create());
      return { key: leaf.pem, cert: forge.pki.certificateToPem(cert) };
    },
  };
}

/** A self-signed server certificate, as a plant's own mail server or a device often has. */
export function createSelfSigned(commonName = 'mail.plant.local', altNames = ['localhost', '127.0.0.1']): KeyAndCert {
  const { forgeKey, publicKey, pem } = newKey();
  const cert = baseCert(publicKey, commonName);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'subjectAltName', altNames: altNames.map((n) => (/^[\d.]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { key: pem, cert: forge.pki.certificateToPem(cert) };
}

import { X509Certificate } from 'node:crypto';
import type { UpstreamTls } from '../base/tls-policy.js';
import type { RawSmtpAccount } from './schema.js';

export interface TlsResolvers {
  at: (path: ReadonlyArray<PropertyKey>, message: string) => void;
  readPem: (p: string, path: ReadonlyArray<PropertyKey>) => Buffer | undefined;
}

/**
 * The `tls` section of a server the gateway connects to (an SMTP upstream, an IMAP
 * mailbox): extra CA files read, a pinned certificate read and checked against its
 * fingerprint. Problems are reported through `at`; `path` is the section's parent.
 */
export function resolveUpstreamTls(tls: RawSmtpAccount['tls'], path: ReadonlyArray<PropertyKey>, { at, readPem }: TlsResolvers): UpstreamTls {
  const ca = tls.ca.flatMap((p, i) => readPem(p, [...path, 'tls', 'ca', i]) ?? []);
  let pin: UpstreamTls['pin'];
  if (tls.pin) {
    const certificate = readPem(tls.pin.certificate, [...path, 'tls', 'pin', 'certificate']);
    if (certificate) {
      const actual = fingerprint(certificate);
      const wanted = tls.pin.sha256.toUpperCase();
      if (actual === undefined) at([...path, 'tls', 'pin', 'certificate'], 'is not a PEM certificate');
      else if (actual !== wanted) at([...path, 'tls', 'pin', 'sha256'], `does not match the pinned certificate file (its fingerprint is ${actual})`);
      else pin = { sha256: wanted, certificate };
    }
  }
  return { minVersion: tls.minVersion, ca, servername: tls.servername, pin };
}

function fingerprint(pem: Buffer): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

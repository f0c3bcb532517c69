import { checkServerIdentity, createSecureContext, rootCertificates, type ConnectionOptions, type PeerCertificate } from 'node:tls';

/**
 * How the gateway checks a server it connects to (an SMTP upstream, an IMAP mailbox), as
 * loaded by config/upstream-tls.ts: CA files read, a pinned certificate read and checked.
 */
export interface UpstreamTls {
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** PEM certificates added to the system trust store for this account. */
  ca: Buffer[];
  servername?: string;
  pin?: { sha256: string; certificate: Buffer };
}

export class PinMismatchError extends Error {
  readonly code = 'ETLS';
}

/**
 * TLS options for an upstream account (SMTP, or an IMAP reply mailbox). Certificates
 * are always verified: against the system store plus the account's extra CAs, or, for a
 * pinned self-signed upstream,
 * against exactly the pinned certificate, whose SHA-256 fingerprint must match. A pin
 * stands in for the host name check, since self-signed device certificates rarely
 * carry the name they are reached by.
 *
 * The secure context is built once per account: parsing the system store for every
 * connection costs ~30 ms of blocked event loop.
 */
export function upstreamTlsOptions(account: { tls: UpstreamTls }): ConnectionOptions {
  const { tls } = account;
  const base: ConnectionOptions = {
    minVersion: tls.minVersion,
    rejectUnauthorized: true,
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
  if (tls.pin) {
    const pin = tls.pin;
    return {
      ...base,
      secureContext: createSecureContext({ ca: [pin.certificate], minVersion: tls.minVersion }),
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        cert.fingerprint256?.toUpperCase() === pin.sha256
          ? undefined
          : new PinMismatchError(`upstream certificate ${cert.fingerprint256} does not match the pinned ${pin.sha256}`),
    };
  }
  const ca = tls.ca.length > 0 ? [...rootCertificates, ...tls.ca.map((c) => c.toString('utf8'))] : undefined;
  return { ...base, secureContext: createSecureContext({ ...(ca ? { ca } : {}), minVersion: tls.minVersion }), checkServerIdentity };
}

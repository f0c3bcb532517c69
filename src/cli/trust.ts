import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { ProbeError, probeCertificate, type ProbeResult } from '../deliver/probe-certificate.js';
import { EXIT, usageError } from './exit-codes.js';
import { printJson } from './output.js';

export interface TrustOptions {
  starttls?: boolean;
  accept?: boolean;
  account?: string;
  timeout: number;
  json?: boolean;
}

/**
 * Shows an upstream's certificate chain; with --accept, pins the leaf certificate for
 * one account: the PEM goes to config/pins/, the fingerprint into the account's
 * `tls.pin`, comments in the YAML file kept.
 */
export async function trustCommand(configFile: () => string | undefined, target: string, options: TrustOptions): Promise<number> {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  if (!match) return usageError('trust', `"${target}" is not HOST:PORT`);
  const host = match[1]!;
  const port = Number(match[2]);
  if (options.accept && !options.account) return usageError('trust', '--accept needs --account NAME (the delivery account to pin the certificate for)');
  const pinTo = options.accept ? configFile() : undefined;
  if (options.accept && pinTo === undefined) return EXIT.failure;
  const starttls = options.starttls ?? port === 587;
  let result: ProbeResult;
  try {
    result = await probeCertificate(host, port, { starttls, timeout: options.timeout });
  } catch (error) {
    if (!(error instanceof ProbeError)) throw error;
    process.stderr.write(`annunciator trust: ${error.message}\n`);
    return EXIT.unavailable;
  }
  if (!options.json) {
    const out: string[] = [`${host}:${port} (${result.protocol ?? 'TLS'}) presents ${result.chain.length} certificate(s):`];
    result.chain.forEach((cert, i) => {
      out.push(`  [${i}] subject: ${cert.subject}`, `      issuer:  ${cert.issuer}`, `      valid:   ${cert.validFrom} .. ${cert.validTo}`);
      if (cert.subjectAltName) out.push(`      names:   ${cert.subjectAltName}`);
      out.push(`      sha256:  ${cert.fingerprint256}`);
    });
    out.push(result.trusted ? 'verified against the system trust store' : `NOT trusted by the system store: ${result.verifyError}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
  // --json: one document, also when pinning fails after the probe (the reason on stderr, as without it).
  const report = (pin: TrustJson['pin'], code: number): number => {
    if (options.json) printJson(trustJson(host, port, starttls, result, pin));
    return code;
  };

  if (!options.accept) return report(null, 0);
  const leaf = result.chain[0];
  if (!leaf) {
    process.stderr.write('annunciator trust: the upstream sent no certificate\n');
    return report(null, EXIT.unavailable);
  }
  const configPath = resolve(pinTo!);
  const document = parseDocument(readFileSync(configPath, 'utf8'));
  const accounts = document.getIn(['delivery', 'accounts']);
  const index = isSeq(accounts) ? accounts.items.findIndex((item) => isMap(item) && item.get('name') === options.account) : -1;
  if (index < 0) {
    process.stderr.write(`${configPath}: delivery.accounts: no account named "${options.account}"\n`);
    return report(null, 1);
  }
  const pinFile = join(dirname(configPath), 'pins', `${host.replace(/[^A-Za-z0-9.-]/g, '_')}_${port}.pem`);
  mkdirSync(dirname(pinFile), { recursive: true });
  writeFileSync(pinFile, leaf.pem);
  document.setIn(['delivery', 'accounts', index, 'tls', 'pin'], document.createNode({ sha256: leaf.fingerprint256, certificate: relative(dirname(configPath), pinFile) }));
  writeFileSync(configPath, String(document));
  if (!options.json) process.stdout.write(`pinned ${leaf.fingerprint256} for account "${options.account}" in ${configPath} (certificate saved to ${pinFile})\n`);
  return report({ account: options.account!, sha256: leaf.fingerprint256, configFile: configPath, certificateFile: pinFile }, 0);
}

/** What `trust --json` prints. Validity is epoch ms here, RFC 3339 in the output (toJson); `pin` is null unless one was written. */
export interface TrustJson {
  host: string;
  port: number;
  starttls: boolean;
  protocol: string | null;
  chain: Array<{ subject: string; issuer: string; subjectAltName: string | null; validFrom: number | null; validTo: number | null; sha256: string }>;
  trusted: boolean;
  verifyError: string | null;
  pinned: boolean;
  pin: { account: string; sha256: string; configFile: string; certificateFile: string } | null;
}

function trustJson(host: string, port: number, starttls: boolean, result: ProbeResult, pin: TrustJson['pin']): TrustJson {
  // OpenSSL's "Nov 24 12:00:00 2026 GMT".
  const instant = (text: string): number | null => {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : ms;
  };
  return {
    host,
    port,
    starttls,
    protocol: result.protocol,
    chain: result.chain.map((cert) => ({
      subject: cert.subject,
      issuer: cert.issuer,
      subjectAltName: cert.subjectAltName ?? null,
      validFrom: instant(cert.validFrom),
      validTo: instant(cert.validTo),
      sha256: cert.fingerprint256,
    })),
    trusted: result.trusted,
    verifyError: result.trusted ? null : (result.verifyError ?? null),
    pinned: pin !== null,
    pin,
  };
}

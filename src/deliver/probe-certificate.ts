import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  subjectAltName?: string;
  pem: string;
}

export interface ProbeResult {
  chain: CertificateInfo[];
  /** Whether the chain verifies against the system trust store and names the host. */
  trusted: boolean;
  verifyError?: string;
  protocol: string | null;
}

/**
 * Connects to an upstream (implicit TLS, or SMTP with STARTTLS) and reads its
 * certificate chain without trusting it, for `annunciator trust`.
 */
export async function probeCertificate(host: string, port: number, options: { starttls: boolean; timeout: number }): Promise<ProbeResult> {
  const servername = isIP(host) === 0 ? host : undefined;
  const socket = await withTimeout(options.timeout, `no TLS handshake with ${host}:${port} within ${options.timeout} ms`, async () => {
    if (!options.starttls) {
      return handshake(tlsConnect({ host, port, servername, rejectUnauthorized: false }));
    }
    const plain = netConnect({ host, port });
    await new Promise<void>((resolve, reject) => {
      plain.once('connect', resolve);
      plain.once('error', reject);
    });
    const reader = lineReader(plain);
    await expectReply(reader, 220, 'greeting');
    plain.write('EHLO annunciator.trust\r\n');
    const ehlo = await expectReply(reader, 250, 'EHLO');
    if (!/STARTTLS/i.test(ehlo)) throw new Error(`${host}:${port} does not offer STARTTLS`);
    plain.write('STARTTLS\r\n');
    await expectReply(reader, 220, 'STARTTLS');
    reader.detach();
    return handshake(tlsConnect({ socket: plain, servername, rejectUnauthorized: false }));
  });
  try {
    const chain = chainOf(socket.getPeerCertificate(true));
    return {
      chain,
      trusted: socket.authorized,
      verifyError: socket.authorized ? undefined : String(socket.authorizationError ?? 'not trusted'),
      protocol: socket.getProtocol(),
    };
  } finally {
    socket.destroy();
  }
}

function handshake(socket: TLSSocket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function chainOf(leaf: DetailedPeerCertificate): CertificateInfo[] {
  const chain: CertificateInfo[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = leaf;
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push({
      subject: distinguishedName(cert.subject),
      issuer: distinguishedName(cert.issuer),
      validFrom: cert.valid_from,
      validTo: cert.valid_to,
      fingerprint256: cert.fingerprint256,
      subjectAltName: cert.subjectaltname,
      pem: `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
    });
    cert = cert.issuerCertificate;
  }
  return chain;
}

function distinguishedName(name: object | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}

interface LineReader {
  next(): Promise<string>;
  detach(): void;
}

function lineReader(socket: Socket): LineReader {
  let buffer = '';
  const waiting: Array<{ resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  const lines: string[] = [];
  const onData = (chunk: Buffer): void => {
    buffer += chunk.toString('latin1');
    let index;
    while ((index = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, index).replace(/\r$/, '');
      buffer = buffer.slice(index + 1);
      const waiter = waiting.shift();
      if (waiter) waiter.resolve(line);
      else lines.push(line);
    }
  };
  const onEnd = (): void => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error('connection closed'));
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  return {
    next: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    detach: () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
    },
  };
}

async function expectReply(reader: LineReader, code: number, stage: string): Promise<string> {
  let text = '';
  for (;;) {
    const line = await reader.next();
    text += `${line}\n`;
    if (line.length >= 4 && line[3] === '-') continue;
    if (!line.startsWith(String(code))) throw new Error(`unexpected reply to ${stage}: ${line}`);
    return text;
  }
}

async function withTimeout<T>(ms: number, message: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

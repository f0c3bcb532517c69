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

/** Why a probe found no certificate, for the message and the exit code. */
export type ProbeFailure = 'plaintext' | 'no-starttls' | 'timeout' | 'protocol' | 'network';

export class ProbeError extends Error {
  constructor(
    message: string,
    readonly failure: ProbeFailure,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

// OpenSSL's verdicts on a first reply that is not a TLS record: a server that greets in
// plain text ("220 ...") or answers the ClientHello with an HTTP or SMTP error line.
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE', 'ERR_SSL_UNEXPECTED_RECORD', 'ERR_SSL_UNKNOWN_PROTOCOL']);

/**
 * Connects to an upstream (implicit TLS, or SMTP with STARTTLS) and reads its
 * certificate chain without trusting it, for `annunciator trust`. Every socket it opened is
 * destroyed when it returns or throws, whatever the stage: a socket left open would keep
 * the command running after it has said why it failed. Throws a ProbeError.
 */
export async function probeCertificate(host: string, port: number, options: { starttls: boolean; timeout: number }): Promise<ProbeResult> {
  const servername = isIP(host) === 0 ? host : undefined;
  const sockets: Socket[] = [];
  const track = <S extends Socket>(socket: S): S => {
    sockets.push(socket);
    return socket;
  };
  let stage = options.starttls ? 'connection' : 'TLS handshake';
  try {
    const socket = await withTimeout(
      options.timeout,
      () => new ProbeError(`no ${stage} from ${host}:${port} within ${options.timeout} ms`, 'timeout'),
      async () => {
        if (!options.starttls) {
          return handshake(track(tlsConnect({ host, port, servername, rejectUnauthorized: false })));
        }
        const plain = track(netConnect({ host, port }));
        const reader = lineReader(plain);
        await new Promise<void>((resolve, reject) => {
          plain.once('connect', resolve);
          plain.once('error', reject);
        });
        stage = 'SMTP greeting';
        await expectReply(reader, 220, 'the greeting');
        stage = 'reply to EHLO';
        plain.write('EHLO annunciator.trust\r\n');
        const ehlo = await expectReply(reader, 250, 'EHLO');
        if (!/^250[- ]STARTTLS\b/im.test(ehlo)) {
          const offered = ehlo.split('\n').slice(1).map((line) => line.slice(4).trim()).filter(Boolean);
          throw new ProbeError(`${host}:${port} does not offer STARTTLS${offered.length > 0 ? ` (it offers ${offered.join(', ')})` : ''}; without --starttls the port is tried with implicit TLS`, 'no-starttls');
        }
        stage = 'reply to STARTTLS';
        plain.write('STARTTLS\r\n');
        await expectReply(reader, 220, 'STARTTLS');
        reader.detach();
        stage = 'TLS handshake';
        return handshake(track(tlsConnect({ socket: plain, servername, rejectUnauthorized: false })));
      },
    );
    const chain = chainOf(socket.getPeerCertificate(true));
    return {
      chain,
      trusted: socket.authorized,
      verifyError: socket.authorized ? undefined : String(socket.authorizationError ?? 'not trusted'),
      protocol: socket.getProtocol(),
    };
  } catch (error) {
    if (error instanceof ProbeError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!options.starttls && NOT_TLS.has(code)) {
      throw new ProbeError(`${host}:${port}: this port speaks plaintext, not TLS; try --starttls`, 'plaintext');
    }
    throw new ProbeError(`${host}:${port}: ${error instanceof Error ? error.message : String(error)}`, 'network');
  } finally {
    // Outermost first: a TLS socket takes the plain one it wraps down with it, and
    // destroying a wrapped socket under a live TLS socket crashes Node 20 (SIGSEGV).
    for (const socket of sockets.reverse()) if (!socket.destroyed) socket.destroy();
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
  let closed: Error | undefined;
  const onEnd = (error?: Error): void => {
    closed = error ?? new Error('the server closed the connection');
    for (const waiter of waiting.splice(0)) waiter.reject(closed);
  };
  const onError = (error: Error): void => onEnd(error);
  const onClose = (): void => onEnd();
  socket.on('data', onData);
  socket.on('end', onClose);
  socket.on('close', onClose);
  // Without a listener a reset after the greeting would be an uncaught exception.
  socket.on('error', onError);
  return {
    next: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (closed) return Promise.reject(closed);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    detach: () => {
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
      socket.off('error', onError);
    },
  };
}

async function expectReply(reader: LineReader, code: number, stage: string): Promise<string> {
  let text = '';
  for (;;) {
    const line = await reader.next();
    text += `${line}\n`;
    if (line.length >= 4 && line[3] === '-') continue;
    if (!line.startsWith(String(code))) throw new ProbeError(`unexpected reply to ${stage}: ${line}`, 'protocol');
    return text;
  }
}

async function withTimeout<T>(ms: number, failure: () => Error, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(failure()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

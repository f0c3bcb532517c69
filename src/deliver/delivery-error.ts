/**
 * How one try against one upstream account ended, when it did not end in `250`:
 * - `failover`: the account itself could not be used (connection, TLS, authentication);
 *   the next account is tried, and if none works the entry retries later.
 * - `transient`: the upstream said 4xx to the message; retry later with backoff.
 * - `permanent`: the upstream said 5xx to the message; the entry fails now.
 */
export type FailureKind = 'failover' | 'transient' | 'permanent';

export interface DeliveryFailure {
  kind: FailureKind;
  reason: string;
  responseCode?: number;
}

const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'ETLS', 'EAUTH', 'ENOAUTH', 'EOAUTH2', 'EPROTOCOL', 'EGREETING']);

interface NodemailerError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

export function classifyDeliveryError(error: unknown): DeliveryFailure {
  const e = (error ?? {}) as NodemailerError;
  const reason = oneLine(e.response ?? e.message ?? String(error));
  const code = e.code ?? '';
  const stage = (e.command ?? '').split(' ')[0]?.toUpperCase() ?? '';
  // Authentication and the connection belong to the account, whatever reply code came with them.
  if (code === 'EAUTH' || code === 'ENOAUTH' || code === 'EOAUTH2' || stage === 'AUTH' || stage === 'CONN' || stage === 'STARTTLS') {
    return { kind: 'failover', reason: `${code || stage}: ${reason}`, responseCode: e.responseCode };
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) {
    return { kind: e.responseCode >= 500 ? 'permanent' : 'transient', reason, responseCode: e.responseCode };
  }
  if (CONNECTION_CODES.has(code) || /certificate|self.signed|TLS|SSL|handshake/i.test(reason)) {
    return { kind: 'failover', reason: code ? `${code}: ${reason}` : reason };
  }
  return { kind: 'transient', reason: code ? `${code}: ${reason}` : reason };
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

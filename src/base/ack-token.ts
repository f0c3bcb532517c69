import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed, expiring acknowledgement tokens for the links in notifications. Pure: the key
 * and the time are arguments. A token is `PAYLOAD.SIGNATURE`, both base64url (no
 * padding), so it needs no escaping in a URL path: PAYLOAD is the claims as JSON,
 * SIGNATURE the HMAC-SHA256 of a fixed label and PAYLOAD under the link secret.
 * The claims are signed, not encrypted: a token reveals the alarm (or batch) id and
 * receiver name to whoever holds it, which a notification's reader already knows.
 *
 * A token names either one alarm (an alarm's notification) or one batch (a group or digest
 * notification, acknowledging every alarm it listed). The two use different payload fields
 * (`a`, `b`), so neither can be read as the other; alarm tokens are unchanged.
 */

interface ClaimsBase {
  /** The receiver the link was sent to, recorded as who acknowledged. */
  receiver: string;
  /** Epoch ms; the token is refused from this instant on. */
  expiresAt: number;
}

/** A link that acknowledges one alarm. */
export interface AlarmAckClaims extends ClaimsBase {
  alarmId: string;
  batchId?: never;
}

/** A link that acknowledges every alarm a group or digest notification listed. */
export interface BatchAckClaims extends ClaimsBase {
  batchId: string;
  alarmId?: never;
}

export type AckClaims = AlarmAckClaims | BatchAckClaims;

export type AckTokenRefusal = 'malformed' | 'bad-signature' | 'expired';

export type AckTokenResult = { ok: true; claims: AckClaims } | { ok: false; reason: AckTokenRefusal };

/** The HMAC key: the link secret's bytes (a string is taken as UTF-8). */
export type AckKey = string | Buffer;

/** Separates these signatures from any other use of the same key. */
const LABEL = 'annunciator-ack-link-v1.';
const SIGNATURE_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Payload field names are short to keep links short. Exactly one of `a` (alarm id) and `b` (batch id). */
interface WirePayload {
  a?: string;
  b?: string;
  r: string;
  e: number;
}

export function signAckToken(claims: AckClaims, key: AckKey): string {
  // Alarm tokens keep the field order they always had: the same claims sign the same token.
  const wire: WirePayload = claims.batchId !== undefined ? { b: claims.batchId, r: claims.receiver, e: claims.expiresAt } : { a: claims.alarmId, r: claims.receiver, e: claims.expiresAt };
  const payload = Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
  return `${payload}.${signature(payload, key).toString('base64url')}`;
}

/**
 * Checks a token's shape, then its signature (in constant time), then its expiry: an
 * `expired` token was genuine, a `bad-signature` one forged, altered or signed with
 * another key.
 */
export function verifyAckToken(token: string, key: AckKey, now: number): AckTokenResult {
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'malformed' };
  const [payload, sig] = parts as [string, string];
  if (!BASE64URL.test(payload) || !BASE64URL.test(sig)) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== SIGNATURE_BYTES) return { ok: false, reason: 'malformed' };
  if (!timingSafeEqual(given, signature(payload, key))) return { ok: false, reason: 'bad-signature' };
  const claims = decodeClaims(payload);
  if (!claims) return { ok: false, reason: 'malformed' };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** The link a notification carries: `baseUrl` (no trailing slash needed) + `/ack/` + token. */
export function ackUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/ack/${token}`;
}

function signature(payload: string, key: AckKey): Buffer {
  return createHmac('sha256', key).update(LABEL).update(payload).digest();
}

function decodeClaims(payload: string): AckClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { a, b, r, e } = value as Partial<Record<keyof WirePayload, unknown>>;
  if (typeof r !== 'string' || typeof e !== 'number' || !Number.isFinite(e)) return undefined;
  if (a !== undefined && b !== undefined) return undefined;
  if (typeof a === 'string' && a !== '') return { alarmId: a, receiver: r, expiresAt: e };
  if (typeof b === 'string' && b !== '') return { batchId: b, receiver: r, expiresAt: e };
  return undefined;
}

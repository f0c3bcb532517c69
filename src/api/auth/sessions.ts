import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { LoginSession } from '../../store/store.js';

/** The cookie that carries a console login. */
export const SESSION_COOKIE = 'annunciator_session';

/** However busy, a login ends this long after it was made: a stolen cookie does not last for ever. */
export const SESSION_ABSOLUTE_LIFETIME = 7 * 86_400_000;

/**
 * Use of a session is written back at most this often, so a console polling every few
 * seconds does not write to the store on every request; idle expiry is this much coarse.
 */
export const SESSION_TOUCH_INTERVAL = 60_000;

/** A new session id: 256 random bits, base64url, what the cookie carries. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** What the store keeps instead of the id: a copy of the database logs nobody in. */
export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/**
 * The session's CSRF token, derived from the id (which only the browser and this server
 * know), so it need not be stored and a copy of the store cannot forge it.
 */
export function csrfTokenFor(id: string): string {
  return createHmac('sha256', id).update('annunciator csrf token').digest('base64url');
}

/** When `session` ends unless used again: idle for `lifetime`, or the absolute cap, whichever is first. */
export function sessionExpiresAt(session: Pick<LoginSession, 'createdAt' | 'lastSeenAt'>, lifetime: number): number {
  return Math.min(session.lastSeenAt + lifetime, session.createdAt + SESSION_ABSOLUTE_LIFETIME);
}

/** One cookie's value from a Cookie header (RFC 6265 pairs separated by `;`). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/**
 * The Set-Cookie value for a session: HttpOnly (no script reads it), SameSite=Strict (no
 * other site's page sends it), Path=/ (the console and the API). `secure` when the
 * browser reaches the gateway over HTTPS (its own TLS, or a proxy named in http.baseUrl):
 * a browser drops a Secure cookie set over plain HTTP on a LAN address, so it is not set
 * there.
 */
export function sessionCookie(id: string, options: { secure: boolean; maxAgeSeconds: number }): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}${options.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that makes the browser forget the session. */
export function clearedSessionCookie(options: { secure: boolean }): string {
  return sessionCookie('', { ...options, maxAgeSeconds: 0 });
}

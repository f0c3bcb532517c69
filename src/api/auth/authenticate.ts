import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isLoopback } from '../../config/replies.js';
import type { HttpConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import type { LoginSessionRepository } from '../../store/store.js';
import type { Authenticate } from './guard.js';
import type { Principal } from './principal.js';
import { csrfTokenFor, hashSessionId, readCookie, SESSION_COOKIE, SESSION_TOUCH_INTERVAL, sessionExpiresAt } from './sessions.js';

export interface AuthenticatorOptions {
  /** The http section in force (read per request: a reload changes users, tokens and the session lifetime). */
  http(): HttpConfig;
  sessions: LoginSessionRepository;
  now(): number;
  logger: Logger;
}

/**
 * Who a request acts for, in this order:
 *  1. `Authorization: Bearer TOKEN`: one of `http.tokens` (a wrong token is nobody; it
 *     does not fall back to a cookie).
 *  2. The session cookie of a login (POST /api/v1/login) that has not expired and whose
 *     user is still configured; the role is the user's role in the configuration now.
 *  3. With neither users nor tokens configured (loopback only, config/load.ts sees to
 *     it): the admin `local`, provided the server is bound to loopback and the request
 *     came from it (a reload may remove every user while the listen address, applied only
 *     at a restart, is still open to the network: then nobody gets in), and it names this
 *     host (Host header), so a web page under another name that resolves to 127.0.0.1
 *     (DNS rebinding) gets nothing.
 */
export function gatewayAuthenticator(options: AuthenticatorOptions): Authenticate {
  return async (req) => {
    const http = options.http();
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const bearer = /^Bearer +(\S+) *$/i.exec(authorization);
      return bearer ? matchToken(http, bearer[1]!) : undefined;
    }
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (id !== undefined && http.users.length > 0) {
      const principal = await fromSession(id, http, options);
      if (principal) return principal;
    }
    if (http.users.length + http.tokens.length === 0 && isLoopback(http.listen.address) && isLoopback(peerAddress(req)) && namesThisHost(req, http)) return { name: 'local', role: 'admin', via: 'loopback' };
    return undefined;
  };
}

/** The token's principal; every configured token is compared (as SHA-256, constant time), so timing tells nothing about which came close. */
function matchToken(http: HttpConfig, presented: string): Principal | undefined {
  const digest = sha256(presented);
  let found: Principal | undefined;
  for (const token of http.tokens) {
    if (timingSafeEqual(digest, sha256(token.token.reveal())) && !found) found = { name: token.name, role: token.role, via: 'token' };
  }
  return found;
}

async function fromSession(id: string, http: HttpConfig, options: AuthenticatorOptions): Promise<Principal | undefined> {
  // A cookie value we never made: not worth a store read.
  if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
  const idHash = hashSessionId(id);
  const session = await options.sessions.get(idHash);
  if (!session) return undefined;
  const now = options.now();
  const user = http.users.find((u) => u.name === session.name);
  const expiresAt = sessionExpiresAt(session, http.sessionLifetime);
  if (!user || expiresAt <= now) {
    await options.sessions.delete(idHash);
    options.logger.info({ user: session.name, reason: user ? 'expired' : 'user no longer configured' }, 'login session ended');
    return undefined;
  }
  let lastSeenAt = session.lastSeenAt;
  if (now - session.lastSeenAt >= SESSION_TOUCH_INTERVAL) {
    await options.sessions.touch(idHash, now);
    lastSeenAt = now;
  }
  return { name: user.name, role: user.role, via: 'session', session: { idHash, csrfToken: csrfTokenFor(id), expiresAt: sessionExpiresAt({ createdAt: session.createdAt, lastSeenAt }, http.sessionLifetime) } };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Whether the Host header names this host (a loopback name or address) or the host of http.baseUrl. */
export function namesThisHost(req: FastifyRequest, http: HttpConfig): boolean {
  const host = hostOf(req.headers.host);
  if (host === undefined) return false;
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  return http.links !== undefined && new URL(http.links.baseUrl).hostname.toLowerCase() === host;
}

/** The host name of a Host header (`name:port`, `[v6]:port`), lower case, without brackets. */
function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    return new URL(`http://${header}`).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/** The remote address without the IPv4-mapped prefix (`::ffff:127.0.0.1`). */
function peerAddress(req: FastifyRequest): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

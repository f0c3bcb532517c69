import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../log/logger.js';
import { crossSiteRefusal } from './origin.js';
import { allows, type Principal } from './principal.js';

/**
 * Who is asking (auth/authenticate.ts): a bearer token, a login's session cookie, or,
 * without users or tokens configured (allowed on a loopback address only, config/load.ts
 * refuses anything else), everyone on this host as the admin `local`.
 */
export type Authenticate = (req: FastifyRequest) => Promise<Principal | undefined>;

export interface GuardOptions {
  /** Origins besides the server's own that browsers may act from (that of http.baseUrl, behind a reverse proxy). */
  trustedOrigins?: () => readonly string[];
  /** Where refusals of cross-site requests are logged. */
  logger?: Logger;
}

/** Methods that change something: they need proof that the user's own page sent them. */
export const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Every route that declares `config.role` is checked before its handler: no principal
 * 401, too small a role 403. Routes without a role are public.
 *
 * An unsafe method acting by cookie (or as the loopback `local`) is refused with 403 when
 * a browser sent it from another site (Origin / Sec-Fetch-Site), and by cookie also
 * without the session's `X-CSRF-Token`: the cookie is SameSite=Strict already, the
 * token holds where SameSite does not (older browsers, a sibling site). A bearer token
 * is never sent by a browser on its own, so it needs neither.
 */
export function installGuard(app: FastifyInstance, authenticate: Authenticate, options: GuardOptions = {}): void {
  app.addHook('onRequest', async (req: FastifyRequest, res: FastifyReply) => {
    const need = req.routeOptions.config.role;
    if (!need) return;
    const principal = await authenticate(req);
    if (!principal) {
      await res.code(401).header('Cache-Control', 'no-store').send({ error: 'not logged in: log in (POST /api/v1/login) or send Authorization: Bearer TOKEN' });
      return res;
    }
    req.principal = principal;
    if (UNSAFE_METHODS.has(req.method) && principal.via !== 'token') {
      const refusal = crossSiteRefusal(req, options.trustedOrigins?.() ?? []) ?? (principal.session ? csrfRefusal(req, principal.session.csrfToken) : undefined);
      if (refusal) {
        options.logger?.warn({ user: principal.name, peer: req.socket.remoteAddress, origin: req.headers.origin }, refusal);
        await res.code(403).header('Cache-Control', 'no-store').send({ error: refusal });
        return res;
      }
    }
    if (!allows(principal.role, need)) {
      await res.code(403).header('Cache-Control', 'no-store').send({ error: `${principal.name} is a ${principal.role}; this needs the role ${need}` });
      return res;
    }
  });
}

function csrfRefusal(req: FastifyRequest, expected: string): string | undefined {
  const sent = req.headers['x-csrf-token'];
  if (typeof sent !== 'string' || sent === '') return 'missing X-CSRF-Token header: send the csrfToken that POST /api/v1/login (or GET /api/v1/session) returned';
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return 'wrong X-CSRF-Token: send the csrfToken of this login (GET /api/v1/session returns it)';
  return undefined;
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpConfig } from '../../config/types.js';
import { allows, type Principal } from './principal.js';

/**
 * Who is asking: without users or tokens configured (allowed on a loopback address only,
 * config/load.ts refuses anything else) everyone on this host acts as the admin `local`.
 */
export type Authenticate = (req: FastifyRequest) => Promise<Principal | undefined>;

export function loopbackOrNobody(http: () => HttpConfig): Authenticate {
  return async () => {
    const { users, tokens } = http();
    if (users.length + tokens.length === 0) return { name: 'local', role: 'admin', via: 'loopback' };
    return undefined;
  };
}

/**
 * Every route that declares `config.role` is checked before its handler: no principal
 * 401, too small a role 403. Routes without a role are public.
 */
export function installGuard(app: FastifyInstance, authenticate: Authenticate): void {
  app.addHook('onRequest', async (req: FastifyRequest, res: FastifyReply) => {
    const need = req.routeOptions.config.role;
    if (!need) return;
    const principal = await authenticate(req);
    if (!principal) {
      await res.code(401).header('Cache-Control', 'no-store').send({ error: 'not logged in: log in (POST /api/v1/login) or send Authorization: Bearer TOKEN' });
      return res;
    }
    req.principal = principal;
    if (!allows(principal.role, need)) {
      await res.code(403).header('Cache-Control', 'no-store').send({ error: `${principal.name} is a ${principal.role}; this needs the role ${need}` });
      return res;
    }
  });
}

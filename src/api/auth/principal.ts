import type { Role } from '../../config/schema.js';

export type { Role };

/** Who a request acts for: a logged-in person, a script's token, or anyone on loopback when no users are configured. */
export interface Principal {
  name: string;
  role: Role;
  via: 'session' | 'token' | 'loopback';
  /** With `via: 'session'`: the login, for the CSRF check, logout and GET /session. */
  session?: { idHash: string; csrfToken: string; expiresAt: number };
}

const RANK: Record<Role, number> = { viewer: 0, responder: 1, admin: 2 };

/** Whether `have` may do what needs `need`: admin > responder > viewer. */
export function allows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard (auth/guard.ts) on every route that declares a role. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; a route without one is public (health, ack links, login). */
    role?: Role;
  }
}

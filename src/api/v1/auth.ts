import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isPasswordHash, parsePasswordHash, verifyPassword, DEFAULT_LOG_N, type PasswordHash } from '../../base/password-hash.js';
import type { HttpConfig } from '../../config/types.js';
import { auditAct } from '../audit.js';
import { LoginLimiter } from '../auth/login-limit.js';
import { crossSiteRefusal } from '../auth/origin.js';
import { clearedSessionCookie, csrfTokenFor, hashSessionId, newSessionId, SESSION_ABSOLUTE_LIFETIME, sessionCookie, sessionExpiresAt } from '../auth/sessions.js';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339, Time } from './schemas.js';

const Role = z.enum(['viewer', 'responder', 'admin']);
const Via = z.enum(['session', 'token', 'loopback']);
const LoginBody = z.object({ name: z.string().min(1).max(200), password: z.string().max(1024) });
const LoggedIn = z.object({ name: z.string(), role: Role, csrfToken: z.string(), expiresAt: Time }).meta({ id: 'Login' });
const SessionBody = z
  .object({
    name: z.string(),
    role: Role,
    via: Via,
    csrfToken: z.string().optional().describe('with via session: the X-CSRF-Token for POST, PUT, PATCH and DELETE'),
    expiresAt: Time.optional().describe('with via session: when the login ends unless used again'),
  })
  .meta({ id: 'Session' });

/** Sessions pruned per login: the table stays small without a timer of its own. */
const PRUNE_PER_LOGIN = 100;
const WRONG = 'wrong name or password';

/**
 * Logins for the console and scripts that prefer a session: POST /login, POST /logout,
 * GET /session. Login is rate limited per remote address and per name tried, and a name
 * that does not exist costs the same scrypt as a wrong password, so neither the answer
 * nor its timing tells which names exist.
 */
export async function registerAuthRoutes(app: FastifyInstance, context: ApiContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const limiter = new LoginLimiter(() => context.now());
  const http = (): HttpConfig => {
    const section = context.config().http;
    if (!section) throw new Error('API v1 runs without an http section');
    return section;
  };
  const secure = (): boolean => {
    const section = http();
    return section.tls !== undefined || section.links?.baseUrl.startsWith('https:') === true;
  };
  const trustedOrigins = (): string[] => {
    const links = http().links;
    return links ? [new URL(links.baseUrl).origin] : [];
  };

  api.post(
    '/login',
    {
      schema: {
        summary: 'Log in: sets the session cookie and returns the CSRF token for unsafe methods',
        tags: ['auth'],
        security: [],
        body: LoginBody,
        response: { 200: LoggedIn, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, res) => {
      const peer = req.socket.remoteAddress ?? 'unknown';
      const name = req.body.name;
      const crossSite = crossSiteRefusal(req, trustedOrigins());
      if (crossSite) {
        context.logger.warn({ user: name, peer, origin: req.headers.origin }, `login ${crossSite}`);
        return res.code(403).send({ error: crossSite });
      }
      const keys = [`peer:${peer}`, `name:${name.toLowerCase()}`];
      const wait = limiter.wait(keys);
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000);
        context.logger.warn({ user: name, peer, retryAfter: seconds }, 'login refused: too many failed logins from this address or for this name');
        return res.code(429).header('Retry-After', String(seconds)).send({ error: `too many failed logins; try again in ${seconds} s` });
      }
      const section = http();
      const user = section.users.find((u) => u.name === name);
      const stored = user ? parsePasswordHash(user.passwordHash.reveal()) : undefined;
      const good = await verifyPassword(req.body.password, stored && isPasswordHash(stored) ? stored : decoy(section));
      if (!user || !good) {
        limiter.fail(keys);
        context.logger.warn({ user: name, peer }, 'login failed: wrong name or password');
        // The actor is the name tried (cut short: it is whatever the client sent), never the password.
        await context.store.audit
          .record({ at: context.now(), actor: name.slice(0, 100), via: 'login', peer, action: 'login.failed', target: null, detail: { reason: user ? 'wrong password' : 'no such user' } })
          .catch((error: unknown) => context.logger.error({ err: error }, 'a failed login could not be written to the audit log'));
        return res.code(401).header('Cache-Control', 'no-store').send({ error: WRONG });
      }
      limiter.succeed(keys);
      const now = context.now();
      const id = newSessionId();
      const idHash = hashSessionId(id);
      await context.store.loginSessions.create({ idHash, name: user.name, createdAt: now, lastSeenAt: now, peer });
      const pruned = await context.store.loginSessions.prune(now - section.sessionLifetime, now - SESSION_ABSOLUTE_LIFETIME, PRUNE_PER_LOGIN);
      const expiresAt = sessionExpiresAt({ createdAt: now, lastSeenAt: now }, section.sessionLifetime);
      req.principal = { name: user.name, role: user.role, via: 'session' };
      context.logger.info({ user: user.name, role: user.role, peer, prunedSessions: pruned }, 'logged in');
      await auditAct(context, req, now, { action: 'login', detail: { role: user.role } });
      return res
        .header('Set-Cookie', sessionCookie(id, { secure: secure(), maxAgeSeconds: SESSION_ABSOLUTE_LIFETIME / 1000 }))
        .header('Cache-Control', 'no-store')
        .send({ name: user.name, role: user.role, csrfToken: csrfTokenFor(id), expiresAt: rfc3339(expiresAt) });
    },
  );

  api.post(
    '/logout',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'End this login (the session cookie)',
        tags: ['auth'],
        response: { 200: z.object({ ended: z.boolean() }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, res) => {
      const principal = req.principal!;
      if (!principal.session) return res.code(400).send({ error: `${principal.name} is known by ${principal.via}, not by a login: there is nothing to log out of` });
      const ended = await context.store.loginSessions.delete(principal.session.idHash);
      context.logger.info({ user: principal.name, peer: req.socket.remoteAddress }, 'logged out');
      await auditAct(context, req, context.now(), { action: 'logout' });
      return res.header('Set-Cookie', clearedSessionCookie({ secure: secure() })).header('Cache-Control', 'no-store').send({ ended });
    },
  );

  api.get(
    '/session',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Who is logged in, with the CSRF token and when the login ends; 401 when nobody (the console then shows its login)',
        tags: ['auth'],
        response: { 200: SessionBody, 401: ErrorBody },
      },
    },
    async (req, res) => {
      const p = req.principal!;
      return res.header('Cache-Control', 'no-store').send({
        name: p.name,
        role: p.role,
        via: p.via,
        ...(p.session ? { csrfToken: p.session.csrfToken, expiresAt: rfc3339(p.session.expiresAt) } : {}),
      });
    },
  );
}

/**
 * What a name that does not exist is checked against: random bytes under the cost of the
 * configured users' hashes (the first user's, else the default), so the answer takes as
 * long as for a wrong password.
 */
function decoy(http: HttpConfig): PasswordHash {
  const first = http.users[0] ? parsePasswordHash(http.users[0].passwordHash.reveal()) : undefined;
  const params = first && isPasswordHash(first) ? first : { N: 2 ** DEFAULT_LOG_N, r: 8, p: 1 };
  return { N: params.N, r: params.r, p: params.p, salt: randomBytes(16), hash: randomBytes(32) };
}


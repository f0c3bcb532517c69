import type { FastifyRequest } from 'fastify';

/**
 * Whether a browser sent this request from another site, which may not act with the
 * user's cookie (or as the loopback `local`): the Origin must be this server as the
 * browser addressed it (scheme, Host header) or the origin of http.baseUrl (a reverse
 * proxy in front); without an Origin, Sec-Fetch-Site must not say another site. A
 * request with neither header is not from a browser page (curl, a script) and passes.
 * Returns the reason to refuse, or undefined.
 */
export function crossSiteRefusal(req: FastifyRequest, trustedOrigins: readonly string[]): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const own = `${req.protocol}://${req.headers.host ?? ''}`.toLowerCase();
    const allowed = [own, ...trustedOrigins.map((o) => o.toLowerCase())];
    if (allowed.includes(origin.toLowerCase())) return undefined;
    return `refused: a request from another site (Origin ${origin.slice(0, 200)}) may not act here`;
  }
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `refused: a request from another site (Sec-Fetch-Site ${site}) may not act here`;
  return undefined;
}

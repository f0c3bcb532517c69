import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console: a page and its ES modules and styles, served by the gateway itself
 * (plant LANs are offline: no CDN, no fonts from elsewhere). The files sit beside this
 * module (src/api/console/assets/, copied to dist/ by scripts/build.mjs) and are read once
 * at start; the page talks to API v1 and follows GET /api/v1/events.
 */

/** Where the assets are: beside this module in src/ and in dist/ alike. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
};

/**
 * Scripts and styles from this origin only, no inline script or style, no framing, no
 * other origin to talk to: a device's text that slipped through as markup could not run.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name.split('\\').join('/'), { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

/**
 * `/` is the console's page (its routes are in the URL's fragment), `/console/FILE` its
 * modules and styles. Names are not hashed, so every response is revalidated (no-cache
 * with an ETag: a 304 costs a round trip, a new version shows at the next load).
 */
export async function registerConsole(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const assets = loadAssets(options.dir ?? ASSETS_DIR);
  const index = assets.get('index.html');
  if (!index) throw new Error(`the console's index.html is missing in ${options.dir ?? ASSETS_DIR}`);

  const serve = (req: FastifyRequest, res: FastifyReply, asset: Asset) => {
    res.headers({ ...SECURITY_HEADERS, 'Cache-Control': 'no-cache', ETag: asset.etag });
    if (req.headers['if-none-match'] === asset.etag) return res.code(304).send();
    return res.type(asset.type).send(asset.body);
  };
  app.get('/', { exposeHeadRoute: true }, async (req, res) => serve(req, res, index));
  app.get('/console/*', { exposeHeadRoute: true }, async (req, res) => {
    const name = (req.params as { '*': string })['*'];
    const asset = name === 'index.html' ? undefined : assets.get(name);
    if (!asset) return res.code(404).headers(SECURITY_HEADERS).type('text/plain; charset=utf-8').send('There is no such file of the console.\n');
    return serve(req, res, asset);
  });
}

import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Secret } from '../config/secret.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import type { Acknowledge } from '../lifecycle/ack.js';
import { notFoundPage, plainPage, type PageFormat } from './ack-page.js';
import { registerAckLinks, send } from './ack-links.js';
import { installGuard, type Authenticate } from './auth/guard.js';
import type { ApiContext } from './context.js';
import { registerOperatorRoutes, type MetricsSource, type Readiness } from './operator-routes.js';

export type { MetricsSource, Readiness };

/**
 * The one HTTP server (config `http`): the console, API v1 under `/api/v1` (its OpenAPI
 * document at `/api/v1/openapi.json`), the operator's endpoints (`/-/healthy`,
 * `/-/ready`, `/metrics`, like Alertmanager) and the acknowledgement links.
 *
 * Built on fastify 5: schemas declared once per route (zod, as the configuration) validate
 * requests, serialize responses and make the OpenAPI document; its encapsulation keeps the
 * links' no-body parsing apart from the API's JSON; and its hooks carry the guard that
 * checks each route's declared role (docs/development.md says more).
 */
export interface HttpServerOptions {
  listen: { address: string; port: number };
  /** TLS for the server itself (PEM). */
  tls?: { cert: string; key: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  /** The link key (`http.linkSecret`); without it `/ack/` is not served. */
  linkKey?: Secret;
  store: Pick<Store, 'alarms' | 'batches'>;
  acknowledge: Acknowledge;
  logger: Logger;
  format: PageFormat;
  now?: () => number;
  /** What `/-/ready` reports; without it the gateway is ready when it serves. */
  readiness?: () => Promise<Readiness>;
  /** What `/metrics` serves; without it `/metrics` is not found. */
  metrics?: MetricsSource;
  /** API v1 and the console; without it only the links and the operator's endpoints. */
  api?: { context: ApiContext; authenticate: Authenticate };
}

export interface HttpServer {
  address(): AddressInfo;
  /** The fastify instance, for `inject` in tests and the OpenAPI document. */
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const app = Fastify({
    // Ack tokens (claims and HMAC in base64url) are longer than find-my-way's default of 100.
    routerOptions: { maxParamLength: 4096 },
    requestTimeout: 30_000,
    exposeHeadRoutes: false,
    logger: false,
    bodyLimit: 1024 * 1024,
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key, minVersion: options.tls.minVersion } } : {}),
    // A malformed path is a page that is not there, as before the move to fastify.
    frameworkErrors: (error, req, reply) => {
      // The reply's generic types are those of a route not yet known; this is any route's reply.
      const res = reply as unknown as FastifyReply;
      if (req.url.startsWith('/api/')) void res.code(error.statusCode ?? 400).send({ error: error.message });
      else if (error.code === 'FST_ERR_BAD_URL') send(res, notFoundPage('There is no page here.'));
      else send(res, plainPage(error.statusCode ?? 400, 'Bad request', 'The gateway could not read this request.'));
    },
  });
  app.server.headersTimeout = 15_000;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', undefined);

  // One handler for every route, set before they are registered (a plugin keeps the handler
  // in force when it was registered): a JSON endpoint answers `{ error }`, a
  // page a page; a refusal (4xx, a schema's 400 with the reason) is not the gateway's failure.
  app.setErrorHandler((error, req, res) => {
    const json = req.url.startsWith('/api/') || req.url.startsWith('/-/');
    const message = error instanceof Error ? error.message : String(error);
    const validation = (error as { validation?: unknown }).validation !== undefined;
    const status = validation ? 400 : (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      if (json) void res.code(status).send({ error: validation ? `bad request: ${message}` : message });
      else send(res, plainPage(status, 'Bad request', 'The gateway could not read this request.'));
      return;
    }
    logger.error({ err: error, url: req.routeOptions.url }, 'HTTP request failed; answered 500');
    if (res.sent) return;
    if (json) void res.code(500).send({ error: 'the gateway could not handle this request; nothing may have been recorded, try again' });
    else send(res, plainPage(500, 'Error', 'The gateway could not handle this request. Nothing may have been recorded; try again.'));
  });

  if (options.api) {
    const context = options.api.context;
    installGuard(app, options.api.authenticate, {
      logger,
      // Behind a reverse proxy the browser's origin is that of http.baseUrl.
      trustedOrigins: () => {
        const links = context.config().http?.links;
        return links ? [new URL(links.baseUrl).origin] : [];
      },
    });
    const { registerApiV1 } = await import('./v1/routes.js');
    await app.register(async (scope) => registerApiV1(scope, options.api!.context), { prefix: '/api/v1' });
    // At the root as in Alertmanager, guarded like the API (admin); the same as POST /api/v1/reload.
    const { registerReload } = await import('./v1/reload.js');
    await app.register(async (scope) => registerReload(scope, options.api!.context, '/-/reload'));
    const { registerConsole } = await import('./console/serve.js');
    await app.register(async (scope) => registerConsole(scope));
  }
  if (options.linkKey) {
    const key = options.linkKey;
    await app.register(async (scope) => registerAckLinks(scope, { key, store: options.store, acknowledge: options.acknowledge, logger, format: options.format, now }));
  }
  await app.register(async (scope) => registerOperatorRoutes(scope, { ...(options.readiness ? { readiness: options.readiness } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) }));

  app.setNotFoundHandler((req, res) => {
    if (req.url.startsWith('/api/')) void res.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` });
    else send(res, notFoundPage('There is no page here. Acknowledgement links look like /ack/TOKEN.'));
  });
  try {
    await app.listen({ port: options.listen.port, host: options.listen.address });
  } catch (error) {
    await app.close();
    throw error;
  }
  app.server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));
  logger.info({ address: app.server.address(), tls: options.tls !== undefined, api: options.api !== undefined, links: options.linkKey !== undefined }, 'HTTP server listening');

  return {
    app,
    address: () => app.server.address() as AddressInfo,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

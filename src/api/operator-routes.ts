import type { FastifyInstance } from 'fastify';

/** Each part of the gateway `/-/ready` looks at, and why it is not ready (absent when it is). */
export type Readiness = Record<string, { ok: true } | { ok: false; reason: string }>;

export interface MetricsSource {
  readonly contentType: string;
  /** The exposition text, read at scrape time. */
  text(): Promise<string>;
}

/**
 * The operator's endpoints, public like Alertmanager's: `/-/healthy` (the process serves),
 * `/-/ready` (200, or 503 with a JSON body naming what is not ready) and `/metrics`
 * (Prometheus text). GET and HEAD, for load balancers that probe with HEAD.
 */
export async function registerOperatorRoutes(app: FastifyInstance, options: { readiness?: () => Promise<Readiness>; metrics?: MetricsSource }): Promise<void> {
  app.get('/-/healthy', { exposeHeadRoute: true }, async (_req, res) => {
    res.header('Cache-Control', 'no-store').type('text/plain; charset=utf-8').send('Annunciator is healthy.\n');
  });
  app.get('/-/ready', { exposeHeadRoute: true }, async (_req, res) => {
    const parts = (await options.readiness?.()) ?? {};
    const notReady = Object.fromEntries(Object.entries(parts).flatMap(([part, state]) => (state.ok ? [] : [[part, state.reason]])));
    const ready = Object.keys(notReady).length === 0;
    res.header('Cache-Control', 'no-store').code(ready ? 200 : 503).send(ready ? { status: 'ready' } : { status: 'not ready', notReady });
  });
  if (options.metrics) {
    const metrics = options.metrics;
    app.get('/metrics', async (_req, res) => {
      res.header('Cache-Control', 'no-store').type(metrics.contentType).send(await metrics.text());
    });
  }
}

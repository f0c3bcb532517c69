import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { VERSION } from '../../base/version.js';
import type { ApiContext } from '../context.js';
import { registerAlarmRoutes } from './alarms.js';
import { registerAuditLog } from './audit-log.js';
import { registerDeviceRoutes } from './devices.js';
import { registerInhibitions } from './inhibitions.js';
import { registerOnCall } from './oncall.js';
import { registerOutboxRoutes } from './outbox.js';
import { registerReload } from './reload.js';
import { registerRules } from './rules.js';
import { registerAuthRoutes } from './auth.js';
import { registerEventStream } from './events.js';
import { registerInfo } from './info.js';
import { registerDeliveryRoutes } from './delivery.js';
import { ErrorBody } from './schemas.js';
import { registerSilences } from './silences.js';

/**
 * API v1: every route declares its request and response schemas once (zod), which
 * validate, serialize and make `/api/v1/openapi.json`; and its least role in
 * `config.role`, which the guard (auth/guard.ts) checks. Errors are `{ error }` with the
 * status that fits: 400 bad input (with the reason), 401, 403, 404, 409.
 */
export async function registerApiV1(app: FastifyInstance, context: ApiContext): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Annunciator API', version: VERSION, description: 'The alarm gateway: alarms, acknowledgements, silences, on-call, the outbox, devices, rules, the audit log. Times are RFC 3339.' },
      servers: [{ url: '/api/v1' }],
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'annunciator_session', description: 'From POST /login; unsafe methods also need the X-CSRF-Token header it returned.' },
          token: { type: 'http', scheme: 'bearer', description: 'An API token from http.tokens.' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
    transform: jsonSchemaTransform,
  });
  const api = app.withTypeProvider<ZodTypeProvider>();

  await app.register(async (scope) => registerDeliveryRoutes(scope, context));

  api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await registerAuthRoutes(app, context);

  api.get(
    '/whoami',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Who this request acts as',
        tags: ['auth'],
        response: { 200: z.object({ name: z.string(), role: z.enum(['viewer', 'responder', 'admin']), via: z.enum(['session', 'token', 'loopback']) }), 401: ErrorBody },
      },
    },
    async (req) => req.principal!,
  );

  registerSilences(app, context);
  registerInhibitions(app, context);
  registerOnCall(app, context);
  registerRules(app, context);
  registerReload(app, context, '/reload');
  registerAuditLog(app, context);
  await registerAlarmRoutes(app, context);
  await registerDeviceRoutes(app, context);
  await registerOutboxRoutes(app, context);
  await registerInfo(app, context);
  await registerEventStream(app, context);
}

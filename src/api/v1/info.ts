import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { VERSION } from '../../base/version.js';
import type { ApiContext } from '../context.js';
import { ErrorBody } from './schemas.js';

const Info = z
  .object({
    version: z.string(),
    gateway: z.string().describe('gateway.name, else gateway.hostname'),
    timeZone: z.string().describe('alarms.timeZone: every time people read is shown in it'),
    locale: z.string().describe('alarms.locale'),
    principal: z.object({ name: z.string(), role: z.enum(['viewer', 'responder', 'admin']), via: z.enum(['session', 'token', 'loopback']) }),
  })
  .meta({ id: 'Info' });

/** GET /info: what the console shows in its header and formats times with. */
export async function registerInfo(app: FastifyInstance, context: ApiContext): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/info',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Version, gateway name, time zone and locale', tags: ['info'], response: { 200: Info, 401: ErrorBody } },
    },
    async (req, res) => {
      const gateway = context.config().gateway;
      res.header('Cache-Control', 'no-store');
      return { version: VERSION, gateway: gateway.name ?? gateway.hostname, timeZone: context.format.timeZone, locale: context.format.locale, principal: req.principal! };
    },
  );
}

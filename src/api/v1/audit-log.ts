import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339, Time } from './schemas.js';

const AuditEntryBody = z
  .object({
    id: z.number().int(),
    at: Time,
    actor: z.string(),
    via: z.string().describe('session, token, loopback, link, mail, mqtt, cli'),
    peer: z.string().nullable(),
    action: z.string().describe('alarm.acknowledge, silence.create, silence.expire, outbox.retry, outbox.delete, reload, login, ...'),
    target: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'AuditEntry' });

/** `GET /api/v1/audit`: the audit log, newest first, a page at a time (admins). */
export function registerAuditLog(app: FastifyInstance, ctx: ApiContext): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/audit',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'The audit log, newest first; the next page with beforeId=nextBeforeId',
        tags: ['audit'],
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          beforeId: z.coerce.number().int().positive().optional().describe('entries older than this id'),
          action: z.string().optional(),
          actor: z.string().optional(),
          target: z.string().optional(),
        }),
        response: { 200: z.object({ entries: z.array(AuditEntryBody), nextBeforeId: z.number().int().nullable().describe('null on the last page') }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req) => {
      const { limit, beforeId, action, actor, target } = req.query;
      const entries = await ctx.store.audit.list({ limit, ...(beforeId !== undefined ? { beforeId } : {}), ...(action ? { action } : {}), ...(actor ? { actor } : {}), ...(target ? { target } : {}) });
      return {
        entries: entries.map((e) => ({ ...e, at: rfc3339(e.at) })),
        nextBeforeId: entries.length === limit ? (entries[entries.length - 1]?.id ?? null) : null,
      };
    },
  );
}

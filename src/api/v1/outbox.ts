import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { recordAct } from '../../pipeline/actor.js';
import { deleteOutboxEntry } from '../../pipeline/delete-outbox-entry.js';
import type { OutboxStatus, OutboxSummary } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import { plainJson } from './alarms.js';
import { requestActor } from './request-actor.js';
import { ErrorBody, rfc3339, rfc3339OrNull, Time } from './schemas.js';

const STATUSES = ['pending', 'sending', 'failed', 'sent'] as const;

const OutboxItem = z
  .object({
    id: z.string(),
    status: z.enum(STATUSES),
    alarmId: z.string().nullable(),
    batchId: z.string().nullable(),
    receivedId: z.string().nullable(),
    envelopeFrom: z.string(),
    recipients: z.array(z.string()),
    rejectedRecipients: z.array(z.string()),
    size: z.number().int().describe('bytes of the message'),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    lastAccount: z.string().nullable(),
    createdAt: Time,
    updatedAt: Time,
    nextAttemptAt: Time.nullable().describe('while pending'),
    sentAt: Time.nullable(),
  })
  .meta({ id: 'OutboxEntry' });

const Cursor = z.object({ createdAt: z.number().int(), id: z.string() });

/** The outbox in API v1: what waits, what failed, what went; retry and delete, each audited. */
export async function registerOutboxRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/outbox',
    {
      config: { role: 'viewer' },
      serializerCompiler: plainJson,
      schema: {
        summary: 'Outbox entries (without their messages), in the order queued, a page at a time',
        tags: ['outbox'],
        querystring: z.object({
          status: z.string().default('pending,sending,failed').describe('comma-separated: pending, sending, failed, sent'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().min(1).optional().describe("the previous page's `next`"),
        }),
        response: { 200: z.object({ entries: z.array(OutboxItem), next: z.string().nullable() }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, res) => {
      const statuses = [...new Set(req.query.status.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
      const unknown = statuses.find((s) => !(STATUSES as readonly string[]).includes(s));
      if (unknown !== undefined || statuses.length === 0) return res.code(400).send({ error: `status: "${unknown ?? ''}" is not one of ${STATUSES.join(', ')}` });
      let after: z.infer<typeof Cursor> | undefined;
      if (req.query.cursor !== undefined) {
        const parsed = Cursor.safeParse(safeJson(Buffer.from(req.query.cursor, 'base64url').toString('utf8')));
        if (!parsed.success) return res.code(400).send({ error: 'cursor: not a cursor this API gave (use the `next` of a page)' });
        after = parsed.data;
      }
      const limit = req.query.limit;
      const rows = await ctx.store.outbox.list(statuses as OutboxStatus[], { limit: limit + 1, ...(after ? { after } : {}) });
      const entries = rows.slice(0, limit);
      const last = entries[entries.length - 1];
      const next = rows.length > limit && last ? Buffer.from(JSON.stringify({ createdAt: last.createdAt, id: last.id })).toString('base64url') : null;
      return { entries: entries.map(outboxItem), next };
    },
  );

  api.post(
    '/outbox/retry',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'Make pending or failed entries due now (the delivery worker takes them at its next look)',
        tags: ['outbox'],
        body: z.union([z.object({ ids: z.array(z.string().min(1)).min(1).max(1000) }).strict(), z.object({ all: z.literal(true) }).strict()]),
        response: {
          200: z.object({
            retried: z.number().int(),
            results: z.array(z.object({ id: z.string(), outcome: z.enum(['retried', 'unknown', 'sent', 'sending']) })).describe('per id asked for; empty for all'),
          }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (req) => {
      const now = ctx.now();
      if ('all' in req.body) {
        const retried = await ctx.store.transaction(async (tx) => {
          const n = await tx.outbox.retryNow('all', now);
          await recordAct(tx, requestActor(req), now, 'outbox.retry', null, { all: true, entries: n });
          return n;
        });
        if (retried > 0) ctx.events.emit('retry-requested', { outboxIds: 'all' });
        return { retried, results: [] };
      }
      const ids = [...new Set(req.body.ids)];
      const outcome = await ctx.store.transaction(async (tx) => {
        const results: { id: string; outcome: 'retried' | 'unknown' | 'sent' | 'sending' }[] = [];
        for (const id of ids) {
          const entry = await tx.outbox.get(id);
          if (!entry) results.push({ id, outcome: 'unknown' });
          else if (entry.status === 'sent' || entry.status === 'sending') results.push({ id, outcome: entry.status });
          else results.push({ id, outcome: (await tx.outbox.retryNow([id], now)) > 0 ? 'retried' : 'unknown' });
        }
        const retried = results.filter((r) => r.outcome === 'retried').map((r) => r.id);
        if (retried.length > 0) await recordAct(tx, requestActor(req), now, 'outbox.retry', retried.length === 1 ? retried[0]! : null, { ids: retried, entries: retried.length });
        return { retried, results };
      });
      if (outcome.retried.length > 0) ctx.events.emit('retry-requested', { outboxIds: outcome.retried });
      return { retried: outcome.retried.length, results: outcome.results };
    },
  );

  api.delete(
    '/outbox/:id',
    {
      config: { role: 'responder' },
      schema: {
        summary: "Delete an entry (never one being sent); the history of each alarm it was about says so",
        tags: ['outbox'],
        params: z.object({ id: z.string().min(1) }),
        response: { 200: z.object({ deleted: z.string(), status: z.enum(STATUSES), alarmIds: z.array(z.string()) }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, res) => {
      const now = ctx.now();
      const who = req.principal?.name ?? 'anonymous';
      const result = await ctx.store.transaction(async (tx) => {
        const outcome = await deleteOutboxEntry(tx, req.params.id, `${who} via api`, now);
        if (outcome.outcome === 'deleted') {
          await recordAct(tx, requestActor(req), now, 'outbox.delete', req.params.id, { status: outcome.entry.status, recipients: outcome.entry.recipients, alarmIds: outcome.alarmIds });
        }
        return outcome;
      });
      if (result.outcome === 'unknown') return res.code(404).send({ error: `no outbox entry ${req.params.id}` });
      if (result.outcome === 'sending') return res.code(409).send({ error: `outbox entry ${req.params.id} is being sent right now; it cannot be stopped` });
      return { deleted: req.params.id, status: result.entry.status, alarmIds: result.alarmIds };
    },
  );
}

function outboxItem(e: OutboxSummary): z.infer<typeof OutboxItem> {
  return {
    id: e.id,
    status: e.status,
    alarmId: e.alarmId ?? null,
    batchId: e.batchId ?? null,
    receivedId: e.receivedId,
    envelopeFrom: e.envelopeFrom,
    recipients: e.recipients,
    rejectedRecipients: e.rejectedRecipients,
    size: e.size,
    attempts: e.attempts,
    lastError: e.lastError,
    lastAccount: e.lastAccount,
    createdAt: rfc3339(e.createdAt),
    updatedAt: rfc3339(e.updatedAt),
    nextAttemptAt: e.status === 'pending' ? rfc3339(e.nextAttemptAt) : null,
    sentAt: rfc3339OrNull(e.sentAt),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseMatcher, type Matcher } from '../../config/matcher.js';
import { SEVERITIES } from '../../config/schema.js';
import type { AckOutcome, AlarmActor } from '../../lifecycle/ack.js';
import type { Alarm, AlarmAck } from '../../lifecycle/alarm.js';
import { matches } from '../../lifecycle/alarm-matchers.js';
import { Effects } from '../../pipeline/effects.js';
import type { AlarmPageQuery } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import {
  Ack,
  AlarmDetail,
  AlarmSummary,
  HistoryEntry,
  NotificationState,
  ackView,
  alarmDetail,
  alarmSummary,
  decodeCursor,
  encodeCursor,
  historyView,
  kindOfMessage,
  notificationView,
} from './alarm-views.js';
import { ErrorBody, rfc3339, Time } from './schemas.js';

/** At most this many alarms are read for one page when matchers or text filter them after the store: a page that found too few says where to go on (`next`). */
const SCAN_BUDGET = 20_000;

/**
 * The list's response is built here from typed views (alarm-views.ts) that the compiler
 * holds to the schema; checking it again field by field at run time (zod, with a pattern
 * per time) cost more than the query for a page of 100 (4-6 ms of 8). The schema still
 * makes the OpenAPI document.
 */
export const plainJson = (): ((data: unknown) => string) => (data) => JSON.stringify(data);

const OneOrMany = z.union([z.string(), z.array(z.string())]);

const ListQuery = z.object({
  state: z.enum(['active', 'resolved', 'all']).default('active'),
  acknowledged: z.enum(['true', 'false']).optional(),
  severity: OneOrMany.optional().describe(`one or more of ${SEVERITIES.join(', ')} (repeat it or separate with commas)`),
  device: z.string().min(1).optional().describe("the device's id (any case)"),
  site: z.string().min(1).optional(),
  area: z.string().min(1).optional(),
  text: z.string().min(1).optional().describe('in the title or the text, without regard to case'),
  filter: OneOrMany.optional().describe('matchers as in silences: field=value, field!=value, field~regex (repeatable; all must hold)'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional().describe("the previous page's `next`"),
});

const AlarmId = z.object({ id: z.string().min(1) });
const Comment = z.string().trim().min(1).max(2000);

const AckResult = z
  .object({
    id: z.string(),
    outcome: z.enum(['recorded', 'already', 'unknown']).describe('recorded now; already acknowledged (ack says by whom, the first counts); unknown: no such alarm'),
    ack: Ack.nullable(),
  })
  .meta({ id: 'AckResult' });

/** Alarms in API v1: the list, one alarm with its history and notifications, and what a responder does to them. */
export async function registerAlarmRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/alarms',
    {
      config: { role: 'viewer' },
      serializerCompiler: plainJson,
      schema: {
        summary: 'Alarms, newest first, a page at a time',
        tags: ['alarms'],
        querystring: ListQuery,
        response: { 200: z.object({ alarms: z.array(AlarmSummary), next: z.string().nullable().describe('cursor of the next page; null on the last') }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, res) => {
      const q = req.query;
      const severities = listOf(q.severity);
      const unknown = severities?.find((s) => !(SEVERITIES as readonly string[]).includes(s));
      if (unknown !== undefined) return res.code(400).send({ error: `severity "${unknown}" is not one of ${SEVERITIES.join(', ')}` });
      const matchers: Matcher[] = [];
      for (const text of listOf(q.filter, false) ?? []) {
        const parsed = parseMatcher(text);
        if (!parsed.ok) return res.code(400).send({ error: `filter: ${parsed.problem}` });
        matchers.push(parsed.matcher);
      }
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      if (q.cursor !== undefined && !after) return res.code(400).send({ error: 'cursor: not a cursor this API gave (use the `next` of a page)' });
      const query: AlarmPageQuery = {
        states: q.state === 'all' ? [] : [q.state],
        ...(severities ? { severities: severities as Alarm['severity'][] } : {}),
        ...(q.device !== undefined ? { device: q.device } : {}),
        ...(q.site !== undefined ? { site: q.site } : {}),
        ...(q.area !== undefined ? { area: q.area } : {}),
        ...(q.acknowledged !== undefined ? { acknowledged: q.acknowledged === 'true' } : {}),
        limit: q.limit + 1,
        ...(after ? { after } : {}),
      };
      const needle = q.text?.toLowerCase();
      const keep =
        matchers.length === 0 && needle === undefined
          ? undefined
          : (a: Alarm): boolean => matchers.every((m) => matches(a, m)) && (needle === undefined || a.title.toLowerCase().includes(needle) || a.text.toLowerCase().includes(needle));
      const { alarms, next } = await pageOf(ctx, query, q.limit, keep);
      return { alarms: alarms.map(alarmSummary), next: next ? encodeCursor(next) : null };
    },
  );

  api.get(
    '/alarms/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One alarm with its history and the notifications sent for it, with their delivery state',
        tags: ['alarms'],
        params: AlarmId,
        response: { 200: z.object({ alarm: AlarmDetail, history: z.array(HistoryEntry), notifications: z.array(NotificationState) }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, res) => {
      const alarm = await ctx.store.alarms.get(req.params.id);
      if (!alarm) return res.code(404).send({ error: `no alarm ${req.params.id}` });
      const [history, entries] = await Promise.all([ctx.store.alarms.history(alarm.id), ctx.store.outbox.ofAlarm(alarm.id)]);
      const notifications = [];
      for (const entry of entries) {
        // A notification of its own names its kind in a header; a group's or digest's is the batch's kind.
        const kind = entry.batchKind ?? kindOfMessage((await ctx.store.outbox.get(entry.id))?.message ?? Buffer.alloc(0));
        notifications.push(notificationView(entry, kind));
      }
      return { alarm: alarmDetail(alarm), history: history.map(historyView), notifications };
    },
  );

  api.post(
    '/alarms/acknowledge',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'Acknowledge several alarms in one act (credited to the caller; the others who were told hear of it)',
        tags: ['alarms'],
        body: z.object({ ids: z.array(z.string().min(1)).min(1).max(1000), comment: Comment.optional() }),
        response: { 200: z.object({ results: z.array(AckResult) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req) => {
      const ids = [...new Set(req.body.ids)];
      const outcomes = await acknowledge(ctx, req, ids, req.body.comment);
      return { results: ids.map((id, i) => ackResult(id, outcomes[i]!)) };
    },
  );

  api.post(
    '/alarms/:id/acknowledge',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'Acknowledge one alarm',
        tags: ['alarms'],
        params: AlarmId,
        body: z.object({ comment: Comment.optional() }).optional(),
        response: { 200: AckResult, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, res) => {
      const [outcome] = await acknowledge(ctx, req, [req.params.id], req.body?.comment);
      if (!outcome || outcome.outcome === 'unknown-alarm') return res.code(404).send({ error: `no alarm ${req.params.id}` });
      return ackResult(req.params.id, outcome);
    },
  );

  api.post(
    '/alarms/unacknowledge',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'Take back the acknowledgements of several alarms in one act; each one\'s escalation resumes with the time it had left',
        tags: ['alarms'],
        body: z.object({ ids: z.array(z.string().min(1)).min(1).max(1000), comment: Comment.optional() }),
        response: {
          200: z.object({
            results: z.array(
              z.object({ id: z.string(), outcome: z.enum(['recorded', 'not-acknowledged', 'unknown']).describe('taken back now; was not acknowledged; no such alarm'), was: Ack.nullable() }),
            ),
          }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (req) => {
      const ids = [...new Set(req.body.ids)];
      const fx = new Effects();
      const outcomes = await ctx.store.transaction((tx) => ctx.pipeline.unacknowledge(tx, ids, actorOf(req), ctx.now(), fx, req.body.comment));
      fx.release(ctx.events);
      return {
        results: ids.map((id, i) => {
          const outcome = outcomes[i]!;
          if (outcome.outcome === 'recorded') return { id, outcome: 'recorded' as const, was: ackView(outcome.was) };
          return { id, outcome: outcome.outcome === 'unknown-alarm' ? ('unknown' as const) : ('not-acknowledged' as const), was: null };
        }),
      };
    },
  );

  api.post(
    '/alarms/comments',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'The same comment in the history of several alarms, in one act',
        tags: ['alarms'],
        body: z.object({ ids: z.array(z.string().min(1)).min(1).max(1000), text: Comment }),
        response: { 201: z.object({ by: z.string(), at: Time, text: z.string(), results: z.array(z.object({ id: z.string(), outcome: z.enum(['recorded', 'unknown']) })) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, res) => {
      const ids = [...new Set(req.body.ids)];
      const fx = new Effects();
      const now = ctx.now();
      const actor = actorOf(req);
      const outcomes = await ctx.store.transaction(async (tx) => {
        const done: Array<'recorded' | 'unknown'> = [];
        for (const id of ids) done.push((await ctx.pipeline.comment(tx, id, actor, req.body.text, now, fx)).outcome === 'recorded' ? 'recorded' : 'unknown');
        return done;
      });
      fx.release(ctx.events);
      return res.code(201).send({ by: actor.by, at: rfc3339(now), text: req.body.text, results: ids.map((id, i) => ({ id, outcome: outcomes[i]! })) });
    },
  );

  api.post(
    '/alarms/:id/unacknowledge',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'Take back the acknowledgement: the alarm is nobody\'s again and its escalation resumes with the time it had left',
        tags: ['alarms'],
        params: AlarmId,
        body: z.object({ comment: Comment.optional() }).optional(),
        response: {
          200: z.object({ id: z.string(), outcome: z.literal('recorded'), was: Ack, escalationResumed: z.boolean() }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (req, res) => {
      const fx = new Effects();
      const now = ctx.now();
      const comment = req.body?.comment;
      const [outcome] = await ctx.store.transaction((tx) => ctx.pipeline.unacknowledge(tx, [req.params.id], actorOf(req), now, fx, comment));
      fx.release(ctx.events);
      if (!outcome || outcome.outcome === 'unknown-alarm') return res.code(404).send({ error: `no alarm ${req.params.id}` });
      if (outcome.outcome === 'not-acknowledged') return res.code(409).send({ error: `alarm ${req.params.id} is not acknowledged` });
      const timers = await ctx.store.timers.ofAlarm(req.params.id);
      const escalationResumed = timers.some((t) => t.kind === 'escalate' && t.firedAt === undefined && t.cancelledAt === undefined);
      return { id: req.params.id, outcome: 'recorded' as const, was: ackView(outcome.was)!, escalationResumed };
    },
  );

  api.post(
    '/alarms/:id/comments',
    {
      config: { role: 'responder' },
      schema: {
        summary: "A comment in the alarm's history",
        tags: ['alarms'],
        params: AlarmId,
        body: z.object({ text: Comment }),
        response: { 201: z.object({ id: z.string(), by: z.string(), at: Time, text: z.string() }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, res) => {
      const fx = new Effects();
      const now = ctx.now();
      const actor = actorOf(req);
      const outcome = await ctx.store.transaction((tx) => ctx.pipeline.comment(tx, req.params.id, actor, req.body.text, now, fx));
      fx.release(ctx.events);
      if (outcome.outcome === 'unknown-alarm') return res.code(404).send({ error: `no alarm ${req.params.id}` });
      return res.code(201).send({ id: req.params.id, by: actor.by, at: rfc3339(now), text: req.body.text });
    },
  );
}

/** The door an act came through: the console (a logged-in person's session) or the API (a token, or loopback). */
function channelOf(req: FastifyRequest): AlarmAck['channel'] {
  return req.principal?.via === 'session' ? 'console' : 'api';
}

function actorOf(req: FastifyRequest): AlarmActor {
  return { by: req.principal?.name ?? 'anonymous', channel: channelOf(req), peer: req.socket.remoteAddress ?? null };
}

/** Through the one acknowledgement decision (pipeline.acknowledge), which records and audits it. */
function acknowledge(ctx: ApiContext, req: FastifyRequest, ids: readonly string[], comment: string | undefined): Promise<AckOutcome[]> {
  const actor = actorOf(req);
  const at = ctx.now();
  return ctx.acknowledge(ids.map((alarmId) => ({ alarmId, ack: { by: actor.by, at, channel: actor.channel, ...(comment ? { comment } : {}) }, peer: actor.peer ?? null })));
}

function ackResult(id: string, outcome: AckOutcome): z.infer<typeof AckResult> {
  if (outcome.outcome === 'unknown-alarm') return { id, outcome: 'unknown', ack: null };
  if (outcome.outcome === 'already') return { id, outcome: 'already', ack: ackView(outcome.ack) };
  return { id, outcome: 'recorded', ack: ackView(outcome.alarm.ack) };
}

/** A query value given once, repeated, or comma-separated (`split` false: a matcher may hold commas). */
function listOf(value: string | string[] | undefined, split = true): string[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  return split ? values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '') : values;
}

/**
 * One page: the store filters what it has columns for, in index order; `keep` (matchers,
 * text) filters what it reads, chunk after chunk, until the page is full, the alarms run
 * out, or SCAN_BUDGET alarms were read (then `next` points past the last one read).
 */
async function pageOf(ctx: ApiContext, query: AlarmPageQuery, limit: number, keep: ((a: Alarm) => boolean) | undefined): Promise<{ alarms: Alarm[]; next: { lastSeen: number; id: string } | undefined }> {
  const position = (a: Alarm) => ({ lastSeen: a.lastSeen, id: a.id });
  if (!keep) {
    const rows = await ctx.store.alarms.page(query);
    const alarms = rows.slice(0, limit);
    return { alarms, next: rows.length > limit ? position(alarms[alarms.length - 1]!) : undefined };
  }
  const chunk = Math.max(query.limit, 500);
  const kept: Alarm[] = [];
  let after = query.after;
  let read = 0;
  for (;;) {
    const rows = await ctx.store.alarms.page({ ...query, limit: chunk, ...(after ? { after } : {}) });
    read += rows.length;
    for (const alarm of rows) {
      if (!keep(alarm)) continue;
      kept.push(alarm);
      if (kept.length > limit) return { alarms: kept.slice(0, limit), next: position(kept[limit - 1]!) };
    }
    if (rows.length < chunk) return { alarms: kept, next: undefined };
    after = position(rows[rows.length - 1]!);
    if (read >= SCAN_BUDGET) return { alarms: kept, next: after };
  }
}

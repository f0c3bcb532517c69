import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatMatcher } from '../../config/matcher.js';
import type { Alarm } from '../../lifecycle/alarm.js';
import { describeSchedule, silenceHoldsUntil, type Silence } from '../../lifecycle/silence.js';
import { Effects } from '../../pipeline/effects.js';
import { activeAlarmsMatching, addSilence, buildSilence, expireSilenceBy, parseMatchers, silenceState, type SilenceInput, type SilenceInputNames } from '../../pipeline/silences.js';
import type { ApiContext } from '../context.js';
import { requestActor } from './request-actor.js';
import { ErrorBody, rfc3339, rfc3339OrNull, Time } from './schemas.js';

/**
 * Silences (maintenance windows) over API v1: made, read and ended through the same
 * functions as `annunciator silence` (pipeline/silences.ts), so a silence from either door
 * mutes and lets go of alarms the same way, and each act is in the audit log.
 */

const MatcherList = z.array(z.string()).describe('field=value, field!=value or field~regex (RE2); all must hold. Fields: device, device.id, device.name, device.site, device.area, site, area, severity, title, key, code, fields.NAME');

const CreateSilence = z
  .object({
    matchers: MatcherList,
    comment: z.string().describe('why; shown in every muted alarm\'s history'),
    startsAt: z.string().optional().describe('RFC 3339 (a time without an offset is read in timeZone); default now'),
    endsAt: z.string().optional().describe('end of a one-off window; or give duration'),
    duration: z.string().optional().describe('length of a one-off window from startsAt (or now), e.g. 2h'),
    weekly: z
      .object({
        days: z.union([z.string(), z.array(z.string())]).describe('mon, tue, ... sun; ranges such as mon-fri; daily'),
        from: z.string().describe('HH:MM'),
        to: z.string().describe('HH:MM; not after from wraps midnight'),
        until: z.string().optional().describe('when the recurrence stops (RFC 3339)'),
      })
      .optional()
      .describe('a window that recurs every week, on the clocks of timeZone'),
    timeZone: z.string().optional().describe('IANA zone of weekly and of times without an offset; default alarms.timeZone'),
  })
  .meta({ id: 'NewSilence' });

const SilenceBody = z
  .object({
    id: z.string(),
    state: z.enum(['active', 'pending', 'expired', 'ended']),
    matchers: z.array(z.string()),
    comment: z.string(),
    createdBy: z.string(),
    createdAt: Time,
    startsAt: Time,
    /** One-off: its end; weekly: its until, null when it recurs for ever. */
    endsAt: Time.nullable(),
    weekly: z.object({ days: z.array(z.string()), from: z.string(), to: z.string(), timeZone: z.string() }).nullable(),
    expiredAt: Time.nullable(),
    /** While it holds: when this stretch of it ends. */
    holdsUntil: Time.nullable(),
    /** The window as a person reads it, in alarms.timeZone. */
    description: z.string(),
  })
  .meta({ id: 'Silence' });

export const MatchedAlarm = z
  .object({
    id: z.string(),
    title: z.string(),
    severity: z.string(),
    device: z.object({ id: z.string(), name: z.string(), site: z.string().nullable(), area: z.string().nullable() }),
    firstSeen: Time,
    lastSeen: Time,
    mutedBy: z.string().nullable().describe('what holds its notifications now: "silence ID" or "inhibition by ALARM via RULE"'),
  })
  .meta({ id: 'MatchedAlarm' });

const Id = z.object({ id: z.string() });

export function silenceJson(s: Silence, now: number, zone: string): z.output<typeof SilenceBody> {
  const schedule = s.schedule;
  return {
    id: s.id,
    state: silenceState(s, now),
    matchers: s.matchers.map(formatMatcher),
    comment: s.comment,
    createdBy: s.createdBy,
    createdAt: rfc3339(s.createdAt),
    startsAt: rfc3339(schedule.start),
    endsAt: rfc3339OrNull(schedule.kind === 'window' ? schedule.end : schedule.until),
    weekly: schedule.kind === 'weekly' ? { days: schedule.days, from: schedule.from, to: schedule.to, timeZone: schedule.timeZone } : null,
    expiredAt: rfc3339OrNull(s.expiredAt),
    holdsUntil: rfc3339OrNull(silenceHoldsUntil(s, now)),
    description: describeSchedule(s, zone),
  };
}

export function alarmSummary(a: Alarm): z.output<typeof MatchedAlarm> {
  const muted = a.mutedBy ? (a.mutedBy.by === 'silence' ? `silence ${a.mutedBy.silence}` : `inhibition by ${a.mutedBy.alarm} via ${a.mutedBy.rule}`) : null;
  return {
    id: a.id,
    title: a.title,
    severity: a.severity,
    device: { id: a.device.id, name: a.device.name, site: a.device.site ?? null, area: a.device.area ?? null },
    firstSeen: rfc3339(a.firstSeen),
    lastSeen: rfc3339(a.lastSeen),
    mutedBy: muted,
  };
}

/** The API's names for what the command line calls --until, --for, ...: a refusal names the field the caller sent. */
function apiNames(weekly: boolean): SilenceInputNames {
  return { match: 'matchers', matchExample: '["device.id=ups-hall2", "title~(?i)battery"]', comment: 'comment', from: 'startsAt', until: weekly ? 'weekly.until' : 'endsAt', for: 'duration', weekly: 'weekly', zone: 'timeZone' };
}

export function registerSilences(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/silences',
    {
      config: { role: 'responder' },
      schema: {
        summary: 'Create a silence: a one-off window (startsAt with endsAt or duration) or a weekly one',
        tags: ['silences'],
        body: CreateSilence,
        response: { 201: z.object({ silence: SilenceBody, matchingActiveAlarms: z.number().int() }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, res) => {
      const body = req.body;
      const now = ctx.now();
      if (body.weekly && body.endsAt !== undefined) return res.code(400).send({ error: 'endsAt does not go with weekly (use weekly.until to end the recurrence)' });
      const input: SilenceInput = {
        matchers: body.matchers,
        comment: body.comment,
        createdBy: req.principal?.name ?? 'anonymous',
        ...(body.startsAt !== undefined ? { from: body.startsAt } : {}),
        ...(body.timeZone !== undefined ? { zone: body.timeZone } : {}),
        ...(body.duration !== undefined ? { for: body.duration } : {}),
        ...(body.weekly
          ? {
              weekly: `${Array.isArray(body.weekly.days) ? body.weekly.days.join(',') : body.weekly.days} ${body.weekly.from}-${body.weekly.to}`,
              ...(body.weekly.until !== undefined ? { until: body.weekly.until } : {}),
            }
          : body.endsAt !== undefined
            ? { until: body.endsAt }
            : {}),
      };
      const built = buildSilence(input, apiNames(body.weekly !== undefined), ctx.config(), now);
      if (typeof built === 'string') return res.code(400).send({ error: built });
      await ctx.store.transaction((tx) => addSilence(tx, built, requestActor(req)));
      const matching = (await activeAlarmsMatching(ctx.store, built.matchers)).length;
      req.log.info({ silence: built.id, matchers: built.matchers.map(formatMatcher), by: built.createdBy }, 'silence created');
      return res.code(201).send({ silence: silenceJson(built, now, ctx.format.timeZone), matchingActiveAlarms: matching });
    },
  );

  api.get(
    '/silences',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Silences that hold now or are to come; all=true adds expired and ended ones (newest first)',
        tags: ['silences'],
        querystring: z.object({ all: z.enum(['true', 'false']).optional() }),
        response: { 200: z.object({ silences: z.array(SilenceBody) }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req) => {
      const now = ctx.now();
      const silences = await ctx.store.silences.list(now, { all: req.query.all === 'true' });
      return { silences: silences.map((s) => silenceJson(s, now, ctx.format.timeZone)) };
    },
  );

  api.get(
    '/silences/:id',
    {
      config: { role: 'viewer' },
      schema: { summary: 'One silence', tags: ['silences'], params: Id, response: { 200: SilenceBody, 401: ErrorBody, 404: ErrorBody } },
    },
    async (req, res) => {
      const silence = await ctx.store.silences.get(req.params.id);
      if (!silence) return res.code(404).send({ error: `no silence ${req.params.id}` });
      return silenceJson(silence, ctx.now(), ctx.format.timeZone);
    },
  );

  // DELETE as in Alertmanager; POST .../expire for clients that cannot send DELETE.
  for (const [method, url] of [
    ['DELETE', '/silences/:id'],
    ['POST', '/silences/:id/expire'],
  ] as const) {
    api.route({
      method,
      url,
      config: { role: 'responder' },
      schema: {
        summary: 'End a silence now: the still active alarms it muted are notified unless something else mutes them',
        tags: ['silences'],
        params: Id,
        response: { 200: z.object({ silence: SilenceBody, released: z.number().int().describe('active alarms it held, looked at again now') }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
      handler: async (req, res) => {
        const id = req.params.id;
        const now = ctx.now();
        const fx = new Effects();
        const result = await ctx.store.transaction((tx) => expireSilenceBy(tx, id, now, requestActor(req), fx));
        fx.release(ctx.events);
        if (result.outcome === 'unknown') return res.code(404).send({ error: `no silence ${id}` });
        if (result.outcome === 'already-over') return res.code(409).send({ error: `silence ${id} had already ${silenceState(result.silence, now)}` });
        req.log.info({ silence: id, released: result.released }, 'silence expired');
        return res.code(200).send({ silence: silenceJson(result.silence, now, ctx.format.timeZone), released: result.released });
      },
    });
  }

  api.post(
    '/silences/preview',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Which active alarms a silence with these matchers would mute',
        tags: ['silences'],
        body: z.object({ matchers: MatcherList }),
        response: { 200: z.object({ alarms: z.array(MatchedAlarm) }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, res) => {
      const matchers = parseMatchers(req.body.matchers);
      if (typeof matchers === 'string') return res.code(400).send({ error: matchers });
      if (matchers.length === 0) return res.code(400).send({ error: 'give at least one matcher, e.g. ["device.id=ups-hall2"]' });
      return { alarms: (await activeAlarmsMatching(ctx.store, matchers)).map(alarmSummary) };
    },
  );
}

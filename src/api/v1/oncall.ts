import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseZonedDateTime } from '../../base/zoned-clock.js';
import { onCallReport } from '../../rules/oncall-report.js';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339, Time } from './schemas.js';

const Source = z.enum(['override', 'window', 'rotation', 'fallback', 'none']);

const ScheduleOnCall = z
  .object({
    name: z.string(),
    timeZone: z.string(),
    onCall: z.array(z.object({ name: z.string(), emails: z.array(z.string()) })),
    because: z.string(),
    source: Source,
    next: z
      .object({ at: Time.describe('the hand-off'), local: z.string().describe('the hand-off on the schedule\'s clocks'), receivers: z.array(z.string()), because: z.string(), source: Source })
      .nullable()
      .describe('the next change of who is on call, within a year'),
  })
  .meta({ id: 'ScheduleOnCall' });

/** `GET /api/v1/oncall`: what `annunciator oncall` shows (rules/oncall-report.ts), per schedule. */
export function registerOnCall(app: FastifyInstance, ctx: ApiContext): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/oncall',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Who is on call now (or at `at`) on each schedule, why, and who is next from when',
        tags: ['oncall'],
        querystring: z.object({
          at: z.string().optional().describe('RFC 3339; without an offset, in alarms.timeZone'),
          schedule: z.string().optional().describe('only this schedule'),
        }),
        response: { 200: z.object({ at: Time, schedules: z.array(ScheduleOnCall) }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, res) => {
      const config = ctx.config();
      const zone = ctx.format.timeZone;
      const at = req.query.at === undefined ? ctx.now() : parseZonedDateTime(req.query.at, zone);
      if (at === undefined) return res.code(400).send({ error: `at=${req.query.at} is not a time (use RFC 3339, e.g. 2026-11-24T03:14:00+01:00)` });
      const schedules = req.query.schedule === undefined ? config.schedules : config.schedules.filter((s) => s.name === req.query.schedule);
      if (req.query.schedule !== undefined && schedules.length === 0) return res.code(404).send({ error: `no schedule named "${req.query.schedule}"` });
      return {
        at: rfc3339(at),
        schedules: schedules.map((schedule) => {
          const r = onCallReport(schedule, config.receivers, at);
          return {
            name: r.name,
            timeZone: r.timeZone,
            onCall: r.receivers.map((x) => ({ name: x.name, emails: x.emails })),
            because: r.because,
            source: r.source,
            next: r.nextHandoff ? { ...r.nextHandoff, at: rfc3339(r.nextHandoff.at) } : null,
          };
        }),
      };
    },
  );
}

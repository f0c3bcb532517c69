import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatMatcher } from '../../config/matcher.js';
import { matchesAll } from '../../lifecycle/alarm-matchers.js';
import type { ApiContext } from '../context.js';
import { ErrorBody } from './schemas.js';
import { alarmSummary, MatchedAlarm } from './silences.js';

const InhibitRuleBody = z
  .object({
    name: z.string(),
    source: z.array(z.string()).describe('matchers an active alarm must meet to inhibit'),
    target: z.array(z.string()).describe('matchers of the alarms it mutes'),
    equal: z.array(z.string()).describe('fields both alarms must have, with the same value'),
    sources: z.array(MatchedAlarm).describe('active alarms that meet the source matchers now'),
    holding: z.array(z.object({ alarm: MatchedAlarm, source: z.string().describe('the inhibiting alarm') })).describe('active alarms whose notifications this rule holds back now'),
  })
  .meta({ id: 'InhibitRule' });

/**
 * `GET /api/v1/inhibitions`: the inhibit rules in force and, for each, the active alarms
 * that may inhibit through it and the alarms it holds now, as the pipeline recorded them
 * (`mutedBy`), not recomputed: what the board shows is what the gateway did.
 */
export function registerInhibitions(app: FastifyInstance, ctx: ApiContext): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/inhibitions',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Inhibit rules in force, the active alarms that can inhibit through each, and the alarms each holds now',
        tags: ['inhibitions'],
        response: { 200: z.object({ rules: z.array(InhibitRuleBody) }), 401: ErrorBody },
      },
    },
    async () => {
      const rules = ctx.config().inhibit;
      if (rules.length === 0) return { rules: [] };
      const [active, muted] = await Promise.all([ctx.store.alarms.list(['active'], 100_000), ctx.store.alarms.muted()]);
      return {
        rules: rules.map((rule) => ({
          name: rule.name,
          source: rule.source.map(formatMatcher),
          target: rule.target.map(formatMatcher),
          equal: rule.equal,
          sources: active.filter((a) => matchesAll(a, rule.source)).map(alarmSummary),
          holding: muted.flatMap((a) => (a.mutedBy?.by === 'inhibition' && a.mutedBy.rule === rule.name ? [{ alarm: alarmSummary(a), source: a.mutedBy.alarm }] : [])),
        })),
      };
    },
  );
}

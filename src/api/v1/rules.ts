import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { simpleParser } from 'mailparser';
import { z } from 'zod';
import { parseZonedDateTime } from '../../base/zoned-clock.js';
import { dryRun, type DryRunInput } from '../../pipeline/dry-run.js';
import { describeConditions } from '../../rules/condition-reasons.js';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339, Time } from './schemas.js';

/**
 * The rules in force and a dry run of a message through them: what `annunciator rules
 * test` shows (pipeline/dry-run.ts, the same code), as JSON, over the rules the running
 * gateway uses now.
 */

const RuleBody = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    file: z.string(),
    line: z.number().int().nullable(),
    conditions: z.array(z.string()).describe('the rule\'s conditions, one a line; a group\'s beneath its header'),
    then: z.record(z.string(), z.unknown()).describe('what it does: receivers, severity, template, repeatInterval (ms), suppress, continue, ...'),
  })
  .meta({ id: 'Rule' });

const Receiver = z.object({ name: z.string(), emails: z.array(z.string()), onCall: z.object({ receivers: z.array(z.string()), because: z.string() }).nullable() });

const DryRunBody = z
  .object({
    at: Time,
    timeZone: z.string(),
    alarm: z.object({
      device: z.object({ id: z.string(), name: z.string(), site: z.string().nullable(), area: z.string().nullable(), matchedBy: z.string() }),
      title: z.string(),
      text: z.string(),
      state: z.string(),
      severity: z.string().nullable(),
      key: z.string().nullable(),
      code: z.string().nullable(),
      fields: z.record(z.string(), z.string()),
      patterns: z.array(z.string()),
      fingerprint: z.string(),
    }),
    rules: z.array(z.object({ rule: z.string(), file: z.string(), matched: z.boolean(), applied: z.boolean(), reasons: z.array(z.string()) })),
    route: z.object({
      isDefault: z.boolean(),
      rules: z.array(z.string()),
      receivers: z.array(Receiver),
      severity: z.string(),
      template: z.string(),
      mode: z.string(),
      suppressedBy: z.string().nullable(),
      repeatIntervalMs: z.number(),
      notifyResolved: z.boolean(),
      attachOriginal: z.boolean(),
    }),
    outcome: z.string().describe('the decision with no earlier state (raised, suppressed, ...)'),
    reason: z.string(),
    mutedBy: z
      .union([
        z.object({ by: z.literal('silence'), silence: z.string(), comment: z.string(), until: Time.nullable() }),
        z.object({ by: z.literal('inhibition'), rule: z.string(), source: z.string(), sourceTitle: z.string() }),
      ])
      .nullable()
      .describe('what would hold its notification now: a silence in force or an active alarm through an inhibit rule'),
    notification: z.object({ recipients: z.array(z.string()), subject: z.string(), text: z.string(), message: z.string().describe('as sent (MIME)') }).nullable(),
  })
  .meta({ id: 'DryRun' });

const DryRunRequest = z
  .object({
    mail: z.string().optional().describe('a mail as a device sends it (RFC 5322 text)'),
    from: z.string().optional().describe('envelope sender (default: the From header)'),
    to: z.array(z.string()).optional().describe('envelope recipients (default: the To header)'),
    mqtt: z.object({ broker: z.string().optional().describe('default: the first configured'), topic: z.string(), payload: z.string() }).optional(),
    at: z.string().optional().describe('evaluate as of this time (RFC 3339; without an offset, in alarms.timeZone)'),
  })
  .meta({ id: 'DryRunRequest' });

export function registerRules(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/rules',
    {
      config: { role: 'viewer' },
      schema: { summary: 'The rules in force, in the order they apply', tags: ['rules'], response: { 200: z.object({ rules: z.array(RuleBody) }), 401: ErrorBody } },
    },
    async () => {
      const rules = ctx.pipeline.stages?.ruleList?.() ?? [];
      return {
        rules: rules.map((r) => ({
          name: r.name,
          description: r.description ?? null,
          file: r.file,
          line: r.line ?? null,
          conditions: describeConditions(r.when).map((line) => line.replace(/ → not evaluated$/, '')),
          then: r.then as Record<string, unknown>,
        })),
      };
    },
  );

  api.post(
    '/rules/test',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Dry run of a mail or an MQTT message: the alarm, the rules that match and why, the receivers, the notification; sends and stores nothing',
        tags: ['rules'],
        body: DryRunRequest,
        response: { 200: DryRunBody, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, res) => {
      const config = ctx.config();
      const stages = ctx.pipeline.stages;
      if (!config.alarms || !stages) return res.code(409).send({ error: 'alarms is not configured: mail is relayed as it came and no rules apply' });
      const body = req.body;
      if ((body.mail === undefined) === (body.mqtt === undefined)) return res.code(400).send({ error: 'give either mail (the RFC 5322 text) or mqtt ({topic, payload})' });
      const at = body.at === undefined ? ctx.now() : parseZonedDateTime(body.at, config.alarms.timeZone);
      if (at === undefined) return res.code(400).send({ error: `at ${body.at} is not a time (use RFC 3339, e.g. 2026-11-24T03:14:00+01:00)` });
      let input: DryRunInput;
      if (body.mqtt) {
        const broker = body.mqtt.broker ?? config.mqtt[0]?.name;
        if (broker === undefined || !config.mqtt.some((b) => b.name === broker)) {
          return res.code(400).send({ error: broker === undefined ? 'no MQTT broker is configured' : `no MQTT broker named "${broker}" (known: ${config.mqtt.map((b) => b.name).join(', ')})` });
        }
        input = { kind: 'mqtt', broker, topic: body.mqtt.topic, payload: Buffer.from(body.mqtt.payload, 'utf8') };
      } else {
        // Mail is 8-bit: a device's Latin-1 bytes arrive here as the same code points.
        const raw = Buffer.from(body.mail!.replace(/\r?\n/g, '\r\n'), /[^\u0000-\u00ff]/.test(body.mail!) ? 'utf8' : 'latin1');
        input = { kind: 'mail', raw, ...(body.from !== undefined ? { from: body.from } : {}), ...(body.to !== undefined ? { to: body.to } : {}) };
      }
      const report = await dryRun(input, config, stages.explaining?.() ?? stages, at, { mutes: ctx.store });
      if ('noAlarm' in report) return res.code(400).send({ error: `yields no alarm: ${report.noAlarm}` });
      const e = report.event;
      const route = report.routing.route;
      const mute = report.mutedBy;
      let notification: z.output<typeof DryRunBody>['notification'] = null;
      if (report.message) {
        const parsed = await simpleParser(report.message, { skipImageLinks: true });
        notification = { recipients: report.recipients ?? [], subject: parsed.subject ?? '', text: (parsed.text ?? '').replace(/\r\n/g, '\n'), message: report.message.toString('utf8') };
      }
      return {
        at: rfc3339(report.at),
        timeZone: report.timeZone,
        alarm: {
          device: { id: e.device.id, name: e.device.name, site: e.device.site ?? null, area: e.device.area ?? null, matchedBy: e.device.matchedBy },
          title: e.title,
          text: e.text,
          state: e.state,
          severity: e.severity ?? null,
          key: e.key ?? null,
          code: e.code ?? null,
          fields: e.fields,
          patterns: e.patterns,
          fingerprint: report.fingerprint,
        },
        rules: report.routing.verdicts.map((v) => ({ rule: v.rule, file: v.file, matched: v.matched, applied: v.applied, reasons: v.reasons })),
        route: {
          isDefault: route.isDefault,
          rules: route.rules,
          receivers: route.receivers.map((r) => ({ name: r.name, emails: r.emails, onCall: r.onCall ?? null })),
          severity: route.severity,
          template: route.template,
          mode: route.mode,
          suppressedBy: route.suppressedBy ?? null,
          repeatIntervalMs: route.repeatInterval,
          notifyResolved: route.notifyResolved,
          attachOriginal: route.attachOriginal,
        },
        outcome: report.outcome,
        reason: report.reason,
        mutedBy: !mute
          ? null
          : mute.by === 'silence'
            ? { by: 'silence' as const, silence: mute.silence.id, comment: mute.silence.comment, until: mute.until === undefined ? null : rfc3339(mute.until) }
            : { by: 'inhibition' as const, rule: mute.inhibition.rule.name, source: mute.inhibition.source.id, sourceTitle: mute.inhibition.source.title },
        notification,
      };
    },
  );
}

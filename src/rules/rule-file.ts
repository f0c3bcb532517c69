import { z } from 'zod';
import { groupSchema, severitySchema } from '../config/schema.js';
import { parseDuration } from '../config/units.js';
import { compileWhen, type EngineTopCondition } from './conditions.js';

/**
 * The shape of one rule file (`rules/*.yaml|yml|json`) as written by people. Parsing
 * also compiles each rule's `when` into json-rules-engine conditions, so a rule that
 * passes this schema can be handed to the engine as it is.
 */

const name = z.string().regex(/^[A-Za-z0-9_.:@-]+$/, 'use letters, digits and . _ - : @');

const repeatInterval = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration above zero (use e.g. 30m, 2h, 1d)` });
    return z.NEVER;
  }
  return ms;
});

/**
 * What a matched rule decides. Every key is optional and has no default here: with
 * `continue`, a later rule fills exactly the keys earlier rules left unset, and the
 * configuration's defaultRoute fills what no rule set.
 */
export const thenSchema = z.strictObject({
  receivers: z.array(name).min(1, 'list at least one receiver, or leave receivers out').optional(),
  severity: severitySchema.optional(),
  template: z.string().min(1).optional(),
  repeatInterval: repeatInterval.optional(),
  notifyResolved: z.boolean().optional(),
  attachOriginal: z.boolean().optional(),
  mode: z.enum(['notify', 'passthrough']).optional(),
  suppress: z.boolean().optional(),
  /** An escalation policy (a rule file's `escalations:`) for the alarms this rule raises. */
  escalation: name.optional(),
  /** Alarms this rule routes with the same values of `by`, arriving within `wait` of the first, go out as one notification; `false` turns a default grouping off. */
  group: z.union([z.literal(false), groupSchema]).optional(),
  continue: z.boolean().default(false),
});

const when = z.unknown().transform((value, ctx): EngineTopCondition => {
  const { condition, problems } = compileWhen(value);
  for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
  return condition ?? z.NEVER;
});

export const ruleSchema = z.strictObject({
  name,
  description: z.string().optional(),
  when,
  then: thenSchema,
});

/**
 * The file around the rules. Each rule is then parsed on its own (ruleSchema), so one
 * broken rule does not hide the problems of the others, such as unknown receivers.
 */
const delay = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 0, 300ms, 15m, 1h)` });
    return z.NEVER;
  }
  return ms;
});

/** One escalation policy: levels after the alarm was raised, an optional repeat of the last, and what stops it. */
export const escalationSchema = z.strictObject({
  name,
  description: z.string().optional(),
  levels: z.array(z.strictObject({ after: delay, receivers: z.array(name).min(1, 'list at least one receiver') })).min(1, 'list at least one level'),
  repeatLast: z.strictObject({ every: repeatInterval, times: z.number().int().positive().optional() }).optional(),
  stopOn: z.enum(['acknowledged', 'acknowledged-or-cleared']).default('acknowledged-or-cleared'),
});

export const ruleFileSchema = z.strictObject({
  /** Escalation policies, parsed one by one (escalationSchema) like the rules. */
  escalations: z
    .array(z.unknown())
    .nullable()
    .optional()
    .transform((list) => list ?? []),
  // `rules:` with every entry commented out is an empty list, not an error.
  rules: z
    .array(z.unknown())
    .nullable()
    .optional()
    .transform((rules) => rules ?? []),
});

export type RuleThen = z.output<typeof thenSchema>;
export type RawRule = z.output<typeof ruleSchema>;

import { z } from 'zod';
import { GROUP_FIELDS } from '../../src/config/schema.js';
import { KNOWN_FACT_NAMES } from '../../src/rules/facts.js';
import { KNOWN_OPERATORS } from '../../src/rules/operators.js';
import { escalationSchema, ruleSchema } from '../../src/rules/rule-file.js';
import { DURATION_PATTERN } from './json-schema.js';

/**
 * The JSON Schema of a rule file (rules/*.yaml) as a person writes it, for editors: with
 * `# yaml-language-server: $schema=./rules.schema.json` at the top, the YAML language
 * server completes keys, facts and operators, shows what they mean and flags unknown keys
 * and wrong types. Written to rules/rules.schema.json by `npm run docs:config`.
 *
 * The shapes come from src/rules/rule-file.ts through zod's converter. A rule file's
 * `rules:` and `escalations:` are lists of anything there (each item is parsed on its own,
 * so one broken rule does not hide the others), and `when` is checked by code
 * (conditions.ts): so the file is converted with each item as ruleSchema/escalationSchema,
 * and `when` is written out here from the operator and fact lists the loader uses.
 *
 * What JSON Schema cannot say is left to `annunciator check`: receivers and policies that
 * do not exist, whether a value suits its fact and operator, RE2 patterns.
 */

type JsonSchema = Record<string, unknown>;

/** What each key of a rule file means, for the editor's hover text; every key must have one. */
export const RULE_KEY_DOCS: Record<string, string> = {
  rules: 'The rules of this file, applied in the order written (files in file-name order).',
  'rules[].name': 'Unique across all rule files: letters, digits and . _ - : @.',
  'rules[].description': 'What the rule is for, for people.',
  'rules[].when': 'When the rule applies: one group (all, any or not, nested as you like) or a single { fact, operator, value } condition. `all: []` matches every alarm.',
  'rules[].then': 'What the rule decides. Every key is optional; what no applied rule sets comes from alarms.defaultRoute in the configuration.',
  'rules[].then.receivers': 'Who is told: names of receivers, groups or on-call schedules from the configuration.',
  'rules[].then.severity': 'The severity of the alarm: critical, major, minor, warning or info.',
  'rules[].then.template': 'The notification template (templates/NAME.hbs), or passthrough.',
  'rules[].then.repeatInterval': 'Remind while the alarm stays active and unacknowledged, this often: 30m, 2h, 1d.',
  'rules[].then.notifyResolved': 'Tell the receivers when the device reports the alarm is over.',
  'rules[].then.attachOriginal': "Attach the device's original mail to the notification.",
  'rules[].then.mode': 'notify: send our notification; passthrough: relay the device\'s mail as it is.',
  'rules[].then.suppress': 'true: record the alarm, tell nobody.',
  'rules[].then.escalation': 'An escalation policy (a rule file\'s escalations:) for the alarms this rule raises, while unacknowledged.',
  'rules[].then.group': 'Alarms of this rule with the same values of `by`, arriving within `wait` of the first, go out as one notification; false turns a default grouping off.',
  'rules[].then.group.by': 'What grouped alarms share: device, site, area, severity, ... or fields.NAME.',
  'rules[].then.group.wait': 'How long to wait for more alarms of the group after the first.',
  'rules[].then.continue': 'true: later matching rules apply too, filling the keys this rule left unset.',
  escalations: 'Escalation policies a rule chooses with then.escalation (names unique across all rule files).',
  'escalations[].name': 'Unique across all rule files: letters, digits and . _ - : @.',
  'escalations[].description': 'What the policy is for, for people.',
  'escalations[].levels': 'The levels, in order of `after`.',
  'escalations[].levels[].after': 'When this level fires, after the alarm was raised: 0, 15m, 1h.',
  'escalations[].levels[].receivers': 'Who this level notifies: receivers, groups or schedules, as in then.receivers.',
  'escalations[].repeatLast': 'Optional: notify the last level again.',
  'escalations[].repeatLast.every': 'How often the last level is repeated: 30m, 1h.',
  'escalations[].repeatLast.times': 'At most this many repeats (forever while unacknowledged if left out).',
  'escalations[].stopOn': 'What stops the escalation: acknowledged-or-cleared (the default) or acknowledged (a clear alone does not).',
};

/** Key paths whose values are durations: the JSON Schema gets the pattern parseDuration accepts. */
const DURATION_KEYS = new Set(['rules[].then.repeatInterval', 'rules[].then.group.wait', 'escalations[].levels[].after', 'escalations[].repeatLast.every']);

const DURATION_HINT = 'A duration: 250ms, 30s, 10m, 2h, 2d, 1w (or 1h30m), or a number of milliseconds.';

/** The fact names of KNOWN_FACT_NAMES as written, without the `fields.<name>` placeholder. */
const FIXED_FACTS = KNOWN_FACT_NAMES.filter((name) => !name.includes('<'));

const ref = (name: string): JsonSchema => ({ $ref: `#/$defs/${name}` });

/** `when`: what conditions.ts accepts, as far as JSON Schema can say it. */
const CONDITION_DEFS: Record<string, JsonSchema> = {
  condition: {
    description: 'A group (all, any or not) or a single { fact, operator, value } condition.',
    anyOf: [ref('all'), ref('any'), ref('not'), ref('fact')],
  },
  all: {
    type: 'object',
    properties: { all: { description: 'Holds when every condition in the list holds (an empty list: always).', type: 'array', items: ref('condition') } },
    required: ['all'],
    additionalProperties: false,
  },
  any: {
    type: 'object',
    properties: { any: { description: 'Holds when at least one condition in the list holds.', type: 'array', items: ref('condition'), minItems: 1 } },
    required: ['any'],
    additionalProperties: false,
  },
  not: {
    type: 'object',
    properties: { not: { description: 'Holds when the one condition or group under it does not hold (wrap several in all or any).', ...ref('condition') } },
    required: ['not'],
    additionalProperties: false,
  },
  fact: {
    type: 'object',
    properties: {
      fact: {
        description: `What to look at: ${KNOWN_FACT_NAMES.join(', ')}.`,
        anyOf: [{ type: 'string', enum: FIXED_FACTS }, { type: 'string', pattern: '^fields\\..+$' }],
      },
      operator: { description: 'How to compare the fact with the value (see rules/README.md, Operators).', type: 'string', enum: [...KNOWN_OPERATORS] },
      value: {
        description:
          'What to compare with; it must suit the fact and the operator: text for text facts (quote codes like "0x0109"), numbers for value, a list for in/notIn, ["HH:MM", "HH:MM"] for between, true/false for exists, an RE2 expression for matches.',
      },
    },
    required: ['fact', 'operator', 'value'],
    additionalProperties: false,
  },
};

function plain(markdown: string): string {
  return markdown.replace(/`/g, '');
}

/** Calls `visit` for each property schema with its key path (`rules[].then.group.wait`); descends where it returns true. */
function eachProperty(schema: JsonSchema, prefix: string, visit: (path: string, property: JsonSchema) => boolean): void {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  for (const [name, property] of Object.entries(properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (visit(path, property)) eachProperty(property, path, visit);
  }
  if (schema.items && typeof schema.items === 'object') eachProperty(schema.items as JsonSchema, `${prefix}[]`, visit);
  for (const keyword of ['anyOf', 'oneOf', 'allOf']) {
    for (const option of (schema[keyword] as JsonSchema[] | undefined) ?? []) eachProperty(option, prefix, visit);
  }
}

export function rulesJsonSchema(): JsonSchema {
  // The file as the loader reads it in the end: each item of rules and escalations parsed
  // by ruleSchema / escalationSchema; `when` is replaced below.
  const fileSchema = z.strictObject({
    escalations: z.array(escalationSchema).nullable().optional(),
    rules: z.array(ruleSchema.extend({ when: z.unknown() })).nullable().optional(),
  });
  const schema = z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;

  const seen = new Set<string>();
  eachProperty(schema, '', (path, property) => {
    const text = RULE_KEY_DOCS[path];
    if (text === undefined) throw new Error(`rules JSON Schema: ${path} has no description in scripts/config-docs/rules-json-schema.ts RULE_KEY_DOCS`);
    seen.add(path);
    if (path === 'rules[].when') {
      for (const key of Object.keys(property)) delete property[key];
      Object.assign(property, ref('condition'));
    }
    property.description = plain(DURATION_KEYS.has(path) ? `${text} ${DURATION_HINT}` : text);
    if (path === 'rules[].then.group.by') {
      // A refine in zod, so the converter says only `string`: the fields it allows, for completion.
      property.items = { anyOf: [{ type: 'string', enum: [...GROUP_FIELDS] }, { type: 'string', pattern: '^fields\\.[^.\\s]+$' }] };
    }
    if (DURATION_KEYS.has(path)) {
      property.pattern = DURATION_PATTERN;
      if (typeof property.minimum !== 'number') property.minimum = 0;
    }
    if (path !== 'rules[].when' && Object.keys(property).length <= 1) throw new Error(`rules JSON Schema: ${path} converted to {} (checks nothing); teach scripts/config-docs/rules-json-schema.ts its shape`);
    return path !== 'rules[].when';
  });
  const unknown = Object.keys(RULE_KEY_DOCS).filter((p) => !seen.has(p));
  if (unknown.length > 0) throw new Error(`rules JSON Schema: descriptions of keys rule files do not have: ${unknown.join(', ')}`);

  return {
    $schema: schema.$schema,
    title: 'Annunciator rule file',
    description:
      'A rule file in rules/ (rules and escalation policies). Generated by `npm run docs:config` from src/rules/rule-file.ts; explained in rules/README.md. `annunciator check` checks what this cannot (receivers and policies that exist, values that suit their fact and operator, RE2 patterns).',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
    $defs: CONDITION_DEFS,
  };
}

export function renderRulesJsonSchema(): string {
  return `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`;
}

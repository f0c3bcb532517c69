import type { ReceiverConfig, RouteDefaults } from '../config/schema.js';
import type { ScheduleConfig } from '../config/types.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import { describeConditions } from './condition-reasons.js';
import { buildFacts } from './facts.js';
import { envelopeReceivers, resolveReceivers, type OnCallContext } from './receivers.js';
import type { RuleBook, RuleDefinition } from './rule-book.js';
import type { RuleThen } from './rule-file.js';
import type { ResolvedReceiver, Route, RoutingResult, RuleVerdict } from './route.js';

export interface RoutingContext {
  /** The pass's clock, epoch ms: timeOfDay and weekday are read from it. */
  now: number;
  /** IANA zone the rules' times of day are meant in. */
  timeZone: string;
  receivers: readonly ReceiverConfig[];
  /** On-call schedules: a receiver name that is one resolves to whoever is on call at `now`. */
  schedules?: readonly ScheduleConfig[];
  defaults: RouteDefaults;
  /** Build each rule's reasons (for `rules test`); the gateway does not need them per alarm. */
  explain?: boolean;
}

/**
 * Decides the route of one event: which rules match, which of them apply, and the
 * receivers, severity and handling that follow. Pure given the book, event and `now`.
 *
 * Matched rules apply in declared order: the first one applied sets the route; while
 * the last applied rule says `continue: true`, the next matched rule applies too,
 * adding its receivers and filling keys no earlier rule set. json-rules-engine only
 * tells which rules matched; the walk is ours (engine.stop() would halt every rule,
 * not one).
 */
export async function routeEvent(event: AlarmEvent, book: RuleBook, ctx: RoutingContext): Promise<RoutingResult> {
  const facts = buildFacts(event, ctx.now, ctx.timeZone);
  const results = book.rules.length > 0 ? await book.evaluate(facts) : new Map();

  const applied: RuleDefinition[] = [];
  const verdicts: RuleVerdict[] = [];
  let open = true;
  for (const rule of book.rules) {
    const result = results.get(rule.name);
    const matched = result?.result === true;
    const apply = matched && open;
    if (apply) {
      applied.push(rule);
      open = rule.then.continue;
    }
    verdicts.push({
      rule: rule.name,
      file: rule.file,
      matched,
      reasons: !ctx.explain
        ? []
        : result
          ? describeConditions(result.conditions)
          : book.appliesTo(rule.name, event.device.id)
            ? ['the engine reported no result for this rule']
            : [`device.id is "${event.device.id}": the rule is for other devices`],
      applied: apply,
    });
  }
  return { route: buildRoute(event, applied, ctx), verdicts };
}

type SettableKey = Exclude<keyof RuleThen, 'receivers' | 'continue'>;

/** The value of `key` from the first applied rule that sets it, and that rule's name. */
function firstSet<K extends SettableKey>(applied: readonly RuleDefinition[], key: K): { value: NonNullable<RuleThen[K]>; rule: string } | undefined {
  for (const rule of applied) {
    const value = rule.then[key];
    if (value !== undefined && value !== null) return { value, rule: rule.name };
  }
  return undefined;
}

function buildRoute(event: AlarmEvent, applied: readonly RuleDefinition[], ctx: RoutingContext): Route {
  const { defaults } = ctx;
  const names: string[] = [];
  for (const rule of applied) for (const name of rule.then.receivers ?? []) if (!names.includes(name)) names.push(name);

  let receivers = resolveReceivers(names, ctx.receivers, onCallOf(ctx));
  // No alarm goes to nobody: rules that name no receiver, or only ones without an
  // address, leave the alarm with the default receivers. Address-less receivers stay
  // listed (with no emails) so logs can show what was meant.
  if (receivers.every((r) => r.emails.length === 0)) receivers = [...receivers, ...defaultReceivers(event, ctx)];

  const suppress = firstSet(applied, 'suppress');
  const route: Route = {
    rules: applied.map((r) => r.name),
    isDefault: applied.length === 0,
    receivers,
    severity: firstSet(applied, 'severity')?.value ?? event.severity ?? defaults.severity,
    template: firstSet(applied, 'template')?.value ?? defaults.template,
    mode: firstSet(applied, 'mode')?.value ?? defaults.mode,
    repeatInterval: firstSet(applied, 'repeatInterval')?.value ?? defaults.repeatInterval,
    notifyResolved: firstSet(applied, 'notifyResolved')?.value ?? defaults.notifyResolved,
    attachOriginal: firstSet(applied, 'attachOriginal')?.value ?? defaults.attachOriginal,
  };
  if (suppress?.value === true) route.suppressedBy = suppress.rule;
  const escalation = firstSet(applied, 'escalation')?.value ?? defaults.escalation;
  if (escalation !== undefined) route.escalation = escalation;
  // A rule's `group: false` turns the default grouping off for what it routes.
  const group = firstSet(applied, 'group')?.value ?? defaults.group;
  if (group) route.group = group;
  return route;
}

/** defaultRoute.receivers when configured, else whoever the device addressed. */
function defaultReceivers(event: AlarmEvent, ctx: RoutingContext): ResolvedReceiver[] {
  const configured = ctx.defaults.receivers;
  return configured && configured.length > 0 ? resolveReceivers(configured, ctx.receivers, onCallOf(ctx)) : envelopeReceivers(event.recipients);
}

function onCallOf(ctx: RoutingContext): OnCallContext {
  return { schedules: ctx.schedules ?? [], now: ctx.now };
}

import { Engine, type RuleResult } from 'json-rules-engine';
import { compileSafeRegex, type SafeRegex } from '../config/safe-regex.js';
import { patternsOf, type EngineTopCondition } from './conditions.js';
import type { EscalationPolicy } from './escalation-policy.js';
import { ownPropertyPath, type RuleFacts } from './facts.js';
import { addOperators } from './operators.js';
import type { RuleThen } from './rule-file.js';

/** One validated rule, in the order it was declared. */
export interface RuleDefinition {
  name: string;
  description?: string;
  file: string;
  /** Line of the rule in its file, when known (always for YAML). */
  line?: number;
  when: EngineTopCondition;
  then: RuleThen;
}

/**
 * The rules in force: validated definitions plus the json-rules-engine instance built
 * from them once, with every regular expression compiled once. Immutable; a reload
 * builds a new book and swaps it in whole (rule-watcher.ts).
 */
export class RuleBook {
  readonly rules: readonly RuleDefinition[];
  readonly #patterns = new Map<string, SafeRegex>();
  /** Per rule: the devices it can match (from a top-level `device.id` equal/in), or undefined for any. */
  readonly #devicesOf = new Map<string, ReadonlySet<string> | undefined>();
  /**
   * One engine per device id, holding only the rules that device can match: with many
   * rules most name their device, and json-rules-engine's cost is per rule per run.
   */
  readonly #engines = new Map<string, { engine: Engine; tail: Promise<void> }>();

  /** Escalation policies from the rule files' `escalations:`, by name. */
  readonly escalations: ReadonlyMap<string, EscalationPolicy>;

  constructor(rules: readonly RuleDefinition[], escalations: readonly EscalationPolicy[] = []) {
    this.escalations = new Map(escalations.map((p) => [p.name, p]));
    const names = new Set<string>();
    for (const rule of rules) {
      // The loader reports duplicates with file and line; this guards direct construction.
      if (names.has(rule.name)) throw new Error(`rule "${rule.name}" is defined twice`);
      names.add(rule.name);
    }
    this.rules = Object.freeze([...rules]);

    for (const rule of rules) {
      for (const source of patternsOf(rule.when)) if (!this.#patterns.has(source)) this.#patterns.set(source, compileSafeRegex(source));
      this.#devicesOf.set(rule.name, requiredDevices(rule.when));
    }
  }

  /** Whether a rule can match events of this device at all (false: it names other devices). */
  appliesTo(rule: string, deviceId: string): boolean {
    const devices = this.#devicesOf.get(rule);
    return devices === undefined || devices.has(deviceId);
  }

  #engineFor(deviceId: string): { engine: Engine; tail: Promise<void> } {
    let entry = this.#engines.get(deviceId);
    if (!entry) {
      // Bounded: an endless stream of unknown device ids must not grow memory without end.
      if (this.#engines.size >= 1000) this.#engines.clear();
      const engine = new Engine([], { allowUndefinedFacts: true, pathResolver: ownPropertyPath });
      addOperators(engine, this.#patterns);
      for (const rule of this.rules) {
        if (!this.appliesTo(rule.name, deviceId)) continue;
        engine.addRule({ name: rule.name, conditions: rule.when, event: { type: 'rule-matched', params: { rule: rule.name } } });
      }
      entry = { engine, tail: Promise.resolve() };
      this.#engines.set(deviceId, entry);
    }
    return entry;
  }

  static empty(): RuleBook {
    return new RuleBook([]);
  }

  /** Files the rules came from, in load order. */
  get files(): string[] {
    return [...new Set(this.rules.map((r) => r.file))];
  }

  /**
   * Runs every rule against the facts; the engine's result per rule name. Runs on one
   * book are queued, not overlapped: json-rules-engine keeps its run status on the
   * engine, and a run that finishes sets it to FINISHED, which makes an overlapping run
   * skip its rules and report no result at all.
   */
  evaluate(facts: RuleFacts): Promise<ReadonlyMap<string, RuleResult>> {
    const device = facts.device as { id?: unknown } | undefined;
    const entry = this.#engineFor(typeof device?.id === 'string' ? device.id : '');
    const run = entry.tail.then(() => entry.engine.run(facts));
    // The queue keeps only that the run ended, not its result: that holds the facts, and so
    // the device's whole text, for as long as the device sends nothing else.
    entry.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run.then(({ results, failureResults }) => new Map([...results, ...failureResults].map((r) => [r.name, r])));
  }
}

/** The device ids a condition requires at its top level (`all` with `device.id` equal or in), if any. */
function requiredDevices(when: EngineTopCondition): ReadonlySet<string> | undefined {
  if (!('all' in when)) return undefined;
  for (const condition of when.all) {
    if (!('fact' in condition) || condition.fact !== 'device' || condition.path !== '$.id') continue;
    if (condition.operator === 'equal' && typeof condition.value === 'string') return new Set([condition.value]);
    if (condition.operator === 'in' && Array.isArray(condition.value) && condition.value.every((v) => typeof v === 'string')) return new Set(condition.value as string[]);
  }
  return undefined;
}

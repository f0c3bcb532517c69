import { Engine, type RuleResult } from 'json-rules-engine';
import { compileSafeRegex, type SafeRegex } from '../config/safe-regex.js';
import { patternsOf, type EngineTopCondition } from './conditions.js';
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
  readonly #engine: Engine;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(rules: readonly RuleDefinition[]) {
    const names = new Set<string>();
    for (const rule of rules) {
      // The loader reports duplicates with file and line; this guards direct construction.
      if (names.has(rule.name)) throw new Error(`rule "${rule.name}" is defined twice`);
      names.add(rule.name);
    }
    this.rules = Object.freeze([...rules]);

    const patterns = new Map<string, SafeRegex>();
    for (const rule of rules) for (const source of patternsOf(rule.when)) if (!patterns.has(source)) patterns.set(source, compileSafeRegex(source));

    this.#engine = new Engine([], { allowUndefinedFacts: true, pathResolver: ownPropertyPath });
    addOperators(this.#engine, patterns);
    for (const rule of rules) {
      this.#engine.addRule({ name: rule.name, conditions: rule.when, event: { type: 'rule-matched', params: { rule: rule.name } } });
    }
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
    const run = this.#tail.then(() => this.#engine.run(facts));
    this.#tail = run.catch(() => undefined);
    return run.then(({ results, failureResults }) => new Map([...results, ...failureResults].map((r) => [r.name, r])));
  }
}

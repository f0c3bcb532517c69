import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { formatKey } from '../config/load.js';
import { plainIssueMessage } from '../config/plain-issues.js';
import type { EscalationPolicy } from './escalation-policy.js';
import { RuleBook, type RuleDefinition } from './rule-book.js';
import { escalationSchema, ruleFileSchema, ruleSchema, type RawRule } from './rule-file.js';
import { RulesError, type RuleProblem } from './rules-error.js';

/** Names the configuration defines, which rules may refer to. */
export interface KnownNames {
  receivers: readonly string[];
  /** When given, `then.template` must be one of these (or the reserved `passthrough`). */
  templates?: readonly string[];
  /** alarms.defaultRoute.escalation, which must name a policy of the rule files. */
  defaultEscalation?: string;
}

/** What one rule file defines. */
export interface RuleFileContents {
  rules: RuleDefinition[];
  escalations: EscalationPolicy[];
}

export const RULE_FILE_PATTERN = /\.(ya?ml|json)$/i;
/** Rendered by render/passthrough.ts rather than by a template file, so always known. */
export const PASSTHROUGH_TEMPLATE = 'passthrough';

/** JSON Schemas kept next to the rules for editors (rules/rules.schema.json), not rule files. */
export const SCHEMA_FILE_PATTERN = /\.schema\.json$/i;

/** Whether a directory entry is a rule file; dotfiles are editors' swap and lock files, `*.schema.json` a JSON Schema for editors. */
export function isRuleFileName(name: string): boolean {
  return RULE_FILE_PATTERN.test(name) && !name.startsWith('.') && !SCHEMA_FILE_PATTERN.test(name);
}

/**
 * Loads every rule file in `dir` (in file-name order, rules in file order) into one
 * book, or throws RulesError listing every problem in every file. A missing or empty
 * directory is no rules: every alarm then takes the default route.
 */
export function loadRuleBook(dir: string, known: KnownNames): RuleBook {
  let names: string[];
  try {
    names = readdirSync(dir).filter(isRuleFileName).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return RuleBook.empty();
    throw new RulesError([{ file: dir, message: `the rules directory cannot be read (${code ?? String(error)})` }]);
  }

  const problems: RuleProblem[] = [];
  const rules: RuleDefinition[] = [];
  const escalations: EscalationPolicy[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const contents = loadRuleFileContents(file, known);
      rules.push(...contents.rules);
      escalations.push(...contents.escalations);
    } catch (error) {
      if (error instanceof RulesError) problems.push(...error.problems);
      else problems.push({ file, message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` });
    }
  }

  const firstByName = new Map<string, RuleDefinition>();
  for (const rule of rules) {
    const first = firstByName.get(rule.name);
    if (!first) firstByName.set(rule.name, rule);
    else if (first.file !== rule.file) {
      const where = first.line ? `${first.file}:${first.line}` : first.file;
      problems.push({ file: rule.file, line: rule.line, rule: rule.name, key: 'name', message: `is already used by the rule at ${where}; rule names are unique across files` });
    }
  }

  const policies = new Map<string, EscalationPolicy>();
  for (const policy of escalations) {
    const first = policies.get(policy.name);
    if (!first) policies.set(policy.name, policy);
    else if (first.file !== policy.file) {
      const where = first.line ? `${first.file}:${first.line}` : (first.file ?? 'another file');
      problems.push({ file: policy.file ?? dir, line: policy.line, key: 'escalations.name', message: `escalation "${policy.name}" is already defined at ${where}; escalation names are unique across files` });
    }
  }
  for (const rule of rules) {
    const wanted = rule.then.escalation;
    if (wanted !== undefined && !policies.has(wanted)) {
      problems.push({ file: rule.file, line: rule.line, rule: rule.name, key: 'then.escalation', message: `no escalation named "${wanted}" (${knownPolicies(policies)})` });
    }
  }
  if (known.defaultEscalation !== undefined && !policies.has(known.defaultEscalation)) {
    problems.push({ file: dir, key: 'alarms.defaultRoute.escalation', message: `no escalation named "${known.defaultEscalation}" in the rule files (${knownPolicies(policies)})` });
  }

  if (problems.length > 0) throw new RulesError(problems);
  return new RuleBook(rules, escalations);
}

function knownPolicies(policies: ReadonlyMap<string, EscalationPolicy>): string {
  return policies.size > 0 ? `known: ${[...policies.keys()].join(', ')}` : 'the rule files define no escalations';
}

/** One rule file, validated on its own (and against `known` when given). */
export function loadRuleFile(file: string, known?: KnownNames): RuleDefinition[] {
  return loadRuleFileContents(file, known).rules;
}

/** One rule file's rules and escalation policies. */
export function loadRuleFileContents(file: string, known?: KnownNames): RuleFileContents {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RulesError([{ file, message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }]);
  }
  return parseRuleFileContents(text, file, known);
}

/** Parses rule file text; `file` names it in problems, and a `.json` name makes it JSON. */
export function parseRuleFile(text: string, file: string, known?: KnownNames): RuleDefinition[] {
  return parseRuleFileContents(text, file, known).rules;
}

/** Parses rule file text into its rules and escalation policies. */
export function parseRuleFileContents(text: string, file: string, known?: KnownNames): RuleFileContents {
  const source = readSource(text, file);
  if (source.data === undefined || source.data === null) return { rules: [], escalations: [] };

  const shape = ruleFileSchema.safeParse(source.data, { error: plainIssueMessage });
  if (!shape.success) throw new RulesError(shape.error.issues.map((issue) => problemFromIssue(issue.path, issue, source)));

  const problems: RuleProblem[] = [];
  const rules: Array<{ index: number; rule: RawRule }> = [];
  shape.data.rules.forEach((item, index) => {
    const parsed = ruleSchema.safeParse(item, { error: plainIssueMessage });
    if (parsed.success) rules.push({ index, rule: parsed.data });
    else problems.push(...parsed.error.issues.map((issue) => problemFromIssue(['rules', index, ...issue.path], issue, source)));
  });
  problems.push(...checkNames(shape.data.rules, known, source));
  const escalations: EscalationPolicy[] = [];
  const policyNames = new Map<string, number>();
  shape.data.escalations.forEach((item, index) => {
    // Receivers are checked on the raw entry, so a broken policy still has them checked.
    const levels: unknown = isRecord(item) ? item.levels : undefined;
    if (known && Array.isArray(levels)) {
      levels.forEach((level: unknown, j) => {
        const receivers: unknown = isRecord(level) ? level.receivers : undefined;
        if (!Array.isArray(receivers)) return;
        receivers.forEach((receiver: unknown, k) => {
          if (typeof receiver === 'string' && !known.receivers.includes(receiver)) {
            const list = known.receivers.length > 0 ? `known: ${known.receivers.join(', ')}` : 'the configuration defines no receivers';
            problems.push(problemAt(source, ['escalations', index, 'levels', j, 'receivers', k], `no receiver named "${receiver}" (${list})`));
          }
        });
      });
    }
    const parsed = escalationSchema.safeParse(item, { error: plainIssueMessage });
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((issue) => problemFromIssue(['escalations', index, ...issue.path], issue, source)));
      return;
    }
    const raw = parsed.data;
    const first = policyNames.get(raw.name);
    if (first !== undefined) problems.push(problemAt(source, ['escalations', index, 'name'], `escalation "${raw.name}" is already defined at escalations[${first}]`));
    else policyNames.set(raw.name, index);
    raw.levels.forEach((level, j) => {
      if (j > 0 && level.after < raw.levels[j - 1]!.after) problems.push(problemAt(source, ['escalations', index, 'levels', j, 'after'], 'levels are in order: each "after" is at least the one before'));
    });
    const policy: EscalationPolicy = { name: raw.name, file, levels: raw.levels, stopOn: raw.stopOn };
    if (raw.repeatLast) policy.repeatLast = raw.repeatLast.times === undefined ? { every: raw.repeatLast.every } : { every: raw.repeatLast.every, times: raw.repeatLast.times };
    const line = source.lineOf(['escalations', index]);
    if (line !== undefined) policy.line = line;
    escalations.push(policy);
  });
  if (problems.length > 0) throw new RulesError(problems);

  const definitions = rules.map(({ index, rule }) => {
    const definition: RuleDefinition = { name: rule.name, file, when: rule.when, then: rule.then };
    if (rule.description !== undefined) definition.description = rule.description;
    const line = source.lineOf(['rules', index]);
    if (line !== undefined) definition.line = line;
    return definition;
  });
  return { rules: definitions, escalations };
}

interface Source {
  file: string;
  data: unknown;
  lineOf(path: ReadonlyArray<PropertyKey>): number | undefined;
}

function readSource(text: string, file: string): Source {
  const lineCounter = new LineCounter();
  // JSON is YAML, so the YAML parser also gives JSON files line numbers for their problems.
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (path: ReadonlyArray<PropertyKey>): number | undefined => locate(document, lineCounter, path);

  if (/\.json$/i.test(file)) {
    try {
      // JSON.parse keeps .json files strict: the YAML parser would also accept comments and bare words.
      return { file, data: text.trim() === '' ? null : JSON.parse(text), lineOf };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const position = /position (\d+)/.exec(message);
      const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
      throw new RulesError([{ file, ...(line ? { line } : {}), message: `JSON syntax: ${message}` }]);
    }
  }

  if (document.errors.length > 0) {
    throw new RulesError(
      document.errors.map((error) => ({ file, line: lineCounter.linePos(error.pos[0]).line, message: `YAML syntax: ${error.message.split('\n')[0]}` })),
    );
  }
  try {
    return { file, data: document.toJS(), lineOf };
  } catch (error) {
    // e.g. too many alias expansions: a document built to blow up, not a rule file.
    throw new RulesError([{ file, message: `YAML: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}

function locate(document: Document, lineCounter: LineCounter, path: ReadonlyArray<PropertyKey>): number | undefined {
  // Walk up to the deepest existing node so a missing key points at its parent.
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = document.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** `ups-on-battery` for a rule with a name, `rules[3]` for one without. */
function ruleLabel(data: unknown, index: number): string {
  const rules = data !== null && typeof data === 'object' && 'rules' in data ? data.rules : undefined;
  const rule: unknown = Array.isArray(rules) ? rules[index] : undefined;
  const name = rule !== null && typeof rule === 'object' && 'name' in rule ? rule.name : undefined;
  return typeof name === 'string' && name !== '' ? name : `rules[${index}]`;
}

/** A problem at `path` (from the top of the file), split into rule and key within it. */
function problemAt(source: Source, path: ReadonlyArray<PropertyKey>, message: string): RuleProblem {
  const problem: RuleProblem = { file: source.file, message };
  const line = source.lineOf(path);
  if (line !== undefined) problem.line = line;
  const [top, index, ...rest] = path;
  if (top === 'rules' && typeof index === 'number') {
    problem.rule = ruleLabel(source.data, index);
    if (rest.length > 0) problem.key = formatKey(rest);
  } else if (top === 'escalations' && typeof index === 'number') {
    problem.key = formatKey(path);
  } else if (path.length > 0) {
    problem.key = formatKey(path);
  }
  return problem;
}

function problemFromIssue(path: PropertyKey[], issue: z.core.$ZodIssue, source: Source): RuleProblem {
  // In plain words already (plainIssueMessage); unknown keys with the keys allowed in their place.
  let message = issue.message;
  if (issue.code === 'invalid_type' && path.length === 0) message = 'a rule file is a map with a list under "rules"';
  if (issue.code === 'invalid_type' && path.length === 2) message = 'a rule is a map with name, when and then';
  return problemAt(source, path, message);
}

/**
 * Names that must exist elsewhere (receivers, templates) or be unique within the file.
 * Read from the raw rules, so a rule with a broken `when` still has its receivers checked
 * and the author sees every problem at once.
 */
function checkNames(items: readonly unknown[], known: KnownNames | undefined, source: Source): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    if (!isRecord(item)) return;
    const { name } = item;
    if (typeof name === 'string') {
      const first = seen.get(name);
      if (first !== undefined) {
        const where = source.lineOf(['rules', first]);
        problems.push(problemAt(source, ['rules', index, 'name'], `is already used by the rule at ${where ? `line ${where}` : `rules[${first}]`}; rule names are unique across files`));
      } else seen.set(name, index);
    }

    const then = item.then;
    if (!known || !isRecord(then)) return;
    if (Array.isArray(then.receivers)) {
      then.receivers.forEach((receiver: unknown, j) => {
        if (typeof receiver === 'string' && !known.receivers.includes(receiver)) {
          const list = known.receivers.length > 0 ? `known: ${known.receivers.join(', ')}` : 'the configuration defines no receivers';
          problems.push(problemAt(source, ['rules', index, 'then', 'receivers', j], `no receiver named "${receiver}" (${list})`));
        }
      });
    }
    const template = then.template;
    if (typeof template === 'string' && template !== '' && known.templates && template !== PASSTHROUGH_TEMPLATE && !known.templates.includes(template)) {
      problems.push(problemAt(source, ['rules', index, 'then', 'template'], `no template named "${template}" (known: ${[...new Set([...known.templates, PASSTHROUGH_TEMPLATE])].join(', ')})`));
    }
  });
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

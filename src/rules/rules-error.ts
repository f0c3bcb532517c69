/**
 * Why a set of rule files was refused: every problem, each naming file, line, rule and
 * reason, so a plant engineer can fix them all in one pass.
 */
export interface RuleProblem {
  file: string;
  line?: number;
  /** The rule's name, or `rules[3]` when it has none (yet). */
  rule?: string;
  /** Where inside the rule, e.g. `when.all[1].operator`. */
  key?: string;
  message: string;
}

export class RulesError extends Error {
  readonly code = 'RULES_INVALID';

  constructor(readonly problems: RuleProblem[]) {
    super(problems.map(formatRuleProblem).join('\n'));
    this.name = 'RulesError';
  }
}

/** `file:line: rule "name": key: reason`, leaving out what is not known. */
export function formatRuleProblem(problem: RuleProblem): string {
  const where = problem.line ? `${problem.file}:${problem.line}` : problem.file;
  const rule = problem.rule === undefined ? '' : problem.rule.startsWith('rules[') ? `${problem.rule}: ` : `rule "${problem.rule}": `;
  const key = problem.key ? `${problem.key}: ` : '';
  return `${where}: ${rule}${key}${problem.message}`;
}

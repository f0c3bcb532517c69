import Handlebars from 'handlebars';
import { DATE_FORMATS, isDateFormat } from './format-time.js';

/**
 * Checks on a parsed template that Handlebars itself would only fail at render time, or
 * never: so `annunciator check` finds them, not the first alarm of the night.
 */

export interface SourceProblem {
  line?: number;
  column?: number;
  message: string;
}

export interface CheckRules {
  /**
   * Output goes into HTML (html.hbs, and partials, which html.hbs may include): every
   * value must be escaped, so `{{{x}}}` and `{{&x}}` are refused.
   */
  escapedOnly: boolean;
  /** Partial names that exist; undefined skips the check (a partial may use its caller's inline partials). */
  partials?: ReadonlySet<string>;
}

export function checkTemplate(ast: hbs.AST.Program, rules: CheckRules): SourceProblem[] {
  const checker = new Checker(rules, inlinePartials(ast));
  checker.accept(ast);
  return checker.problems;
}

/** Names defined with `{{#*inline "name"}}` in this template. */
function inlinePartials(ast: hbs.AST.Program): Set<string> {
  const names = new Set<string>();
  class Collector extends Handlebars.Visitor {
    override DecoratorBlock(block: hbs.AST.DecoratorBlock): void {
      const [name] = block.params;
      if (block.path.original === 'inline' && name?.type === 'StringLiteral') names.add((name as hbs.AST.StringLiteral).value);
      super.DecoratorBlock(block);
    }
  }
  new Collector().accept(ast);
  return names;
}

function at(node: hbs.AST.Node): { line?: number; column?: number } {
  // Handlebars counts columns from 0; editors and compilers count from 1.
  return node.loc ? { line: node.loc.start.line, column: node.loc.start.column + 1 } : {};
}

function source(node: hbs.AST.Expression | hbs.AST.Literal): string {
  return node.type === 'PathExpression' ? (node as hbs.AST.PathExpression).original : node.type === 'SubExpression' ? '(...)' : node.type;
}

class Checker extends Handlebars.Visitor {
  readonly problems: SourceProblem[] = [];

  constructor(
    private readonly rules: CheckRules,
    private readonly inline: ReadonlySet<string>,
  ) {
    super();
  }

  override MustacheStatement(mustache: hbs.AST.MustacheStatement): void {
    if (!mustache.escaped && this.rules.escapedOnly) {
      this.problems.push({
        ...at(mustache),
        message: `${source(mustache.path)} is written unescaped ({{{...}}} or {{&...}}) into HTML; every value in the HTML part must be escaped, write {{${source(mustache.path)}}}`,
      });
    }
    this.checkHelperCall(mustache.path, mustache.params, mustache);
    super.MustacheStatement(mustache);
  }

  override SubExpression(sexpr: hbs.AST.SubExpression): void {
    this.checkHelperCall(sexpr.path, sexpr.params, sexpr);
    super.SubExpression(sexpr);
  }

  override BlockStatement(block: hbs.AST.BlockStatement): void {
    this.checkHelperCall(block.path, block.params, block);
    super.BlockStatement(block);
  }

  override Decorator(decorator: hbs.AST.Decorator): void {
    this.problems.push({ ...at(decorator), message: `decorator ${source(decorator.path)} is not supported` });
    super.Decorator(decorator);
  }

  override DecoratorBlock(block: hbs.AST.DecoratorBlock): void {
    if (block.path.original !== 'inline') this.problems.push({ ...at(block), message: `decorator ${block.path.original} is not supported (only {{#*inline}} partials are)` });
    super.DecoratorBlock(block);
  }

  override PartialStatement(partial: hbs.AST.PartialStatement): void {
    // A partial block ({{#> name}}fallback{{/name}}) renders its fallback when the partial
    // is missing, so only plain partial statements must name an existing partial.
    const name = partial.name;
    if (this.rules.partials && name.type === 'PathExpression') {
      const path = name as hbs.AST.PathExpression;
      if (!path.data && !this.rules.partials.has(path.original) && !this.inline.has(path.original)) {
        this.problems.push({ ...at(partial), message: `unknown partial "${path.original}": partials are the .hbs files in templates/partials/` });
      }
    }
    super.PartialStatement(partial);
  }

  /** A date format given as a literal is checked here; a computed one falls back to "long". */
  private checkHelperCall(path: hbs.AST.PathExpression | hbs.AST.Literal, params: hbs.AST.Expression[], node: hbs.AST.Node): void {
    if (path.type !== 'PathExpression' || (path as hbs.AST.PathExpression).original !== 'formatDate') return;
    const format = params[1];
    if (format?.type === 'StringLiteral' && !isDateFormat((format as hbs.AST.StringLiteral).value)) {
      this.problems.push({ ...at(node), message: `formatDate has no format "${(format as hbs.AST.StringLiteral).value}" (use ${DATE_FORMATS.map((f) => `"${f}"`).join(', ')} or none)` });
    }
  }
}

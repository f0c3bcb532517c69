import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { TimeSettings } from './format-time.js';
import { bodyText, crlfLines, headerText } from './header-text.js';
import { plainTextValues } from './plain-text.js';
import { checkTemplate, type CheckRules, type SourceProblem } from './template-check.js';
import { knownHelpers, TEMPLATE_HELPERS } from './template-helpers.js';

/**
 * The notification templates of one directory, compiled when loaded so that a broken
 * template is reported by `annunciator check` and at start-up, never at render time:
 *
 *   <dir>/<set>/subject.hbs   required, one line after rendering
 *   <dir>/<set>/text.hbs      required, the text/plain part
 *   <dir>/<set>/html.hbs      optional, the text/html part
 *   <dir>/partials/<name>.hbs optional, shared by every set as {{> name}}
 *
 * Escaping follows the part: HTML escapes every value (and refuses templates that ask it
 * not to); subject and text take values with control characters removed, and the subject
 * is flattened to one header-safe line.
 */

/** Not a template: a route with this template forwards the device's mail as it came. */
export const PASSTHROUGH_TEMPLATE = 'passthrough';

export interface TemplateProblem {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

export type TemplateErrorCode = 'invalid-templates' | 'unknown-template' | 'render-failed';

export class TemplateError extends Error {
  constructor(
    readonly code: TemplateErrorCode,
    readonly problems: TemplateProblem[],
  ) {
    super(problems.map(formatTemplateProblem).join('\n'));
    this.name = 'TemplateError';
  }
}

export function formatTemplateProblem(problem: TemplateProblem): string {
  const where = problem.line ? `${problem.file}:${problem.line}${problem.column ? `:${problem.column}` : ''}` : problem.file;
  return `${where}: ${problem.message}`;
}

export interface RenderedParts {
  /** One line: no CR, LF or other control character. */
  subject: string;
  /** CRLF line endings; no control character but TAB. */
  text: string;
  /** CRLF line endings; every value escaped. Absent when the set has no html.hbs. */
  html?: string;
}

export interface TemplateSet {
  readonly name: string;
  readonly files: { readonly subject: string; readonly text: string; readonly html?: string };
  /** Throws TemplateError (code render-failed) naming the file when a part fails to render. */
  render(view: object, settings: TimeSettings): RenderedParts;
}

export interface TemplateLibrary {
  get(name: string): TemplateSet | undefined;
  names(): string[];
  readonly dir: string;
}

export interface LoadTemplatesOptions {
  /** Template names the configuration and rules refer to; each must be a set (or passthrough). */
  required?: Iterable<string>;
}

const PART_FILES = { subject: 'subject.hbs', text: 'text.hbs', html: 'html.hbs' } as const;
const PARTIALS_DIR = 'partials';

type Mode = 'html' | 'text';
type Compiled = Handlebars.TemplateDelegate;
type Env = typeof Handlebars;

/** Loads and compiles every set in `dir`; throws one TemplateError listing every problem found. */
export function loadTemplates(dir: string, options: LoadTemplatesOptions = {}): TemplateLibrary {
  const problems: TemplateProblem[] = [];
  // An environment of our own: helpers and partials never leak between libraries, so a
  // reload or a second configuration in the same process starts clean.
  const env = Handlebars.create();
  for (const [name, helper] of Object.entries(TEMPLATE_HELPERS)) env.registerHelper(name, helper);

  const entries = listDirectory(dir, problems);
  const partials = loadPartials(env, join(dir, PARTIALS_DIR), entries.includes(PARTIALS_DIR), problems);
  const sets = new Map<string, TemplateSet>();
  for (const name of entries) {
    if (name === PARTIALS_DIR || name.startsWith('.') || !isDirectory(join(dir, name))) continue;
    if (name.toLowerCase() === PASSTHROUGH_TEMPLATE) {
      problems.push({ file: join(dir, name), message: `"${PASSTHROUGH_TEMPLATE}" is reserved (it forwards the device's mail as it came); rename the folder` });
      continue;
    }
    const set = loadSet(env, dir, name, partials, problems);
    if (set) sets.set(name, set);
  }
  for (const name of new Set(options.required ?? [])) {
    // A folder that exists but failed to load has its problems listed already.
    if (name === PASSTHROUGH_TEMPLATE || sets.has(name) || (entries.includes(name) && isDirectory(join(dir, name)))) continue;
    problems.push({ file: join(dir, name), message: `no template set "${name}": expected a folder with ${PART_FILES.subject} and ${PART_FILES.text}` });
  }
  if (problems.length > 0) throw new TemplateError('invalid-templates', problems);

  return {
    dir,
    get: (name) => sets.get(name),
    names: () => [...sets.keys()].sort(),
  };
}

function listDirectory(dir: string, problems: TemplateProblem[]): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (error) {
    problems.push({ file: dir, message: `cannot read the directory: ${reason(error)}` });
    return [];
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

interface Partials {
  /** Compiled for the HTML part (escaping) and for subject and text (no escaping). */
  html: Record<string, Compiled>;
  text: Record<string, Compiled>;
  names: ReadonlySet<string>;
}

function loadPartials(env: Env, dir: string, present: boolean, problems: TemplateProblem[]): Partials {
  const names = new Set<string>();
  const partials: Partials = { html: {}, text: {}, names };
  if (!present) return partials;
  for (const file of listDirectory(dir, problems)) {
    if (!file.endsWith('.hbs')) continue;
    const name = file.slice(0, -'.hbs'.length);
    const path = join(dir, file);
    if (!/^[A-Za-z0-9_-]+$/.test(name) || name in Object.prototype) {
      problems.push({ file: path, message: 'a partial is named with letters, digits, "-" and "_" only (and not like a property of every object), so {{> name}} can call it' });
      continue;
    }
    const source = readSource(path, problems);
    // A partial may be included in html.hbs, so it is held to the HTML rules; which partials
    // it calls is not checked, as it may call inline partials of the template including it.
    const checked = source === undefined ? undefined : validate(env, path, source, { escapedOnly: true }, problems);
    if (source === undefined || !checked) continue;
    partials.html[name] = compile(env, source, 'html', checked.htmlSpec);
    partials.text[name] = compile(env, source, 'text');
    names.add(name);
  }
  return partials;
}

function loadSet(env: Env, dir: string, name: string, partials: Partials, problems: TemplateProblem[]): TemplateSet | undefined {
  const folder = join(dir, name);
  const expected: readonly string[] = Object.values(PART_FILES);
  const present = listDirectory(folder, problems);
  for (const file of present) {
    if (file.endsWith('.hbs') && !expected.includes(file)) {
      problems.push({ file: join(folder, file), message: `not a part of a template set (expected ${expected.join(', ')}; shared partials go in ${join(dir, PARTIALS_DIR)})` });
    }
  }
  const before = problems.length;
  const part = (file: string, mode: Mode, required: boolean): Part | undefined => {
    const path = join(folder, file);
    if (!present.includes(file)) {
      if (required) problems.push({ file: path, message: `missing: a template set needs ${PART_FILES.subject} and ${PART_FILES.text}` });
      return undefined;
    }
    const source = readSource(path, problems);
    const checked = source === undefined ? undefined : validate(env, path, source, { escapedOnly: mode === 'html', partials: partials.names }, problems);
    if (source === undefined || !checked) return undefined;
    return { file: path, template: compile(env, source, mode, checked.htmlSpec), partials: mode === 'html' ? partials.html : partials.text };
  };
  const subject = part(PART_FILES.subject, 'text', true);
  const text = part(PART_FILES.text, 'text', true);
  const html = part(PART_FILES.html, 'html', false);
  if (!subject || !text || problems.length > before) return undefined;

  return {
    name,
    files: { subject: subject.file, text: text.file, ...(html ? { html: html.file } : {}) },
    render(view, settings) {
      // One sanitised copy serves every part: control characters have no place in HTML
      // either, and the HTML part escapes on top of it.
      const values = plainTextValues(view);
      const data = { timeZone: settings.timeZone, locale: settings.locale };
      return {
        subject: headerText(run(subject, values, data)),
        text: bodyText(run(text, values, data)),
        ...(html ? { html: crlfLines(run(html, values, data)) } : {}),
      };
    },
  };
}

interface Part {
  file: string;
  template: Compiled;
  partials: Record<string, Compiled>;
}

function run(part: Part, view: object, data: TimeSettings): string {
  try {
    return part.template(view, { data, partials: part.partials });
  } catch (error) {
    throw new TemplateError('render-failed', [{ file: part.file, message: `cannot render: ${reason(error)}` }]);
  }
}

function readSource(path: string, problems: TemplateProblem[]): string | undefined {
  try {
    // A BOM or CRLF from a Windows editor would otherwise end up in the output.
    return readFileSync(path, 'utf8').replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  } catch (error) {
    problems.push({ file: path, message: `cannot be read: ${reason(error)}` });
    return undefined;
  }
}

function compileOptions(mode: Mode): CompileOptions {
  // knownHelpersOnly turns a misspelt helper into a compile error instead of a render-time
  // "Missing helper"; nobody can register helpers of their own, so nothing is lost.
  return { strict: false, noEscape: mode === 'text', knownHelpers: knownHelpers(), knownHelpersOnly: true };
}

/**
 * Parses, checks and fully compiles a source once, recording what is wrong with it; when
 * nothing is, the compiled HTML-mode spec, which compile() uses rather than compiling again.
 */
function validate(env: Env, file: string, source: string, rules: CheckRules, problems: TemplateProblem[]): { htmlSpec: string } | undefined {
  let ast: hbs.AST.Program;
  try {
    ast = env.parse(source);
  } catch (error) {
    problems.push(handlebarsProblem(file, error));
    return undefined;
  }
  const found = checkTemplate(ast, rules);
  problems.push(...found.map((p: SourceProblem) => ({ file, ...p })));
  let htmlSpec: string;
  try {
    // compile() defers the work to the first render; precompile() runs the whole compiler
    // now, so errors it alone finds (unknown helper, mismatched block) surface at load.
    // Typed as a TemplateSpecification; precompile() gives the spec as JavaScript source.
    htmlSpec = String(env.precompile(source, compileOptions('html')));
  } catch (error) {
    problems.push(handlebarsProblem(file, error));
    return undefined;
  }
  return found.length === 0 ? { htmlSpec } : undefined;
}

/**
 * Compiled now, not at the first render as Handlebars' compile() would (it compiled every
 * template again when the first notification after a start or reload was rendered): a
 * precompiled spec made a template, the way Handlebars documents for precompiled ones.
 */
function compile(env: Env, source: string, mode: Mode, htmlSpec?: string): Compiled {
  const spec = mode === 'html' && htmlSpec !== undefined ? htmlSpec : String(env.precompile(source, compileOptions(mode)));
  // The spec is JavaScript that Handlebars' compiler wrote from a template that passed the checks above.
  const made: unknown = new Function(`return ${spec};`)();
  return env.template(made as TemplateSpecification);
}

/**
 * Handlebars reports syntax errors as "Parse error on line 3:\n<source>\n---^\nExpecting ...",
 * compile errors as "<message> - 3:7" with lineNumber and column: either becomes file:line.
 */
function handlebarsProblem(file: string, error: unknown): TemplateProblem {
  const message = reason(error);
  const syntax = /^(?:Parse|Lexical) error on line (\d+)[:.]?\s*([\s\S]*)$/.exec(message);
  if (syntax) {
    const lines = (syntax[2] ?? '').split('\n').filter((l) => l.trim() !== '');
    const expecting = lines.find((l) => /^Expecting|^Unrecognized/.test(l)) ?? 'cannot parse';
    const hint = /got 'EOF'/.test(expecting) ? ' (a block opened with {{#...}} is not closed?)' : '';
    const snippet = lines.filter((l) => l !== expecting).map((l) => `    ${l}`);
    return { file, line: Number(syntax[1]), message: [`syntax error: ${expecting}${hint}`, ...snippet].join('\n') };
  }
  const located = /^([\s\S]*?) - (\d+):(\d+)$/.exec(message);
  if (located) return { file, line: Number(located[2]), column: Number(located[3]) + 1, message: plainCompileMessage(located[1] ?? message) };
  return { file, message };
}

/** knownHelpersOnly is our switch, not the template author's: say what is wrong in their terms. */
function plainCompileMessage(message: string): string {
  const helper = /^You specified knownHelpersOnly, but used the unknown helper (\S+)$/.exec(message);
  if (!helper) return message;
  const available = Object.entries(knownHelpers()).filter(([, known]) => known).map(([name]) => name);
  return `unknown helper "${helper[1]}" (helpers are ${available.join(', ')})`;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

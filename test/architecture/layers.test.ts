import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The road runs one way (shared/ARCHITECTURE.md): this test reads the relative imports of
 * every file under src/ and checks them against the layers below, and that no files
 * import each other in a cycle. A failure names the import: `src/a/b.ts:3 -> src/c/d.ts`.
 *
 * Layers, bottom to top:
 *   base/  primitives used by several stages (zoned time, CIDR sets, backoff, ids, TLS
 *          policy, signed tokens): imports base/ and log/ only.
 *   log/   the logger: imports base/ and log/ only.
 *   config/ the ground floor: loads config/*.yaml into typed objects; imports base/, log/.
 *   ingest/ < parse/ < rules/ < lifecycle/ < render/ < deliver/: the stages, in the order
 *          an alarm travels. A stage imports the bottom layers and any EARLIER stage, never
 *          a later one: it takes the values of the stages before it (`parse` takes the
 *          `Received` type from `ingest`, `lifecycle` the `Route` and `EscalationPolicy`
 *          from `rules`, `render` the `Due` from `lifecycle`, `deliver` the `Alarm` it
 *          publishes). `store/` only with `import type`: a stage is handed a store and
 *          calls it through the interface; it never builds or runs one.
 *   store/ the one transactional store: imports the bottom layers, and `import type`
 *          from any stage (it persists their values).
 *   top:   gateway/, cli/, api/ and files directly under src/ (app.ts, ...): compose the
 *          road and may import anything.
 *
 * An import counts as type-only when it is `import type` / `export type`, or when every
 * name it takes is marked `type` (TypeScript erases it, so nothing is loaded at run time).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');

const BOTTOM: readonly string[] = ['base', 'log', 'config'];
/** In the order an alarm travels. */
const STAGES: readonly string[] = ['ingest', 'parse', 'rules', 'lifecycle', 'render', 'deliver'];
/** `.` is a file directly under src/. */
const TOP: readonly string[] = ['pipeline', 'run', 'cli', 'api', '.'];

/**
 * Imports that break the layers and are kept for now, each with the reason. An entry is
 * `from -> to` (paths under src/). The test fails when an entry no longer matches an
 * import, so the list only shrinks.
 */
const ALLOWED: ReadonlyArray<{ from: string; to: string; reason: string }> = [
];

interface Import {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f))
    .sort();
}

/** `src/x/y.ts` for an absolute path. */
function rel(file: string): string {
  return relative(ROOT, file).split('\\').join('/');
}

/** The folder under src/ a file belongs to (`.` for a file directly under src/). */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts.length === 1 ? '.' : parts[0]!;
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const clause = node.exportClause;
    return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
  }
  const clause = node.importClause;
  if (!clause) return false; // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** The relative imports of one file, resolved to files under src/. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (specifier: ts.Node, typeOnly: boolean): void => {
    if (!ts.isStringLiteralLike(specifier)) return;
    const name = specifier.text;
    if (!name.startsWith('.')) return;
    const target = resolve(dirname(file), name.replace(/\.js$/, '.ts'));
    const line = source.getLineAndCharacterOfPosition(specifier.getStart()).line + 1;
    if (!existsSync(target)) throw new Error(`${rel(file)}:${line} imports '${name}', which is not a .ts file under src/`);
    found.push({ from: file, to: target, line, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      add(node.moduleSpecifier, isTypeOnly(node));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Why an import breaks the layers, or undefined when it keeps them. */
function violation(from: string, to: string, typeOnly: boolean): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  const name = (l: string): string => (l === '.' ? 'the top layer (src/*.ts)' : `${l}/`);
  if (a === 'base' || a === 'log') return b === 'base' || b === 'log' ? undefined : `${a}/ may import only base/ and log/`;
  if (a === 'config') return BOTTOM.includes(b) ? undefined : 'config/ is the ground floor: it may import only base/, log/ and config/';
  if (TOP.includes(a)) return undefined;
  if (a !== 'store' && !STAGES.includes(a)) return `src/${a}/ has no layer: add it to test/architecture/layers.test.ts`;
  if (BOTTOM.includes(b)) return undefined;
  if (a === 'store') {
    if (b === 'store') return undefined;
    if (STAGES.includes(b)) return typeOnly ? undefined : `store/ may take only types from ${b}/ (import type), not values`;
    return `store/ may not import ${name(b)}`;
  }
  const stage = STAGES.indexOf(a);
  if (b === 'store') return typeOnly ? undefined : 'a stage may take only types from store/ (import type), not values';
  const other = STAGES.indexOf(b);
  if (other < 0) return `${a}/ (a stage) may not import ${name(b)}`;
  return other <= stage ? undefined : `${a}/ (stage ${stage}) may not import the later stage ${b}/ (stage ${other})`;
}

/** Tarjan's strongly connected components; returns those with more than one file, or a file importing itself. */
function cycles(files: string[], edges: Map<string, Import[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const { to: w } of edges.get(v) ?? []) {
      if (!indices.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).some((e) => e.to === v)) found.push(component.sort());
    }
  };
  for (const f of files) if (!indices.has(f)) connect(f);
  return found;
}

const files = sourceFiles(SRC);
const edges = new Map(files.map((f) => [f, importsOf(f)]));
const show = (i: Import): string => `${rel(i.from)}:${i.line} -> ${rel(i.to)}${i.typeOnly ? ' (import type)' : ''}`;

describe('architecture: the layers of src/', () => {
  it('reads the imports of every source file', () => {
    assert.ok(files.length > 50, `found only ${files.length} files under ${SRC}`);
    assert.ok([...edges.values()].flat().length > 200, 'found too few imports: is the import reader broken?');
  });

  it('runs the road one way: no import reaches a later stage or up to the top layer', () => {
    const used = new Set<(typeof ALLOWED)[number]>();
    const problems: string[] = [];
    for (const i of [...edges.values()].flat()) {
      const why = violation(i.from, i.to, i.typeOnly);
      if (!why) continue;
      const allowed = ALLOWED.find((a) => `src/${a.from}` === rel(i.from) && `src/${a.to}` === rel(i.to));
      if (allowed) used.add(allowed);
      else problems.push(`${show(i)}\n    ${why}`);
    }
    for (const a of ALLOWED) if (!used.has(a)) problems.push(`allow-list entry ${a.from} -> ${a.to} matches no import any more: remove it`);
    assert.equal(problems.length, 0, `${problems.length} import(s) break the layers:\n  ${problems.join('\n  ')}`);
  });

  it('has no import cycle between files (value and type imports alike)', () => {
    const found = cycles(files, edges);
    const described = found.map((component) => {
      const members = new Set(component);
      const inside = component.flatMap((f) => (edges.get(f) ?? []).filter((e) => members.has(e.to)));
      return `cycle of ${component.length} files:\n    ${inside.map(show).join('\n    ')}`;
    });
    assert.equal(found.length, 0, `${found.length} import cycle(s):\n  ${described.join('\n  ')}`);
  });
});

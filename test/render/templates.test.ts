import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { formatDate, formatDuration } from '../../src/render/format-time.js';
import { loadTemplates, TemplateError, type RenderedParts, type TemplateLibrary } from '../../src/render/templates.js';

const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates');
const BERLIN = { timeZone: 'Europe/Berlin', locale: 'en-GB' };
/** 03:14:07 in Berlin (CET), 21:14:07 the evening before in New York (EST). */
const T0 = Date.UTC(2026, 10, 24, 2, 14, 7);

const created: string[] = [];
after(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A templates directory with the given files (paths relative to it). */
function templatesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-templates-'));
  created.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** The smallest valid set, named x, plus whatever the test adds or replaces. */
function withSet(files: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = { 'x/subject.hbs': 'Subject {{title}}', 'x/text.hbs': 'Text {{title}}\n', ...files };
  return templatesDir(Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined)));
}

function loadError(dir: string, required?: string[]): TemplateError {
  try {
    loadTemplates(dir, required ? { required } : {});
  } catch (error) {
    assert.ok(error instanceof TemplateError, String(error));
    assert.equal(error.code, 'invalid-templates');
    return error;
  }
  assert.fail(`${dir} loaded without an error`);
}

function render(library: TemplateLibrary, view: object, name = 'x', settings = BERLIN): RenderedParts {
  const set = library.get(name);
  assert.ok(set, `no set ${name}`);
  return set.render(view, settings);
}

/** Renders `source` as each part of a set x in turn. */
function renderAs(part: 'subject' | 'text' | 'html', source: string, view: object, settings = BERLIN): string {
  const library = loadTemplates(withSet({ [`x/${part}.hbs`]: source }));
  const rendered = render(library, view, 'x', settings);
  const value = rendered[part];
  assert.ok(value !== undefined);
  return value;
}

function hbsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return hbsFiles(path);
    return name.endsWith('.hbs') ? [path] : [];
  });
}

describe('loadTemplates: the shipped templates', () => {
  const library = loadTemplates(TEMPLATES_DIR);

  it('loads every set without a problem: default and group (with HTML) and short (without)', () => {
    assert.deepEqual(library.names(), ['default', 'group', 'short']);
    assert.equal(library.dir, TEMPLATES_DIR);
    assert.ok(library.get('default')?.files.html?.endsWith(join('default', 'html.hbs')));
    assert.equal(library.get('short')?.files.html, undefined);
  });

  it('loads every shipped .hbs file: each is a part of a loaded set or a partial', () => {
    const used = new Set(library.names().flatMap((name) => Object.values(library.get(name)?.files ?? {})));
    const files = hbsFiles(TEMPLATES_DIR);
    assert.ok(files.length >= 7, files.join(', '));
    for (const file of files) {
      const inPartials = relative(TEMPLATES_DIR, file).startsWith(`partials${'/'}`);
      assert.ok(used.has(file) || inPartials, `${relative(TEMPLATES_DIR, file)} is not loaded`);
    }
  });

  it('is satisfied when the names a configuration requires exist, passthrough included', () => {
    assert.doesNotThrow(() => loadTemplates(TEMPLATES_DIR, { required: ['default', 'short', 'passthrough'] }));
  });
});

describe('loadTemplates: problems name the file', () => {
  it('refuses a set without text.hbs', () => {
    const dir = withSet({ 'x/text.hbs': undefined });
    const error = loadError(dir);
    assert.equal(error.problems.length, 1);
    assert.equal(error.problems[0]?.file, join(dir, 'x', 'text.hbs'));
    assert.match(error.message, /x\/text\.hbs: missing: a template set needs subject\.hbs and text\.hbs/);
  });

  it('refuses a set without subject.hbs', () => {
    const dir = withSet({ 'x/subject.hbs': undefined });
    assert.match(loadError(dir).message, /x\/subject\.hbs: missing/);
  });

  it('reports a syntax error with file and line, and what the parser expected', () => {
    const dir = withSet({ 'x/text.hbs': 'line one\n{{#if title}}\nunclosed\n' });
    const error = loadError(dir);
    const [problem] = error.problems;
    assert.equal(problem?.file, join(dir, 'x', 'text.hbs'));
    assert.equal(typeof problem?.line, 'number');
    assert.ok(error.message.startsWith(`${join(dir, 'x', 'text.hbs')}:${problem?.line}: syntax error: Expecting`), error.message);
    assert.match(error.message, /not closed/);
  });

  it('reports a broken mustache in html.hbs at its line', () => {
    const dir = withSet({ 'x/html.hbs': '<p>\n<b>{{title</b>\n' });
    const error = loadError(dir);
    assert.equal(error.problems[0]?.file, join(dir, 'x', 'html.hbs'));
    assert.equal(error.problems[0]?.line, 2);
  });

  it('reports a misspelt helper when loading, not when rendering', () => {
    const dir = withSet({ 'x/text.hbs': 'ok\n{{formatdate firstSeen}}\n' });
    const error = loadError(dir);
    assert.equal(error.problems[0]?.file, join(dir, 'x', 'text.hbs'));
    assert.equal(error.problems[0]?.line, 2);
    assert.match(error.message, /unknown helper "formatdate" \(helpers are formatDate, duration, /);
  });

  it('reports a block closed with the wrong name', () => {
    assert.match(loadError(withSet({ 'x/text.hbs': '{{#each fields}}x{{/if}}' })).message, /x\/text\.hbs:1:\d+: each doesn't match if/);
  });

  it('refuses {{{triple-stash}}} in html.hbs, naming file and line', () => {
    const dir = withSet({ 'x/html.hbs': '<p>{{title}}</p>\n<p>{{{text}}}</p>\n' });
    const error = loadError(dir);
    assert.equal(error.problems.length, 1);
    assert.deepEqual({ ...error.problems[0], message: undefined }, { file: join(dir, 'x', 'html.hbs'), line: 2, column: 4, message: undefined });
    assert.match(error.message, /text is written unescaped/);
  });

  it('refuses {{&ampersand}} in html.hbs too', () => {
    assert.match(loadError(withSet({ 'x/html.hbs': '<p>{{&title}}</p>' })).message, /x\/html\.hbs:1:4: title is written unescaped/);
  });

  it('refuses triple-stash inside a block of html.hbs', () => {
    assert.match(loadError(withSet({ 'x/html.hbs': '{{#each fields}}<td>{{{value}}}</td>{{/each}}' })).message, /value is written unescaped/);
  });

  it('refuses triple-stash in a partial, which html.hbs may include', () => {
    const dir = withSet({ 'partials/raw.hbs': '{{{title}}}' });
    const error = loadError(dir);
    assert.equal(error.problems[0]?.file, join(dir, 'partials', 'raw.hbs'));
  });

  it('accepts triple-stash in subject.hbs and text.hbs, which are not HTML', () => {
    const library = loadTemplates(withSet({ 'x/subject.hbs': '{{{title}}}', 'x/text.hbs': '{{{title}}}' }));
    assert.deepEqual(render(library, { title: 'a <b>\u0007' }), { subject: 'a <b>', text: 'a <b>' });
  });

  it('refuses a partial that does not exist, accepts inline partials and partial blocks with a fallback', () => {
    assert.match(loadError(withSet({ 'x/text.hbs': '{{> nosuch}}' })).message, /x\/text\.hbs:1:1: unknown partial "nosuch"/);
    const library = loadTemplates(withSet({ 'x/text.hbs': '{{#*inline "here"}}[{{title}}]{{/inline}}{{> here}} {{#> elsewhere}}fallback{{/elsewhere}}' }));
    assert.equal(render(library, { title: 't' }).text, '[t] fallback');
  });

  it('refuses decorators other than inline', () => {
    assert.match(loadError(withSet({ 'x/text.hbs': '{{* nosuch}}' })).message, /decorator nosuch is not supported/);
  });

  it('refuses a date format that does not exist, given as a literal', () => {
    assert.match(loadError(withSet({ 'x/text.hbs': '{{formatDate firstSeen "rfc"}}' })).message, /formatDate has no format "rfc"/);
  });

  it('refuses a folder named passthrough, in any case', () => {
    const dir = withSet({ 'Passthrough/subject.hbs': 's', 'Passthrough/text.hbs': 't' });
    const error = loadError(dir);
    assert.equal(error.problems[0]?.file, join(dir, 'Passthrough'));
    assert.match(error.message, /reserved/);
  });

  it('refuses a stray .hbs file in a set, so a misspelt part is noticed', () => {
    const dir = withSet({ 'x/subjet.hbs': 's' });
    assert.equal(loadError(dir).problems[0]?.file, join(dir, 'x', 'subjet.hbs'));
  });

  it('refuses a partial whose name {{> name}} cannot call', () => {
    const dir = withSet({ 'partials/two words.hbs': 'x', 'partials/constructor.hbs': 'x' });
    assert.deepEqual(
      loadError(dir).problems.map((p) => p.file),
      [join(dir, 'partials', 'constructor.hbs'), join(dir, 'partials', 'two words.hbs')],
    );
  });

  it('refuses a template set that is required but has no folder', () => {
    const dir = withSet();
    const error = loadError(dir, ['x', 'on-call', 'passthrough']);
    assert.equal(error.problems.length, 1);
    assert.equal(error.problems[0]?.file, join(dir, 'on-call'));
    assert.match(error.message, /no template set "on-call"/);
  });

  it('reports a directory that cannot be read', () => {
    const dir = join(withSet(), 'nowhere');
    assert.equal(loadError(dir).message, `${dir}: cannot read the directory: ENOENT: no such file or directory, scandir '${dir}'`);
  });

  it('collects every problem of the directory into one error', () => {
    const dir = templatesDir({
      'a/subject.hbs': '{{#if}}',
      'a/text.hbs': 'fine',
      'b/subject.hbs': 'fine',
      'b/html.hbs': '{{{title}}}',
      'partials/p.hbs': '{{nohelper x}}',
    });
    const error = loadError(dir);
    const files = error.problems.map((p) => relative(dir, p.file)).sort();
    assert.deepEqual(files, [join('a', 'subject.hbs'), join('b', 'html.hbs'), join('b', 'text.hbs'), join('partials', 'p.hbs')]);
    assert.equal(error.message.split('\n').filter((line) => line.startsWith(dir)).length, 4);
  });

  it('ignores hidden folders and files that are not templates', () => {
    const library = loadTemplates(withSet({ '.git/subject.hbs': 'x', 'README.md': '# notes', 'x/notes.txt': 'n', 'partials/README.md': 'n' }));
    assert.deepEqual(library.names(), ['x']);
  });

  it('reads templates written on Windows: no BOM and no CR reach the output', () => {
    const library = loadTemplates(withSet({ 'x/text.hbs': '\uFEFFa {{title}}\r\nb\r\n' }));
    assert.equal(render(library, { title: 't' }).text, 'a t\r\nb\r\n');
  });
});

describe('TemplateSet.render: escaping per context', () => {
  const hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>';

  it('escapes every value in the HTML part, in content and in quoted attributes', () => {
    const html = renderAs('html', '<p title="{{title}}">{{title}}</p>{{#each fields}}<td>{{name}}</td><td>{{value}}</td>{{/each}}', {
      title: hostile,
      fields: [{ name: '<b>', value: hostile }],
    });
    assert.ok(!/<script|<img|<b>/i.test(html), html);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;'), html);
    assert.ok(html.startsWith('<p title="&lt;script&gt;'), html);
  });

  it('escapes partials in the HTML part and leaves the same partial unescaped in the text part', () => {
    const library = loadTemplates(withSet({ 'partials/name.hbs': '{{title}}', 'x/text.hbs': '{{> name}}', 'x/html.hbs': '<p>{{> name}}</p>' }));
    const parts = render(library, { title: 'a < b' });
    assert.equal(parts.text, 'a < b');
    assert.equal(parts.html, '<p>a &lt; b</p>');
  });

  it('writes values into the text part as they are, without control characters but LF and TAB, with CRLF line ends', () => {
    const text = renderAs('text', '{{title}}\n{{text}}\n', { title: `${hostile}\u0000\u0007\u001b[31m\u007f\u0085`, text: 'one\ttab\r\ntwo\rthree\u2028four' });
    assert.equal(text, `${hostile}[31m\r\none\ttab\r\ntwo\r\nthree\r\nfour\r\n`);
  });

  it('cleans values at any depth of the view, in lists and nested objects', () => {
    const text = renderAs('text', '{{device.name}}|{{#each fields}}{{name}}={{value}};{{/each}}|{{join rules}}', {
      device: { name: 'PLC\u0000 4' },
      fields: [{ name: 'a\u0001', value: 'b\u0002' }],
      rules: ['r\u00031', 'r2'],
    });
    assert.equal(text, 'PLC 4|a=b;|r1, r2');
  });

  it('makes the subject one line: control characters and line breaks become single spaces', () => {
    const subject = renderAs('subject', '[{{severity}}]\n{{title}}\n', { severity: 'x', title: 'Pump 3\r\nBcc: victim@example.com\r\n\r\nbody' });
    assert.equal(subject, '[x] Pump 3 Bcc: victim@example.com body');
  });

  it('throws a TemplateError naming the file when a part fails to render', () => {
    const dir = withSet({ 'x/text.hbs': '{{> (lookup . "which")}}' });
    const library = loadTemplates(dir);
    assert.throws(
      () => render(library, { which: 'nosuch' }),
      (error: unknown) => error instanceof TemplateError && error.code === 'render-failed' && error.problems[0]?.file === join(dir, 'x', 'text.hbs') && /nosuch could not be found/.test(error.message),
    );
  });

  it('renders subject and text from a set without html.hbs and gives no html', () => {
    assert.deepEqual(render(loadTemplates(withSet()), { title: 't' }), { subject: 'Subject t', text: 'Text t\r\n' });
  });
});

describe('template helpers', () => {
  const view = { t: T0, dur: 453_000, sev: 'critical', list: ['a', 'b', ''], people: [{ name: 'ops' }, { name: 'anna' }] };
  const text = (source: string, settings = BERLIN, values: object = view): string => renderAs('text', source, values, settings);

  it('formatDate: in the configured zone and locale, in a fixed order', () => {
    assert.equal(text('{{formatDate t}}'), 'Tue 24 Nov 2026 03:14:07 CET');
    assert.equal(text('{{formatDate t}}', { timeZone: 'America/New_York', locale: 'en-US' }), 'Mon 23 Nov 2026 21:14:07 EST');
    assert.equal(text('{{formatDate t}}', { timeZone: 'Europe/Berlin', locale: 'de-DE' }), 'Di. 24 Nov. 2026 03:14:07 MEZ');
  });

  it('formatDate "iso" and "time"', () => {
    assert.equal(text('{{formatDate t "iso"}}'), '2026-11-24T03:14:07+01:00');
    assert.equal(text('{{formatDate t "iso"}}', { timeZone: 'America/New_York', locale: 'en-GB' }), '2026-11-23T21:14:07-05:00');
    assert.equal(text('{{formatDate t "iso"}}', { timeZone: 'Asia/Kolkata', locale: 'ar-EG' }), '2026-11-24T07:44:07+05:30');
    assert.equal(text('{{formatDate t "time"}}'), '03:14 CET');
  });

  it('formatDate: summer time in the same zone', () => {
    assert.equal(text('{{formatDate t "iso"}}', BERLIN, { t: Date.UTC(2026, 6, 1, 10, 0, 0) }), '2026-07-01T12:00:00+02:00');
  });

  it('formatDate gives nothing for a missing time', () => {
    assert.equal(text('[{{formatDate nothing}}]'), '[]');
  });

  it('one library renders for different zones in the same process', () => {
    const library = loadTemplates(withSet({ 'x/text.hbs': '{{formatDate t "time"}}' }));
    assert.equal(render(library, view, 'x', BERLIN).text, '03:14 CET');
    assert.equal(render(library, view, 'x', { timeZone: 'UTC', locale: 'en-GB' }).text, '02:14 UTC');
  });

  it('duration', () => {
    assert.equal(text('{{duration dur}}'), '7 min 33 s');
    assert.deepEqual(
      [0, 999, 45_000, 420_000, 7_500_000, 273_600_000, 86_400_000, -5].map(formatDuration),
      ['0 s', '0 s', '45 s', '7 min', '2 h 5 min', '3 d 4 h', '1 d', '0 s'],
    );
    assert.equal(text('[{{duration nothing}}]'), '[]');
  });

  it('severityLabel and severityColor', () => {
    const severities = ['critical', 'major', 'minor', 'warning', 'info'];
    assert.deepEqual(
      severities.map((sev) => text('{{severityLabel sev}} {{severityColor sev}}', BERLIN, { sev })),
      ['CRITICAL #b00020', 'MAJOR #d35400', 'MINOR #b7950b', 'WARNING #1f618d', 'INFO #566573'],
    );
    assert.equal(text('{{severityColor sev}}', BERLIN, { sev: '"><script>' }), '#566573');
  });

  it('eq, join, upper, plural, quote', () => {
    assert.equal(text('{{#if (eq sev "critical")}}yes{{/if}}{{#if (eq sev "info")}}no{{/if}}'), 'yes');
    assert.equal(text('{{join list}}|{{join list " / "}}|{{join people ", " key="name"}}|{{join nothing}}'), 'a, b|a / b|ops, anna|');
    assert.equal(text('{{upper sev}}'), 'CRITICAL');
    assert.equal(text('{{plural 1 "occurrence"}} {{plural 2 "occurrence"}} {{plural 0 "child" "children"}}'), 'occurrence occurrences children');
    assert.equal(text('{{quote q}}', BERLIN, { q: 'one\r\n\r\ntwo\n' }), '> one\r\n>\r\n> two');
  });

  it('formatDate also reaches partials and loops, where the data frame changes', () => {
    const library = loadTemplates(withSet({ 'partials/when.hbs': '{{formatDate this "time"}}', 'x/text.hbs': '{{#each times}}{{> when}};{{/each}}' }));
    assert.equal(render(library, { times: [T0] }).text, '03:14 CET;');
  });

  it('log is not available: a render stays free of side effects', () => {
    assert.match(loadError(withSet({ 'x/text.hbs': '{{log title}}' })).message, /unknown helper "log"/);
  });

  it('formatDate and formatDuration as functions', () => {
    assert.equal(formatDate(T0, { timeZone: 'UTC', locale: 'en-GB' }), 'Tue 24 Nov 2026 02:14:07 UTC');
    assert.equal(formatDate(T0, { timeZone: 'UTC', locale: 'en-GB' }, 'iso'), '2026-11-24T02:14:07+00:00');
  });
});

describe('loadTemplates: isolation', () => {
  it('registers nothing on the global Handlebars', () => {
    loadTemplates(TEMPLATES_DIR);
    assert.equal(Handlebars.helpers.formatDate, undefined);
    assert.equal(Handlebars.partials.where, undefined);
  });

  it('keeps the partials of one directory out of another', () => {
    const one = loadTemplates(withSet({ 'partials/p.hbs': 'one', 'x/text.hbs': '{{> p}}' }));
    const two = loadTemplates(withSet({ 'partials/p.hbs': 'two', 'x/text.hbs': '{{> p}}' }));
    assert.equal(render(one, {}).text, 'one');
    assert.equal(render(two, {}).text, 'two');
  });
});

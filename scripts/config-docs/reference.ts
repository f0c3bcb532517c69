import { configKeys, type ConfigKey } from './schema-walk.js';
import { KEY_DOCS, SECTION_DOCS, type KeyDoc } from './descriptions.js';

/**
 * The configuration reference of docs/configuration.md: one table per top-level key, a
 * row per key path, written between the two markers below. Everything outside them is
 * hand-written and left alone.
 */
export const BEGIN = '<!-- BEGIN GENERATED REFERENCE: npm run docs:config writes it from src/config/schema.ts and scripts/config-docs/descriptions.ts; edit those, not this -->';
export const END = '<!-- END GENERATED REFERENCE -->';

/** The header of every reference table; test/config/reference.test.ts reads the rows of tables with it. */
export const TABLE_HEADER = '| key | type | default | meaning |';

/** The side table's words for a key, else what the schema's `.describe()` says. */
export function keyDoc(path: string, key?: ConfigKey): KeyDoc | undefined {
  const entry = KEY_DOCS[path];
  if (entry !== undefined) return typeof entry === 'string' ? { text: entry } : entry;
  return key?.description ? { text: key.description } : undefined;
}

/** Keys of the schema without a description, and descriptions of keys the schema lacks. */
export function descriptionGaps(keys: ConfigKey[] = configKeys()): { undescribed: string[]; unknown: string[] } {
  const paths = new Set(keys.map((k) => k.path));
  return {
    undescribed: keys.filter((k) => !keyDoc(k.path, k)?.text).map((k) => k.path),
    unknown: Object.keys(KEY_DOCS).filter((p) => !paths.has(p)),
  };
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function defaultCell(key: ConfigKey, doc: KeyDoc | undefined): string {
  if (doc?.default !== undefined) return doc.default;
  if (key.required) return '**required**';
  if (key.default === undefined) return 'none';
  return `\`${key.default}\``;
}

function row(key: ConfigKey): string {
  const doc = keyDoc(key.path, key);
  const meaning = `${doc?.text ?? ''}${key.only ? ` (only with ${key.only})` : ''}`;
  return `| \`${key.path}\` | ${cell(doc?.type ?? key.type)} | ${cell(defaultCell(key, doc))} | ${cell(meaning)} |`;
}

/** The generated part, markers included. */
export function renderReference(keys: ConfigKey[] = configKeys()): string {
  const sections = new Map<string, ConfigKey[]>();
  for (const key of keys) {
    const top = key.path.split(/[.[]/)[0] ?? key.path;
    sections.set(top, [...(sections.get(top) ?? []), key]);
  }
  const parts = [BEGIN, ''];
  for (const [top, rows] of sections) {
    const list = rows[0]?.kind === 'list' ? '[]' : '';
    parts.push(`### \`${top}${list}\``, '');
    if (SECTION_DOCS[top]) parts.push(SECTION_DOCS[top], '');
    parts.push(TABLE_HEADER, '| --- | --- | --- | --- |', ...rows.map(row), '');
  }
  parts.push(END);
  return parts.join('\n');
}

/** `document` with its generated part replaced by `generated`; throws when the markers are missing. */
export function spliceReference(document: string, generated: string): string {
  const begin = document.indexOf(BEGIN);
  const end = document.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`docs/configuration.md: the markers of the generated reference are missing (${BEGIN} ... ${END})`);
  return document.slice(0, begin) + generated + document.slice(end + END.length);
}

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderJsonSchema } from './config-docs/json-schema.js';
import { descriptionGaps, renderReference, spliceReference } from './config-docs/reference.js';
import { renderRulesJsonSchema } from './config-docs/rules-json-schema.js';

/**
 * `npm run docs:config`: writes the configuration reference into docs/configuration.md and
 * the JSON Schema to config/annunciator.schema.json, both from src/config/schema.ts, and
 * the JSON Schema of rule files to rules/rules.schema.json from src/rules/rule-file.ts.
 * `--check` writes nothing and exits 1 when either is out of date (the tests do the same).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REFERENCE_FILE = join(ROOT, 'docs/configuration.md');
export const JSON_SCHEMA_FILE = join(ROOT, 'config/annunciator.schema.json');
export const RULES_JSON_SCHEMA_FILE = join(ROOT, 'rules/rules.schema.json');

const check = process.argv.includes('--check');
const gaps = descriptionGaps();
if (gaps.undescribed.length > 0 || gaps.unknown.length > 0) {
  if (gaps.undescribed.length > 0) process.stderr.write(`keys without a description in scripts/config-docs/descriptions.ts:\n  ${gaps.undescribed.join('\n  ')}\n`);
  if (gaps.unknown.length > 0) process.stderr.write(`descriptions of keys the schema does not have:\n  ${gaps.unknown.join('\n  ')}\n`);
  process.exit(1);
}

const outputs: Array<[string, string]> = [
  [REFERENCE_FILE, spliceReference(readFileSync(REFERENCE_FILE, 'utf8'), renderReference())],
  [JSON_SCHEMA_FILE, renderJsonSchema()],
  [RULES_JSON_SCHEMA_FILE, renderRulesJsonSchema()],
];
let stale = 0;
for (const [file, text] of outputs) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // written below
  }
  if (current === text) continue;
  stale += 1;
  if (check) process.stderr.write(`${file} is out of date: run npm run docs:config\n`);
  else {
    writeFileSync(file, text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
if (check && stale > 0) process.exit(1);

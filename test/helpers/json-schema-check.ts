/**
 * A small JSON Schema (draft 2020-12) checker for the keywords zod 4 emits for the
 * configuration and rule files, so the tests can check the shipped YAML files against
 * config/annunciator.schema.json and rules/rules.schema.json without a validator
 * dependency (`$ref` only to the document's own `#/$defs/NAME`). A keyword it does not
 * know fails the check instead of being ignored, so a schema it cannot judge is never
 * reported valid.
 */

type JsonSchema = Record<string, unknown>;

/** Keywords that only describe (or that editors use) and assert nothing. */
const ANNOTATIONS = new Set(['$schema', '$id', '$defs', 'title', 'description', 'default', 'examples', 'format']);

export interface SchemaProblem {
  path: string;
  message: string;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/** `root` is the whole document, which `$ref`s point into. */
export function checkJsonSchema(schema: JsonSchema, value: unknown, path = '', root: JsonSchema = schema): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const at = (message: string) => problems.push({ path: path || '(top level)', message });
  for (const [keyword, argument] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    switch (keyword) {
      case 'type': {
        const types = Array.isArray(argument) ? (argument as string[]) : [argument as string];
        if (!types.some((t) => typeMatches(value, t))) at(`is ${typeOf(value)}, not ${types.join(' or ')}`);
        break;
      }
      case 'enum':
        if (!(argument as unknown[]).some((v) => v === value)) at(`${JSON.stringify(value)} is not one of ${JSON.stringify(argument)}`);
        break;
      case 'const':
        if (argument !== value) at(`${JSON.stringify(value)} is not ${JSON.stringify(argument)}`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(argument as string).test(value)) at(`"${value}" does not match ${String(argument)}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && [...value].length < (argument as number)) at(`is shorter than ${String(argument)}`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && [...value].length > (argument as number)) at(`is longer than ${String(argument)}`);
        break;
      case 'minimum':
        if (typeof value === 'number' && value < (argument as number)) at(`${value} is below ${String(argument)}`);
        break;
      case 'maximum':
        if (typeof value === 'number' && value > (argument as number)) at(`${value} is above ${String(argument)}`);
        break;
      case 'exclusiveMinimum':
        if (typeof value === 'number' && value <= (argument as number)) at(`${value} is not above ${String(argument)}`);
        break;
      case 'exclusiveMaximum':
        if (typeof value === 'number' && value >= (argument as number)) at(`${value} is not below ${String(argument)}`);
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < (argument as number)) at(`has fewer than ${String(argument)} items`);
        break;
      case 'maxItems':
        if (Array.isArray(value) && value.length > (argument as number)) at(`has more than ${String(argument)} items`);
        break;
      case 'items':
        if (Array.isArray(value)) value.forEach((item, i) => problems.push(...checkJsonSchema(argument as JsonSchema, item, `${path}[${i}]`, root)));
        break;
      case 'required':
        if (typeOf(value) === 'object') for (const key of argument as string[]) if (!(key in (value as object))) at(`${key} is required`);
        break;
      case 'properties':
        if (typeOf(value) === 'object') {
          for (const [key, sub] of Object.entries(argument as Record<string, JsonSchema>)) {
            if (key in (value as object)) problems.push(...checkJsonSchema(sub, (value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, root));
          }
        }
        break;
      case 'additionalProperties':
        if (typeOf(value) === 'object') {
          const known = new Set(Object.keys((schema.properties as object | undefined) ?? {}));
          for (const [key, sub] of Object.entries(value as Record<string, unknown>)) {
            if (known.has(key)) continue;
            if (argument === false) at(`unknown key "${key}"`);
            else if (typeof argument === 'object') problems.push(...checkJsonSchema(argument as JsonSchema, sub, path ? `${path}.${key}` : key, root));
          }
        }
        break;
      case 'propertyNames':
        if (typeOf(value) === 'object') for (const key of Object.keys(value as object)) problems.push(...checkJsonSchema(argument as JsonSchema, key, `${path}{${key}}`, root));
        break;
      case 'anyOf':
      case 'oneOf': {
        const results = (argument as JsonSchema[]).map((option) => checkJsonSchema(option, value, path, root));
        const passing = results.filter((r) => r.length === 0).length;
        if (passing === 0) {
          const closest = results.reduce((a, b) => (b.length < a.length ? b : a));
          at(`matches none of the ${keyword} shapes; the closest says: ${closest.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
        } else if (keyword === 'oneOf' && passing > 1) at(`matches ${passing} of the oneOf shapes, not exactly one`);
        break;
      }
      case '$ref': {
        const match = /^#\/\$defs\/([^/]+)$/.exec(argument as string);
        const target = match ? ((root.$defs as Record<string, JsonSchema> | undefined) ?? {})[match[1] ?? ''] : undefined;
        if (!target) at(`cannot follow $ref ${JSON.stringify(argument)}; test/helpers/json-schema-check.ts follows #/$defs/NAME only`);
        else problems.push(...checkJsonSchema(target, value, path, root));
        break;
      }
      case 'allOf':
        for (const option of argument as JsonSchema[]) problems.push(...checkJsonSchema(option, value, path, root));
        break;
      default:
        at(`the schema uses "${keyword}", which test/helpers/json-schema-check.ts does not know; teach it before trusting a pass`);
    }
  }
  return problems;
}

import { z } from 'zod';
import { configSchema, secretSourceSchema } from '../../src/config/schema.js';
import { parseDuration, parseSize } from '../../src/config/units.js';

/**
 * Every key a configuration file may hold, read from the zod schema itself
 * (src/config/schema.ts), so the reference in docs/configuration.md and the JSON Schema
 * cannot name a key the loader does not know or miss one it does.
 *
 * zod 4 has no public API to walk a schema; this reads `schema._zod.def`, whose shape is
 * stable within zod 4 and is what zod's own JSON Schema converter reads. Only the parts
 * read here are typed below; a def of an unknown kind fails loudly instead of being skipped.
 */

type Schema = z.core.$ZodType;

interface Def {
  type: string;
  innerType?: Schema;
  defaultValue?: unknown;
  in?: Schema;
  out?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  discriminator?: string;
  entries?: Record<string, string | number>;
  values?: unknown[];
  valueType?: Schema;
  format?: string;
  checks?: Array<{ _zod: { def: { check: string; format?: string; value?: number; inclusive?: boolean } } }>;
}

function defOf(schema: Schema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** What a value of a key is, for people (the reference) and for the JSON Schema's hints. */
export type Kind = 'duration' | 'size' | 'secret' | 'object' | 'list' | 'other';

export interface ConfigKey {
  /** `listeners[].limits.maxConnections`: `[]` stands for every item of a list. */
  path: string;
  /** The type as the reference shows it, e.g. `integer (1–65535)`, `duration`, `` `tls`, `starttls` or `none` ``. */
  type: string;
  kind: Kind;
  /** Must be written (no default, not optional). */
  required: boolean;
  /** The default as written in YAML (`60s`, `[]`, `annunciator`), when the schema has one. */
  default?: string;
  /** When the key belongs to some shapes of a union only: `` `type: file` ``. */
  only?: string;
  /** What zod's `.describe()` / `.meta({ description })` says of it, if anything. */
  description?: string;
}

/** A `.describe()` on the key's schema or on any wrapper around it (optional, default, ...). */
function describedAs(schema: Schema): string | undefined {
  let current: Schema | undefined = schema;
  while (current) {
    const description = z.globalRegistry.get(current as unknown as z.ZodType)?.description;
    if (description) return description;
    const def = defOf(current);
    current = def.innerType ?? (def.type === 'pipe' && defOf(def.in as Schema).type === 'transform' ? def.out : undefined);
  }
  return undefined;
}

/** Peels optional/default/prefault/nullable and the preprocess that fills a union's `type`. */
interface Unwrapped {
  schema: Schema;
  required: boolean;
  defaultValue?: unknown;
  /** The discriminator value a preprocess fills in when it is absent (`type: smtp`). */
  impliedDiscriminator?: string;
}

function unwrap(schema: Schema): Unwrapped {
  let current = schema;
  let required = true;
  let defaultValue: unknown;
  let impliedDiscriminator: string | undefined;
  for (;;) {
    const def = defOf(current);
    if (def.type === 'optional' || def.type === 'nullable') {
      required = false;
      current = def.innerType as Schema;
    } else if (def.type === 'default' || def.type === 'prefault') {
      required = false;
      if (defaultValue === undefined) defaultValue = def.defaultValue;
      current = def.innerType as Schema;
    } else if (def.type === 'pipe' && defOf(def.in as Schema).type === 'transform') {
      // z.preprocess: config/schema.ts uses it only to fill in a union's `type`. Ask it which.
      const filled = (def.in as unknown as z.ZodType).safeParse({});
      const data = filled.success ? (filled.data as Record<string, unknown>) : {};
      const out = defOf(def.out as Schema);
      if (out.discriminator && typeof data[out.discriminator] === 'string') impliedDiscriminator = data[out.discriminator] as string;
      current = def.out as Schema;
    } else {
      return { schema: current, required, defaultValue, impliedDiscriminator };
    }
  }
}

/**
 * A duration or a size is `union(string, number)` piped through a transform that parses it.
 * The transform is not exported, so tell them apart by what they accept.
 */
export function unitKind(schema: Schema): 'duration' | 'size' | undefined {
  const def = defOf(schema);
  if (def.type !== 'pipe' || defOf(def.out as Schema).type !== 'transform') return undefined;
  const parser = schema as unknown as z.ZodType;
  if (parser.safeParse('1s').success) return 'duration';
  if (parser.safeParse('1KiB').success) return 'size';
  return undefined;
}

function isSecret(schema: Schema): boolean {
  return schema === (secretSourceSchema as unknown as Schema);
}

function isObjectLike(schema: Schema): boolean {
  const def = defOf(schema);
  if (def.type === 'object') return true;
  return def.type === 'union' && !isSecret(schema) && (def.options ?? []).every((o) => isObjectLike(unwrap(o).schema));
}

const PLURAL: Record<string, string> = { string: 'strings', object: 'objects', address: 'addresses', integer: 'integers', duration: 'durations', secret: 'secrets' };

function code(value: unknown): string {
  return `\`${String(value)}\``;
}

function oneOf(values: unknown[]): string {
  const shown = values.map(code);
  return shown.length <= 1 ? (shown[0] ?? '') : `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}`;
}

function range(def: Def, integer: boolean): string {
  let min: string | undefined;
  let max: number | undefined;
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'greater_than' && c.value !== undefined) min = c.inclusive ? `${c.value}` : integer ? `${c.value + 1}` : undefined;
    if (c.check === 'greater_than' && c.value !== undefined && !c.inclusive && !integer) return ` > ${c.value}`;
    if (c.check === 'less_than' && c.value !== undefined) max = c.value;
  }
  if (min !== undefined && max !== undefined && max < Number.MAX_SAFE_INTEGER) return ` (${min}–${max})`;
  if (min !== undefined) return ` ≥ ${min}`;
  return '';
}

export function typeOf(input: Schema): string {
  const { schema } = unwrap(input);
  if (isSecret(schema)) return 'secret';
  const unit = unitKind(schema);
  if (unit) return unit;
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return 'object';
    case 'array': {
      const item = typeOf(def.element as Schema);
      return `list of ${PLURAL[item] ?? item}`;
    }
    case 'record':
      return `map of names to ${typeOf(def.valueType as Schema)}`;
    case 'union': {
      if (isObjectLike(schema)) return 'object';
      const options = (def.options ?? []).map((o) => unwrap(o).schema);
      if (options.every((o) => ['literal', 'enum'].includes(defOf(o).type))) return oneOf(options.flatMap(literalValues));
      return [...new Set(options.map(typeOf))].join(' or ');
    }
    case 'enum':
    case 'literal':
      return oneOf(literalValues(schema));
    case 'string':
      if (def.format === 'email') return 'address';
      if (def.format === 'url') return 'URL';
      return 'string';
    case 'number': {
      const integer = (def.checks ?? []).some((c) => c._zod.def.format === 'safeint' || c._zod.def.format === 'int32');
      return `${integer ? 'integer' : 'number'}${range(def, integer)}`;
    }
    case 'boolean':
      return 'boolean';
    default:
      throw new Error(`config reference: a zod "${def.type}" is not handled; teach scripts/config-docs/schema-walk.ts its type`);
  }
}

function literalValues(schema: Schema): unknown[] {
  const def = defOf(schema);
  if (def.type === 'enum') return Object.values(def.entries ?? {});
  if (def.type === 'literal') return def.values ?? [];
  return [];
}

/** A default as one would write it in the YAML file. */
export function formatDefault(value: unknown, kind: Kind): string {
  if (kind === 'duration' && typeof value === 'number') return formatDurationExact(value);
  if (kind === 'size' && typeof value === 'number') return formatSizeExact(value);
  if (Array.isArray(value)) return `[${value.map((v) => String(v)).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${k}: ${String(v)}`).join(', ')} }`;
  }
  return String(value);
}

function formatDurationExact(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function formatSizeExact(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

function kindOf(schema: Schema): Kind {
  const { schema: inner } = unwrap(schema);
  if (isSecret(inner)) return 'secret';
  const unit = unitKind(inner);
  if (unit) return unit;
  const def = defOf(inner);
  if (def.type === 'array') return 'list';
  if (isObjectLike(inner)) return 'object';
  return 'other';
}

/** The object shapes a value may take: one for an object, each option of a union of objects. */
function shapes(schema: Schema): Array<{ shape: Record<string, Schema>; label?: { key: string; values: string[] }; impliedDiscriminator?: string }> {
  const { schema: inner, impliedDiscriminator } = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object') return [{ shape: def.shape ?? {} }];
  if (def.type !== 'union') return [];
  return (def.options ?? []).flatMap((option) =>
    shapes(option).map((s) => {
      const value = def.discriminator ? literalValues(unwrap((s.shape[def.discriminator] as Schema) ?? option).schema) : [];
      return { ...s, ...(def.discriminator ? { label: { key: def.discriminator, values: value.map(String) } } : s.label ? { label: s.label } : {}), impliedDiscriminator };
    }),
  );
}

function walk(schema: Schema, prefix: string, out: Map<string, ConfigKey>): void {
  const variants = shapes(schema);
  const seenIn = new Map<string, Array<{ key: string; values: string[] }>>();
  for (const variant of variants) {
    for (const [name, child] of Object.entries(variant.shape)) {
      const path = prefix ? `${prefix}.${name}` : name;
      const u = unwrap(child);
      const kind = kindOf(child);
      const isDiscriminatorWithDefault = variant.impliedDiscriminator !== undefined && variant.label?.key === name;
      const key: ConfigKey = {
        path,
        type: typeOf(child),
        kind,
        required: u.required && !isDiscriminatorWithDefault,
        ...(u.defaultValue !== undefined ? { default: formatDefault(u.defaultValue, kind) } : {}),
        ...(isDiscriminatorWithDefault ? { default: variant.impliedDiscriminator } : {}),
      };
      const description = describedAs(child);
      if (description) key.description = description;
      const earlier = out.get(path);
      out.set(path, earlier ? merge(earlier, key) : key);
      if (variant.label) seenIn.set(path, [...(seenIn.get(path) ?? []), variant.label]);
      const element = defOf(u.schema).type === 'array' ? (defOf(u.schema).element as Schema) : undefined;
      if (element && isObjectLike(unwrap(element).schema)) walk(element, `${path}[]`, out);
      else if (!element && isObjectLike(u.schema) && !isSecret(u.schema)) walk(child, path, out);
    }
  }
  if (variants.length > 1) {
    for (const [path, labels] of seenIn) {
      const key = out.get(path);
      if (key && labels.length < variants.length) key.only = labels.flatMap((l) => l.values.map((v) => `\`${l.key}: ${v}\``)).join(' or ');
    }
  }
}

/** One key in several shapes of a union: its values joined (`type`), else the first shape's. */
function merge(a: ConfigKey, b: ConfigKey): ConfigKey {
  if (a.type === b.type) return { ...a, required: a.required && b.required, default: a.default ?? b.default };
  const values = (t: string) => [...t.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  const literal = (t: string) => /^(`[^`]+`(, | or )?)+$/.test(t);
  const type = literal(a.type) && literal(b.type) ? oneOf([...values(a.type), ...values(b.type)]) : `${a.type} or ${b.type}`;
  return { ...a, type, required: a.required && b.required, default: a.default ?? b.default };
}

/** Every key path of the configuration, in the schema's order. */
export function configKeys(schema: Schema = configSchema as unknown as Schema): ConfigKey[] {
  const out = new Map<string, ConfigKey>();
  walk(schema, '', out);
  return [...out.values()];
}

export { parseDuration, parseSize };

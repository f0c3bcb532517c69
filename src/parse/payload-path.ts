/** Reads `a.b.c` from a JSON value; arrays take numeric steps (`items.0.code`). */
export function readPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const step of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, step)) return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
}

/** Scalar leaves of a JSON object as `a.b` = text, for an alarm's fields. */
export function flattenScalars(value: unknown, prefix = '', out: Record<string, string> = {}, limit = 50): Record<string, string> {
  if (Object.keys(out).length >= limit) return out;
  if (value === null || value === undefined) return out;
  if (typeof value !== 'object') {
    if (prefix) out[prefix] = String(value);
    return out;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    flattenScalars(child, prefix ? `${prefix}.${key}` : key, out, limit);
  }
  return out;
}

/**
 * Fills `{segment}` and `{json.path}` placeholders: topic segments by name, payload
 * values by path. Unknown placeholders stay visible, so a mistake shows in the alarm.
 */
export function fillTemplate(template: string, segments: Record<string, string>, payload: unknown): string {
  return template.replace(/\{([\w.]+)\}/g, (whole, name: string) => {
    if (name.startsWith('json.')) {
      const value = readPath(payload, name.slice('json.'.length));
      return value === undefined || value === null || typeof value === 'object' ? whole : String(value);
    }
    return segments[name] ?? whole;
  });
}

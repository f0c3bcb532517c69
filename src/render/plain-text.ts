// CR, the C0 controls but TAB and LF, DEL, the C1 controls, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const NEEDS_CLEANING = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Values made safe for the plain-text parts (subject and text), which Handlebars renders
 * without escaping: control characters other than LF and TAB are removed, line breaks of
 * any kind become LF. The final part is cleaned again (headerText, bodyText), but cleaning
 * the values too means a template that post-processes a value (join, quote, upper) never
 * sees a control character either.
 */
export function plainText(value: string): string {
  // One scan for the common case, a value with nothing to change.
  if (!NEEDS_CLEANING.test(value)) return value;
  return (
    value
      .replace(/\r\n|\r|\u2028|\u2029/g, '\n')
      // C0 controls but TAB and LF, DEL and the C1 controls a wrong charset guess produces.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '')
  );
}

/**
 * A view model with every string in it passed through plainText, at any depth. Arrays stay
 * arrays; plain objects stay plain objects; other values are kept. Copied where something
 * changed only: an object or array with nothing to clean is given back as it is, so a
 * typical view (nothing to clean) costs a walk, not a second view to collect.
 */
export function plainTextValues<T>(value: T): T {
  // The walk rebuilds the same shape with the same keys, so the result is a T; TypeScript
  // cannot follow that through a recursive map, hence the one cast at the top.
  return clean(value, new Map()) as T;
}

/** Below this length a string is scanned each time it occurs; a lookup would cost as much. */
const REMEMBERED_LENGTH = 1024;

function clean(value: unknown, cleaned: Map<string, string>): unknown {
  if (typeof value === 'string') {
    if (value.length < REMEMBERED_LENGTH) return plainText(value);
    // The device's text is in the view three times (text, event.text, alarm.text), 100 KiB
    // each for a large mail, the same string each time: scanned once, not three times.
    let result = cleaned.get(value);
    if (result === undefined) {
      result = plainText(value);
      cleaned.set(value, result);
    }
    return result;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const inner = clean(value[i], cleaned);
      if (copy === undefined) {
        if (inner === value[i]) continue;
        copy = value.slice(0, i);
      }
      copy.push(inner);
    }
    return copy ?? value;
  }
  if (value !== null && typeof value === 'object' && isPlainObject(value)) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let copy: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i += 1) {
      const key = keys[i]!;
      const inner = clean(record[key], cleaned);
      if (copy === undefined) {
        if (inner === record[key]) continue;
        copy = {};
        for (let j = 0; j < i; j += 1) setOwn(copy, keys[j]!, record[keys[j]!]);
      }
      setOwn(copy, key, inner);
    }
    return copy ?? value;
  }
  return value;
}

/** A device's field may be called __proto__: an own property, never the prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

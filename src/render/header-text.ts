/**
 * Text for a header: control characters (CR and LF above all) become spaces and runs of
 * white space fold to one, so nothing a device or template writes can start a header.
 */
export function headerText(value: string, maxLength = 998): string {
  // eslint-disable-next-line no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > maxLength ? `${flat.slice(0, maxLength - 1)}…` : flat;
}

/** Line breaks of any kind (CRLF, lone CR, lone LF) as CRLF; other controls but TAB removed. */
export function bodyText(value: string): string {
  // The controls are rare: looked for first, so a text usually costs one pass, not three.
  const clean = CONTROLS.test(value) ? value.replace(/\r\n|\r/g, '\n').replace(CONTROLS_ALL, '') : value;
  return clean.replace(/\r\n|\r|\n/g, '\r\n');
}

// The C0 controls but TAB, LF and CR, and DEL (CR is a line break here, made LF before these go).
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const CONTROLS_ALL = new RegExp(CONTROLS.source, 'g');

/** Line breaks of any kind as CRLF, nothing else touched: for HTML, whose markup is the sender's. */
export function crlfLines(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}

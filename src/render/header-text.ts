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
  // eslint-disable-next-line no-control-regex
  return value.replace(/\r\n|\r|\n/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').replace(/\n/g, '\r\n');
}

/** Line breaks of any kind as CRLF, nothing else touched: for HTML, whose markup is the sender's. */
export function crlfLines(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}

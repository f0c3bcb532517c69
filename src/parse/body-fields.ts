/**
 * `Key : value` lines, as UPSes, loggers and many PLC mail blocks write them
 * ("Location : Hall 2, electrical room"). Keys are words only (no digits), so times
 * like "04:12" and sentences like "Cold room 3: temperature ..." are not taken for keys.
 */
const FIELD_LINE = /^\s*(\p{L}[\p{L}_\-/ ]{0,38}\p{L})\s*:\s+(\S.*?)\s*$/u;

export function bodyFields(text: string, limit = 50): Record<string, string> {
  const fields: Record<string, string> = {};
  let count = 0;
  // Lines as split(/\r?\n/) gives them, but only those with a colon are cut out and matched:
  // a device's long text is mostly other lines (a 100 KiB text was 1,200 strings per alarm).
  let colon = -1;
  for (let start = 0; start <= text.length; ) {
    const lf = text.indexOf('\n', start);
    const end = lf === -1 ? text.length : lf;
    if (colon < start) colon = text.indexOf(':', start);
    if (colon === -1) break;
    if (colon < end) {
      const match = FIELD_LINE.exec(text.slice(start, end > start && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end));
      if (match) {
        const key = match[1]!.replace(/\s+/g, ' ');
        if (!(key in fields)) {
          fields[key] = match[2]!;
          if (++count >= limit) break;
        }
      }
    }
    if (lf === -1) break;
    start = lf + 1;
  }
  return fields;
}

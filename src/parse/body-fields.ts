/**
 * `Key : value` lines, as UPSes, loggers and many PLC mail blocks write them
 * ("Location : Hall 2, electrical room"). Keys are words only (no digits), so times
 * like "04:12" and sentences like "Cold room 3: temperature ..." are not taken for keys.
 */
const FIELD_LINE = /^\s*(\p{L}[\p{L}_\-/ ]{0,38}\p{L})\s*:\s+(\S.*?)\s*$/u;

export function bodyFields(text: string, limit = 50): Record<string, string> {
  const fields: Record<string, string> = {};
  let count = 0;
  for (const line of text.split(/\r?\n/)) {
    const match = FIELD_LINE.exec(line);
    if (!match) continue;
    const key = match[1]!.replace(/\s+/g, ' ');
    if (key in fields) continue;
    fields[key] = match[2]!;
    if (++count >= limit) break;
  }
  return fields;
}

import { simpleParser, type AddressObject, type EmailAddress } from 'mailparser';

/**
 * What `annunciator send` does to standard input to behave like the sendmail command that
 * scripts, cron and devices call (`sendmail -t -i -oi`, `-f sender`, `-F name`), after
 * Postfix's sendmail(1). Works on the raw bytes (latin1 strings hold them unchanged), so
 * the body is kept exactly as written.
 */

/** The header section, up to and including the blank line that ends it (all of it when there is none). */
function headerEnd(text: string): number {
  const match = /\r?\n\r?\n/.exec(text);
  return match ? match.index + match[0].length : text.length;
}

/**
 * The message up to the first line that holds a single dot, without it: without -i (-oi)
 * such a line ends the input, as in sendmail. Undefined when there is no such line.
 */
export function cutAtLoneDot(raw: Buffer): Buffer | undefined {
  const text = raw.toString('latin1');
  const match = /(^|\n)\.(\r?\n|$)/.exec(text);
  if (!match) return undefined;
  return raw.subarray(0, match.index + match[1]!.length);
}

/** Whether the header section has a header of this name. */
export function hasHeader(raw: Buffer, name: string): boolean {
  const text = raw.toString('latin1');
  return new RegExp(`^${name}[ \\t]*:`, 'im').test(text.slice(0, headerEnd(text)));
}

/** The message without any header of this name (continuation lines included): -t drops Bcc, which must not reach the recipients. */
export function withoutHeader(raw: Buffer, name: string): Buffer {
  const text = raw.toString('latin1');
  const end = headerEnd(text);
  const kept = text.slice(0, end).replace(new RegExp(`^${name}[ \\t]*:.*(?:\\r?\\n[ \\t].*)*(?:\\r?\\n|$)`, 'gim'), '');
  return Buffer.concat([Buffer.from(kept, 'latin1'), raw.subarray(Buffer.byteLength(text.slice(0, end), 'latin1'))]);
}

/** The message with a header line put first, in the line ending the message uses. */
export function withHeaderFirst(raw: Buffer, line: string): Buffer {
  const eol = /\r\n/.test(raw.subarray(0, 4096).toString('latin1')) ? '\r\n' : '\n';
  return Buffer.concat([Buffer.from(`${line}${eol}`, 'utf8'), raw]);
}

/** `From: "Plant PLC" <plc@plant.local>` for -F, the name encoded (RFC 2047) when it is not plain ASCII. */
export function fromHeader(name: string, address: string): string {
  const clean = name.replace(/[\r\n]+/g, ' ').trim();
  if (clean === '') return `From: <${address}>`;
  const display = /^[\x20-\x7e]*$/.test(clean) ? `"${clean.replace(/(["\\])/g, '\\$1')}"` : `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
  return `From: ${display} <${address}>`;
}

/** The addresses in the To, Cc and Bcc headers (groups opened up), each once, in order: -t. */
export async function headerRecipients(raw: Buffer): Promise<string[]> {
  const text = raw.toString('latin1');
  const parsed = await simpleParser(Buffer.from(text.slice(0, headerEnd(text)), 'latin1'));
  const found: string[] = [];
  const add = (entries: EmailAddress[]): void => {
    for (const entry of entries) {
      if (entry.group) add(entry.group);
      else if (entry.address && !found.some((a) => a.toLowerCase() === entry.address!.toLowerCase())) found.push(entry.address);
    }
  };
  for (const field of [parsed.to, parsed.cc, parsed.bcc] as Array<AddressObject | AddressObject[] | undefined>) {
    for (const object of field === undefined ? [] : Array.isArray(field) ? field : [field]) add(object.value);
  }
  return found;
}

import { simpleParser, type AddressObject } from 'mailparser';
import { formatZoned } from '../base/zoned-clock.js';
import { printable } from './table.js';

/**
 * A rendered notification as a person checks it: the headers a reader sees (From, To, Cc,
 * Reply-To, Subject, Date in `zone`, priority), which parts it has, and the text body
 * decoded, instead of MIME with encoded words and quoted-printable. `rules test --raw`
 * prints the message as it is sent.
 */
export async function readableNotification(message: Buffer, zone: string): Promise<string[]> {
  const parsed = await simpleParser(message, { skipImageLinks: true });
  const address = (value: AddressObject | AddressObject[] | undefined): string | undefined =>
    value === undefined ? undefined : (Array.isArray(value) ? value : [value]).map((a) => a.text).join(', ');
  const priority = parsed.headers.get('importance') ?? parsed.headers.get('x-priority');
  const headers: Array<[string, string | undefined]> = [
    ['From', address(parsed.from)],
    ['To', address(parsed.to)],
    ['Cc', address(parsed.cc)],
    ['Reply-To', address(parsed.replyTo)],
    ['Subject', parsed.subject],
    ['Date', parsed.date ? formatZoned(parsed.date.getTime(), zone, { seconds: true }) : undefined],
    ['Priority', typeof priority === 'string' ? priority : undefined],
  ];
  const out = headers.filter((h): h is [string, string] => h[1] !== undefined && h[1] !== '').map(([name, value]) => `  ${`${name}:`.padEnd(10)}${printable(value)}`);
  const parts = [parsed.text !== undefined ? 'text' : undefined, typeof parsed.html === 'string' ? 'HTML' : undefined].filter(Boolean);
  out.push(`  ${'Parts:'.padEnd(10)}${parts.join(' and ') || 'none'}${parsed.attachments.length > 0 ? `; attached: ${parsed.attachments.map((a) => `${a.filename ?? '(unnamed)'} (${a.contentType}, ${a.size} bytes)`).join(', ')}` : ''}`);
  out.push('');
  const body = (parsed.text ?? '').replace(/\r\n/g, '\n').replace(/\n+$/, '');
  out.push(...(body === '' ? ['  (no text part; --raw shows the message as sent)'] : body.split('\n').map((line) => (line === '' ? '' : `  ${printable(line)}`))));
  return out;
}

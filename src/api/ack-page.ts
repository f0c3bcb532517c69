import type { Alarm } from '../lifecycle/alarm.js';
import type { AckTokenRefusal } from './ack-token.js';

/**
 * The acknowledgement pages, as HTML strings. Pure. Every value that comes from an alarm,
 * a token or a device goes through escapeHtml; the pages carry no script and load nothing
 * (the server's Content-Security-Policy allows inline styles and posting to itself only).
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;', '=': '&#61;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, (c) => ESCAPES[c]!);
}

export interface PageFormat {
  timeZone: string;
  locale: string;
}

export interface Page {
  status: number;
  html: string;
}

/** GET: the alarm and a button that posts the acknowledgement. */
export function confirmPage(alarm: Alarm, receiver: string, format: PageFormat): Page {
  const action = alarm.ack
    ? `<p class="note">Already acknowledged by <b>${escapeHtml(alarm.ack.by)}</b> at ${escapeHtml(formatTime(alarm.ack.at, format))} (${escapeHtml(alarm.ack.channel)}).</p>`
    : `<form method="post"><p>Acknowledge as <b>${escapeHtml(receiver)}</b>: you will see to it.</p><button type="submit">Acknowledge alarm</button></form>`;
  return { status: 200, html: layout(`Acknowledge: ${alarm.title}`, `<h1>${escapeHtml(alarm.title)}</h1>${alarmTable(alarm, format)}${action}`) };
}

/** POST: what the acknowledgement did. The first acknowledgement counts. */
export function resultPage(alarm: Alarm, receiver: string, recorded: boolean, format: PageFormat): Page {
  const ack = alarm.ack!;
  const message = recorded
    ? `<p class="ok">Acknowledged by <b>${escapeHtml(ack.by)}</b> at ${escapeHtml(formatTime(ack.at, format))}. Thank you.</p>`
    : `<p class="note">Not recorded for ${escapeHtml(receiver)}: the alarm was already acknowledged by <b>${escapeHtml(ack.by)}</b> at ${escapeHtml(formatTime(ack.at, format))} (${escapeHtml(ack.channel)}).</p>`;
  return { status: 200, html: layout(`Acknowledged: ${alarm.title}`, `<h1>${escapeHtml(alarm.title)}</h1>${message}${alarmTable(alarm, format)}`) };
}

const REFUSALS: Record<AckTokenRefusal, Page & { title: string }> = {
  malformed: { status: 403, title: 'Link not valid', html: 'This acknowledgement link is damaged or incomplete. Open the link from the notification mail again, or copy it whole.' },
  'bad-signature': { status: 403, title: 'Link not valid', html: 'This acknowledgement link was not issued by this gateway, or it was changed. Nothing was acknowledged.' },
  expired: { status: 410, title: 'Link expired', html: 'This acknowledgement link has expired. Nothing was acknowledged. Use a newer notification or acknowledge with <code>annunciator ack</code>.' },
};

export function refusalPage(reason: AckTokenRefusal): Page {
  const refusal = REFUSALS[reason];
  return { status: refusal.status, html: layout(refusal.title, `<h1>${escapeHtml(refusal.title)}</h1><p class="bad">${refusal.html}</p>`) };
}

export function notFoundPage(what: string): Page {
  return { status: 404, html: layout('Not found', `<h1>Not found</h1><p class="bad">${escapeHtml(what)}</p>`) };
}

export function plainPage(status: number, title: string, text: string): Page {
  return { status, html: layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`) };
}

function alarmTable(alarm: Alarm, format: PageFormat): string {
  const location = [alarm.device.site, alarm.device.area].filter((p): p is string => p !== undefined && p.trim() !== '').join(', ');
  const rows: [string, string][] = [
    ['Alarm', alarm.title],
    ['Device', location ? `${alarm.device.name} (${location})` : alarm.device.name],
    ['Severity', alarm.severity],
    ['State', alarm.state === 'resolved' && alarm.resolvedAt !== undefined ? `resolved at ${formatTime(alarm.resolvedAt, format)}` : alarm.state],
    ['First seen', formatTime(alarm.firstSeen, format)],
    ['Last seen', formatTime(alarm.lastSeen, format)],
    ['Count', String(alarm.count)],
    ['Acknowledged', alarm.ack ? `by ${alarm.ack.by} at ${formatTime(alarm.ack.at, format)} (${alarm.ack.channel})` : 'not yet'],
    ['Alarm id', alarm.id],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function formatTime(ms: number, format: PageFormat): string {
  try {
    return new Intl.DateTimeFormat(format.locale, { timeZone: format.timeZone, dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

const STYLE =
  'body{font-family:Segoe UI,Arial,Helvetica,sans-serif;margin:0;padding:16px;background:#f2f3f5;color:#1b1f23}' +
  'main{max-width:640px;margin:0 auto;background:#fff;border:1px solid #d0d4d9;padding:16px 20px}' +
  'h1{font-size:20px}th{text-align:left;color:#6a737d;padding:2px 16px 2px 0;font-weight:normal;vertical-align:top}td{padding:2px 0}' +
  'button{font-size:16px;padding:8px 16px}.ok{color:#1e8449;font-weight:bold}.bad{color:#b03a2e}.note{color:#6a4f00}';

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>\n`;
}

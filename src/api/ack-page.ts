import type { AckTokenRefusal } from '../base/ack-token.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Batch } from '../lifecycle/batch.js';
import { formatDate } from '../render/format-time.js';

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

/** What a batch link's pages say about the batch. */
export type BatchInfo = Pick<Batch, 'id' | 'kind' | 'label'>;

/** What a batch link's POST did to one of the batch's alarms. */
export interface BatchAckResult {
  /** The alarm after the POST. */
  alarm: Alarm;
  /** True when this POST recorded its acknowledgement; false when it was acknowledged already. */
  recorded: boolean;
}

/** GET of a group or digest link: its alarms and one button that acknowledges all not yet acknowledged. */
export function batchConfirmPage(batch: BatchInfo, alarms: readonly Alarm[], receiver: string, format: PageFormat): Page {
  const pending = alarms.filter((a) => a.ack === undefined).length;
  const button = pending === alarms.length ? (pending === 1 ? 'Acknowledge alarm' : `Acknowledge all ${pending} alarms`) : `Acknowledge the ${pending} ${plural(pending, 'alarm')} not yet acknowledged`;
  const action =
    pending === 0
      ? `<p class="note">All ${alarms.length} ${plural(alarms.length, 'alarm')} of this ${escapeHtml(batch.kind)} were acknowledged already.</p>`
      : `<form method="post"><p>Acknowledge as <b>${escapeHtml(receiver)}</b>: you will see to ${pending === 1 ? 'it' : 'them'}.</p><button type="submit">${escapeHtml(button)}</button></form>`;
  return { status: 200, html: layout(`Acknowledge: ${batchHeading(batch, alarms.length)}`, `<h1>${escapeHtml(batchHeading(batch, alarms.length))}</h1>${batchTable(alarms, format)}${action}`) };
}

/** POST of a group or digest link: which alarms it acknowledged now, which were acknowledged already (by whom). */
export function batchResultPage(batch: BatchInfo, results: readonly BatchAckResult[], receiver: string, format: PageFormat): Page {
  const now = results.filter((r) => r.recorded);
  const before = results.filter((r) => !r.recorded);
  const sections: string[] = [];
  if (now.length > 0) {
    const at = now[0]!.alarm.ack!.at;
    sections.push(
      `<p class="ok">Acknowledged now by <b>${escapeHtml(receiver)}</b> at ${escapeHtml(formatTime(at, format))}: ${now.length} ${plural(now.length, 'alarm')}. Thank you.</p>` +
        `<ul>${now.map((r) => `<li>${escapeHtml(r.alarm.title)}</li>`).join('')}</ul>`,
    );
  }
  if (before.length > 0) {
    sections.push(
      `<p class="note">Already acknowledged, not recorded for ${escapeHtml(receiver)}: ${before.length} ${plural(before.length, 'alarm')}.</p>` +
        `<ul>${before.map((r) => `<li>${escapeHtml(r.alarm.title)}: already acknowledged by <b>${escapeHtml(r.alarm.ack?.by ?? '?')}</b>${r.alarm.ack ? ` at ${escapeHtml(formatTime(r.alarm.ack.at, format))} (${escapeHtml(r.alarm.ack.channel)})` : ''}</li>`).join('')}</ul>`,
    );
  }
  const alarms = results.map((r) => r.alarm);
  return { status: 200, html: layout(`Acknowledged: ${batchHeading(batch, alarms.length)}`, `<h1>${escapeHtml(batchHeading(batch, alarms.length))}</h1>${sections.join('')}${batchTable(alarms, format)}`) };
}

function batchHeading(batch: BatchInfo, count: number): string {
  return `${batch.kind === 'digest' ? 'Digest: ' : ''}${count} ${plural(count, 'alarm')} — ${batch.label}`;
}

function batchTable(alarms: readonly Alarm[], format: PageFormat): string {
  const head = `<tr><th>Alarm</th><th>Device</th><th>State</th><th>Acknowledged</th></tr>`;
  const rows = alarms.map((alarm) => {
    const cells = [
      `<b>${escapeHtml(alarm.title)}</b><br><small>${escapeHtml(alarm.severity)} · ${escapeHtml(alarm.id)}</small>`,
      escapeHtml(deviceText(alarm)),
      escapeHtml(stateText(alarm, format)),
      escapeHtml(alarm.ack ? `by ${alarm.ack.by} at ${formatTime(alarm.ack.at, format)} (${alarm.ack.channel})` : 'not yet'),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table class="list">${head}${rows.join('')}</table>`;
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
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

function deviceText(alarm: Alarm): string {
  const location = [alarm.device.site, alarm.device.area].filter((p): p is string => p !== undefined && p.trim() !== '').join(', ');
  return location ? `${alarm.device.name} (${location})` : alarm.device.name;
}

function stateText(alarm: Alarm, format: PageFormat): string {
  return alarm.state === 'resolved' && alarm.resolvedAt !== undefined ? `resolved at ${formatTime(alarm.resolvedAt, format)}` : alarm.state;
}

function alarmTable(alarm: Alarm, format: PageFormat): string {
  const rows: [string, string][] = [
    ['Alarm', alarm.title],
    ['Device', deviceText(alarm)],
    ['Severity', alarm.severity],
    ['State', stateText(alarm, format)],
    ['First seen', formatTime(alarm.firstSeen, format)],
    ['Last seen', formatTime(alarm.lastSeen, format)],
    ['Count', String(alarm.count)],
    ['Acknowledged', alarm.ack ? `by ${alarm.ack.by} at ${formatTime(alarm.ack.at, format)} (${alarm.ack.channel})` : 'not yet'],
    ['Alarm id', alarm.id],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

/**
 * "Tue 24 Nov 2026 03:14:07 CET": as the notifications write it (render/format-time.ts), with
 * the zone's name, so a reader in another zone (or the office's browser) is not misled.
 */
function formatTime(ms: number, format: PageFormat): string {
  try {
    return formatDate(ms, format, 'long');
  } catch {
    // A zone or locale the runtime does not know: an unambiguous UTC time rather than none.
    return `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`;
  }
}

const STYLE =
  'body{font-family:Segoe UI,Arial,Helvetica,sans-serif;margin:0;padding:16px;background:#f2f3f5;color:#1b1f23}' +
  'main{max-width:640px;margin:0 auto;background:#fff;border:1px solid #d0d4d9;padding:16px 20px}' +
  'h1{font-size:20px}th{text-align:left;color:#6a737d;padding:2px 16px 2px 0;font-weight:normal;vertical-align:top}td{padding:2px 0}' +
  '.list{border-collapse:collapse;width:100%}.list th,.list td{border-bottom:1px solid #e1e4e8;padding:4px 8px 4px 0;vertical-align:top}' +
  'button{font-size:16px;padding:8px 16px}.ok{color:#1e8449;font-weight:bold}.bad{color:#b03a2e}.note{color:#6a4f00}';

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>\n`;
}

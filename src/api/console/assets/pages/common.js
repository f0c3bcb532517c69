// Small pieces several pages show.
import { h } from '../dom.js';

export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'info'];

export function severityBadge(severity) {
  return h('span', { class: `sev sev-${SEVERITIES.includes(severity) ? severity : 'unknown'}` }, severity ?? '?');
}

/** The device as people name it: "PLC Line 4 · Plant North / Line 4". */
export function deviceText(device) {
  if (!device) return '';
  const name = device.name || device.id || '';
  const place = [device.site, device.area].filter(Boolean).join(' / ');
  return place ? `${name} · ${place}` : name;
}

/** A page heading with optional actions on its right. */
export function heading(text, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', {}, text), actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** May the logged-in person do what needs `role`? (The API decides; this only hides buttons that would be refused.) */
export function may(session, role) {
  const rank = { viewer: 0, responder: 1, admin: 2 };
  return (rank[session.info?.principal?.role] ?? 0) >= rank[role];
}

/**
 * A table that becomes a list of cards on a phone (the CSS shows each cell's data-label).
 * columns: [label, (row) => text or node].
 */
export function table(rows, columns, attrs = {}) {
  return h(
    'table',
    { class: 'data', ...attrs },
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([label, cell]) => h('td', { 'data-label': label }, cell(row) ?? ''))))),
  );
}

// The audit log: who did what, when, from where; newest first, a page at a time.
import { get, query } from '../api.js';
import { h, note, replace } from '../dom.js';
import { timeNode } from '../time.js';
import { heading, table } from './common.js';

const PAGE = 100;

export async function render(main) {
  const box = h('div', {});
  const more = h('button', { type: 'button', hidden: true }, 'Older entries');
  replace(main, heading('Audit log'), box, more);
  let entries = [];
  let nextBeforeId = null;
  async function load(beforeId) {
    try {
      const page = await get(`/audit${query({ limit: PAGE, beforeId })}`);
      entries = beforeId === undefined ? page.entries : [...entries, ...page.entries];
      nextBeforeId = page.nextBeforeId;
      more.hidden = nextBeforeId === null;
      replace(
        box,
        entries.length === 0
          ? note('Nothing recorded yet.')
          : table(
              entries,
              [
                ['When', (e) => timeNode(e.at, true)],
                ['Who', (e) => `${e.actor} (${e.via})`],
                ['What', (e) => h('code', {}, e.action)],
                ['On', (e) => (e.target && e.action.startsWith('alarm.') ? h('a', { href: `#/alarms/${encodeURIComponent(e.target)}` }, e.target) : e.target ?? '')],
                ['Detail', (e) => detailText(e.detail)],
                ['From', (e) => e.peer ?? ''],
              ],
              { id: 'audit' },
            ),
      );
    } catch (error) {
      if (error.status !== 401) replace(box, note(`Could not read the audit log: ${error.message}`, 'error'));
    }
  }
  more.addEventListener('click', () => load(nextBeforeId));
  await load(undefined);
}

function detailText(detail) {
  if (!detail || typeof detail !== 'object') return detail ? String(detail) : '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
    .join(' · ');
}

// Delivery health per outgoing account: last success, last error, what waits and for how long.
import { get } from '../api.js';
import { h, note, replace } from '../dom.js';
import { subscribe, throttle } from '../live.js';
import { formatDuration, timeNode } from '../time.js';
import { heading, table } from './common.js';

export async function render(main) {
  const box = h('div', {});
  replace(main, heading('Delivery'), box);
  async function refresh() {
    try {
      const { queue, accounts } = await get('/delivery');
      replace(
        box,
        h('p', { class: 'queue', id: 'queue' }, `Outbox: ${queue.pending} waiting`, queue.pending ? `, the oldest for ${formatDuration(queue.oldestPendingAgeSeconds * 1000)}` : ''),
        table(
          accounts,
          [
            ['Account', (a) => h('span', {}, a.name, h('span', { class: 'muted' }, ` ${a.type} ${a.upstream}`))],
            ['State', (a) => h('span', { class: `health health-${healthOf(a)}` }, healthOf(a))],
            ['Last success', (a) => (a.lastSuccessAt ? timeNode(a.lastSuccessAt) : 'never')],
            ['Last error', (a) => (a.lastError ? h('span', {}, timeNode(a.lastError.at), ` ${a.lastError.message}`) : 'none')],
            ['Waiting for a retry', (a) => (a.waiting.pending ? `${a.waiting.pending}, the oldest for ${formatDuration(a.waiting.oldestPendingAgeSeconds * 1000)}` : '0')],
          ],
          { id: 'delivery' },
        ),
      );
    } catch (error) {
      if (error.status !== 401) replace(box, note(`Could not read delivery health: ${error.message}`, 'error'));
    }
  }
  const later = throttle(refresh, 1000);
  const stop = subscribe((name) => {
    if (['ready', 'delivered', 'deferred', 'failed', 'queued'].includes(name)) later();
  });
  await refresh();
  return stop;
}

/** ok: the last word from the upstream was a success; failing: an error came after it; idle: nothing yet. */
function healthOf(a) {
  const ok = a.lastSuccessAt ? Date.parse(a.lastSuccessAt) : 0;
  const bad = a.lastError ? Date.parse(a.lastError.at) : 0;
  if (!ok && !bad) return 'idle';
  return bad > ok ? 'failing' : 'ok';
}

// Delivery health per outgoing account: last success, last error, queue depth, oldest waiting.
import { get, listOf } from '../api.js';
import { h, note, replace } from '../dom.js';
import { subscribe, throttle } from '../live.js';
import { formatDuration, timeNode } from '../time.js';
import { heading, table } from './common.js';

export async function render(main) {
  const box = h('div', {});
  replace(main, heading('Delivery'), box);
  async function refresh() {
    try {
      const body = await get('/delivery');
      const accounts = listOf(body, 'accounts');
      const queue = body.queue ?? body.outbox;
      replace(
        box,
        queue ? h('p', { class: 'queue' }, `Queue: ${queue.depth ?? queue.pending ?? 0} waiting`, queue.oldestAgeSeconds || queue.oldestAge ? `, oldest ${formatDuration((queue.oldestAgeSeconds ?? queue.oldestAge) * 1000)}` : '') : null,
        accounts.length === 0
          ? note('No accounts.')
          : table(
              accounts,
              [
                ['Account', (a) => a.name ?? a.account],
                ['State', (a) => h('span', { class: `health health-${healthOf(a)}` }, healthOf(a))],
                ['Last success', (a) => (a.lastSuccess?.at ?? a.lastSuccessAt ?? a.lastSuccess ? timeNode(a.lastSuccess?.at ?? a.lastSuccessAt ?? a.lastSuccess) : 'never')],
                ['Last error', (a) => lastError(a)],
                ['Waiting', (a) => String(a.queueDepth ?? a.pending ?? a.queue?.depth ?? 0)],
                ['Oldest', (a) => age(a)],
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

function healthOf(a) {
  if (a.state || a.status) return String(a.state ?? a.status);
  const ok = new Date(a.lastSuccess?.at ?? a.lastSuccessAt ?? 0).getTime();
  const bad = new Date(a.lastError?.at ?? a.lastErrorAt ?? 0).getTime();
  if (!ok && !bad) return 'idle';
  return bad > ok ? 'failing' : 'ok';
}

function lastError(a) {
  const at = a.lastError?.at ?? a.lastErrorAt;
  const reason = a.lastError?.reason ?? a.lastError?.message ?? (typeof a.lastError === 'string' ? a.lastError : undefined);
  if (!at && !reason) return 'none';
  return h('span', {}, at ? timeNode(at) : '', reason ? ` ${reason}` : '');
}

function age(a) {
  const seconds = a.oldestAgeSeconds ?? a.oldestAge ?? a.queue?.oldestAgeSeconds;
  if (seconds !== undefined && seconds !== null) return formatDuration(seconds * 1000);
  const since = a.oldestQueuedAt ?? a.oldestCreatedAt;
  return since ? formatDuration(Date.now() - new Date(since).getTime()) : '';
}

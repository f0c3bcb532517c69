import { usageError } from './exit-codes.js';
import { withStore } from './load-config-or-report.js';
import { printTable } from './table.js';
import { formatDuration } from '../config/units.js';
import type { OutboxStatus } from '../store/store.js';

export type QueueAction = { action: 'list'; all?: boolean; json?: boolean } | { action: 'retry'; ids: string[]; all?: boolean } | { action: 'delete'; ids: string[] };

export function queueCommand(configFile: string, request: QueueAction): Promise<number> {
  return withStore(configFile, async (store) => {
    const now = Date.now();
    switch (request.action) {
      case 'list': {
        const statuses: OutboxStatus[] = request.all ? ['pending', 'sending', 'failed', 'sent'] : ['pending', 'sending', 'failed'];
        const entries = await store.outbox.list(statuses);
        if (request.json) {
          process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
          return 0;
        }
        if (entries.length === 0) {
          process.stdout.write('outbox is empty\n');
          return 0;
        }
        const rows = entries.map((e) => [
          e.id,
          e.status,
          formatDuration(now - e.createdAt),
          String(e.attempts),
          e.status === 'pending' ? (e.nextAttemptAt <= now ? 'now' : `in ${formatDuration(e.nextAttemptAt - now)}`) : '-',
          e.recipients.join(','),
          e.lastError ?? '',
        ]);
        printTable(['ID', 'STATUS', 'AGE', 'TRIES', 'NEXT', 'RECIPIENTS', 'LAST ERROR'], rows);
        return 0;
      }
      case 'retry': {
        if (!request.all && request.ids.length === 0) {
          return usageError('queue retry', 'name entry ids or use --all');
        }
        const changed = await store.outbox.retryNow(request.all ? 'all' : request.ids, now);
        process.stdout.write(`${changed} entr${changed === 1 ? 'y' : 'ies'} due now\n`);
        return request.all || changed === request.ids.length ? 0 : 1;
      }
      case 'delete': {
        const removed = await store.outbox.delete(request.ids);
        process.stdout.write(`${removed} entr${removed === 1 ? 'y' : 'ies'} deleted\n`);
        return removed === request.ids.length ? 0 : 1;
      }
    }
  });
}

import { deleteOutboxEntry } from '../pipeline/delete-outbox-entry.js';
import { EXIT, usageError } from './exit-codes.js';
import { recordAct } from '../pipeline/actor.js';
import { cliActor } from './cli-actor.js';
import { userName } from './user-name.js';
import { withStore } from './load-config-or-report.js';
import { printJson } from './output.js';
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
          printJson(entries);
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
        if (request.all) {
          const changed = await store.transaction(async (tx) => {
            const n = await tx.outbox.retryNow('all', now);
            await recordAct(tx, cliActor(), now, 'outbox.retry', null, { all: true, entries: n });
            return n;
          });
          process.stdout.write(`${changed} entr${changed === 1 ? 'y' : 'ies'} due now\n`);
          return EXIT.ok;
        }
        // Each id that cannot be retried is named with the reason, the others are retried.
        let code: number = EXIT.ok;
        const retry: string[] = [];
        for (const id of request.ids) {
          const entry = await store.outbox.get(id);
          const problem = !entry ? 'no such entry (see annunciator queue)' : entry.status === 'sent' ? 'sent already; nothing to retry' : entry.status === 'sending' ? 'being sent right now' : undefined;
          if (problem) {
            process.stderr.write(`annunciator queue retry: ${id}: ${problem}\n`);
            code = EXIT.failure;
          } else retry.push(id);
        }
        const changed =
          retry.length > 0
            ? await store.transaction(async (tx) => {
                const n = await tx.outbox.retryNow(retry, now);
                await recordAct(tx, cliActor(), now, 'outbox.retry', retry.length === 1 ? retry[0]! : null, { ids: retry, entries: n });
                return n;
              })
            : 0;
        process.stdout.write(`${changed} entr${changed === 1 ? 'y' : 'ies'} due now\n`);
        return changed === retry.length ? code : EXIT.failure;
      }
      case 'delete': {
        let code: number = EXIT.ok;
        let removed = 0;
        const by = `${userName()} via cli`;
        for (const id of request.ids) {
          const result = await store.transaction(async (tx) => {
            const deleted = await deleteOutboxEntry(tx, id, by, now);
            if (deleted.outcome === 'deleted') await recordAct(tx, cliActor(), now, 'outbox.delete', id, { alarms: deleted.alarmIds });
            return deleted;
          });
          if (result.outcome === 'deleted') {
            removed += 1;
            const about = result.alarmIds.length > 0 ? ` (recorded in the history of alarm${result.alarmIds.length === 1 ? '' : 's'} ${result.alarmIds.join(', ')})` : '';
            process.stdout.write(`deleted ${id}${about}\n`);
          } else {
            process.stderr.write(`annunciator queue delete: ${id}: ${result.outcome === 'unknown' ? 'no such entry (see annunciator queue)' : 'being sent right now; it cannot be stopped'}\n`);
            code = EXIT.failure;
          }
        }
        process.stdout.write(`${removed} entr${removed === 1 ? 'y' : 'ies'} deleted\n`);
        return code;
      }
    }
  });
}

import { deleteOutboxEntry } from '../pipeline/delete-outbox-entry.js';
import { EXIT, usageError } from './exit-codes.js';
import { recordAct } from '../pipeline/actor.js';
import { cliActor } from './cli-actor.js';
import { userName } from './user-name.js';
import { withStore } from './load-config-or-report.js';
import { displayZone, printJson, showTime } from './output.js';
import { printable, printTable } from './table.js';
import { resolveOutboxId } from './alarm-id.js';
import { headerEnd } from '../parse/repair-charset.js';
import { simpleParser } from 'mailparser';
import { formatDuration } from '../config/units.js';
import type { OutboxEntry, OutboxStatus, Store } from '../store/store.js';

export type QueueAction =
  | { action: 'list'; all?: boolean; json?: boolean }
  | { action: 'show'; id: string; json?: boolean; message?: boolean } | { action: 'retry'; ids: string[]; all?: boolean; json?: boolean } | { action: 'delete'; ids: string[]; json?: boolean };

/** An entry named that is not in a state the action allows; --json lists them with the status. */
interface Refusal {
  id: string;
  status: OutboxStatus;
  reason: string;
}

function retryRefusal(status: OutboxStatus): string {
  return status === 'sent' ? 'sent already; nothing to retry' : status === 'sending' ? 'being sent right now' : `${status}; it could not be made due`;
}

export function queueCommand(configFile: string, request: QueueAction): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const now = Date.now();
    switch (request.action) {
      case 'show': {
        const id = await resolveOutboxId(store, request.id, 'queue show');
        const entry = id === undefined ? undefined : await store.outbox.get(id);
        if (!entry) return EXIT.failure;
        if (request.message) {
          // The MIME message as it is (or was) handed to the upstream, byte for byte.
          process.stdout.write(entry.message);
          return EXIT.ok;
        }
        const shown = await entryShown(store, entry);
        if (request.json) {
          printJson(shown);
          return EXIT.ok;
        }
        const zone = displayZone(config);
        const at = (ms: number): string => showTime(ms, zone);
        const lines = [
          `id           ${shown.id}`,
          `status       ${shown.status}`,
          `account      ${shown.account ?? '-'}`,
          `from         ${shown.envelopeFrom || '<>'}`,
          `to           ${shown.recipients.join(', ') || '-'}`,
          ...(shown.rejectedRecipients.length > 0 ? [`refused      ${shown.rejectedRecipients.join(', ')}`] : []),
          `subject      ${shown.subject}`,
          `size         ${shown.size} bytes`,
          `created      ${at(shown.createdAt)}`,
          `attempts     ${shown.attempts}`,
          `next attempt ${shown.nextAttemptAt === null ? '-' : at(shown.nextAttemptAt)}`,
          `last error   ${shown.lastError ?? '-'}`,
          `sent         ${shown.sentAt === null ? '-' : at(shown.sentAt)}`,
          ...(shown.batch ? [`batch        ${[shown.batch.kind ?? 'batch', shown.batch.label].filter(Boolean).join(' ')} (${shown.batch.id})`] : []),
          ...(shown.alarms.length === 0 ? ['alarms       - (relayed mail)'] : shown.alarms.map((a, i) => `${i === 0 ? 'alarms      ' : '            '} ${a.id}  ${a.title ?? '(no longer in the store)'}`)),
        ];
        // Subjects, errors and titles come from devices and upstreams: one line each, control characters as text.
        process.stdout.write(`${lines.map(printable).join('\n')}\n`);
        return EXIT.ok;
      }
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
        // Each entry is looked at and made due in one transaction, so what is reported is what
        // was done: with --all every pending and failed entry, else each id named (once).
        const outcome = await store.transaction(async (tx) => {
          // --all takes the pending and failed entries as listed.
          const ids = request.all ? (await tx.outbox.list(['pending', 'failed'])).map((e) => e.id) : [...new Set(request.ids)];
          const retried: string[] = [];
          const notFound: string[] = [];
          const refused: Refusal[] = [];
          const problems: string[] = [];
          for (const id of ids) {
            // Only pending and failed entries are made due; what was not is looked at for the reason.
            if ((await tx.outbox.retryNow([id], now)) > 0) {
              retried.push(id);
              continue;
            }
            // --all: claimed or deleted since it was listed (another gateway on the database); it retries what it can.
            if (request.all) continue;
            const entry = await tx.outbox.get(id);
            if (!entry) notFound.push(id);
            else refused.push({ id, status: entry.status, reason: retryRefusal(entry.status) });
            problems.push(`${id}: ${entry ? retryRefusal(entry.status) : 'no such entry (see annunciator queue)'}`);
          }
          if (request.all) await recordAct(tx, cliActor(), now, 'outbox.retry', null, { all: true, entries: retried.length });
          else if (retried.length > 0) await recordAct(tx, cliActor(), now, 'outbox.retry', retried.length === 1 ? retried[0]! : null, { ids: retried, entries: retried.length });
          return { problems, result: { retried, notFound, refused } };
        });
        // Each id that cannot be retried is named with the reason (the others are retried), also with --json.
        for (const problem of outcome.problems) process.stderr.write(`annunciator queue retry: ${problem}\n`);
        const { retried } = outcome.result;
        if (request.json) printJson(outcome.result);
        else process.stdout.write(`${retried.length} entr${retried.length === 1 ? 'y' : 'ies'} due now\n`);
        return outcome.problems.length > 0 ? EXIT.failure : EXIT.ok;
      }
      case 'delete': {
        let code: number = EXIT.ok;
        const by = `${userName()} via cli`;
        const deleted: Array<{ id: string; status: OutboxStatus; alarmIds: string[] }> = [];
        const notFound: string[] = [];
        const refused: Refusal[] = [];
        for (const id of request.ids) {
          const result = await store.transaction(async (tx) => {
            const outcome = await deleteOutboxEntry(tx, id, by, now);
            if (outcome.outcome === 'deleted') await recordAct(tx, cliActor(), now, 'outbox.delete', id, { alarms: outcome.alarmIds });
            return outcome;
          });
          if (result.outcome === 'deleted') {
            deleted.push({ id, status: result.entry.status, alarmIds: result.alarmIds });
            const about = result.alarmIds.length > 0 ? ` (recorded in the history of alarm${result.alarmIds.length === 1 ? '' : 's'} ${result.alarmIds.join(', ')})` : '';
            if (!request.json) process.stdout.write(`deleted ${id}${about}\n`);
          } else {
            const reason = result.outcome === 'unknown' ? 'no such entry (see annunciator queue)' : 'being sent right now; it cannot be stopped';
            if (result.outcome === 'unknown') notFound.push(id);
            else refused.push({ id, status: 'sending', reason });
            process.stderr.write(`annunciator queue delete: ${id}: ${reason}\n`);
            code = EXIT.failure;
          }
        }
        if (request.json) printJson({ deleted, notFound, refused });
        else process.stdout.write(`${deleted.length} entr${deleted.length === 1 ? 'y' : 'ies'} deleted\n`);
        return code;
      }
    }
  });
}

/** What `queue show` tells about an entry, text and --json alike; never the message itself. */
interface EntryShown {
  id: string;
  status: OutboxStatus;
  /** The account it was last tried or sent through; null before the first attempt. */
  account: string | null;
  envelopeFrom: string;
  recipients: string[];
  rejectedRecipients: string[];
  subject: string;
  size: number;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  sentAt: number | null;
  receivedId: string | null;
  batch: { id: string; kind: string | null; label: string | null } | null;
  alarms: Array<{ id: string; title: string | null }>;
}

async function entryShown(store: Store, entry: OutboxEntry): Promise<EntryShown> {
  const batch = entry.batchId ? await store.batches.get(entry.batchId) : undefined;
  const alarmIds = entry.alarmId ? [entry.alarmId] : entry.batchId ? [...new Set((await store.batches.items(entry.batchId)).map((item) => item.alarmId))] : [];
  const alarms = await Promise.all(alarmIds.map(async (alarmId) => ({ id: alarmId, title: (await store.alarms.get(alarmId))?.title ?? null })));
  return {
    id: entry.id,
    status: entry.status,
    account: entry.lastAccount,
    envelopeFrom: entry.envelopeFrom,
    recipients: entry.recipients,
    rejectedRecipients: entry.rejectedRecipients,
    subject: await subjectOf(entry.message),
    size: entry.message.length,
    createdAt: entry.createdAt,
    attempts: entry.attempts,
    nextAttemptAt: entry.status === 'pending' ? entry.nextAttemptAt : null,
    lastError: entry.lastError,
    sentAt: entry.sentAt,
    receivedId: entry.receivedId,
    batch: entry.batchId ? { id: entry.batchId, kind: batch?.kind ?? null, label: batch?.label ?? null } : null,
    alarms,
  };
}

/** The decoded Subject of a stored message: only its header block is parsed. */
async function subjectOf(message: Buffer): Promise<string> {
  const parsed = await simpleParser(message.subarray(0, headerEnd(message).bodyStart), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  return parsed.subject ?? '';
}

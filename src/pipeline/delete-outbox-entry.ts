import type { OutboxEntry, Repositories } from '../store/store.js';

/** What deleting one outbox entry did. */
export type DeleteOutcome =
  | { outcome: 'deleted'; entry: Omit<OutboxEntry, 'message'>; alarmIds: string[] }
  | { outcome: 'unknown' }
  /** Being handed to an upstream right now: deleting the row could not stop that. */
  | { outcome: 'sending' };

/** History outcomes: the notification will never go out / it went out and only its record is gone. */
export const DELETED_UNSENT = 'notification-deleted';
export const DELETED_RECORD = 'sent-record-deleted';

/**
 * Deletes an outbox entry and says so in the history of every alarm it is about (its own
 * alarm, or each alarm a group or digest lists), in the caller's transaction: the history
 * said "notified" when the entry was queued, and without this line would go on saying it
 * about a notification nobody received. `by` names who deleted it and how ("anna via cli").
 */
export async function deleteOutboxEntry(tx: Repositories, id: string, by: string, now: number): Promise<DeleteOutcome> {
  const entry = await tx.outbox.get(id);
  if (!entry) return { outcome: 'unknown' };
  if (entry.status === 'sending' || (await tx.outbox.delete([id])) === 0) return { outcome: 'sending' };
  const alarmIds = entry.alarmId ? [entry.alarmId] : entry.batchId ? [...new Set((await tx.batches.items(entry.batchId)).map((item) => item.alarmId))] : [];
  const what = `${entry.batchId ? 'batch notification' : 'notification'} ${id} to ${entry.recipients.join(', ') || '(no recipients left)'}`;
  const sent = entry.status === 'sent';
  const state = sent
    ? 'sent before; only its outbox record is gone'
    : `${entry.status} after ${entry.attempts} attempt(s)${entry.lastError ? `, last error: ${entry.lastError}` : ''}; it will not be sent`;
  const reason = `${what} deleted from the outbox by ${by} (${state})`;
  for (const alarmId of alarmIds) {
    await tx.alarms.log(alarmId, { receivedId: entry.receivedId ?? '-', at: now, outcome: sent ? DELETED_RECORD : DELETED_UNSENT, reason });
  }
  const { message: _message, ...summary } = entry;
  return { outcome: 'deleted', entry: summary, alarmIds };
}

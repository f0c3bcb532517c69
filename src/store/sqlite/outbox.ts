import type { AccountDeliveryRecord, DeliveryFailureUpdate, NewOutboxEntry, OutboxEntry, OutboxRepository, OutboxStatus, OutboxSummary } from '../store.js';
import { asBuffer } from './connection.js';
import { Db } from './db.js';
import { inRow, outOfRow } from './large-values.js';

interface OutboxRow {
  id: string;
  received_id: string | null;
  alarm_id?: string | null;
  batch_id?: string | null;
  created_at: number;
  envelope_from: string;
  recipients: string;
  message: Uint8Array;
  /** The message when it is kept out of the row (large-values.ts). */
  out_of_row?: Uint8Array | null;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  last_account: string | null;
  updated_at: number;
  sent_at: number | null;
  rejected_recipients: string;
  size?: number;
}

export class SqliteOutbox implements OutboxRepository {
  constructor(private readonly db: Db) {}

  async insert(entry: NewOutboxEntry, now: number): Promise<void> {
    this.db.run(
      `INSERT INTO outbox (id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, message, status, next_attempt_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      entry.id,
      entry.receivedId,
      entry.alarmId ?? null,
      entry.batchId ?? null,
      now,
      entry.envelopeFrom,
      JSON.stringify(entry.recipients),
      inRow(entry.message),
      now,
      now,
    );
    if (outOfRow(entry.message)) this.db.run(`INSERT INTO outbox_message (id, message) VALUES (?, ?)`, entry.id, entry.message);
  }

  async claimDue(now: number, limit: number): Promise<OutboxEntry[]> {
    // The rows are picked and sorted before the join: only the claimed ones' large messages are read.
    const rows = this.db.all<OutboxRow>(`${WITH_MESSAGE} FROM (SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?) o
       LEFT JOIN outbox_message m ON m.id = o.id ORDER BY o.next_attempt_at, o.id`, now, limit);
    for (const row of rows) this.db.run(`UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?`, now, row.id);
    return rows.map((row) => toEntry({ ...row, status: 'sending', attempts: row.attempts + 1 }));
  }

  async recoverInterrupted(now: number): Promise<number> {
    return this.db.run(
      `UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ?, last_error = coalesce(last_error, 'interrupted by a restart') WHERE status = 'sending'`,
      now,
      now,
    ).changes;
  }

  async markSent(id: string, now: number, account: string, rejectedRecipients: string[]): Promise<void> {
    this.db.run(`UPDATE outbox SET status = 'sent', sent_at = ?, updated_at = ?, last_account = ?, rejected_recipients = ? WHERE id = ?`, now, now, account, JSON.stringify(rejectedRecipients), id);
  }

  async reschedule(id: string, u: DeliveryFailureUpdate & { nextAttemptAt: number; recipients: string[] }): Promise<void> {
    this.db.run(
      `UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, last_account = ?, recipients = ?, rejected_recipients = ?, updated_at = ?
       WHERE id = ? AND status = 'sending'`,
      u.nextAttemptAt,
      u.error,
      u.account,
      JSON.stringify(u.recipients),
      JSON.stringify(u.rejectedRecipients),
      u.now,
      id,
    );
  }

  async markFailed(id: string, u: DeliveryFailureUpdate): Promise<void> {
    this.db.run(`UPDATE outbox SET status = 'failed', last_error = ?, last_account = ?, rejected_recipients = ?, updated_at = ? WHERE id = ?`, u.error, u.account, JSON.stringify(u.rejectedRecipients), u.now, id);
  }

  async list(statuses: OutboxStatus[], page?: { limit: number; after?: { createdAt: number; id: string } }): Promise<OutboxSummary[]> {
    if (statuses.length === 0) return [];
    const after = page?.after ? ` AND (created_at, id) > (?, ?)` : '';
    const limit = page ? ` LIMIT ?` : '';
    const params: unknown[] = [...statuses, ...(page?.after ? [page.after.createdAt, page.after.id] : []), ...(page ? [page.limit] : [])];
    return this.db.all<OutboxRow>(`${SUMMARY} FROM outbox WHERE status IN (${Db.placeholders(statuses.length)})${after} ORDER BY created_at, id${limit}`, ...params).map(toSummary);
  }

  async ofAlarm(alarmId: string): Promise<(OutboxSummary & { batchKind: string | null })[]> {
    // Two index seeks (outbox_alarm; batch_items_alarm then outbox_batch), not a scan of the outbox.
    const rows = this.db.all<OutboxRow & { batch_kind: string | null }>(
      `SELECT * FROM (
         ${SUMMARY}, NULL AS batch_kind FROM outbox WHERE alarm_id = ?
         UNION ALL
         ${SUMMARY}, (SELECT kind FROM batches b WHERE b.id = outbox.batch_id) AS batch_kind FROM outbox WHERE batch_id IN (SELECT batch_id FROM batch_items WHERE alarm_id = ?)
       ) ORDER BY created_at, id`,
      alarmId,
      alarmId,
    );
    return rows.map((row) => ({ ...toSummary(row), batchKind: row.batch_kind }));
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    const row = this.db.get<OutboxRow>(`${WITH_MESSAGE} FROM outbox o LEFT JOIN outbox_message m ON m.id = o.id WHERE o.id = ?`, id);
    return row ? toEntry(row) : undefined;
  }

  async retryNow(ids: string[] | 'all', now: number): Promise<number> {
    if (ids === 'all') {
      return this.db.run(`UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE status IN ('pending', 'failed')`, now, now).changes;
    }
    return ids.reduce((n, id) => n + this.db.run(`UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'failed')`, now, now, id).changes, 0);
  }

  async delete(ids: string[]): Promise<number> {
    // An entry being sent right now is left alone: deleting it could not stop the send.
    return ids.reduce((n, id) => n + this.db.run(`DELETE FROM outbox WHERE id = ? AND status != 'sending'`, id).changes, 0);
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.db.run(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN ('sent', 'failed') AND updated_at < ? LIMIT ?)`, before, limit).changes;
  }

  async pendingSummary(): Promise<{ count: number; oldestCreatedAt: number | undefined }> {
    const row = this.db.get<{ n: number; oldest: number | null }>(`SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending'`);
    return { count: row?.n ?? 0, oldestCreatedAt: row?.oldest ?? undefined };
  }

  async pendingByAccount(): Promise<Array<{ account: string | null; count: number; oldestCreatedAt: number }>> {
    return this.db
      .all<{ account: string | null; n: number; oldest: number }>(`SELECT last_account AS account, count(*) AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending' GROUP BY last_account`)
      .map((r) => ({ account: r.account, count: r.n, oldestCreatedAt: r.oldest }));
  }

  async accountRecords(): Promise<AccountDeliveryRecord[]> {
    const records = new Map<string, AccountDeliveryRecord>();
    const record = (account: string) => records.get(account) ?? records.set(account, { account, lastSentAt: undefined, lastError: undefined }).get(account)!;
    for (const r of this.db.all<{ account: string; at: number }>(`SELECT last_account AS account, max(sent_at) AS at FROM outbox WHERE status = 'sent' AND last_account IS NOT NULL GROUP BY last_account`)) {
      record(r.account).lastSentAt = r.at;
    }
    // SQLite takes the bare column (last_error) from the row max() picked.
    for (const r of this.db.all<{ account: string; message: string; at: number }>(
      `SELECT last_account AS account, last_error AS message, max(updated_at) AS at FROM outbox
       WHERE status IN ('pending', 'sending', 'failed') AND last_error IS NOT NULL AND last_account IS NOT NULL GROUP BY last_account`,
    )) {
      record(r.account).lastError = { message: r.message, at: r.at };
    }
    return [...records.values()].sort((a, b) => a.account.localeCompare(b.account));
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.db.get<{ due: number | null }>(`SELECT min(next_attempt_at) AS due FROM outbox WHERE status = 'pending'`)?.due ?? undefined;
  }
}

/** An outbox row without its message, and the message's size. */
const SUMMARY = `SELECT id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, status, attempts, next_attempt_at, last_error, last_account, updated_at, sent_at, rejected_recipients,
         coalesce((SELECT length(m.message) FROM outbox_message m WHERE m.id = outbox.id), length(message)) AS size`;

function toSummary(row: OutboxRow): OutboxSummary {
  const { message: _message, ...summary } = toEntry({ ...row, message: Buffer.alloc(0) });
  return { ...summary, size: row.size ?? 0 };
}

/** An outbox row and its message if kept out of it, in outbox_message (large-values.ts). */
const WITH_MESSAGE = `SELECT o.*, m.message AS out_of_row`;

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    receivedId: row.received_id,
    alarmId: row.alarm_id ?? null,
    batchId: row.batch_id ?? null,
    createdAt: row.created_at,
    envelopeFrom: row.envelope_from,
    recipients: JSON.parse(row.recipients) as string[],
    message: asBuffer(row.out_of_row ?? row.message),
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    lastAccount: row.last_account,
    updatedAt: row.updated_at,
    sentAt: row.sent_at,
    rejectedRecipients: JSON.parse(row.rejected_recipients) as string[],
  };
}

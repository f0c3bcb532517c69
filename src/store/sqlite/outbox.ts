import type { AccountDeliveryRecord, DeliveryFailureUpdate, NewOutboxEntry, OutboxEntry, OutboxRepository, OutboxStatus, OutboxSummary } from '../store.js';
import { asBuffer } from './connection.js';
import { Db } from './db.js';
import { IN_ROW_MAX, inRow, outOfRow } from './large-values.js';
import type { RecentBytes } from './recent-bytes.js';

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
  /** The rest of the message, from the received mail, when the row keeps only its head (body_offset). */
  received_tail?: Uint8Array | null;
  body_offset?: number | null;
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
  readonly #recent: RecentBytes;

  constructor(private readonly db: Db) {
    this.#recent = db.recentBytes();
  }

  async insert(entry: NewOutboxEntry, now: number): Promise<void> {
    const head = headOf(entry);
    const message = head ?? entry.message;
    this.db.run(
      `INSERT INTO outbox (id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, message, status, next_attempt_at, updated_at, body_offset)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
      entry.id,
      entry.receivedId,
      entry.alarmId ?? null,
      entry.batchId ?? null,
      now,
      entry.envelopeFrom,
      JSON.stringify(entry.recipients),
      inRow(message),
      now,
      now,
      head ? entry.bodyOfReceived!.offset : null,
    );
    if (outOfRow(message)) this.db.run(`INSERT INTO outbox_message (id, message) VALUES (?, ?)`, entry.id, message);
    // What the row does not hold whole would be read back from two tables at the claim.
    if (head || outOfRow(message)) this.#recent.stage(entry.id, entry.message);
  }

  async claimDue(now: number, limit: number): Promise<OutboxEntry[]> {
    const rows = this.db.all<OutboxRow>(`SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, now, limit);
    for (const row of rows) this.db.run(`UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?`, now, row.id);
    return rows.map((row) => ({ ...toRecord({ ...row, status: 'sending', attempts: row.attempts + 1 }), message: this.#messageOf(row) }));
  }

  /** A claimed row's message: the row's own when it holds it whole, else from memory if just queued, else read. */
  #messageOf(row: OutboxRow): Buffer {
    if (row.body_offset === null && row.message.byteLength > 0) return asBuffer(row.message);
    const recent = this.#recent.take(row.id);
    if (recent) return recent;
    const whole = this.db.get<MessageRow>(MESSAGE_BY_ID, row.id);
    if (!whole) throw new Error(`outbox entry ${row.id} is gone while it is being claimed`);
    return messageOfRow(whole);
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
    const row = this.db.get<OutboxRow>(MESSAGE_BY_ID, id);
    return row ? toEntry(row) : undefined;
  }

  async idsWithPrefix(prefix: string, limit: number): Promise<string[]> {
    return this.db.idsWithPrefix('outbox', prefix, limit);
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
         coalesce((SELECT length(m.message) FROM outbox_message m WHERE m.id = outbox.id), length(message))
         + CASE WHEN body_offset IS NULL THEN 0
           ELSE coalesce((SELECT length(b.raw) FROM received_raw b WHERE b.id = outbox.received_id), (SELECT length(r.raw) FROM received r WHERE r.id = outbox.received_id)) - body_offset END AS size`;

function toSummary(row: OutboxRow): OutboxSummary {
  return { ...toRecord(row), size: row.size ?? 0 };
}

/**
 * The bytes before the received mail's own when the entry ends with them, and only when that
 * saves writing a large body a second time; else undefined, and the row keeps it all.
 */
function headOf(entry: NewOutboxEntry): Buffer | undefined {
  const body = entry.bodyOfReceived;
  // A body small enough for the row costs nothing to write again with it.
  if (!body || entry.receivedId === null || body.length <= IN_ROW_MAX) return undefined;
  return entry.message.subarray(0, entry.message.length - body.length);
}

/**
 * An outbox row by id, its message if kept out of it (outbox_message, large-values.ts), and
 * the rest of the message from the received mail when the row keeps only the head (body_offset).
 */
const MESSAGE_BY_ID = `SELECT o.*, m.message AS out_of_row,
  CASE WHEN o.body_offset IS NOT NULL THEN substr(coalesce(rb.raw, r.raw), o.body_offset + 1) END AS received_tail
  FROM outbox o
  LEFT JOIN outbox_message m ON m.id = o.id
  LEFT JOIN received r ON o.body_offset IS NOT NULL AND r.id = o.received_id
  LEFT JOIN received_raw rb ON o.body_offset IS NOT NULL AND rb.id = o.received_id
  WHERE o.id = ?`;

type MessageRow = Pick<OutboxRow, 'id' | 'received_id' | 'message' | 'out_of_row' | 'received_tail' | 'body_offset'>;

function messageOfRow(row: MessageRow): Buffer {
  return withTail(asBuffer(row.out_of_row ?? row.message), row);
}

function withTail(head: Buffer, row: MessageRow): Buffer {
  if (row.body_offset === null || row.body_offset === undefined) return head;
  // The foreign key keeps the received mail while this row is; its absence is a broken store, not an empty body.
  if (!row.received_tail) throw new Error(`outbox entry ${row.id}: the received mail ${row.received_id} its body is read from is gone`);
  return Buffer.concat([head, row.received_tail]);
}

function toEntry(row: OutboxRow): OutboxEntry {
  return { ...toRecord(row), message: messageOfRow(row) };
}

function toRecord(row: OutboxRow): Omit<OutboxEntry, 'message'> {
  return {
    id: row.id,
    receivedId: row.received_id,
    alarmId: row.alarm_id ?? null,
    batchId: row.batch_id ?? null,
    createdAt: row.created_at,
    envelopeFrom: row.envelope_from,
    recipients: JSON.parse(row.recipients) as string[],
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

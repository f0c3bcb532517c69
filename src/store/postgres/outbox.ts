import type { AccountDeliveryRecord, DeliveryFailureUpdate, NewOutboxEntry, OutboxEntry, OutboxRepository, OutboxStatus, OutboxSummary } from '../store.js';
import { idsWithPrefix, type Sql } from './sql.js';
import { NOTIFY, wakePayload } from './wake.js';

interface OutboxRow {
  id: string;
  received_id: string | null;
  alarm_id: string | null;
  batch_id: string | null;
  created_at: number;
  envelope_from: string;
  recipients: string[];
  message: Buffer;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  last_account: string | null;
  updated_at: number;
  sent_at: number | null;
  rejected_recipients: string[];
  size?: number;
}

/**
 * An outbox row's claim whose gateway is gone (killed, or restarted under a new name): its
 * control session (peers.ts, recorded in gateways.backend_pid) no longer exists. A claim by a
 * gateway not recorded at all (it died before its first beat) counts as gone a minute after
 * it was made. `$1` is now (ms).
 */
export const CLAIM_GONE = `NOT EXISTS (SELECT 1 FROM gateways g JOIN pg_stat_activity a ON a.pid = g.backend_pid AND a.datname = current_database() WHERE g.name = outbox.claimed_by)
  AND (EXISTS (SELECT 1 FROM gateways g WHERE g.name = outbox.claimed_by) OR outbox.updated_at < $1::bigint - 60000)`;

/** Puts rows left `sending` back to pending, due now (`$1`). */
const RECOVER = `UPDATE outbox SET status = 'pending', next_attempt_at = $1, updated_at = $1, claimed_by = NULL, last_error = coalesce(last_error, 'interrupted by a restart') WHERE status = 'sending'`;

/** The leader's sweep (peers.ts): entries claimed by gateways that are gone, due again; how many. `$1` now, `$2` this gateway. */
export const RECOVER_GONE_CLAIMS = `WITH recovered AS (${RECOVER} AND claimed_by <> $2 AND ${CLAIM_GONE} RETURNING 1) SELECT count(*)::int AS n FROM recovered`;

function toSummary(row: OutboxRow): OutboxSummary {
  const { message: _message, ...summary } = toEntry({ ...row, message: Buffer.alloc(0) });
  return { ...summary, size: row.size ?? 0 };
}

const SUMMARY = 'id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, status, attempts, next_attempt_at, last_error, last_account, updated_at, sent_at, rejected_recipients';

export class PgOutbox implements OutboxRepository {
  /** `gateway`: who claims (outbox.claimed_by), so that with several gateways each knows its own leases. */
  constructor(
    private readonly sql: Sql,
    private readonly gateway: string,
  ) {}

  async insert(entry: NewOutboxEntry, now: number): Promise<void> {
    // Every gateway's outbox worker hears of it when this commits.
    await this.sql.count(
      `WITH inserted AS (INSERT INTO outbox (id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, message, status, next_attempt_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)) SELECT ${NOTIFY('$11')}`,
      [entry.id, entry.receivedId, entry.alarmId ?? null, entry.batchId ?? null, now, entry.envelopeFrom, JSON.stringify(entry.recipients), entry.message, now, now, wakePayload(this.gateway, { kind: 'outbox' })],
    );
  }

  async claimDue(now: number, limit: number): Promise<OutboxEntry[]> {
    // One statement: rows another connection (or gateway) is claiming right now are
    // skipped rather than waited for, so no entry is handed out twice and no claim waits.
    const rows = await this.sql.rows<OutboxRow>(
      `UPDATE outbox o SET status = 'sending', attempts = o.attempts + 1, updated_at = $1, claimed_by = $3
       FROM (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) due
       WHERE o.id = due.id
       RETURNING o.*`,
      [now, limit, this.gateway],
    );
    // RETURNING keeps no order: the most overdue first, as selected.
    return rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(toEntry);
  }

  async recoverInterrupted(now: number): Promise<number> {
    // Not every entry left sending: another gateway on this database may be delivering it
    // right now. Those this gateway claimed, and those of gateways that are gone (the leader
    // also sweeps these at every beat, peers.ts).
    return this.sql.count(`${RECOVER} AND (claimed_by IS NULL OR claimed_by = $2 OR (${CLAIM_GONE}))`, [now, this.gateway]);
  }

  async markSent(id: string, now: number, account: string, rejectedRecipients: string[]): Promise<void> {
    await this.sql.count(`UPDATE outbox SET status = 'sent', sent_at = $1, updated_at = $1, last_account = $2, rejected_recipients = $3, claimed_by = NULL WHERE id = $4`, [
      now,
      account,
      JSON.stringify(rejectedRecipients),
      id,
    ]);
  }

  async reschedule(id: string, u: DeliveryFailureUpdate & { nextAttemptAt: number; recipients: string[] }): Promise<void> {
    await this.sql.count(
      `UPDATE outbox SET status = 'pending', next_attempt_at = $1, last_error = $2, last_account = $3, recipients = $4, rejected_recipients = $5, updated_at = $6, claimed_by = NULL
       WHERE id = $7 AND status = 'sending'`,
      [u.nextAttemptAt, u.error, u.account, JSON.stringify(u.recipients), JSON.stringify(u.rejectedRecipients), u.now, id],
    );
  }

  async markFailed(id: string, u: DeliveryFailureUpdate): Promise<void> {
    await this.sql.count(`UPDATE outbox SET status = 'failed', last_error = $1, last_account = $2, rejected_recipients = $3, updated_at = $4, claimed_by = NULL WHERE id = $5`, [
      u.error,
      u.account,
      JSON.stringify(u.rejectedRecipients),
      u.now,
      id,
    ]);
  }

  async list(statuses: OutboxStatus[], page?: { limit: number; after?: { createdAt: number; id: string } }): Promise<OutboxSummary[]> {
    if (statuses.length === 0) return [];
    const params: unknown[] = [statuses];
    const after = page?.after ? ` AND (created_at, id) > ($${params.push(page.after.createdAt)}::bigint, $${params.push(page.after.id)}::text COLLATE "C")` : '';
    const limit = page ? ` LIMIT $${params.push(page.limit)}` : '';
    const rows = await this.sql.rows<OutboxRow>(`SELECT ${SUMMARY}, octet_length(message) AS size FROM outbox WHERE status = ANY($1::text[])${after} ORDER BY created_at, id${limit}`, params);
    return rows.map(toSummary);
  }

  async ofAlarm(alarmId: string): Promise<(OutboxSummary & { batchKind: string | null })[]> {
    // Index seeks (outbox_alarm; batch_items_alarm then outbox_batch), not a scan of the outbox.
    const rows = await this.sql.rows<OutboxRow & { batch_kind: string | null }>(
      `SELECT * FROM (
         SELECT ${SUMMARY}, octet_length(message) AS size, NULL::text AS batch_kind FROM outbox WHERE alarm_id = $1
         UNION ALL
         SELECT ${SUMMARY}, octet_length(message) AS size, (SELECT kind FROM batches b WHERE b.id = outbox.batch_id) AS batch_kind
           FROM outbox WHERE batch_id IN (SELECT batch_id FROM batch_items WHERE alarm_id = $1)
       ) o ORDER BY created_at, id`,
      [alarmId],
    );
    return rows.map((row) => ({ ...toSummary(row), batchKind: row.batch_kind }));
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    const [row] = await this.sql.rows<OutboxRow>(`SELECT ${SUMMARY}, message FROM outbox WHERE id = $1`, [id]);
    return row ? toEntry(row) : undefined;
  }

  async idsWithPrefix(prefix: string, limit: number): Promise<string[]> {
    return idsWithPrefix(this.sql, 'outbox', prefix, limit);
  }

  async retryNow(ids: string[] | 'all', now: number): Promise<number> {
    if (ids === 'all') return this.sql.count(`UPDATE outbox SET status = 'pending', next_attempt_at = $1, updated_at = $1 WHERE status IN ('pending', 'failed')`, [now]);
    return this.sql.count(`UPDATE outbox SET status = 'pending', next_attempt_at = $1, updated_at = $1 WHERE id = ANY($2::text[]) AND status IN ('pending', 'failed')`, [now, ids]);
  }

  async delete(ids: string[]): Promise<number> {
    // An entry being sent right now is left alone: deleting it could not stop the send.
    return this.sql.count(`DELETE FROM outbox WHERE id = ANY($1::text[]) AND status <> 'sending'`, [ids]);
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.sql.count(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN ('sent', 'failed') AND updated_at < $1 LIMIT $2)`, [before, limit]);
  }

  async pendingSummary(): Promise<{ count: number; oldestCreatedAt: number | undefined }> {
    const [row] = await this.sql.rows<{ n: number; oldest: number | null }>(`SELECT count(*)::int AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending'`);
    return { count: row?.n ?? 0, oldestCreatedAt: row?.oldest ?? undefined };
  }

  async pendingByAccount(): Promise<Array<{ account: string | null; count: number; oldestCreatedAt: number }>> {
    const rows = await this.sql.rows<{ account: string | null; n: number; oldest: number }>(
      `SELECT last_account AS account, count(*)::int AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending' GROUP BY last_account`,
    );
    return rows.map((r) => ({ account: r.account, count: r.n, oldestCreatedAt: r.oldest }));
  }

  async accountRecords(): Promise<AccountDeliveryRecord[]> {
    const records = new Map<string, AccountDeliveryRecord>();
    const record = (account: string) => records.get(account) ?? records.set(account, { account, lastSentAt: undefined, lastError: undefined }).get(account)!;
    for (const r of await this.sql.rows<{ account: string; at: number }>(`SELECT last_account AS account, max(sent_at) AS at FROM outbox WHERE status = 'sent' AND last_account IS NOT NULL GROUP BY last_account`)) {
      record(r.account).lastSentAt = r.at;
    }
    for (const r of await this.sql.rows<{ account: string; message: string; at: number }>(
      `SELECT DISTINCT ON (last_account) last_account AS account, last_error AS message, updated_at AS at FROM outbox
       WHERE status IN ('pending', 'sending', 'failed') AND last_error IS NOT NULL AND last_account IS NOT NULL ORDER BY last_account, updated_at DESC`,
    )) {
      record(r.account).lastError = { message: r.message, at: r.at };
    }
    return [...records.values()].sort((a, b) => a.account.localeCompare(b.account));
  }

  async nextDueAt(): Promise<number | undefined> {
    const [row] = await this.sql.rows<{ due: number | null }>(`SELECT min(next_attempt_at) AS due FROM outbox WHERE status = 'pending'`);
    return row?.due ?? undefined;
  }
}

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    receivedId: row.received_id,
    alarmId: row.alarm_id,
    batchId: row.batch_id,
    createdAt: row.created_at,
    envelopeFrom: row.envelope_from,
    recipients: row.recipients,
    message: row.message,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    lastAccount: row.last_account,
    updatedAt: row.updated_at,
    sentAt: row.sent_at,
    rejectedRecipients: row.rejected_recipients,
  };
}

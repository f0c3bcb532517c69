import type { Batch, BatchItem, HeldNotification } from '../../lifecycle/batch.js';
import type { FloodState } from '../../lifecycle/flood.js';
import { newId } from '../../base/ids.js';
import type { BatchRepository } from '../store.js';
import { readLocked } from './locks.js';
import type { Sql } from './sql.js';

interface BatchRow {
  id: string;
  key: string;
  kind: Batch['kind'];
  label: string;
  opened_at: number;
  flush_at: number;
  receivers: Batch['receivers'];
  sent_at: number | null;
}

const COLUMNS = 'id, key, kind, label, opened_at, flush_at, receivers, sent_at';

/**
 * A held notification joins its key's open batch while the batch going out (flush-batch:
 * `get`, `items`, `markSent`) reads its items: both lock the batch row, so an item is
 * either in the batch before it goes out or in the next one, never added to a batch
 * already sent. Flood counters are read to be written back: locked (locks.ts).
 */
export class PgBatches implements BatchRepository {
  constructor(private readonly sql: Sql) {}

  async hold(held: HeldNotification, now: number): Promise<{ id: string; opened: boolean }> {
    const [open] = await readLocked<{ id: string }>(this.sql, `batch:${held.batchKey}`, `SELECT id FROM batches WHERE key = $1 AND sent_at IS NULL FOR UPDATE`, [held.batchKey]);
    const batchId = open?.id ?? newId(now);
    if (!open) {
      await this.sql.count(`INSERT INTO batches (id, key, kind, label, opened_at, flush_at, receivers) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        batchId,
        held.batchKey,
        held.batchKind,
        held.label,
        now,
        held.flushAt,
        JSON.stringify(held.receivers),
      ]);
    }
    await this.sql.count(`INSERT INTO batch_items (batch_id, alarm_id, kind, reason, at) VALUES ($1, $2, $3, $4, $5)`, [batchId, held.alarmId, held.kind, held.reason, held.at]);
    return { id: batchId, opened: !open };
  }

  async get(id: string): Promise<Batch | undefined> {
    const [row] = await this.sql.rows<BatchRow>(`SELECT ${COLUMNS} FROM batches WHERE id = $1 FOR UPDATE`, [id]);
    return row ? toBatch(row) : undefined;
  }

  async due(now: number, limit: number): Promise<Batch[]> {
    return (await this.sql.rows<BatchRow>(`SELECT ${COLUMNS} FROM batches WHERE sent_at IS NULL AND flush_at <= $1 ORDER BY flush_at, id LIMIT $2`, [now, limit])).map(toBatch);
  }

  async nextDueAt(): Promise<number | undefined> {
    const [row] = await this.sql.rows<{ due: number | null }>(`SELECT min(flush_at) AS due FROM batches WHERE sent_at IS NULL`);
    return row?.due ?? undefined;
  }

  async items(batchId: string): Promise<BatchItem[]> {
    const rows = await this.sql.rows<{ alarm_id: string; kind: BatchItem['kind']; reason: string; at: number }>(`SELECT alarm_id, kind, reason, at FROM batch_items WHERE batch_id = $1 ORDER BY seq`, [batchId]);
    return rows.map((r) => ({ alarmId: r.alarm_id, kind: r.kind, reason: r.reason, at: r.at }));
  }

  async ofAlarm(alarmId: string): Promise<Batch[]> {
    return (
      await this.sql.rows<BatchRow>(
        `SELECT ${COLUMNS} FROM batches b WHERE EXISTS (SELECT 1 FROM batch_items i WHERE i.batch_id = b.id AND i.alarm_id = $1) ORDER BY opened_at, id`,
        [alarmId],
      )
    ).map(toBatch);
  }

  async markSent(id: string, now: number): Promise<boolean> {
    return (await this.sql.count(`UPDATE batches SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL`, [now, id])) > 0;
  }

  async prune(before: number, limit: number): Promise<number> {
    const ids = (await this.sql.rows<{ id: string }>(`SELECT id FROM batches WHERE sent_at IS NOT NULL AND sent_at < $1 LIMIT $2`, [before, limit])).map((r) => r.id);
    if (ids.length === 0) return 0;
    await this.sql.count(`DELETE FROM batch_items WHERE batch_id = ANY($1::text[])`, [ids]);
    await this.sql.count(`DELETE FROM batches WHERE id = ANY($1::text[])`, [ids]);
    return ids.length;
  }

  async floodState(scope: string): Promise<FloodState | undefined> {
    const [row] = await readLocked<{ data: FloodState }>(this.sql, `flood:${scope}`, `SELECT data FROM flood_state WHERE scope = $1 FOR UPDATE`, [scope]);
    return row?.data;
  }

  async saveFloodState(state: FloodState): Promise<void> {
    await this.sql.count(`INSERT INTO flood_state (scope, data) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET data = excluded.data`, [state.scope, JSON.stringify(state)]);
  }
}

function toBatch(row: BatchRow): Batch {
  return {
    id: row.id,
    key: row.key,
    kind: row.kind,
    label: row.label,
    openedAt: row.opened_at,
    flushAt: row.flush_at,
    receivers: row.receivers,
    ...(row.sent_at !== null ? { sentAt: row.sent_at } : {}),
  };
}

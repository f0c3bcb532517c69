import type { Batch, BatchItem, HeldNotification } from '../../lifecycle/batch.js';
import type { FloodState } from '../../lifecycle/flood.js';
import { newId } from '../../base/ids.js';
import type { BatchRepository } from '../store.js';
import type { Db } from './db.js';

interface BatchRow {
  id: string;
  key: string;
  kind: Batch['kind'];
  label: string;
  opened_at: number;
  flush_at: number;
  receivers: string;
  sent_at: number | null;
}

export class SqliteBatches implements BatchRepository {
  constructor(private readonly db: Db) {}

  async hold(held: HeldNotification, now: number): Promise<{ id: string; opened: boolean }> {
    const open = this.db.get<{ id: string }>(`SELECT id FROM batches WHERE key = ? AND sent_at IS NULL`, held.batchKey);
    const batchId = open?.id ?? newId(now);
    if (!open) {
      this.db.run(
        `INSERT INTO batches (id, key, kind, label, opened_at, flush_at, receivers) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        batchId,
        held.batchKey,
        held.batchKind,
        held.label,
        now,
        held.flushAt,
        JSON.stringify(held.receivers),
      );
    }
    this.db.run(`INSERT INTO batch_items (batch_id, alarm_id, kind, reason, at) VALUES (?, ?, ?, ?, ?)`, batchId, held.alarmId, held.kind, held.reason, held.at);
    return { id: batchId, opened: !open };
  }

  async get(id: string): Promise<Batch | undefined> {
    const row = this.db.get<BatchRow>(`SELECT * FROM batches WHERE id = ?`, id);
    return row ? toBatch(row) : undefined;
  }

  async due(now: number, limit: number): Promise<Batch[]> {
    return this.db.all<BatchRow>(`SELECT * FROM batches WHERE sent_at IS NULL AND flush_at <= ? ORDER BY flush_at, id LIMIT ?`, now, limit).map(toBatch);
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.db.get<{ due: number | null }>(`SELECT min(flush_at) AS due FROM batches WHERE sent_at IS NULL`)?.due ?? undefined;
  }

  async items(batchId: string): Promise<BatchItem[]> {
    return this.db
      .all<{ alarm_id: string; kind: BatchItem['kind']; reason: string; at: number }>(`SELECT alarm_id, kind, reason, at FROM batch_items WHERE batch_id = ? ORDER BY seq`, batchId)
      .map((r) => ({ alarmId: r.alarm_id, kind: r.kind, reason: r.reason, at: r.at }));
  }

  async ofAlarm(alarmId: string): Promise<Batch[]> {
    return this.db.all<BatchRow>(`SELECT DISTINCT b.* FROM batches b JOIN batch_items i ON i.batch_id = b.id WHERE i.alarm_id = ? ORDER BY b.opened_at, b.id`, alarmId).map(toBatch);
  }

  async markSent(id: string, now: number): Promise<boolean> {
    return this.db.run(`UPDATE batches SET sent_at = ? WHERE id = ? AND sent_at IS NULL`, now, id).changes > 0;
  }

  async prune(before: number, limit: number): Promise<number> {
    const ids = this.db.all<{ id: string }>(`SELECT id FROM batches WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT ?`, before, limit).map((r) => r.id);
    for (const id of ids) {
      this.db.run(`DELETE FROM batch_items WHERE batch_id = ?`, id);
      this.db.run(`DELETE FROM batches WHERE id = ?`, id);
    }
    return ids.length;
  }

  async floodState(scope: string): Promise<FloodState | undefined> {
    const row = this.db.get<{ data: string }>(`SELECT data FROM flood_state WHERE scope = ?`, scope);
    return row ? (JSON.parse(row.data) as FloodState) : undefined;
  }

  async saveFloodState(state: FloodState): Promise<void> {
    this.db.run(`INSERT INTO flood_state (scope, data) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET data = excluded.data`, state.scope, JSON.stringify(state));
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
    receivers: JSON.parse(row.receivers) as Batch['receivers'],
    ...(row.sent_at !== null ? { sentAt: row.sent_at } : {}),
  };
}

import type { Timer, TimerKind } from '../../lifecycle/timer.js';
import type { TimerRepository } from '../store.js';
import type { Db } from './db.js';

interface TimerRow {
  kind: TimerKind;
  key: string;
  alarm_id: string | null;
  due_at: number;
  fired_at: number | null;
  cancelled_at: number | null;
  data: string | null;
}

const PENDING = 'fired_at IS NULL AND cancelled_at IS NULL';

export class SqliteTimers implements TimerRepository {
  constructor(private readonly db: Db) {}

  async add(timers: Timer[]): Promise<void> {
    for (const t of timers) {
      this.db.run(
        `INSERT OR IGNORE INTO timers (kind, key, alarm_id, due_at, fired_at, cancelled_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        t.kind,
        t.key,
        t.alarmId,
        t.dueAt,
        t.firedAt ?? null,
        t.cancelledAt ?? null,
        t.data === undefined ? null : JSON.stringify(t.data),
      );
    }
  }

  async arm(t: Timer): Promise<void> {
    this.db.run(
      `INSERT INTO timers (kind, key, alarm_id, due_at, data) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(kind, key) DO UPDATE SET alarm_id = excluded.alarm_id, due_at = excluded.due_at, data = excluded.data, fired_at = NULL, cancelled_at = NULL`,
      t.kind,
      t.key,
      t.alarmId,
      t.dueAt,
      t.data === undefined ? null : JSON.stringify(t.data),
    );
  }

  async get(kind: TimerKind, key: string): Promise<Timer | undefined> {
    const row = this.db.get<TimerRow>(`SELECT * FROM timers WHERE kind = ? AND key = ?`, kind, key);
    return row ? toTimer(row) : undefined;
  }

  async ofAlarm(alarmId: string): Promise<Timer[]> {
    return this.db.all<TimerRow>(`SELECT * FROM timers WHERE alarm_id = ? ORDER BY due_at, kind, key`, alarmId).map(toTimer);
  }

  async due(now: number, limit: number): Promise<Timer[]> {
    return this.db.all<TimerRow>(`SELECT * FROM timers WHERE ${PENDING} AND due_at <= ? ORDER BY due_at, kind, key LIMIT ?`, now, limit).map(toTimer);
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.db.get<{ due: number | null }>(`SELECT min(due_at) AS due FROM timers WHERE ${PENDING}`)?.due ?? undefined;
  }

  async pendingByKind(): Promise<Partial<Record<TimerKind, number>>> {
    return Object.fromEntries(this.db.all<{ kind: TimerKind; n: number }>(`SELECT kind, count(*) AS n FROM timers WHERE ${PENDING} GROUP BY kind`).map((r) => [r.kind, r.n]));
  }

  async fire(kind: TimerKind, key: string, now: number): Promise<boolean> {
    return this.db.run(`UPDATE timers SET fired_at = ? WHERE kind = ? AND key = ? AND ${PENDING}`, now, kind, key).changes > 0;
  }

  async cancel(kind: TimerKind, key: string, now: number): Promise<boolean> {
    return this.db.run(`UPDATE timers SET cancelled_at = ? WHERE kind = ? AND key = ? AND ${PENDING}`, now, kind, key).changes > 0;
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.db.run(`DELETE FROM timers WHERE rowid IN (SELECT rowid FROM timers WHERE (fired_at IS NOT NULL OR cancelled_at IS NOT NULL) AND coalesce(fired_at, cancelled_at) < ? LIMIT ?)`, before, limit).changes;
  }

  async cancelEscalations(alarmId: string, now: number, onlyThoseStoppedByAClear = false): Promise<number> {
    const clear = onlyThoseStoppedByAClear ? ` AND json_extract(data, '$.stopOn') = 'acknowledged-or-cleared'` : '';
    return this.db.run(`UPDATE timers SET cancelled_at = ? WHERE alarm_id = ? AND kind = 'escalate' AND ${PENDING}${clear}`, now, alarmId).changes;
  }
}

function toTimer(row: TimerRow): Timer {
  const base = {
    key: row.key,
    alarmId: row.alarm_id,
    dueAt: row.due_at,
    ...(row.fired_at !== null ? { firedAt: row.fired_at } : {}),
    ...(row.cancelled_at !== null ? { cancelledAt: row.cancelled_at } : {}),
  };
  if (row.kind === 'escalate') return { ...base, kind: 'escalate', data: JSON.parse(row.data ?? '{}') as Extract<Timer, { kind: 'escalate' }>['data'] };
  return { ...base, kind: row.kind };
}

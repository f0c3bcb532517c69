import type { EscalationTimer, EscalationTimerData } from '../../lifecycle/escalation.js';
import type { EscalationTimerRepository } from '../store.js';
import type { Db } from './db.js';

interface TimerRow {
  alarm_id: string;
  level: number;
  due_at: number;
  fired_at: number | null;
  cancelled_at: number | null;
  data: string;
}

const PENDING = 'fired_at IS NULL AND cancelled_at IS NULL';

export class SqliteEscalationTimers implements EscalationTimerRepository {
  constructor(private readonly db: Db) {}

  async insert(timers: EscalationTimer[]): Promise<void> {
    for (const t of timers) {
      this.db.run(
        `INSERT OR IGNORE INTO escalation_timers (alarm_id, level, due_at, fired_at, cancelled_at, data) VALUES (?, ?, ?, ?, ?, ?)`,
        t.alarmId,
        t.level,
        t.dueAt,
        t.firedAt ?? null,
        t.cancelledAt ?? null,
        JSON.stringify(t.data),
      );
    }
  }

  async ofAlarm(alarmId: string): Promise<EscalationTimer[]> {
    return this.db.all<TimerRow>(`SELECT * FROM escalation_timers WHERE alarm_id = ? ORDER BY level`, alarmId).map(toTimer);
  }

  async due(now: number, limit: number): Promise<EscalationTimer[]> {
    return this.db.all<TimerRow>(`SELECT * FROM escalation_timers WHERE ${PENDING} AND due_at <= ? ORDER BY due_at, alarm_id, level LIMIT ?`, now, limit).map(toTimer);
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.db.get<{ due: number | null }>(`SELECT min(due_at) AS due FROM escalation_timers WHERE ${PENDING}`)?.due ?? undefined;
  }

  async fire(alarmId: string, level: number, now: number): Promise<boolean> {
    return this.db.run(`UPDATE escalation_timers SET fired_at = ? WHERE alarm_id = ? AND level = ? AND ${PENDING}`, now, alarmId, level).changes > 0;
  }

  async cancel(alarmId: string, now: number, why: 'acknowledged' | 'cleared' | 'all'): Promise<number> {
    const onlyClearStops = why === 'cleared' ? ` AND json_extract(data, '$.stopOn') = 'acknowledged-or-cleared'` : '';
    return this.db.run(`UPDATE escalation_timers SET cancelled_at = ? WHERE alarm_id = ? AND ${PENDING}${onlyClearStops}`, now, alarmId).changes;
  }
}

function toTimer(row: TimerRow): EscalationTimer {
  return {
    alarmId: row.alarm_id,
    level: row.level,
    dueAt: row.due_at,
    ...(row.fired_at !== null ? { firedAt: row.fired_at } : {}),
    ...(row.cancelled_at !== null ? { cancelledAt: row.cancelled_at } : {}),
    data: JSON.parse(row.data) as EscalationTimerData,
  };
}

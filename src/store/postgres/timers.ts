import type { Timer, TimerKind } from '../../lifecycle/timer.js';
import type { TimerRepository } from '../store.js';
import type { Sql } from './sql.js';
import { NOTIFY, wakePayload } from './wake.js';

interface TimerRow {
  kind: TimerKind;
  key: string;
  alarm_id: string | null;
  due_at: number;
  fired_at: number | null;
  cancelled_at: number | null;
  data: Extract<Timer, { kind: 'escalate' }>['data'] | null;
}

const PENDING = 'fired_at IS NULL AND cancelled_at IS NULL';
const COLUMNS = 'kind, key, alarm_id, due_at, fired_at, cancelled_at, data';

/**
 * `fire` and `cancel` are guarded updates: one of two transactions firing the same timer
 * waits for the other to commit and then finds it no longer pending (READ COMMITTED
 * re-checks the WHERE on the newest row), so a timer fires once even with several
 * gateways.
 */
export class PgTimers implements TimerRepository {
  /** `gateway`: who sends the wake-up for a timer due sooner than the others (wake.ts). */
  constructor(
    private readonly sql: Sql,
    private readonly gateway: string,
  ) {}

  async add(timers: Timer[]): Promise<void> {
    for (const t of timers) {
      await this.sql.count(`INSERT INTO timers (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, key) DO NOTHING`, [
        t.kind,
        t.key,
        t.alarmId,
        t.dueAt,
        t.firedAt ?? null,
        t.cancelledAt ?? null,
        t.data === undefined ? null : JSON.stringify(t.data),
      ]);
    }
    const pending = timers.filter((t) => t.firedAt === undefined && t.cancelledAt === undefined);
    if (pending.length > 0) await this.wakeIfEarliest(Math.min(...pending.map((t) => t.dueAt)));
  }

  async arm(t: Timer): Promise<void> {
    // The wake-up in the same statement (no round trip more): the NOT EXISTS reads the table
    // as it was before this insert, whose own row is not due before itself anyway.
    await this.sql.rows(
      `WITH armed AS (
         INSERT INTO timers (kind, key, alarm_id, due_at, data) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, key) DO UPDATE SET alarm_id = excluded.alarm_id, due_at = excluded.due_at, data = excluded.data, fired_at = NULL, cancelled_at = NULL
         RETURNING 1)
       SELECT ${NOTIFY('$6')} FROM armed WHERE NOT EXISTS (SELECT 1 FROM timers WHERE ${PENDING} AND due_at < $4)`,
      [t.kind, t.key, t.alarmId, t.dueAt, t.data === undefined ? null : JSON.stringify(t.data), wakePayload(this.gateway, { kind: 'timer', dueAt: t.dueAt })],
    );
  }

  /**
   * The leader's timer runner sleeps until the earliest pending timer: it hears of one due
   * sooner when this commits. Not of one due later than another pending one (it wakes for
   * that one first anyway), so most timers cost no wake-up.
   */
  private async wakeIfEarliest(dueAt: number): Promise<void> {
    await this.sql.rows(`SELECT ${NOTIFY('$1')} WHERE NOT EXISTS (SELECT 1 FROM timers WHERE ${PENDING} AND due_at < $2)`, [
      wakePayload(this.gateway, { kind: 'timer', dueAt }),
      dueAt,
    ]);
  }

  async get(kind: TimerKind, key: string): Promise<Timer | undefined> {
    const [row] = await this.sql.rows<TimerRow>(`SELECT ${COLUMNS} FROM timers WHERE kind = $1 AND key = $2`, [kind, key]);
    return row ? toTimer(row) : undefined;
  }

  async ofAlarm(alarmId: string): Promise<Timer[]> {
    return (await this.sql.rows<TimerRow>(`SELECT ${COLUMNS} FROM timers WHERE alarm_id = $1 ORDER BY due_at, kind, key`, [alarmId])).map(toTimer);
  }

  async due(now: number, limit: number): Promise<Timer[]> {
    return (await this.sql.rows<TimerRow>(`SELECT ${COLUMNS} FROM timers WHERE ${PENDING} AND due_at <= $1 ORDER BY due_at, kind, key LIMIT $2`, [now, limit])).map(toTimer);
  }

  async nextDueAt(): Promise<number | undefined> {
    const [row] = await this.sql.rows<{ due: number | null }>(`SELECT min(due_at) AS due FROM timers WHERE ${PENDING}`);
    return row?.due ?? undefined;
  }

  async pendingByKind(): Promise<Partial<Record<TimerKind, number>>> {
    return Object.fromEntries((await this.sql.rows<{ kind: TimerKind; n: number }>(`SELECT kind, count(*)::int AS n FROM timers WHERE ${PENDING} GROUP BY kind`)).map((r) => [r.kind, r.n]));
  }

  async fire(kind: TimerKind, key: string, now: number): Promise<boolean> {
    return (await this.sql.count(`UPDATE timers SET fired_at = $1 WHERE kind = $2 AND key = $3 AND ${PENDING}`, [now, kind, key])) > 0;
  }

  async cancel(kind: TimerKind, key: string, now: number): Promise<boolean> {
    return (await this.sql.count(`UPDATE timers SET cancelled_at = $1 WHERE kind = $2 AND key = $3 AND ${PENDING}`, [now, kind, key])) > 0;
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.sql.count(
      `DELETE FROM timers WHERE (kind, key) IN (SELECT kind, key FROM timers WHERE (fired_at IS NOT NULL OR cancelled_at IS NOT NULL) AND coalesce(fired_at, cancelled_at) < $1 LIMIT $2)`,
      [before, limit],
    );
  }

  async cancelEscalations(alarmId: string, now: number, onlyThoseStoppedByAClear = false): Promise<number> {
    // An escalation's data comes from the configuration (policy, levels, receivers), so reading inside it is safe (0001-schema.sql).
    const clear = onlyThoseStoppedByAClear ? ` AND data->>'stopOn' = 'acknowledged-or-cleared'` : '';
    return this.sql.count(`UPDATE timers SET cancelled_at = $1 WHERE alarm_id = $2 AND kind = 'escalate' AND ${PENDING}${clear}`, [now, alarmId]);
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
  if (row.kind === 'escalate') return { ...base, kind: 'escalate', data: row.data ?? ({} as Extract<Timer, { kind: 'escalate' }>['data']) };
  return { ...base, kind: row.kind };
}

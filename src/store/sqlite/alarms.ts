import type { Alarm } from '../../lifecycle/alarm.js';
import type { ActiveAlarmCount, AlarmFilter, AlarmLogEntry, AlarmRepository } from '../store.js';
import { Db } from './db.js';

type DataRow = { data: string };
const parse = (row: DataRow): Alarm => JSON.parse(row.data) as Alarm;

export class SqliteAlarms implements AlarmRepository {
  constructor(private readonly db: Db) {}

  async active(fingerprint: string): Promise<Alarm | undefined> {
    const row = this.db.get<DataRow>(`SELECT data FROM alarms WHERE fingerprint = ? AND state = 'active'`, fingerprint);
    return row ? parse(row) : undefined;
  }

  async get(id: string): Promise<Alarm | undefined> {
    const row = this.db.get<DataRow>(`SELECT data FROM alarms WHERE id = ?`, id);
    return row ? parse(row) : undefined;
  }

  async list(states: Alarm['state'][], limit = 1000, filter: AlarmFilter = {}): Promise<Alarm[]> {
    if (states.length === 0 || filter.severities?.length === 0) return [];
    // The filters read the alarm's JSON: `alarms` on the command line is the only caller
    // that filters, and the state index still narrows the rows first.
    const where = [`state IN (${Db.placeholders(states.length)})`];
    const params: unknown[] = [...states];
    if (filter.device !== undefined) {
      where.push(`(lower(json_extract(data, '$.device.id')) = lower(?) OR lower(json_extract(data, '$.device.name')) = lower(?))`);
      params.push(filter.device, filter.device);
    }
    if (filter.site !== undefined) {
      where.push(`lower(json_extract(data, '$.device.site')) = lower(?)`);
      params.push(filter.site);
    }
    if (filter.severities !== undefined) {
      where.push(`json_extract(data, '$.severity') IN (${Db.placeholders(filter.severities.length)})`);
      params.push(...filter.severities);
    }
    if (filter.acknowledged !== undefined) where.push(`json_extract(data, '$.ack') IS ${filter.acknowledged ? 'NOT ' : ''}NULL`);
    return this.db.all<DataRow>(`SELECT data FROM alarms WHERE ${where.join(' AND ')} ORDER BY last_seen DESC LIMIT ?`, ...params, limit).map(parse);
  }

  async idsWithPrefix(prefix: string, limit: number): Promise<string[]> {
    // A range on the primary key rather than LIKE, which would read every id (and treats _ and % as wildcards).
    return this.db.all<{ id: string }>(`SELECT id FROM alarms WHERE id >= ? AND id < ? ORDER BY id LIMIT ?`, prefix, `${prefix}\uffff`, limit).map((r) => r.id);
  }

  async save(a: Alarm): Promise<void> {
    this.db.run(
      `INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data, muted) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, data = excluded.data, muted = excluded.muted`,
      a.id,
      a.fingerprint,
      a.state,
      a.firstSeen,
      a.lastSeen,
      JSON.stringify(a),
      a.mutedBy ? 1 : 0,
    );
  }

  async log(alarmId: string | null, e: AlarmLogEntry): Promise<void> {
    this.db.run(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, ?, ?)`, alarmId, e.receivedId, e.at, e.outcome, e.reason);
  }

  async history(alarmId: string): Promise<AlarmLogEntry[]> {
    return this.db
      .all<{ received_id: string; at: number; outcome: string; reason: string }>(`SELECT received_id, at, outcome, reason FROM alarm_log WHERE alarm_id = ? ORDER BY seq`, alarmId)
      .map((r) => ({ receivedId: r.received_id, at: r.at, outcome: r.outcome, reason: r.reason }));
  }

  async activeBySeverity(): Promise<Partial<Record<Alarm['severity'], number>>> {
    const rows = this.db.all<{ severity: Alarm['severity']; n: number }>(`SELECT json_extract(data, '$.severity') AS severity, count(*) AS n FROM alarms WHERE state = 'active' GROUP BY 1`);
    return Object.fromEntries(rows.map((r) => [r.severity, r.n]));
  }

  async activeSummary(): Promise<ActiveAlarmCount[]> {
    const rows = this.db.all<{ severity: Alarm['severity']; acked: number; muted: number; n: number }>(
      `SELECT json_extract(data, '$.severity') AS severity, json_extract(data, '$.ack') IS NOT NULL AS acked, muted, count(*) AS n FROM alarms WHERE state = 'active' GROUP BY 1, 2, 3`,
    );
    return rows.map((r) => ({ severity: r.severity, acknowledged: r.acked === 1, muted: r.muted === 1, count: r.n }));
  }

  async muted(): Promise<Alarm[]> {
    return this.db.all<DataRow>(`SELECT data FROM alarms WHERE muted = 1 AND state = 'active' ORDER BY first_seen, id`).map(parse);
  }

  async prune(before: number, limit: number): Promise<number> {
    const ids = this.db.all<{ id: string }>(`SELECT id FROM alarms WHERE state = 'resolved' AND last_seen < ? ORDER BY last_seen LIMIT ?`, before, limit).map((r) => r.id);
    for (const id of ids) {
      this.db.run(`DELETE FROM alarm_log WHERE alarm_id = ?`, id);
      this.db.run(`DELETE FROM timers WHERE alarm_id = ?`, id);
      this.db.run(`DELETE FROM alarms WHERE id = ?`, id);
    }
    this.db.run(`DELETE FROM alarm_log WHERE seq IN (SELECT seq FROM alarm_log WHERE alarm_id IS NULL AND at < ? LIMIT ?)`, before, limit);
    return ids.length;
  }

  async recipients(alarmId: string): Promise<string[]> {
    // After a partial delivery a row keeps only the recipients still to be sent to
    // (reschedule): callers add the alarm's own `receivers` for those. A group or digest
    // that listed the alarm was sent to it as well.
    return this.db
      .all<{ address: string }>(
        `SELECT DISTINCT lower(trim(value)) AS address FROM outbox, json_each(outbox.recipients)
         WHERE outbox.alarm_id = ? OR outbox.batch_id IN (SELECT batch_id FROM batch_items WHERE alarm_id = ?) ORDER BY address`,
        alarmId,
        alarmId,
      )
      .map((row) => row.address);
  }
}

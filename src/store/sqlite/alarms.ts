import type { Alarm } from '../../lifecycle/alarm.js';
import type { ActiveAlarmCount, AlarmFilter, AlarmLogEntry, AlarmPageQuery, AlarmRepository, DeviceActivity } from '../store.js';
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
    // The filters compare columns written with the alarm (migration 0016), not its JSON.
    const where = [`state IN (${Db.placeholders(states.length)})`];
    const params: unknown[] = [...states];
    if (filter.device !== undefined) {
      where.push(`(device = ? OR device_name = ?)`);
      params.push(filter.device.toLowerCase(), filter.device.toLowerCase());
    }
    if (filter.site !== undefined) {
      where.push(`site = ?`);
      params.push(filter.site.toLowerCase());
    }
    if (filter.severities !== undefined) {
      where.push(`severity IN (${Db.placeholders(filter.severities.length)})`);
      params.push(...filter.severities);
    }
    if (filter.acknowledged !== undefined) where.push(`acknowledged = ${filter.acknowledged ? 1 : 0}`);
    return this.db.all<DataRow>(`SELECT data FROM alarms WHERE ${where.join(' AND ')} ORDER BY last_seen DESC LIMIT ?`, ...params, limit).map(parse);
  }

  async page(q: AlarmPageQuery): Promise<Alarm[]> {
    if (q.severities?.length === 0 || q.limit <= 0) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.states.length === 1) {
      where.push(`state = ?`);
      params.push(q.states[0]);
    }
    if (q.device !== undefined) {
      where.push(`device = ?`);
      params.push(q.device.toLowerCase());
    }
    if (q.site !== undefined) {
      where.push(`site = ?`);
      params.push(q.site.toLowerCase());
    }
    if (q.area !== undefined) {
      where.push(`area = ?`);
      params.push(q.area.toLowerCase());
    }
    if (q.severities !== undefined) {
      where.push(`severity IN (${Db.placeholders(q.severities.length)})`);
      params.push(...q.severities);
    }
    if (q.acknowledged !== undefined) where.push(`acknowledged = ${q.acknowledged ? 1 : 0}`);
    if (q.after) {
      // A row value compares as the index orders: the planner seeks to it.
      where.push(`(last_seen, id) < (?, ?)`);
      params.push(q.after.lastSeen, q.after.id);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    return this.db.all<DataRow>(`SELECT data FROM alarms ${clause} ORDER BY last_seen DESC, id DESC LIMIT ?`, ...params, q.limit).map(parse);
  }

  async devices(): Promise<DeviceActivity[]> {
    // A skip over alarms_device: each step seeks the next device, so the cost follows the
    // number of devices, not of stored alarms; the sub-queries are seeks in the same index.
    const rows = this.db.all<{ active: number; last_seen: number | null; data: string | null }>(
      `WITH RECURSIVE d(device) AS (
         SELECT min(device) FROM alarms
         UNION ALL SELECT (SELECT min(device) FROM alarms WHERE device > d.device) FROM d WHERE d.device IS NOT NULL
       )
       SELECT
         (SELECT count(*) FROM alarms a WHERE a.device = d.device AND a.state = 'active') AS active,
         max(coalesce((SELECT max(last_seen) FROM alarms a WHERE a.device = d.device AND a.state = 'active'), 0),
             coalesce((SELECT max(last_seen) FROM alarms a WHERE a.device = d.device AND a.state = 'resolved'), 0)) AS last_seen,
         coalesce((SELECT data FROM alarms a WHERE a.device = d.device AND a.state = 'active' ORDER BY last_seen DESC, id DESC LIMIT 1),
                  (SELECT data FROM alarms a WHERE a.device = d.device AND a.state = 'resolved' ORDER BY last_seen DESC, id DESC LIMIT 1)) AS data
       FROM d WHERE d.device IS NOT NULL`,
    );
    return rows.filter((r) => r.data !== null).map((r) => ({ device: parse({ data: r.data! }).device, lastSeen: r.last_seen ?? 0, activeAlarms: r.active }));
  }

  async idsWithPrefix(prefix: string, limit: number): Promise<string[]> {
    return this.db.idsWithPrefix('alarms', prefix, limit);
  }

  async save(a: Alarm): Promise<void> {
    this.db.run(
      `INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data, muted, severity, device, device_name, site, area, acknowledged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, data = excluded.data, muted = excluded.muted,
         severity = excluded.severity, device = excluded.device, device_name = excluded.device_name, site = excluded.site, area = excluded.area, acknowledged = excluded.acknowledged`,
      a.id,
      a.fingerprint,
      a.state,
      a.firstSeen,
      a.lastSeen,
      JSON.stringify(a),
      a.mutedBy ? 1 : 0,
      a.severity,
      a.device.id.toLowerCase(),
      a.device.name.toLowerCase(),
      a.device.site?.toLowerCase() ?? null,
      a.device.area?.toLowerCase() ?? null,
      a.ack ? 1 : 0,
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
    const rows = this.db.all<{ severity: Alarm['severity']; n: number }>(`SELECT severity, count(*) AS n FROM alarms WHERE state = 'active' GROUP BY 1`);
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

import type { Alarm } from '../../lifecycle/alarm.js';
import type { ActiveAlarmCount, AlarmFilter, AlarmLogEntry, AlarmPageQuery, AlarmRepository, DeviceActivity } from '../store.js';
import { readLocked } from './locks.js';
import { idsWithPrefix, type Sql } from './sql.js';
import { NOTIFY, wakePayload } from './wake.js';

type DataRow = { data: Alarm };

/**
 * Alarms as json documents with the columns queries need. `active` and `get` lock what
 * they return until the transaction ends (locks.ts): the pipeline reads an alarm to
 * decide its next state, and with several gateways (or connections) two occurrences of
 * one alarm must be counted one after the other, not both from the same count.
 * `list` and `muted` only read: what they return is context (inhibition sources, muted
 * alarms to look at again), never written back from that read.
 */
export class PgAlarms implements AlarmRepository {
  /** `gateway`: who sends the wake-up for a changed alarm (wake.ts). */
  constructor(
    private readonly sql: Sql,
    private readonly gateway: string,
  ) {}

  async active(fingerprint: string): Promise<Alarm | undefined> {
    const [row] = await readLocked<DataRow>(this.sql, `alarm:${fingerprint}`, `SELECT data FROM alarms WHERE fingerprint = $1 AND state = 'active' FOR UPDATE`, [fingerprint]);
    return row?.data;
  }

  async get(id: string): Promise<Alarm | undefined> {
    const [row] = await this.sql.rows<DataRow>(`SELECT data FROM alarms WHERE id = $1 FOR UPDATE`, [id]);
    return row?.data;
  }

  async list(states: Alarm['state'][], limit = 1000, filter: AlarmFilter = {}): Promise<Alarm[]> {
    if (states.length === 0 || filter.severities?.length === 0) return [];
    // The filters compare columns written with the alarm (migration 0007), not its json.
    const params: unknown[] = [states];
    const where = ['state = ANY($1::text[])'];
    const param = (value: unknown): string => `$${params.push(value)}`;
    if (filter.device !== undefined) {
      const p = param(filter.device.toLowerCase());
      where.push(`(device = ${p} OR device_name = ${p})`);
    }
    if (filter.site !== undefined) where.push(`site = ${param(filter.site.toLowerCase())}`);
    if (filter.severities !== undefined) where.push(`severity = ANY(${param([...filter.severities])}::text[])`);
    if (filter.acknowledged !== undefined) where.push(`acknowledged = ${filter.acknowledged ? 'true' : 'false'}`);
    const sql = `SELECT data FROM alarms WHERE ${where.join(' AND ')} ORDER BY last_seen DESC LIMIT ${param(limit)}`;
    return (await this.sql.rows<DataRow>(sql, params)).map((r) => r.data);
  }

  async page(q: AlarmPageQuery): Promise<Alarm[]> {
    if (q.severities?.length === 0 || q.limit <= 0) return [];
    const params: unknown[] = [];
    const where: string[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    if (q.states.length === 1) where.push(`state = ${param(q.states[0])}`);
    if (q.device !== undefined) where.push(`device = ${param(q.device.toLowerCase())}`);
    if (q.site !== undefined) where.push(`site = ${param(q.site.toLowerCase())}`);
    if (q.area !== undefined) where.push(`area = ${param(q.area.toLowerCase())}`);
    if (q.severities !== undefined) where.push(`severity = ANY(${param([...q.severities])}::text[])`);
    if (q.acknowledged !== undefined) where.push(`acknowledged = ${q.acknowledged ? 'true' : 'false'}`);
    // A row comparison in index order: the planner seeks to it.
    if (q.after) where.push(`(last_seen, id) < (${param(q.after.lastSeen)}::bigint, ${param(q.after.id)}::text COLLATE "C")`);
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    return (await this.sql.rows<DataRow>(`SELECT data FROM alarms ${clause} ORDER BY last_seen DESC, id DESC LIMIT ${param(q.limit)}`, params)).map((r) => r.data);
  }

  async devices(): Promise<DeviceActivity[]> {
    // A skip over alarms_device: each step seeks the next device, so the cost follows the
    // number of devices, not of stored alarms; the sub-queries are seeks in the same index.
    const rows = await this.sql.rows<{ active: number; last_seen: number | null; data: Alarm | null }>(
      `WITH RECURSIVE d(device) AS (
         SELECT min(device) FROM alarms
         UNION ALL SELECT (SELECT min(device) FROM alarms WHERE device > d.device) FROM d WHERE d.device IS NOT NULL
       )
       SELECT
         (SELECT count(*)::int FROM alarms a WHERE a.device = d.device AND a.state = 'active') AS active,
         greatest((SELECT max(last_seen) FROM alarms a WHERE a.device = d.device AND a.state = 'active'),
                  (SELECT max(last_seen) FROM alarms a WHERE a.device = d.device AND a.state = 'resolved')) AS last_seen,
         coalesce((SELECT data FROM alarms a WHERE a.device = d.device AND a.state = 'active' ORDER BY last_seen DESC, id DESC LIMIT 1),
                  (SELECT data FROM alarms a WHERE a.device = d.device AND a.state = 'resolved' ORDER BY last_seen DESC, id DESC LIMIT 1)) AS data
       FROM d WHERE d.device IS NOT NULL`,
    );
    return rows.filter((r) => r.data !== null).map((r) => ({ device: r.data!.device, lastSeen: Number(r.last_seen ?? 0), activeAlarms: r.active }));
  }

  async idsWithPrefix(prefix: string, limit: number): Promise<string[]> {
    return idsWithPrefix(this.sql, 'alarms', prefix, limit);
  }

  async save(a: Alarm): Promise<void> {
    // The leading gateway publishes the retained MQTT state of alarms the others changed: it hears of them when this commits.
    await this.sql.count(
      `WITH saved AS (INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, muted, last_event_id, data, severity, device, device_name, site, area, acknowledged)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, muted = excluded.muted, last_event_id = excluded.last_event_id, data = excluded.data,
         severity = excluded.severity, device = excluded.device, device_name = excluded.device_name, site = excluded.site, area = excluded.area, acknowledged = excluded.acknowledged)
       SELECT ${NOTIFY('$9')}`,
      [
        a.id,
        a.fingerprint,
        a.state,
        a.firstSeen,
        a.lastSeen,
        a.mutedBy !== undefined,
        a.lastEventId,
        JSON.stringify(a),
        wakePayload(this.gateway, { kind: 'alarm', alarmId: a.id }),
        a.severity,
        a.device.id.toLowerCase(),
        a.device.name.toLowerCase(),
        a.device.site?.toLowerCase() ?? null,
        a.device.area?.toLowerCase() ?? null,
        a.ack !== undefined,
      ],
    );
  }

  async log(alarmId: string | null, e: AlarmLogEntry): Promise<void> {
    await this.sql.count(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES ($1, $2, $3, $4, $5)`, [alarmId, e.receivedId, e.at, e.outcome, e.reason]);
  }

  async history(alarmId: string): Promise<AlarmLogEntry[]> {
    const rows = await this.sql.rows<{ received_id: string; at: number; outcome: string; reason: string }>(`SELECT received_id, at, outcome, reason FROM alarm_log WHERE alarm_id = $1 ORDER BY seq`, [alarmId]);
    return rows.map((r) => ({ receivedId: r.received_id, at: r.at, outcome: r.outcome, reason: r.reason }));
  }

  async activeBySeverity(): Promise<Partial<Record<Alarm['severity'], number>>> {
    const rows = await this.sql.rows<{ severity: Alarm['severity']; n: number }>(`SELECT severity, count(*)::int AS n FROM alarms WHERE state = 'active' GROUP BY 1`);
    return Object.fromEntries(rows.map((r) => [r.severity, r.n]));
  }

  async activeSummary(): Promise<ActiveAlarmCount[]> {
    const rows = await this.sql.rows<{ severity: Alarm['severity']; acked: boolean; muted: boolean; n: number }>(
      `SELECT data->>'severity' AS severity, data->'ack' IS NOT NULL AS acked, muted, count(*)::int AS n FROM alarms WHERE state = 'active' GROUP BY 1, 2, 3`,
    );
    return rows.map((r) => ({ severity: r.severity, acknowledged: r.acked, muted: r.muted, count: r.n }));
  }

  async muted(): Promise<Alarm[]> {
    return (await this.sql.rows<DataRow>(`SELECT data FROM alarms WHERE muted AND state = 'active' ORDER BY first_seen, id`)).map((r) => r.data);
  }

  async prune(before: number, limit: number): Promise<number> {
    const ids = (await this.sql.rows<{ id: string }>(`SELECT id FROM alarms WHERE state = 'resolved' AND last_seen < $1 ORDER BY last_seen LIMIT $2`, [before, limit])).map((r) => r.id);
    if (ids.length > 0) {
      await this.sql.count(`DELETE FROM alarm_log WHERE alarm_id = ANY($1::text[])`, [ids]);
      await this.sql.count(`DELETE FROM timers WHERE alarm_id = ANY($1::text[])`, [ids]);
      await this.sql.count(`DELETE FROM alarms WHERE id = ANY($1::text[])`, [ids]);
    }
    await this.sql.count(`DELETE FROM alarm_log WHERE seq IN (SELECT seq FROM alarm_log WHERE alarm_id IS NULL AND at < $1 LIMIT $2)`, [before, limit]);
    return ids.length;
  }

  async recipients(alarmId: string): Promise<string[]> {
    // After a partial delivery a row keeps only the recipients still to be sent to
    // (reschedule): callers add the alarm's own `receivers` for those. A group or digest
    // that listed the alarm was sent to it as well.
    const rows = await this.sql.rows<{ address: string }>(
      `SELECT DISTINCT lower(trim(value)) COLLATE "C" AS address FROM outbox, json_array_elements_text(outbox.recipients) AS value
       WHERE outbox.alarm_id = $1 OR outbox.batch_id IN (SELECT batch_id FROM batch_items WHERE alarm_id = $1) ORDER BY address`,
      [alarmId],
    );
    return rows.map((row) => row.address);
  }
}

import type { MqttSession, MqttSessionRepository } from '../store.js';
import type { Sql } from './sql.js';

interface SessionRow {
  url: string;
  client_id: string;
  /** json: pg hands it back parsed. */
  filters: string[];
  started_at: number;
}

export class PgMqttSessions implements MqttSessionRepository {
  /** `gateway`: the session's holder (mqtt_sessions.gateway), so that the leader can drain it when this gateway is gone (peers.ts). */
  constructor(
    private readonly sql: Sql,
    private readonly gateway: string,
  ) {}

  async get(url: string, clientId: string): Promise<MqttSession | undefined> {
    const [row] = await this.sql.rows<SessionRow>(`SELECT url, client_id, filters, started_at FROM mqtt_sessions WHERE url = $1 AND client_id = $2`, [url, clientId]);
    return row ? { url: row.url, clientId: row.client_id, filters: row.filters, startedAt: row.started_at } : undefined;
  }

  async save(session: MqttSession): Promise<void> {
    await this.sql.count(
      `INSERT INTO mqtt_sessions (url, client_id, filters, started_at, gateway) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (url, client_id) DO UPDATE SET filters = excluded.filters, started_at = excluded.started_at, gateway = excluded.gateway`,
      [session.url, session.clientId, JSON.stringify(session.filters), session.startedAt, this.gateway],
    );
  }
}

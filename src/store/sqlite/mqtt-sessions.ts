import type { MqttSession, MqttSessionRepository } from '../store.js';
import type { Db } from './db.js';

interface SessionRow {
  url: string;
  client_id: string;
  filters: string;
  started_at: number;
}

export class SqliteMqttSessions implements MqttSessionRepository {
  constructor(private readonly db: Db) {}

  async get(url: string, clientId: string): Promise<MqttSession | undefined> {
    const row = this.db.get<SessionRow>(`SELECT url, client_id, filters, started_at FROM mqtt_sessions WHERE url = ? AND client_id = ?`, url, clientId);
    return row ? { url: row.url, clientId: row.client_id, filters: JSON.parse(row.filters) as string[], startedAt: row.started_at } : undefined;
  }

  async save(session: MqttSession): Promise<void> {
    this.db.run(
      `INSERT INTO mqtt_sessions (url, client_id, filters, started_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(url, client_id) DO UPDATE SET filters = excluded.filters, started_at = excluded.started_at`,
      session.url,
      session.clientId,
      JSON.stringify(session.filters),
      session.startedAt,
    );
  }
}

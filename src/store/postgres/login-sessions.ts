import { LOGIN_SESSION_COLUMNS, loginSessionOf, type LoginSessionRow } from '../login-session-row.js';
import type { LoginSession, LoginSessionRepository } from '../store.js';
import type { Sql } from './sql.js';

export class PgLoginSessions implements LoginSessionRepository {
  constructor(private readonly sql: Sql) {}

  async create(session: LoginSession): Promise<void> {
    await this.sql.count(`INSERT INTO login_sessions (${LOGIN_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)`, [session.idHash, session.name, session.createdAt, session.lastSeenAt, session.peer]);
  }

  async get(idHash: string): Promise<LoginSession | undefined> {
    const [row] = await this.sql.rows<LoginSessionRow>(`SELECT ${LOGIN_SESSION_COLUMNS} FROM login_sessions WHERE id_hash = $1`, [idHash]);
    return row ? loginSessionOf(row) : undefined;
  }

  async touch(idHash: string, at: number): Promise<boolean> {
    // GREATEST: two gateways touching one session out of order never move it back.
    return (await this.sql.count(`UPDATE login_sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id_hash = $2`, [at, idHash])) > 0;
  }

  async delete(idHash: string): Promise<boolean> {
    return (await this.sql.count(`DELETE FROM login_sessions WHERE id_hash = $1`, [idHash])) > 0;
  }

  async prune(idleBefore: number, createdBefore: number, limit: number): Promise<number> {
    return this.sql.count(`DELETE FROM login_sessions WHERE id_hash IN (SELECT id_hash FROM login_sessions WHERE last_seen_at < $1 OR created_at < $2 LIMIT $3)`, [idleBefore, createdBefore, limit]);
  }
}

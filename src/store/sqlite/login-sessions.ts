import { LOGIN_SESSION_COLUMNS, loginSessionOf, type LoginSessionRow } from '../login-session-row.js';
import type { LoginSession, LoginSessionRepository } from '../store.js';
import type { Db } from './db.js';

export class SqliteLoginSessions implements LoginSessionRepository {
  constructor(private readonly db: Db) {}

  async create(session: LoginSession): Promise<void> {
    this.db.run(`INSERT INTO login_sessions (${LOGIN_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)`, session.idHash, session.name, session.createdAt, session.lastSeenAt, session.peer);
  }

  async get(idHash: string): Promise<LoginSession | undefined> {
    const row = this.db.get<LoginSessionRow>(`SELECT ${LOGIN_SESSION_COLUMNS} FROM login_sessions WHERE id_hash = ?`, idHash);
    return row ? loginSessionOf(row) : undefined;
  }

  async touch(idHash: string, at: number): Promise<boolean> {
    return this.db.run(`UPDATE login_sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id_hash = ?`, at, idHash).changes > 0;
  }

  async delete(idHash: string): Promise<boolean> {
    return this.db.run(`DELETE FROM login_sessions WHERE id_hash = ?`, idHash).changes > 0;
  }

  async prune(idleBefore: number, createdBefore: number, limit: number): Promise<number> {
    return this.db.run(
      `DELETE FROM login_sessions WHERE id_hash IN (SELECT id_hash FROM login_sessions WHERE last_seen_at < ? OR created_at < ? LIMIT ?)`,
      idleBefore,
      createdBefore,
      limit,
    ).changes;
  }
}

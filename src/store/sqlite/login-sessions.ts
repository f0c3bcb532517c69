import type { LoginSession, LoginSessionRepository } from '../store.js';
import type { Db } from './db.js';

interface Row {
  id_hash: string;
  name: string;
  created_at: number;
  last_seen_at: number;
  peer: string | null;
}

export class SqliteLoginSessions implements LoginSessionRepository {
  constructor(private readonly db: Db) {}

  async create(session: LoginSession): Promise<void> {
    this.db.run(`INSERT INTO login_sessions (id_hash, name, created_at, last_seen_at, peer) VALUES (?, ?, ?, ?, ?)`, session.idHash, session.name, session.createdAt, session.lastSeenAt, session.peer);
  }

  async get(idHash: string): Promise<LoginSession | undefined> {
    const row = this.db.get<Row>(`SELECT id_hash, name, created_at, last_seen_at, peer FROM login_sessions WHERE id_hash = ?`, idHash);
    return row ? { idHash: row.id_hash, name: row.name, createdAt: row.created_at, lastSeenAt: row.last_seen_at, peer: row.peer } : undefined;
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

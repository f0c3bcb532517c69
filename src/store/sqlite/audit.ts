import type { AuditEntry, AuditQuery, AuditRepository } from '../store.js';
import type { Db } from './db.js';
import { auditWhere } from '../audit-query.js';

type AuditRow = { id: number; at: number; actor: string; via: string; peer: string | null; action: string; target: string | null; detail: string | null };

export class SqliteAudit implements AuditRepository {
  constructor(private readonly db: Db) {}

  async record(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    this.db.run(
      `INSERT INTO audit (at, actor, via, peer, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      entry.at,
      entry.actor,
      entry.via,
      entry.peer,
      entry.action,
      entry.target,
      entry.detail ? JSON.stringify(entry.detail) : null,
    );
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    const { where, params } = auditWhere(query, () => '?');
    const rows = this.db.all<AuditRow>(`SELECT * FROM audit ${where} ORDER BY id DESC LIMIT ?`, ...params, query.limit);
    return rows.map((row) => ({ ...row, detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>) }));
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.db.run(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY id LIMIT ?)`, before, limit).changes;
  }
}

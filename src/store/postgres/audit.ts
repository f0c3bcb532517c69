import { auditWhere } from '../audit-query.js';
import type { AuditEntry, AuditQuery, AuditRepository } from '../store.js';
import type { Sql } from './sql.js';

type AuditRow = Omit<AuditEntry, 'id'> & { id: number | string };

export class PgAudit implements AuditRepository {
  constructor(private readonly sql: Sql) {}

  async record(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.sql.count(`INSERT INTO audit (at, actor, via, peer, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      entry.at,
      entry.actor,
      entry.via,
      entry.peer,
      entry.action,
      entry.target,
      entry.detail ? JSON.stringify(entry.detail) : null,
    ]);
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    const { where, params } = auditWhere(query, (n) => `$${n}`);
    const rows = await this.sql.rows<AuditRow>(`SELECT id, at, actor, via, peer, action, target, detail FROM audit ${where} ORDER BY id DESC LIMIT $${params.length + 1}`, [...params, query.limit]);
    return rows.map((row) => ({ ...row, id: Number(row.id) }));
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.sql.count(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 ORDER BY id LIMIT $2)`, [before, limit]);
  }
}

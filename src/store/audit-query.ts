import type { AuditQuery } from './store.js';

/** The WHERE clause of an audit query, for either backend's placeholder style. */
export function auditWhere(query: AuditQuery, placeholder: (n: number) => string): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown): void => {
    params.push(value);
    conditions.push(sql.replace('?', placeholder(params.length)));
  };
  if (query.beforeId !== undefined) add('id < ?', query.beforeId);
  if (query.action !== undefined) add('action = ?', query.action);
  if (query.actor !== undefined) add('actor = ?', query.actor);
  if (query.target !== undefined) add('target = ?', query.target);
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

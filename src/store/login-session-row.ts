import type { LoginSession } from './store.js';

/** A `login_sessions` row as both backends read it (PostgreSQL's BIGINT times may come as strings). */
export interface LoginSessionRow {
  id_hash: string;
  name: string;
  created_at: number | string;
  last_seen_at: number | string;
  peer: string | null;
}

export const LOGIN_SESSION_COLUMNS = 'id_hash, name, created_at, last_seen_at, peer';

export function loginSessionOf(row: LoginSessionRow): LoginSession {
  return { idHash: row.id_hash, name: row.name, createdAt: Number(row.created_at), lastSeenAt: Number(row.last_seen_at), peer: row.peer };
}

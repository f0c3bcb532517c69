-- Logins to the console and the API (src/api/auth/sessions.ts): the SHA-256 of the
-- session id (the id itself is only in the browser's cookie), who, when made and last
-- used. Expired ones (idle past http.sessionLifetime, or older than the absolute cap) are
-- deleted by age through the two indexes.
CREATE TABLE login_sessions (
  id_hash TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  peer TEXT
) WITHOUT ROWID;
CREATE INDEX login_sessions_last_seen ON login_sessions (last_seen_at);
CREATE INDEX login_sessions_created ON login_sessions (created_at);

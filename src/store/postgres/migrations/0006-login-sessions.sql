-- Logins to the console and the API (src/api/auth/sessions.ts), shared by every gateway
-- on this database: the SHA-256 of the session id (the id itself is only in the
-- browser's cookie), who, when made and last used. Expired ones (idle past
-- http.sessionLifetime, or older than the absolute cap) are deleted by age.
CREATE TABLE login_sessions (
  id_hash text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  created_at bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  peer text
);
CREATE INDEX login_sessions_last_seen ON login_sessions (last_seen_at);
CREATE INDEX login_sessions_created ON login_sessions (created_at);

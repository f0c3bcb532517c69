-- The audit log (src/api/): who acknowledged, silenced, retried, reloaded or logged in,
-- when, from where. detail is JSON text. Read newest first, filtered by action, actor or
-- target; pruned by age (store.retention.audit).
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  via TEXT NOT NULL,
  peer TEXT,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_target ON audit (target, id) WHERE target IS NOT NULL;

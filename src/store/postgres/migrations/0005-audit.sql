-- The audit log (src/api/): who acknowledged, silenced, retried, reloaded or logged in,
-- when, from where. Read newest first, filtered by action, actor or target; pruned by age
-- (store.retention.audit).
CREATE TABLE audit (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  actor text NOT NULL,
  via text NOT NULL,
  peer text,
  action text NOT NULL,
  target text COLLATE "C",
  detail jsonb
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_target ON audit (target, id) WHERE target IS NOT NULL;

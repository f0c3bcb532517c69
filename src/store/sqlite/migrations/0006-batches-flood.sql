-- Groups and digests (lifecycle/batch.ts): held notifications collect in the one open
-- batch of their key until it goes out (sent_at). Flood control's counters per scope.
CREATE TABLE batches (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  kind TEXT NOT NULL,
  label TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  flush_at INTEGER NOT NULL,
  receivers TEXT NOT NULL,
  sent_at INTEGER
);
CREATE UNIQUE INDEX batches_one_open ON batches(key) WHERE sent_at IS NULL;
CREATE INDEX batches_due ON batches(flush_at) WHERE sent_at IS NULL;
CREATE TABLE batch_items (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id TEXT NOT NULL REFERENCES batches(id),
  alarm_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX batch_items_batch ON batch_items(batch_id, seq);
CREATE INDEX batch_items_alarm ON batch_items(alarm_id);
CREATE TABLE flood_state (
  scope TEXT PRIMARY KEY,
  data TEXT NOT NULL
);
ALTER TABLE outbox ADD COLUMN batch_id TEXT;
CREATE INDEX outbox_alarm ON outbox(alarm_id) WHERE alarm_id IS NOT NULL;
CREATE INDEX outbox_batch ON outbox(batch_id) WHERE batch_id IS NOT NULL;

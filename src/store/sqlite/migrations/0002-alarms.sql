CREATE TABLE alarms (
  id TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE UNIQUE INDEX alarms_one_active ON alarms(fingerprint) WHERE state = 'active';
CREATE INDEX alarms_state ON alarms(state, last_seen);
CREATE TABLE alarm_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  alarm_id TEXT,
  received_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX alarm_log_alarm ON alarm_log(alarm_id, seq);
ALTER TABLE outbox ADD COLUMN alarm_id TEXT;

-- Escalation timers: one row per level (and per repeat of the last level) of an alarm's
-- policy. fired_at guards against firing twice; cancelled_at is set by an ack or clear.
-- Alarms acknowledged before this version count as announced.
CREATE TABLE escalation_timers (
  alarm_id TEXT NOT NULL,
  level INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  fired_at INTEGER,
  cancelled_at INTEGER,
  data TEXT NOT NULL,
  PRIMARY KEY (alarm_id, level)
);
CREATE INDEX escalation_timers_due ON escalation_timers(due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
UPDATE alarms SET data = json_set(data, '$.ackAnnounced', json('true')) WHERE json_extract(data, '$.ack') IS NOT NULL;

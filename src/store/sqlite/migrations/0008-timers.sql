-- One table for everything the gateway does later (lifecycle/timer.ts): escalation levels,
-- groups and digests going out, acknowledgements to announce, muted alarms to look at
-- again. One runner sleeps until the earliest due_at of the pending ones. fired_at guards
-- against firing twice; cancelled_at is set by an ack, a clear, an unmute.
CREATE TABLE timers (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  alarm_id TEXT,
  due_at INTEGER NOT NULL,
  fired_at INTEGER,
  cancelled_at INTEGER,
  data TEXT,
  PRIMARY KEY (kind, key)
);
CREATE INDEX timers_due ON timers(due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_alarm ON timers(alarm_id) WHERE alarm_id IS NOT NULL;
INSERT INTO timers (kind, key, alarm_id, due_at, fired_at, cancelled_at, data)
  SELECT 'escalate', alarm_id || ':' || level, alarm_id, due_at, fired_at, cancelled_at, json_set(data, '$.level', level) FROM escalation_timers;
INSERT INTO timers (kind, key, alarm_id, due_at) SELECT 'flush-batch', id, NULL, flush_at FROM batches WHERE sent_at IS NULL;
INSERT INTO timers (kind, key, alarm_id, due_at) SELECT 'announce-ack', id, id, ack_at FROM alarms WHERE ack_at IS NOT NULL AND ack_announced = 0;
-- Muted alarms are looked at again at once: the runner sets each one's next time.
INSERT INTO timers (kind, key, alarm_id, due_at) SELECT 'unmute', id, id, 0 FROM alarms WHERE muted = 1 AND state = 'active';
DROP TABLE escalation_timers;

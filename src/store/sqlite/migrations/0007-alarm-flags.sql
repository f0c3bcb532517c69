-- What the hot paths ask of alarms, as columns with partial indexes, so that no query
-- searches inside the alarm JSON and none grows with the number of stored alarms:
-- muted (a silence or an inhibition holds it), ack_at (acknowledged when),
-- ack_announced (the others were told of the acknowledgement).
ALTER TABLE alarms ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alarms ADD COLUMN ack_at INTEGER;
ALTER TABLE alarms ADD COLUMN ack_announced INTEGER NOT NULL DEFAULT 0;
UPDATE alarms SET
  muted = (json_extract(data, '$.mutedBy') IS NOT NULL),
  ack_at = json_extract(data, '$.ack.at'),
  ack_announced = coalesce(json_extract(data, '$.ackAnnounced'), 0);
CREATE INDEX alarms_muted ON alarms(first_seen, id) WHERE muted = 1 AND state = 'active';
CREATE INDEX alarms_unannounced ON alarms(ack_at, id) WHERE ack_at IS NOT NULL AND ack_announced = 0;

-- ack_at and ack_announced were written with every alarm for the query that found
-- acknowledgements to announce; announce-ack timers (0008) took its place, so nothing
-- reads them: state derived from the alarm that only cost a write.
DROP INDEX alarms_unannounced;
ALTER TABLE alarms DROP COLUMN ack_at;
ALTER TABLE alarms DROP COLUMN ack_announced;

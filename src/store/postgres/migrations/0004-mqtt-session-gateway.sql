-- Which gateway holds each persistent MQTT session (recorded at every connect): when that
-- gateway is gone, the leader drains the session (what the broker queued for it, a shared
-- subscription's share above all) and ends it, so that nothing waits for a box that may
-- never come back. NULL: recorded before this column (its holder records it at its next connect).
ALTER TABLE mqtt_sessions ADD COLUMN gateway text COLLATE "C";

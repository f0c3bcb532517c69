ALTER TABLE received ADD COLUMN mqtt TEXT;
CREATE INDEX received_mqtt_dup ON received(received_at) WHERE mqtt IS NOT NULL;
CREATE TABLE topic_state (
  topic TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  value REAL NOT NULL,
  at INTEGER NOT NULL
);

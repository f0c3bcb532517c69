-- The persistent MQTT sessions the gateway set up: which broker (url) and client id, the
-- topic filters it subscribed, and when. A later CONNACK without a session for a known one
-- means the broker lost it (and what it held for us).
CREATE TABLE mqtt_sessions (
  url TEXT NOT NULL,
  client_id TEXT NOT NULL,
  filters TEXT NOT NULL,
  subscribed_at INTEGER NOT NULL,
  PRIMARY KEY (url, client_id)
);

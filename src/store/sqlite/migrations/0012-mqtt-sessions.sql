-- The persistent MQTT sessions the gateway set up: which broker (url, without credentials)
-- and client id, the topic filters it subscribed, and when the session began (0: unknown).
-- A later CONNACK without a session for a known one means the broker lost it (and what it
-- held for us); packet ids name messages only within one session.
CREATE TABLE mqtt_sessions (
  url TEXT NOT NULL,
  client_id TEXT NOT NULL,
  filters TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  PRIMARY KEY (url, client_id)
);

-- The persistent MQTT sessions the gateway set up: which broker (url, without credentials)
-- and client id, the topic filters it subscribed, and when the session began
-- (0: unknown). A later CONNACK without a session for a known one means the broker lost it
-- (and what it held for us); packet ids name messages only within one session.
CREATE TABLE mqtt_sessions (
  url text COLLATE "C" NOT NULL,
  client_id text COLLATE "C" NOT NULL,
  filters json NOT NULL,
  started_at bigint NOT NULL,
  PRIMARY KEY (url, client_id)
);

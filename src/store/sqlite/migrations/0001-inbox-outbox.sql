CREATE TABLE received (
  id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL,
  listener TEXT NOT NULL,
  peer_address TEXT NOT NULL,
  peer_port INTEGER NOT NULL,
  helo TEXT,
  auth_user TEXT,
  secure INTEGER NOT NULL,
  mail_from TEXT,
  rcpt_to TEXT NOT NULL,
  raw BLOB NOT NULL,
  state TEXT NOT NULL DEFAULT 'new',
  processed_at INTEGER,
  error TEXT
);
CREATE INDEX received_state ON received(state, received_at);
CREATE TABLE outbox (
  id TEXT PRIMARY KEY,
  received_id TEXT REFERENCES received(id),
  created_at INTEGER NOT NULL,
  envelope_from TEXT NOT NULL,
  recipients TEXT NOT NULL,
  message BLOB NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  last_account TEXT,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER,
  rejected_recipients TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

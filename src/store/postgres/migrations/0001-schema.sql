-- The store on PostgreSQL: the schema the SQLite store has after its migration 0011, written
-- fresh for PostgreSQL (not a replay of SQLite's history). Later changes are new numbered files.
--
-- Types, and why:
-- - Times are bigint milliseconds since the epoch, as the gateway's injected clock gives them:
--   every value written and compared comes from that clock, never from the database's now(),
--   and the repositories hand numbers back exactly (a fake clock's 0 or 5 included). To read
--   one in psql: to_timestamp(due_at / 1000.0).
-- - Raw mail and notifications are bytea: exact bytes, 8-bit and NUL included.
-- - Documents the gateway writes whole and reads whole (the alarm, a silence, a timer's data,
--   flood counters, MQTT metadata, address lists) are json, not jsonb: json keeps the text as
--   written, so a document round-trips exactly as in SQLite (key order too), and it accepts
--   every string JSON.stringify writes. jsonb refuses a NUL (\u0000) or a lone surrogate in a
--   string, which a PLC's subject can carry: the alarm would fail to save and be lost. What a
--   query needs from a document is a column of its own (alarms.last_event_id, the MQTT topic
--   and message id), so no query parses documents that may hold such a string.
-- - Ids, keys and kinds are COLLATE "C": they sort and compare byte by byte, as in SQLite,
--   whatever collation the database was created with (en_US.UTF-8 sorts "a-2" after "a1").
-- - Claim columns (outbox.claimed_by) name the gateway that leased a row, so that several
--   gateways on one database can each recover only what they left.

CREATE TABLE received (
  id text COLLATE "C" PRIMARY KEY,
  received_at bigint NOT NULL,
  listener text NOT NULL,
  peer_address text NOT NULL,
  peer_port integer NOT NULL,
  helo text,
  auth_user text,
  secure boolean NOT NULL,
  mail_from text,
  rcpt_to json NOT NULL,
  raw bytea NOT NULL,
  mqtt json,
  -- From mqtt, for the redelivery check (inbox.isRedelivery).
  mqtt_topic text,
  mqtt_message_id integer,
  state text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'processed', 'rejected')),
  processed_at bigint,
  error text
);
-- The inbox runner takes the oldest waiting messages; LIMIT stops early in index order.
CREATE INDEX received_pending ON received (received_at, id) WHERE state = 'new';
CREATE INDEX received_done ON received (processed_at) WHERE state <> 'new';
CREATE INDEX received_mqtt_dup ON received (mqtt_topic, mqtt_message_id, received_at) WHERE mqtt_topic IS NOT NULL;

CREATE TABLE alarms (
  id text COLLATE "C" PRIMARY KEY,
  fingerprint text COLLATE "C" NOT NULL,
  state text NOT NULL CHECK (state IN ('active', 'resolved')),
  first_seen bigint NOT NULL,
  last_seen bigint NOT NULL,
  -- A silence or an inhibition holds it (data.mutedBy set).
  muted boolean NOT NULL DEFAULT false,
  -- data.lastEventId: the message that renders its later notifications (kept from pruning).
  last_event_id text COLLATE "C" NOT NULL,
  data json NOT NULL
);
-- At most one active alarm per fingerprint.
CREATE UNIQUE INDEX alarms_one_active ON alarms (fingerprint) WHERE state = 'active';
CREATE INDEX alarms_state ON alarms (state, last_seen);
CREATE INDEX alarms_muted ON alarms (first_seen, id) WHERE muted AND state = 'active';
CREATE INDEX alarms_resolved ON alarms (last_seen) WHERE state = 'resolved';
CREATE INDEX alarms_last_event ON alarms (last_event_id) WHERE state = 'active';

CREATE TABLE alarm_log (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alarm_id text COLLATE "C",
  received_id text COLLATE "C" NOT NULL,
  at bigint NOT NULL,
  outcome text NOT NULL,
  reason text NOT NULL
);
CREATE INDEX alarm_log_alarm ON alarm_log (alarm_id, seq);
CREATE INDEX alarm_log_orphans ON alarm_log (at) WHERE alarm_id IS NULL;

CREATE TABLE outbox (
  id text COLLATE "C" PRIMARY KEY,
  received_id text COLLATE "C" REFERENCES received (id),
  alarm_id text COLLATE "C",
  batch_id text COLLATE "C",
  created_at bigint NOT NULL,
  envelope_from text NOT NULL,
  recipients json NOT NULL,
  message bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  last_error text,
  last_account text,
  updated_at bigint NOT NULL,
  sent_at bigint,
  rejected_recipients json NOT NULL DEFAULT '[]',
  -- The gateway that claimed it (status sending).
  claimed_by text
);
-- The worker claims the most overdue pending entries first.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_sending ON outbox (claimed_by) WHERE status = 'sending';
CREATE INDEX outbox_alarm ON outbox (alarm_id) WHERE alarm_id IS NOT NULL;
CREATE INDEX outbox_batch ON outbox (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX outbox_received ON outbox (received_id) WHERE received_id IS NOT NULL;
CREATE INDEX outbox_done ON outbox (updated_at) WHERE status IN ('sent', 'failed');
CREATE INDEX outbox_created ON outbox (created_at, id);

CREATE TABLE topic_state (
  topic text COLLATE "C" PRIMARY KEY,
  state text NOT NULL,
  value double precision NOT NULL,
  at bigint NOT NULL
);

-- Silences (maintenance windows). ends_at: when it stops for good (window end, weekly
-- until, early expiry), NULL for a weekly one with no end: it is what "current" is read by.
CREATE TABLE silences (
  id text COLLATE "C" PRIMARY KEY,
  created_at bigint NOT NULL,
  ends_at bigint,
  data json NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at);

-- Groups and digests (lifecycle/batch.ts): held notifications collect in the one open
-- batch of their key until it goes out (sent_at). Flood control's counters per scope.
CREATE TABLE batches (
  id text COLLATE "C" PRIMARY KEY,
  key text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  label text NOT NULL,
  opened_at bigint NOT NULL,
  flush_at bigint NOT NULL,
  receivers json NOT NULL,
  sent_at bigint
);
CREATE UNIQUE INDEX batches_one_open ON batches (key) WHERE sent_at IS NULL;
CREATE INDEX batches_due ON batches (flush_at, id) WHERE sent_at IS NULL;
CREATE INDEX batches_sent ON batches (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE batch_items (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id text COLLATE "C" NOT NULL REFERENCES batches (id),
  alarm_id text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  reason text NOT NULL,
  at bigint NOT NULL
);
CREATE INDEX batch_items_batch ON batch_items (batch_id, seq);
CREATE INDEX batch_items_alarm ON batch_items (alarm_id);

CREATE TABLE flood_state (
  scope text COLLATE "C" PRIMARY KEY,
  data json NOT NULL
);

-- One table for everything the gateway does later (lifecycle/timer.ts): escalation levels,
-- groups and digests going out, acknowledgements to announce, muted alarms to look at
-- again, pruning. fired_at guards against firing twice; cancelled_at is set by an ack, a
-- clear, an unmute. data holds what an escalation level needs (from the configuration).
CREATE TABLE timers (
  kind text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  alarm_id text COLLATE "C",
  due_at bigint NOT NULL,
  fired_at bigint,
  cancelled_at bigint,
  data json,
  PRIMARY KEY (kind, key)
);
CREATE INDEX timers_due ON timers (due_at, kind, key) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_alarm ON timers (alarm_id) WHERE alarm_id IS NOT NULL;
CREATE INDEX timers_done ON timers ((coalesce(fired_at, cancelled_at))) WHERE fired_at IS NOT NULL OR cancelled_at IS NOT NULL;

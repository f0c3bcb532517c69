-- alarms.muted() (on every resolve and every silence expiry) read every active alarm:
-- the query planner took alarms_state (state = ?) over the partial index alarms_muted,
-- whose columns gave it no equality to go by, then sorted. At 1,000,000 stored alarms
-- (20,000 active) that was 90 ms per resolve (bench/store-scale.ts). With muted and state
-- leading, the planner picks this index and reads the muted alarms alone, in order.
DROP INDEX alarms_muted;
CREATE INDEX alarms_muted ON alarms(muted, state, first_seen, id) WHERE muted = 1 AND state = 'active';
-- The outbox worker claims the most overdue entries first on every wake, and the inbox
-- runner takes the oldest messages: with the sort order in the index, LIMIT stops early
-- instead of sorting every due row (with its message) under a backlog.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id);
DROP INDEX received_state;
CREATE INDEX received_state ON received(state, received_at, id);

-- alarms.muted() (on every resolve and every silence expiry) read every active alarm:
-- the query planner took alarms_state (state = ?) over the partial index alarms_muted,
-- whose columns gave it no equality to go by, then sorted. At 1,000,000 stored alarms
-- (20,000 active) that was 90 ms per resolve (bench/store-scale.ts). With muted and state
-- leading, the planner picks this index and reads the muted alarms alone, in order.
DROP INDEX alarms_muted;
CREATE INDEX alarms_muted ON alarms(muted, state, first_seen, id) WHERE muted = 1 AND state = 'active';

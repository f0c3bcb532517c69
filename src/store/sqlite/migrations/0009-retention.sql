-- Retention (config store.retention): what is done is pruned in bounded batches by a
-- timer of kind 'prune', and the freed pages go back to the file system (auto_vacuum is
-- set to INCREMENTAL when the store is opened). The gateway arms the prune timer when it
-- starts. The indexes let each prune find its rows
-- without a scan that grows with the store.
CREATE INDEX received_done ON received(processed_at) WHERE state != 'new';
CREATE INDEX outbox_done ON outbox(updated_at) WHERE status IN ('sent', 'failed');
CREATE INDEX outbox_received ON outbox(received_id) WHERE received_id IS NOT NULL;
CREATE INDEX alarm_log_orphans ON alarm_log(at) WHERE alarm_id IS NULL;
CREATE INDEX batches_sent ON batches(sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX timers_done ON timers(coalesce(fired_at, cancelled_at)) WHERE fired_at IS NOT NULL OR cancelled_at IS NOT NULL;

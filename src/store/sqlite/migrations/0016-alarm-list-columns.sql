-- API v1 lists alarms by severity, device, site, area and acknowledgement, a page at a
-- time (keyset on last_seen, id), and devices with when each was last heard from: what
-- those queries compare is kept in columns written with the alarm, so that none parses the
-- alarm JSON of every row. device, device_name, site and area are lower-case (names
-- compare without regard to case); acknowledged is 1 once someone acknowledged it.
ALTER TABLE alarms ADD COLUMN severity TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN device_name TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN site TEXT;
ALTER TABLE alarms ADD COLUMN area TEXT;
ALTER TABLE alarms ADD COLUMN acknowledged INTEGER NOT NULL DEFAULT 0;
UPDATE alarms SET
  severity = coalesce(json_extract(data, '$.severity'), ''),
  device = lower(coalesce(json_extract(data, '$.device.id'), '')),
  device_name = lower(coalesce(json_extract(data, '$.device.name'), '')),
  site = lower(json_extract(data, '$.device.site')),
  area = lower(json_extract(data, '$.device.area')),
  acknowledged = (json_extract(data, '$.ack') IS NOT NULL);
-- Pages of one state, newest first, with the id breaking ties: LIMIT stops in index order.
DROP INDEX alarms_state;
CREATE INDEX alarms_state ON alarms(state, last_seen, id);
-- Pages of every state (state=all), newest first.
CREATE INDEX alarms_seen ON alarms(last_seen, id);
-- One device's alarms; the devices seen (a skip over this index, one step per device),
-- each one's last alarm and its count of active ones.
CREATE INDEX alarms_device ON alarms(device, state, last_seen, id);
-- The outbox listed by status in the order it was queued, a page at a time.
CREATE INDEX outbox_status_created ON outbox(status, created_at, id);

-- API v1 lists alarms by severity, device, site, area and acknowledgement, a page at a
-- time (keyset on last_seen, id), and devices with when each was last heard from: what
-- those queries compare is kept in columns written with the alarm (the store's rule: no
-- query parses the json documents). device, device_name, site and area are lower-case
-- (names compare without regard to case).
ALTER TABLE alarms ADD COLUMN severity text NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN device text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN device_name text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN site text COLLATE "C";
ALTER TABLE alarms ADD COLUMN area text COLLATE "C";
ALTER TABLE alarms ADD COLUMN acknowledged boolean NOT NULL DEFAULT false;
-- Once, for the alarms already stored: the fields read here come from the device map and
-- the severity list, never a device's free text.
UPDATE alarms SET
  severity = coalesce(data->>'severity', ''),
  device = lower(coalesce(data->'device'->>'id', '')),
  device_name = lower(coalesce(data->'device'->>'name', '')),
  site = lower(data->'device'->>'site'),
  area = lower(data->'device'->>'area'),
  acknowledged = (data->'ack' IS NOT NULL AND json_typeof(data->'ack') <> 'null');
-- Pages of one state, newest first, with the id breaking ties: LIMIT stops in index order.
DROP INDEX alarms_state;
CREATE INDEX alarms_state ON alarms (state, last_seen, id);
-- Pages of every state (state=all), newest first.
CREATE INDEX alarms_seen ON alarms (last_seen, id);
-- One device's alarms; the devices seen (a skip over this index, one step per device),
-- each one's last alarm and its count of active ones.
CREATE INDEX alarms_device ON alarms (device, state, last_seen, id);
-- The outbox listed by status in the order it was queued, a page at a time.
CREATE INDEX outbox_status_created ON outbox (status, created_at, id);

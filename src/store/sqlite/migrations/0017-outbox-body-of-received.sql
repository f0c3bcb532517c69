-- A relayed mail whose plain body goes out as it came (render/passthrough.ts) need not be
-- stored twice: the outbox row keeps the headers written anew, and body_offset says where in
-- the received mail (received_id) the rest of the message starts. Readers append
-- substr(raw, body_offset + 1). The received row cannot go while the outbox row refers to it
-- (the foreign key; retention prunes sent outbox rows first). NULL: the row holds it all.
ALTER TABLE outbox ADD COLUMN body_offset INTEGER;

-- A mail's raw bytes and a notification's message, when larger than 3 KiB, move into tables
-- of their own, written once on insert and never again (src/store/sqlite/large-values.ts).
-- SQLite rewrites a row's whole record, overflow pages included, when a column of it
-- changes size: a status update of a row holding a 100 KiB blob wrote ~113 KiB to the WAL
-- (as the last column just the same), so a 100 KiB mail was written five times (accept,
-- complete, outbox insert, claim, mark sent); now twice (bench/store-blobs.ts). The row
-- keeps an empty value; readers take coalesce(side table, row). Smaller values stay in the
-- row, whose page an update writes anyway. The triggers delete the bytes whatever deletes
-- the row (retention, `queue delete`, an inbox drop).
-- The PostgreSQL backend keeps them in place: TOAST stores a large value out of line and an
-- UPDATE that does not change it carries its pointer over without writing it again.
CREATE TABLE received_raw (
  id TEXT PRIMARY KEY,
  raw BLOB NOT NULL
);
INSERT INTO received_raw (id, raw) SELECT id, raw FROM received WHERE length(raw) > 3072;
UPDATE received SET raw = x'' WHERE length(raw) > 3072;
CREATE TRIGGER received_raw_delete AFTER DELETE ON received
BEGIN
  DELETE FROM received_raw WHERE id = old.id;
END;

CREATE TABLE outbox_message (
  id TEXT PRIMARY KEY,
  message BLOB NOT NULL
);
INSERT INTO outbox_message (id, message) SELECT id, message FROM outbox WHERE length(message) > 3072;
UPDATE outbox SET message = x'' WHERE length(message) > 3072;
CREATE TRIGGER outbox_message_delete AFTER DELETE ON outbox
BEGIN
  DELETE FROM outbox_message WHERE id = old.id;
END;

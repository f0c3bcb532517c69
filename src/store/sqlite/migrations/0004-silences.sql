-- Silences (maintenance windows). ends_at: when it stops for good (window end, weekly
-- until, early expiry), NULL for a weekly one with no end: it is what "current" is read by.
CREATE TABLE silences (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  ends_at INTEGER,
  data TEXT NOT NULL
);
CREATE INDEX silences_ends ON silences(ends_at);

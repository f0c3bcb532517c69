-- The gateways on this database, as each records itself at every beat of its leader
-- election (peers.ts): for `annunciator store status`. Times are the database's (now()),
-- so that hosts whose clocks differ compare alike. backend_pid is the session of the
-- gateway's control connection: the one holding the leader lock (pg_locks) leads.
CREATE TABLE gateways (
  name text COLLATE "C" PRIMARY KEY,
  version text NOT NULL,
  started_at timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  backend_pid integer NOT NULL
);

-- What the presence sweep reads, counted as it changes (issue 20, point 2). The sweep keeps the
-- open visits and the devices it tracks in memory instead of reading 5,000 rows of each every
-- 30 s; other processes write the same file (the CLI's allow, revoke and erase, the console,
-- retention), so a count per kind of row is moved by triggers on every change that could alter
-- what the sweep would read, by any connection. The sweep compares the counts with those its
-- memory matches at the start of each sweep (one row each), reads again what moved, and after
-- its own writes (in the same transaction, which holds the write lock) takes the new counts as
-- its own (src/visits/presence-rows.ts).
--
-- A count only ever grows (it is compared for equality); a 64-bit integer does not wrap in the
-- life of a branch.
CREATE TABLE change_counts (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE,
  n    INTEGER NOT NULL DEFAULT 0
);
-- 1: open visits (what `openAll` reads). 2: tracked devices (devices and the live
-- authorizations that decide whether a device counts).
INSERT INTO change_counts (id, name) VALUES (1, 'open visits'), (2, 'tracked devices');

-- Visits: only open ones are read, so closed visits (retention, tallies, erasure of old visits)
-- move nothing. A close is an update of an open visit, so it counts.
CREATE TRIGGER visits_count_insert AFTER INSERT ON visits WHEN NEW.ended_at IS NULL
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER visits_count_update AFTER UPDATE ON visits
  WHEN OLD.ended_at IS NULL OR NEW.ended_at IS NULL
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER visits_count_delete AFTER DELETE ON visits WHEN OLD.ended_at IS NULL
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 1; END;

-- Devices: every column the sweep reads (first_seen_at and staff_from_config are not).
CREATE TRIGGER devices_count_insert AFTER INSERT ON devices
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 2; END;
CREATE TRIGGER devices_count_update
  AFTER UPDATE OF mac, customer_id, last_seen_at, is_staff, verified_at ON devices
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 2; END;
CREATE TRIGGER devices_count_delete AFTER DELETE ON devices
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 2; END;

-- Authorizations: only live ones (no `ended_at`) decide, and only through these columns (a
-- rate or a notice flag changing moves nothing); ended ones (retention) move nothing.
CREATE TRIGGER authorizations_count_insert AFTER INSERT ON authorizations
  WHEN NEW.ended_at IS NULL
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 2; END;
CREATE TRIGGER authorizations_count_update
  AFTER UPDATE OF mac, customer_id, ends_at, ended_at, pass_id ON authorizations
  WHEN OLD.ended_at IS NULL OR NEW.ended_at IS NULL
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 2; END;
CREATE TRIGGER authorizations_count_delete AFTER DELETE ON authorizations
  WHEN OLD.ended_at IS NULL
BEGIN UPDATE change_counts SET n = n + 1 WHERE id = 2; END;

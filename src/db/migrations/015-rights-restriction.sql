-- GDPR art. 18, restriction of processing (Spain): a sixth kind of rights request. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt as SQLite's documented procedure
-- does (https://www.sqlite.org/lang_altertable.html#otheralter): a new table with the new check,
-- every row copied with its id, the old one dropped, the new one renamed, its indexes made again.
-- It runs in the migration's own transaction (src/db/open.ts): all of it or nothing. No table
-- references rights_requests, so dropping it touches no other row; its own reference to
-- customers is the same as before.
CREATE TABLE rights_requests_015 (
  id             INTEGER PRIMARY KEY,
  kind           TEXT    NOT NULL CHECK (kind IN ('access', 'rectification', 'cancellation', 'opposition', 'portability', 'restriction')),
  customer_id    INTEGER REFERENCES customers(id) ON DELETE SET NULL,
  requester      TEXT    NOT NULL,
  received_at    INTEGER NOT NULL,
  identity_check TEXT    NOT NULL CHECK (identity_check IN ('official-id', 'sms-code', 'representative', 'other')),
  identity_note  TEXT,
  details        TEXT,
  due_at         INTEGER NOT NULL,
  status         TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'refused')),
  outcome        TEXT,
  recorded_by    TEXT    NOT NULL,
  recorded_at    INTEGER NOT NULL,
  closed_by      TEXT,
  closed_at      INTEGER
);
INSERT INTO rights_requests_015 (id, kind, customer_id, requester, received_at, identity_check,
  identity_note, details, due_at, status, outcome, recorded_by, recorded_at, closed_by, closed_at)
SELECT id, kind, customer_id, requester, received_at, identity_check,
  identity_note, details, due_at, status, outcome, recorded_by, recorded_at, closed_by, closed_at
FROM rights_requests;
DROP TABLE rights_requests;
ALTER TABLE rights_requests_015 RENAME TO rights_requests;
CREATE INDEX rights_requests_open ON rights_requests (due_at) WHERE status = 'open';
CREATE INDEX rights_requests_by_customer ON rights_requests (customer_id);

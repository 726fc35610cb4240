-- Privacy (issue 15): block then delete, retention, withdrawal, rights requests. Times are UTC
-- epoch milliseconds; local days are YYYY-MM-DD in the branch's time zone.

-- A blocked customer: their personal data left the live tables at blocking time (the customers
-- row stays as an anonymous id, erased_at set, so visit figures keep their meaning) and is kept
-- here only for legal claims, as the JSON file it was, until delete_after. Then the daily privacy
-- job deletes this row and the anonymous customer, and turns their visits into tallies.
CREATE TABLE blocked_customers (
  customer_id  INTEGER NOT NULL PRIMARY KEY,
  blocked_at   INTEGER NOT NULL,
  delete_after INTEGER NOT NULL,
  reason       TEXT    NOT NULL CHECK (reason IN ('request', 'retention')),
  actor        TEXT    NOT NULL,
  -- The CRM's key (E.164), for the customer.deleted event; NULL when erased before this version.
  phone_e164   TEXT,
  record       TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX blocked_by_delete ON blocked_customers (delete_after);
-- Customers erased before this version: blocked since their erasure, nothing personal left.
INSERT INTO blocked_customers (customer_id, blocked_at, delete_after, reason, actor, phone_e164, record)
SELECT id, erased_at, erased_at, 'request', 'migration', NULL, '{}' FROM customers WHERE erased_at IS NOT NULL;

-- Visits no longer kept one by one (their customer was deleted, or they are older than
-- privacy.retention.visitsMonths), as anonymous counts: enough for every dashboard figure of
-- the past to stay what it was. The start is cut to its quarter hour (every time zone's offset
-- is a multiple of 15 minutes, so the local hour and day stay exact); dwell in whole seconds,
-- -1 for visits that never ended (counted as visits, never in dwell figures).
CREATE TABLE visit_tallies (
  slot_at INTEGER NOT NULL,
  dwell_s INTEGER NOT NULL,
  visits  INTEGER NOT NULL,
  PRIMARY KEY (slot_at, dwell_s)
) WITHOUT ROWID;
-- Per local day: how many customers whose visits were tallied came that day, and for how many
-- it was their first visit ever.
CREATE TABLE visitor_tallies (
  day        TEXT    NOT NULL PRIMARY KEY,
  visitors   INTEGER NOT NULL DEFAULT 0,
  first_time INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Consecutive visit days of one tallied customer (how many customers went from from_day to
-- to_day with no visit in between). A range of days holds a contiguous run of a customer's visit
-- days, so days minus pairs inside the range counts that customer once: distinct customers stay
-- exact without any link between a person and their visits.
CREATE TABLE visitor_day_pairs (
  from_day TEXT    NOT NULL,
  to_day   TEXT    NOT NULL,
  visitors INTEGER NOT NULL,
  PRIMARY KEY (from_day, to_day)
) WITHOUT ROWID;
-- The last local day of a live customer whose visits became tallies (visit retention).
ALTER TABLE customers ADD COLUMN tallied_through TEXT;

-- What a one-time code is for: a login, or proving a number to stop promotions (portal page
-- "Ya no quiero recibir promociones"), which lets nobody through and records no customer.
ALTER TABLE otp_challenges ADD COLUMN purpose TEXT NOT NULL DEFAULT 'login' CHECK (purpose IN ('login', 'opt-out'));

-- Rights requests (ARCO / GDPR): who asked, when, how identity was checked, the legal deadline,
-- and how it was answered. Kept as long as the audit log (privacy.retention.auditMonths).
CREATE TABLE rights_requests (
  id             INTEGER PRIMARY KEY,
  kind           TEXT    NOT NULL CHECK (kind IN ('access', 'rectification', 'cancellation', 'opposition', 'portability')),
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
CREATE INDEX rights_requests_open ON rights_requests (due_at) WHERE status = 'open';
CREATE INDEX rights_requests_by_customer ON rights_requests (customer_id);

-- The daily privacy job's own state: the instant retention last ran "as of" (a clock step is
-- followed at most privacy.catchUpDays per run), and what it did.
CREATE TABLE privacy_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  effective_at INTEGER,
  last_run_at  INTEGER,
  last_report  TEXT
);
INSERT INTO privacy_state (id) VALUES (1);

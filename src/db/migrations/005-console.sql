-- Manager console: accounts, sessions, login throttling, campaign sends, erasure marker, and the
-- indexes its reports need. Times are UTC epoch milliseconds.

-- People who may use the console. Passwords are kept only as scrypt hashes with a per-user salt.
CREATE TABLE console_users (
  id                  INTEGER PRIMARY KEY,
  name                TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  role                TEXT    NOT NULL CHECK (role IN ('manager', 'admin')),
  password_hash       TEXT    NOT NULL, -- scrypt$N$r$p$salt$hash (base64url)
  must_change         INTEGER NOT NULL DEFAULT 0 CHECK (must_change IN (0, 1)),
  created_at          INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL,
  last_login_at       INTEGER
);

-- Signed-in browsers. Only the SHA-256 of the cookie token is kept.
CREATE TABLE console_sessions (
  token_hash   TEXT    PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
  csrf         TEXT    NOT NULL,
  ip           TEXT,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

-- Failed console logins, counted per user name and per client address to throttle guessing.
CREATE TABLE console_login_failures (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  user_name TEXT    NOT NULL COLLATE NOCASE,
  ip        TEXT    NOT NULL
);
CREATE INDEX console_login_failures_by_user ON console_login_failures (user_name, at);
CREATE INDEX console_login_failures_by_ip ON console_login_failures (ip, at);

-- Promotions sent to customers' phones, imported from a CSV, to measure walk-ins.
CREATE TABLE campaign_sends (
  id          INTEGER PRIMARY KEY,
  campaign    TEXT    NOT NULL,
  phone_e164  TEXT    NOT NULL,
  sent_at     INTEGER NOT NULL,
  imported_at INTEGER NOT NULL,
  imported_by TEXT    NOT NULL,
  UNIQUE (campaign, phone_e164, sent_at)
);
CREATE INDEX campaign_sends_by_phone ON campaign_sends (phone_e164);

-- Set when a customer's personal data was erased (ARCO/GDPR); the row stays, anonymous, so
-- visit counts keep their meaning.
ALTER TABLE customers ADD COLUMN erased_at INTEGER;

-- Reports read visits by start time (covering: no table lookups over a year) and per customer.
CREATE INDEX visits_console ON visits (started_at, id, customer_id, last_seen_at, ended_at);
CREATE INDEX visits_by_customer ON visits (customer_id, started_at, last_seen_at, ended_at);

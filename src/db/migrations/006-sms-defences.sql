-- SMS delivery, fraud and cost defences (issue 7). Times are UTC epoch milliseconds.

-- Which channel delivered each code ('sms' or 'whatsapp'); `provider` already names who.
ALTER TABLE otp_challenges ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'whatsapp'));
-- The number without its last 4 digits: SMS pumping walks through one operator range.
ALTER TABLE otp_challenges ADD COLUMN phone_prefix TEXT
  GENERATED ALWAYS AS (substr(phone_e164, 1, length(phone_e164) - 4)) VIRTUAL;
CREATE INDEX otp_by_prefix  ON otp_challenges (phone_prefix, created_at);
CREATE INDEX otp_by_created ON otp_challenges (created_at);

-- Sending held back: the branch-wide circuit breaker (scope 'branch', key '') or a prefix with
-- too few verified codes (scope 'prefix', key = prefix). Counting restarts when a hold ends.
CREATE TABLE sms_holds (
  id        INTEGER PRIMARY KEY,
  scope     TEXT    NOT NULL CHECK (scope IN ('branch', 'prefix')),
  key       TEXT    NOT NULL,
  reason    TEXT    NOT NULL,
  starts_at INTEGER NOT NULL,
  until     INTEGER NOT NULL,
  lifted_at INTEGER
);
CREATE INDEX sms_holds_by_key ON sms_holds (scope, key, until);
CREATE INDEX sms_holds_by_until ON sms_holds (until);

-- One row per try of one provider: for sent/failed counts and latency percentiles.
CREATE TABLE sms_attempts (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  provider   TEXT    NOT NULL,
  channel    TEXT    NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
  outcome    TEXT    NOT NULL CHECK (outcome IN ('sent', 'failed', 'unreachable')),
  latency_ms REAL    NOT NULL,
  detail     TEXT
);
CREATE INDEX sms_attempts_by_at ON sms_attempts (at);

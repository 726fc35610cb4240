-- branchgate schema, version 1. Times are UTC epoch milliseconds throughout.

-- The single customer record: exactly one per verified E.164 number.
CREATE TABLE customers (
  id                INTEGER PRIMARY KEY,
  phone_e164        TEXT    NOT NULL UNIQUE,
  name              TEXT    NOT NULL,
  locale            TEXT    NOT NULL,
  first_verified_at INTEGER NOT NULL,
  last_verified_at  INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);

-- Devices seen by the portal, by MAC. A customer has many (phones randomize MACs per network).
CREATE TABLE devices (
  mac           TEXT    PRIMARY KEY CHECK (mac GLOB '[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]'),
  customer_id   INTEGER REFERENCES customers(id) ON DELETE SET NULL,
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  is_staff      INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1))
);
CREATE INDEX devices_by_customer ON devices (customer_id);

-- One-time codes. Only the HMAC of the code is kept.
CREATE TABLE otp_challenges (
  id          TEXT    PRIMARY KEY,
  phone_e164  TEXT    NOT NULL,
  mac         TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  locale      TEXT    NOT NULL,
  marketing   INTEGER NOT NULL CHECK (marketing IN (0, 1)),
  code_hmac   TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  status      TEXT    NOT NULL CHECK (status IN ('pending', 'verified', 'exhausted', 'superseded', 'send_failed')),
  provider    TEXT,
  closed_at   INTEGER
);
CREATE INDEX otp_by_phone ON otp_challenges (phone_e164, created_at);
CREATE INDEX otp_by_mac   ON otp_challenges (mac, created_at);
CREATE INDEX otp_pending_by_mac   ON otp_challenges (mac) WHERE status = 'pending';
CREATE INDEX otp_pending_by_phone ON otp_challenges (phone_e164) WHERE status = 'pending';

-- Consents: which notice version, which purposes, when and at which branch.
CREATE TABLE consents (
  id             INTEGER PRIMARY KEY,
  customer_id    INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  notice_version TEXT    NOT NULL,
  purposes       TEXT    NOT NULL, -- JSON array: "service", "marketing"
  given_at       INTEGER NOT NULL,
  branch_id      TEXT    NOT NULL,
  mac            TEXT,
  locale         TEXT    NOT NULL,
  withdrawn_at   INTEGER
);
CREATE INDEX consents_by_customer ON consents (customer_id, given_at);

-- Access granted to a MAC: from, until, and how it ended.
CREATE TABLE authorizations (
  id          INTEGER PRIMARY KEY,
  mac         TEXT    NOT NULL,
  customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
  starts_at   INTEGER NOT NULL,
  ends_at     INTEGER NOT NULL,
  reason      TEXT    NOT NULL,
  ended_at    INTEGER,
  end_reason  TEXT
);
CREATE INDEX authorizations_live ON authorizations (mac) WHERE ended_at IS NULL;
CREATE INDEX authorizations_by_end ON authorizations (ends_at) WHERE ended_at IS NULL;

-- Visits: one stay of one customer at the branch. Opened when a device is let through.
CREATE TABLE visits (
  id           TEXT    PRIMARY KEY,
  customer_id  INTEGER REFERENCES customers(id) ON DELETE SET NULL,
  branch_id    TEXT    NOT NULL,
  started_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ended_at     INTEGER,
  end_reason   TEXT
);
CREATE INDEX visits_open ON visits (customer_id) WHERE ended_at IS NULL;
CREATE INDEX visits_by_start ON visits (started_at);

-- Everything that changed a device's access or touched personal data, with its reason.
CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  actor   TEXT    NOT NULL,
  action  TEXT    NOT NULL,
  subject TEXT,
  reason  TEXT,
  detail  TEXT
);
CREATE INDEX audit_by_at ON audit_log (at);

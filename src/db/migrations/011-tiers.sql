-- Tiers, rates, daily allowances, staff passes and access without a code (issue 17). Times are
-- UTC epoch milliseconds; days are YYYY-MM-DD in the branch's time zone.

-- Passes a manager issues for a walk-in without a usable mobile. The code is 8 digits: the
-- first 3 (`locator`) find the pass, the last 5 are checked against `secret_hmac` (HMAC under
-- the install secret, compared in constant time). Wrong tries are counted per pass (and per
-- device and branch in pass_tries); one device may use it, for `minutes` from redemption.
CREATE TABLE passes (
  id          INTEGER PRIMARY KEY,
  locator     TEXT    NOT NULL CHECK (locator GLOB '[1-9][0-9][0-9]'),
  secret_hmac TEXT    NOT NULL,
  name        TEXT,
  minutes     INTEGER NOT NULL,
  issued_by   TEXT    NOT NULL,
  issued_at   INTEGER NOT NULL,
  -- Unused by then, it can no longer be used (the end of the local day it was issued).
  redeem_by   INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  status      TEXT    NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'redeemed', 'exhausted', 'revoked', 'expired')),
  mac         TEXT,
  redeemed_at INTEGER,
  ends_at     INTEGER
);
-- A locator names one pass while it can still be used or is in use.
CREATE UNIQUE INDEX passes_live_locator ON passes (locator) WHERE status IN ('issued', 'redeemed');
CREATE INDEX passes_by_issued ON passes (issued_at);

-- Wrong pass codes, for the limits per device and per branch.
CREATE TABLE pass_tries (
  id  INTEGER PRIMARY KEY,
  at  INTEGER NOT NULL,
  mac TEXT    NOT NULL
);
CREATE INDEX pass_tries_by_mac ON pass_tries (mac, at);
CREATE INDEX pass_tries_by_at ON pass_tries (at);

-- Access without a code, given when codes could not be sent. The number was typed, never
-- proven: it is kept here, apart from customers, and nothing of it goes to the CRM. One per
-- device and one per number per local day. `customer_id` is set when the device later verified.
CREATE TABLE unverified_grants (
  id             INTEGER PRIMARY KEY,
  phone_e164     TEXT    NOT NULL,
  name           TEXT    NOT NULL,
  locale         TEXT    NOT NULL,
  marketing      INTEGER NOT NULL CHECK (marketing IN (0, 1)),
  notice_version TEXT    NOT NULL,
  mac            TEXT    NOT NULL,
  day            TEXT    NOT NULL,
  granted_at     INTEGER NOT NULL,
  ends_at        INTEGER NOT NULL,
  -- What made sending impossible: 'paused', 'breaker', 'budget' or 'providers'.
  why            TEXT    NOT NULL,
  upgraded_at    INTEGER,
  customer_id    INTEGER REFERENCES customers(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX unverified_once_per_device ON unverified_grants (mac, day);
CREATE INDEX unverified_by_phone ON unverified_grants (phone_e164, day);
CREATE INDEX unverified_by_granted ON unverified_grants (granted_at);

-- What kind of access each authorization is, and what it carries.
ALTER TABLE authorizations ADD COLUMN tier TEXT NOT NULL DEFAULT 'verified'
  CHECK (tier IN ('verified', 'unverified', 'pass', 'staff', 'manual'));
UPDATE authorizations SET tier = 'staff' WHERE reason = 'staff';
UPDATE authorizations SET tier = 'manual' WHERE reason = 'manual-allow';
-- kbit/s each way in the kernel (NULL: none of its own), rebuilt from here at start.
ALTER TABLE authorizations ADD COLUMN down_kbps INTEGER;
ALTER TABLE authorizations ADD COLUMN up_kbps INTEGER;
-- 1 while the device is held at gate.quota.floorKbps because its holder's allowance ran out.
ALTER TABLE authorizations ADD COLUMN slowed INTEGER NOT NULL DEFAULT 0 CHECK (slowed IN (0, 1));
-- 1 while the device's next plain-HTTP request is to go to the portal (to be told it was slowed).
ALTER TABLE authorizations ADD COLUMN notice INTEGER NOT NULL DEFAULT 0 CHECK (notice IN (0, 1));
-- Times this session was extended without a new code (session.extend.times).
ALTER TABLE authorizations ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE authorizations ADD COLUMN pass_id INTEGER REFERENCES passes(id);

-- Bytes moved per allowance holder per local day: 'c:<customer id>' (all of a customer's
-- devices) or 'p:<pass id>'. `slowed_at`: when the day's allowance ran out.
CREATE TABLE data_usage (
  holder    TEXT    NOT NULL,
  day       TEXT    NOT NULL,
  bytes     INTEGER NOT NULL DEFAULT 0,
  slowed_at INTEGER,
  PRIMARY KEY (holder, day)
) WITHOUT ROWID;

-- The kernel's per-device byte counts as last read (down + up), so each sweep adds only what is
-- new. Cleared when the kernel's counts restart (a device cut off, the table rebuilt at start).
CREATE TABLE device_counters (
  mac   TEXT    NOT NULL PRIMARY KEY,
  bytes INTEGER NOT NULL
) WITHOUT ROWID;

-- A staff pass's stays count as visits of kind "pass" (customer_id NULL, pass_id set).
ALTER TABLE visits ADD COLUMN pass_id INTEGER REFERENCES passes(id);

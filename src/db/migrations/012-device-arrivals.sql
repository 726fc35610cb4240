-- How each customer arrived on the guest network (issue 18): a new customer, a returning one on a
-- device already theirs (a code again, or "welcome back"), or a returning one on a new address (a
-- phone whose Wi-Fi address rotated, or a new phone). The console counts these per OS family, so
-- the branch sees what address rotation does. No MAC is kept: the figure outlives the devices.
-- `os_family` comes from the browser's User-Agent (statistics only, never identity). Times are
-- UTC epoch milliseconds.
CREATE TABLE device_arrivals (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('new-customer', 'known-device', 'new-address')),
  os_family   TEXT    NOT NULL CHECK (os_family IN ('ios', 'android', 'windows', 'macos', 'chromeos', 'linux', 'other'))
);
CREATE INDEX device_arrivals_by_at ON device_arrivals (at);

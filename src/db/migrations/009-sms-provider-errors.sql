-- Each SMS provider's last error (issue 11). Failover hides a broken provider from customers, so
-- a branch could run on its backup for weeks: the operator sees this row in `branchgate status`,
-- `branchgate sms-status` and the console. Written in the same commit as the try it comes from,
-- and only when a try failed: a send that works writes nothing here. Times are UTC epoch ms;
-- `detail` is the provider's answer with the number masked, never the request.
CREATE TABLE sms_provider_errors (
  provider TEXT    NOT NULL PRIMARY KEY,
  at       INTEGER NOT NULL,
  kind     TEXT    NOT NULL CHECK (kind IN ('credentials', 'noCredit', 'senderRefused', 'rejected', 'rateLimited', 'timeout', 'unavailable')),
  channel  TEXT    NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
  detail   TEXT
) WITHOUT ROWID;

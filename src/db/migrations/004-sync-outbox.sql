-- CRM sync (issue 5): the outbox and the sync run's own state. Times are UTC epoch ms.

-- Every change the CRM must learn of, written in the same transaction as the change itself.
-- `seq` is the delivery order; `id` (UUID v7) is what the CRM de-duplicates by.
CREATE TABLE outbox_events (
  seq             INTEGER PRIMARY KEY,
  id              TEXT    NOT NULL UNIQUE,
  type            TEXT    NOT NULL,
  branch_id       TEXT    NOT NULL,
  schema_version  INTEGER NOT NULL,
  occurred_at     INTEGER NOT NULL,
  -- Ordering key (e.g. 'customer:+525512345678'): events of one subject are delivered in order.
  -- Local only, never sent; the row (and so the key) goes when the event is pruned or erased.
  subject         TEXT,
  payload         TEXT    NOT NULL, -- JSON, exactly what is sent as the event's `data`
  status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'parked')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  response        TEXT,             -- the CRM's answer, kept for parked events
  delivered_at    INTEGER,
  parked_at       INTEGER
);
CREATE INDEX outbox_pending ON outbox_events (seq) WHERE status = 'pending';
CREATE INDEX outbox_pending_subject ON outbox_events (subject, seq) WHERE status = 'pending';
CREATE INDEX outbox_parked ON outbox_events (seq) WHERE status = 'parked';
CREATE INDEX outbox_delivered ON outbox_events (delivered_at) WHERE status = 'delivered';
CREATE INDEX outbox_by_subject ON outbox_events (subject);

-- One row: who holds the run lease (so `branchgate sync` and the service never overlap),
-- the backoff after transient failures, and what the status screen shows.
CREATE TABLE sync_state (
  id                   INTEGER PRIMARY KEY CHECK (id = 1),
  lease_owner          TEXT,
  lease_until          INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  next_attempt_at      INTEGER NOT NULL DEFAULT 0,
  last_run_at          INTEGER,
  last_success_at      INTEGER,
  last_error           TEXT,
  last_error_at        INTEGER,
  adapter              TEXT
);
INSERT INTO sync_state (id) VALUES (1);

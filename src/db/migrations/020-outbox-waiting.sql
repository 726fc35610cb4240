-- The pending events that wait for their own retry (issue 20). Every sync run starts by asking
-- whether any does (src/sync/run.ts, `anyWaiting`): without this index that question read every
-- pending row of the table (a backlog of 100,000 events: some 150 ms of CPU, and SQLite's whole
-- page cache filled at once). Few rows are ever in it: an event enters when the CRM asks for its
-- retry and leaves when it is delivered or parked; writing or delivering any other event only
-- evaluates the WHERE clause, no page of the index moves.
CREATE INDEX outbox_waiting ON outbox_events (next_attempt_at)
  WHERE status = 'pending' AND next_attempt_at > 0;

-- Issue 20, point 5: each customer's first visit, kept by triggers, so the dashboard counts a
-- long range's new customers with one range of an index instead of a seek per customer (the
-- year's dashboard walked 40,000 customers, ~60 ms of its ~150). Triggers keep it exact through
-- every way a visit comes, goes or moves: an arrival (INSERT), retention and erasure (DELETE),
-- a clock step's rebase (UPDATE of started_at), a customer's removal (ON DELETE SET NULL).
-- None runs on the presence sweep's hot path: the sweep only updates last_seen_at and ends
-- visits (ended_at), neither of which a trigger watches.
ALTER TABLE customers ADD COLUMN first_visit_at INTEGER;
UPDATE customers SET first_visit_at = (SELECT MIN(started_at) FROM visits WHERE customer_id = customers.id);
-- With tallied_through: "new" is a first visit in the range and no visit kept only as a tally.
CREATE INDEX customers_by_first_visit ON customers (first_visit_at, tallied_through) WHERE first_visit_at IS NOT NULL;
-- The few customers some of whose visits are tallies, for the dashboard's overlap count.
CREATE INDEX customers_tallied ON customers (tallied_through) WHERE tallied_through IS NOT NULL;

CREATE TRIGGER visits_first_on_insert AFTER INSERT ON visits
WHEN NEW.customer_id IS NOT NULL
BEGIN
  UPDATE customers SET first_visit_at = NEW.started_at
  WHERE id = NEW.customer_id AND (first_visit_at IS NULL OR first_visit_at > NEW.started_at);
END;

CREATE TRIGGER visits_first_on_delete AFTER DELETE ON visits
WHEN OLD.customer_id IS NOT NULL
BEGIN
  UPDATE customers
  SET first_visit_at = (SELECT MIN(started_at) FROM visits WHERE customer_id = OLD.customer_id)
  WHERE id = OLD.customer_id AND first_visit_at = OLD.started_at;
END;

CREATE TRIGGER visits_first_on_move AFTER UPDATE OF customer_id, started_at ON visits
WHEN OLD.customer_id IS NOT NEW.customer_id OR OLD.started_at IS NOT NEW.started_at
BEGIN
  UPDATE customers
  SET first_visit_at = (SELECT MIN(started_at) FROM visits WHERE customer_id = customers.id)
  WHERE id IN (OLD.customer_id, NEW.customer_id);
END;

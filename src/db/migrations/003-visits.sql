-- Visits made true: presence closes them, pass-bys are flagged, devices remember verification.

-- When a code was last verified from this MAC (the "welcome back" check). Filled from the
-- verified codes already on record.
ALTER TABLE devices ADD COLUMN verified_at INTEGER;
UPDATE devices SET verified_at = (
  SELECT MAX(closed_at) FROM otp_challenges
  WHERE otp_challenges.mac = devices.mac AND otp_challenges.status = 'verified'
);
CREATE INDEX devices_by_verified ON devices (verified_at) WHERE customer_id IS NOT NULL;

-- A visit shorter than visits.minMinutes: kept, but left out of dwell averages.
ALTER TABLE visits ADD COLUMN pass_by INTEGER NOT NULL DEFAULT 0 CHECK (pass_by IN (0, 1));
-- (Open visits, read by every sweep, are found through the partial index visits_open of 001.)

-- Staff devices from the config's staffMacs are written here (is_staff = 1) so every report can
-- leave them out; this marks which flags came from the config, so removing a MAC from the config
-- clears its flag without touching devices marked staff by hand.
ALTER TABLE devices ADD COLUMN staff_from_config INTEGER NOT NULL DEFAULT 0 CHECK (staff_from_config IN (0, 1));

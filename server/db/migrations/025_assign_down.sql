-- The centre's other way to route a case (command centre issue §1): down to the village or grid
-- where it happened, to handle locally (交办), instead of to a department. Such a case leaves the
-- centre's intake; the grid's worker solves it on the spot.
ALTER TABLE incident ADD COLUMN assigned_region_id integer REFERENCES region (id) ON DELETE SET NULL;
ALTER TABLE incident ADD COLUMN assigned_at timestamptz;
CREATE INDEX incident_intake_idx ON incident (reported_at) WHERE status = 'reported' AND assigned_at IS NULL;

-- Indexes under the two foreign keys of `incident` that had none. Deleting a region (a grid merged,
-- a township divided anew, a draft published, a file's grids replacing the old) made the database
-- look for incidents assigned to it by reading every incident, once per region deleted; deleting a
-- worker did the same for the incidents they reported. On a demo of 496 grids (PGlite) that check
-- took 9.7 s of a 13.4 s delete of every grid, and with 4,598 grids and 200,000 incidents the
-- delete took 5½ minutes. With these indexes the check takes 6 ms. Partial: most incidents are
-- assigned to no region.
CREATE INDEX IF NOT EXISTS incident_assigned_region_idx ON incident (assigned_region_id) WHERE assigned_region_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS incident_reporter_idx ON incident (reporter_id) WHERE reporter_id IS NOT NULL;

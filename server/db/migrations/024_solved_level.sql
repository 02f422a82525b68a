-- Closed where it is solved (command centre issue §2) and the resident's verdict (§5): every case
-- resolved records the level that solved it — on the spot by its grid (就地解决), a village, a
-- township or the district, or the departments it was sent to — with the note of an on-the-spot
-- solution; closing records the resident's satisfaction (满意 / 基本满意 / 不满意).
ALTER TABLE incident ADD COLUMN solved_level text CHECK (solved_level IN ('grid', 'village', 'township', 'district', 'department'));
ALTER TABLE incident ADD COLUMN resolution_note text;
ALTER TABLE incident ADD COLUMN satisfaction text CHECK (satisfaction IN ('satisfied', 'basically', 'unsatisfied'));
-- Cases solved before this was kept: by the departments when any was called, else by the grid.
UPDATE incident SET solved_level = CASE WHEN dispatched_at IS NULL THEN 'grid' ELSE 'department' END WHERE resolved_at IS NOT NULL;
CREATE INDEX incident_solved_idx ON incident (resolved_at) INCLUDE (solved_level) WHERE resolved_at IS NOT NULL;
-- A case solved on the spot never went to a department: it is resolved without being dispatched.
ALTER TABLE incident DROP CONSTRAINT incident_steps_in_order;
ALTER TABLE incident ADD CONSTRAINT incident_steps_in_order CHECK (
  (dispatched_at IS NULL OR dispatched_at >= reported_at)
  AND (resolved_at IS NULL OR (resolved_at >= coalesce(dispatched_at, reported_at)
                               AND (dispatched_at IS NOT NULL OR solved_level IN ('grid', 'village', 'township', 'district'))))
  AND (closed_at IS NULL OR (resolved_at IS NOT NULL AND closed_at >= resolved_at)));

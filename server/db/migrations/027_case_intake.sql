-- The centre's intake (command centre issue §1, §5): a report that is no case is marked invalid
-- with a reason (无效); a second report of the same thing is merged into the first (合并重复).
-- Either leaves every list, count and map, and stays in the record. A case closed with an
-- unsatisfied resident can be reopened (重新办理): it returns to the intake, keeping its history.
ALTER TABLE incident ADD COLUMN void_kind text CHECK (void_kind IN ('invalid', 'duplicate'));
ALTER TABLE incident ADD COLUMN void_reason text;
ALTER TABLE incident ADD COLUMN voided_at timestamptz;
ALTER TABLE incident ADD COLUMN merged_into integer REFERENCES incident (id) ON DELETE SET NULL;
ALTER TABLE incident ADD CONSTRAINT incident_void CHECK (
  (void_kind IS NULL) = (voided_at IS NULL)
  AND (void_kind IS NULL OR (status = 'reported' AND void_reason IS NOT NULL))
  AND (merged_into IS NULL OR void_kind = 'duplicate'));
CREATE INDEX incident_merged_idx ON incident (merged_into) WHERE merged_into IS NOT NULL;
DROP INDEX incident_intake_idx;
CREATE INDEX incident_intake_idx ON incident (reported_at) WHERE status = 'reported' AND assigned_at IS NULL AND void_kind IS NULL;

ALTER TABLE incident ADD COLUMN reopened_at timestamptz;
ALTER TABLE incident ADD COLUMN reopen_count integer NOT NULL DEFAULT 0;
ALTER TABLE incident ADD COLUMN reopen_reason text;

-- The departments' side of the loop (command centre issue §3): a dispatch is the lead (主办) or an
-- assisting one (协办); a department may send its dispatch back to the centre with a reason (退回)
-- or ask for more time (延期), which the centre approves or refuses. A `center` account (综治中心,
-- scoped to a township or the district) receives, routes and decides.
ALTER TABLE dispatch ADD COLUMN role text NOT NULL DEFAULT 'lead' CHECK (role IN ('lead', 'assist'));
ALTER TABLE dispatch ADD COLUMN returned_at timestamptz;
ALTER TABLE dispatch ADD COLUMN return_reason text;
ALTER TABLE dispatch ADD COLUMN extension_until timestamptz;
ALTER TABLE dispatch ADD COLUMN extension_reason text;
ALTER TABLE dispatch ADD COLUMN extension_state text CHECK (extension_state IN ('asked', 'approved', 'refused'));
ALTER TABLE dispatch ADD CONSTRAINT dispatch_returned_open CHECK (returned_at IS NULL OR (resolved_at IS NULL AND return_reason IS NOT NULL));
DROP INDEX dispatch_open_due_idx;
CREATE INDEX dispatch_open_due_idx ON dispatch (due_at) WHERE resolved_at IS NULL AND returned_at IS NULL;

ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check CHECK (role IN ('admin', 'planner', 'analyst', 'leader', 'worker', 'department', 'center'));

-- The centre follows up a case it sent (督办), from the newcomer's pass: it could only wait for an overdue department.
-- 催办: how often and when last it urged the department; 改派: a dispatch taken back and given to another department
-- names that department. A dispatch the centre took back (`recalled`) is returned with the centre's reason; one the
-- department sent back (退回) and the centre then gave to another keeps the department's reason, and is not recalled.
ALTER TABLE dispatch ADD COLUMN urge_count integer NOT NULL DEFAULT 0;
ALTER TABLE dispatch ADD COLUMN urged_at timestamptz;
ALTER TABLE dispatch ADD COLUMN reassigned_to integer REFERENCES department (id) ON DELETE SET NULL;
ALTER TABLE dispatch ADD COLUMN recalled boolean NOT NULL DEFAULT false;
-- (a department removed, or its code looked up, does not read every dispatch)
CREATE INDEX dispatch_reassigned_to_idx ON dispatch (reassigned_to) WHERE reassigned_to IS NOT NULL;

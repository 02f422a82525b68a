-- A district's own staffing model (issue: settings per district): how many of each role its grids need, where it differs
-- from the plan's default — 嘉峪关 staffs 1+3+M+X, a county beside it 1+N+X (no police officer, no instructor per grid).
-- A role without a row here needs what `staff_role.min_per_grid` says. The full-time worker is one per grid everywhere.
CREATE TABLE staff_requirement (
  district_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  role text NOT NULL REFERENCES staff_role (code) ON DELETE CASCADE ON UPDATE CASCADE CHECK (role <> 'full_time'),
  min_per_grid integer NOT NULL CHECK (min_per_grid BETWEEN 0 AND 20),
  PRIMARY KEY (district_id, role)
);
CREATE INDEX staff_requirement_role_idx ON staff_requirement (role);

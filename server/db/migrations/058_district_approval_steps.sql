-- A district's own approval steps (issue: settings per district): the steps a draft of the plan within it passes before
-- it is published, where the district sets them apart from the plan's (`approval_step`) — a county that has its
-- townships' drafts approved by its leader alone, or adds a review of its own. A district without rows here follows the
-- plan's steps; one with rows has all its steps here.
CREATE TABLE district_approval_step (
  district_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  step integer NOT NULL CHECK (step >= 0),
  level text NOT NULL CHECK (level IN ('district', 'township', 'village')),
  zh text NOT NULL,
  en text NOT NULL,
  roles text[] NOT NULL,
  PRIMARY KEY (district_id, step)
);

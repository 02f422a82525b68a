-- Drafts, their review and the versions they publish.
--
-- A draft is a working copy of one region's subtree (with its ancestors for context) in its own
-- schema `gp_draft_<id>`: region, household, grid_staff and change there shadow the live tables,
-- so every editor operation, auto-split, coverage check and undo runs on the draft unchanged
-- (the request sets `search_path`). `draft_base` there keeps the live version of each region the
-- draft started from: publishing compares it with the live plan and refuses (409) when any of them
-- changed meanwhile.
CREATE TABLE draft (
  id serial PRIMARY KEY,
  -- no foreign key: a draft outlives its region being deleted live, and publishing then refuses
  region_id integer NOT NULL,
  name text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- editing → submitted → (review steps) → scheduled → published; changes sends it back to
  -- editing; rejected and withdrawn end it; conflict: its publication found the live plan changed.
  status text NOT NULL DEFAULT 'editing'
    CHECK (status IN ('editing', 'submitted', 'scheduled', 'published', 'rejected', 'withdrawn', 'conflict')),
  -- the approval step it waits for (0-based), while submitted
  step integer NOT NULL DEFAULT 0,
  -- when it was copied from (or last rebased onto) the live plan
  based_at timestamptz NOT NULL DEFAULT now(),
  effective_from timestamptz,
  -- a version of the published plan it was made from (a roll back), if any
  from_version integer,
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX draft_region_idx ON draft (region_id);

-- What happened to a draft: submit, approve (a step), changes, reject, comment, rebase, publish,
-- conflict, withdraw; a comment may name one grid.
CREATE TABLE draft_event (
  id bigserial PRIMARY KEY,
  draft_id integer NOT NULL REFERENCES draft (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  kind text NOT NULL,
  step integer,
  grid_id integer,
  comment text NOT NULL DEFAULT ''
);
CREATE INDEX draft_event_draft_idx ON draft_event (draft_id, id);

-- The steps a draft passes before it is published: at each, an account of one of `roles` whose
-- region holds the draft's ancestor at `level` (or the whole plan) decides. A county sets its own.
CREATE TABLE approval_step (
  step integer PRIMARY KEY CHECK (step >= 0),
  level text NOT NULL CHECK (level IN ('district', 'township', 'village')),
  zh text NOT NULL,
  en text NOT NULL,
  roles text[] NOT NULL
);
INSERT INTO approval_step (step, level, zh, en, roles) VALUES
  (0, 'township', '乡镇审核', 'township review', ARRAY['planner', 'leader', 'admin']),
  (1, 'district', '区县审批', 'district approval', ARRAY['leader', 'admin']);

-- A publication: the plan of a region as a draft made it, from a moment on.
CREATE TABLE plan_version (
  id serial PRIMARY KEY,
  region_id integer NOT NULL,
  draft_id integer REFERENCES draft (id) ON DELETE SET NULL,
  name text NOT NULL,
  note text NOT NULL DEFAULT '',
  published_by text NOT NULL,
  approved_by text,
  published_at timestamptz NOT NULL DEFAULT now(),
  effective_from timestamptz NOT NULL DEFAULT now(),
  -- the change log's operation that wrote it
  op bigint,
  grids_added integer NOT NULL DEFAULT 0,
  grids_removed integer NOT NULL DEFAULT 0,
  grids_changed integer NOT NULL DEFAULT 0
);
CREATE INDEX plan_version_region_idx ON plan_version (region_id, published_at);

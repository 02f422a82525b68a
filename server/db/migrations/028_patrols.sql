-- Patrols (巡查, command centre issue §6b): a grid worker's walk, recorded on the phone with
-- consent (thrifty sampling, kept offline and sent later), and the households visited on it
-- (入户走访). A patrol is filed under the grid it was walked for, by id, as incidents are: a
-- later re-division does not rewrite where a worker walked.
CREATE TABLE patrol (
  id serial PRIMARY KEY,
  worker_id integer NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
  grid_id integer NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL CHECK (ended_at >= started_at),
  -- null when fewer than two points were kept
  track geometry(LineString, 4326),
  points integer NOT NULL CHECK (points >= 0),
  distance_m double precision NOT NULL CHECK (distance_m >= 0),
  reported_by text NOT NULL,
  -- the phone's own key: a patrol sent twice (a lost answer) is stored once
  client_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (reported_by, client_key)
);
CREATE INDEX patrol_grid_idx ON patrol (grid_id, started_at);
CREATE INDEX patrol_worker_idx ON patrol (worker_id, started_at);

CREATE TABLE patrol_visit (
  id serial PRIMARY KEY,
  patrol_id integer NOT NULL REFERENCES patrol (id) ON DELETE CASCADE,
  household_id integer REFERENCES household (id) ON DELETE SET NULL,
  at timestamptz NOT NULL,
  note text NOT NULL DEFAULT '',
  UNIQUE (patrol_id, household_id)
);
CREATE INDEX patrol_visit_household_idx ON patrol_visit (household_id, at);

-- Assessment (考核, §7): the points a county gives per month for each measure; a row per measure.
CREATE TABLE assessment_rule (
  measure text PRIMARY KEY CHECK (measure IN ('report', 'on_spot', 'on_time', 'satisfied', 'unsatisfied', 'overdue', 'patrol_km', 'visit_share')),
  points numeric NOT NULL CHECK (points BETWEEN -100 AND 100),
  zh text NOT NULL,
  en text NOT NULL,
  version integer NOT NULL DEFAULT 1
);
INSERT INTO assessment_rule (measure, points, zh, en) VALUES
  ('report', 1, '每上报一件事件', 'per case reported'),
  ('on_spot', 2, '每就地解决一件', 'per case solved on the spot'),
  ('on_time', 1, '每按时办结一件', 'per case closed on time'),
  ('satisfied', 1, '每件群众满意（含基本满意）', 'per satisfied verdict (incl. basically)'),
  ('unsatisfied', -2, '每件群众不满意', 'per unsatisfied verdict'),
  ('overdue', -1, '每件超期', 'per case overdue'),
  ('patrol_km', 0.5, '每巡查 1 公里', 'per km patrolled'),
  ('visit_share', 10, '入户走访覆盖率（满分对应 100%）', 'household visit coverage (full marks at 100%)');

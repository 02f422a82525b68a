-- The plan's figures of every district, township and village once a day (China Standard Time),
-- so the leaders' screen can show how grids, workers, households and coverage changed.
CREATE TABLE plan_figure (
  day date NOT NULL,
  region_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  grids integer NOT NULL,
  staffed integer NOT NULL,
  households integer NOT NULL,
  passing integer NOT NULL,
  passing_households integer NOT NULL,
  passing_area float8 NOT NULL,
  area float8 NOT NULL,
  PRIMARY KEY (region_id, day)
);

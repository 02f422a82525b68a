-- GridPlan's initial schema. Geometry is lon/lat (SRID 4326); areas and lengths are
-- computed on the geography type, in metres.

CREATE TABLE worker (
  id serial PRIMARY KEY,
  name text NOT NULL,
  phone text NOT NULL DEFAULT '',
  role text NOT NULL DEFAULT 'full_time'
    CHECK (role IN ('grid_leader', 'full_time', 'police', 'instructor', 'part_time'))
);

CREATE TABLE region (
  id serial PRIMARY KEY,
  parent_id integer REFERENCES region (id) ON DELETE RESTRICT,
  level text NOT NULL CHECK (level IN ('district', 'township', 'village', 'grid')),
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  grid_type text CHECK (grid_type IN ('scattered', 'residential', 'unit', 'commercial', 'rural')),
  worker_id integer REFERENCES worker (id) ON DELETE SET NULL,
  notes text NOT NULL DEFAULT '',
  -- Households in this region and all below it; kept current in the transaction that moves them.
  household_count integer NOT NULL DEFAULT 0,
  version integer NOT NULL DEFAULT 1,
  geom geometry(MultiPolygon, 4326) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((level = 'district') = (parent_id IS NULL))
);
CREATE INDEX region_geom_idx ON region USING gist (geom);
CREATE INDEX region_parent_idx ON region (parent_id);
CREATE INDEX region_level_idx ON region (level);

CREATE TABLE household (
  id serial PRIMARY KEY,
  geom geometry(Point, 4326) NOT NULL,
  size smallint NOT NULL CHECK (size BETWEEN 1 AND 30),
  address text NOT NULL DEFAULT '',
  -- The finest region containing the household: its grid when there is one.
  region_id integer REFERENCES region (id) ON DELETE SET NULL
);
CREATE INDEX household_geom_idx ON household USING gist (geom);
CREATE INDEX household_region_idx ON household (region_id);

-- Household range per grid type; district_id NULL holds the defaults, a row with a
-- district overrides them there.
CREATE TABLE grid_type_rule (
  id serial PRIMARY KEY,
  district_id integer REFERENCES region (id) ON DELETE CASCADE,
  grid_type text NOT NULL CHECK (grid_type IN ('scattered', 'residential', 'unit', 'commercial', 'rural')),
  min_households integer NOT NULL CHECK (min_households >= 0),
  max_households integer NOT NULL,
  target_households integer NOT NULL,
  CHECK (min_households <= target_households AND target_households <= max_households)
);
CREATE UNIQUE INDEX grid_type_rule_scope_idx ON grid_type_rule (coalesce(district_id, 0), grid_type);

INSERT INTO grid_type_rule (district_id, grid_type, min_households, max_households, target_households) VALUES
  (NULL, 'scattered', 10, 25, 18),
  (NULL, 'rural', 10, 25, 18),
  (NULL, 'residential', 60, 200, 120),
  (NULL, 'unit', 5, 60, 30),
  (NULL, 'commercial', 20, 80, 50);

CREATE TABLE incident (
  id serial PRIMARY KEY,
  geom geometry(Point, 4326) NOT NULL,
  category text NOT NULL,
  severity smallint NOT NULL CHECK (severity BETWEEN 1 AND 4),
  description text NOT NULL DEFAULT '',
  reported_at timestamptz NOT NULL,
  reporter_id integer REFERENCES worker (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'reported'
    CHECK (status IN ('reported', 'dispatched', 'resolved', 'closed')),
  grid_id integer REFERENCES region (id) ON DELETE SET NULL,
  department text,
  dispatched_at timestamptz,
  resolved_at timestamptz,
  closed_at timestamptz,
  feedback text
);
CREATE INDEX incident_geom_idx ON incident USING gist (geom);
CREATE INDEX incident_reported_at_idx ON incident (reported_at);
CREATE INDEX incident_grid_idx ON incident (grid_id);

-- The audit trail: every write records who, when, and the entity before and after.
CREATE TABLE change (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  entity text NOT NULL,
  entity_id integer,
  before jsonb,
  after jsonb
);
CREATE INDEX change_entity_idx ON change (entity, entity_id);

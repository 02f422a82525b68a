-- Barriers a planner's grids follow (auto-split 2, §2): roads, rivers, railways, ditches and ridges
-- imported as line layers like any other layer. A class says how auto-split treats a line (main
-- roads, rivers and railways are not crossed; lanes and ditches are followed where the pieces
-- they cut are big enough). An import is one operation: undo hides its lines (`present`), redo
-- shows them again.
CREATE TABLE barrier (
  id serial PRIMARY KEY,
  class text NOT NULL CHECK (class IN ('main_road', 'road', 'lane', 'river', 'ditch', 'railway', 'ridge', 'other')),
  name text NOT NULL DEFAULT '',
  import_op bigint,
  present boolean NOT NULL DEFAULT true,
  geom geometry(MultiLineString, 4326) NOT NULL
);
CREATE INDEX barrier_geom_idx ON barrier USING gist (geom) WHERE present;
CREATE INDEX barrier_import_op_idx ON barrier (import_op);

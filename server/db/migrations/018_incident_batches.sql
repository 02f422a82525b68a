-- Incidents an import added carry its operation, so that undo can take exactly those back (while
-- nobody has acted on them yet); undone ones wait in incident_undone (same ids) for a redo.
ALTER TABLE incident ADD COLUMN import_op integer;
CREATE INDEX incident_import_op_idx ON incident (import_op) WHERE import_op IS NOT NULL;
CREATE TABLE incident_undone (
  op integer NOT NULL,
  id integer NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  category text NOT NULL,
  severity smallint NOT NULL,
  description text NOT NULL,
  reported_at timestamptz NOT NULL,
  source text NOT NULL,
  address text,
  located_by text,
  PRIMARY KEY (op, id)
);

-- Households an import added carry its operation, so that undo can take exactly those back; undone
-- ones wait in household_undone (same ids) for a redo.
ALTER TABLE household ADD COLUMN import_op integer;
CREATE INDEX household_import_op_idx ON household (import_op) WHERE import_op IS NOT NULL;
CREATE TABLE household_undone (
  op integer NOT NULL,
  id integer NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  size smallint NOT NULL,
  address text NOT NULL,
  PRIMARY KEY (op, id)
);

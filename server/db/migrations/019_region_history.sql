-- The plan as it was at any moment: every state of every region with the time it held
-- ([valid_from, valid_to); valid_to NULL while it still holds). A trigger on region keeps it, so no
-- write path can forget it: a new region opens a row, a change of what the plan says (parent,
-- level, code, name, type, worker, notes, 统计用区划代码, shape) closes the open row and opens
-- another, a deletion closes it. Counts and versions alone (household_count, version,
-- updated_at) are not the plan and open nothing. Rows written within one transaction share its
-- time: an insert and an update in one operation leave an empty [t, t) row nothing ever reads.
CREATE TABLE region_history (
  hid bigserial PRIMARY KEY,
  id integer NOT NULL,
  parent_id integer,
  level text NOT NULL,
  code text NOT NULL,
  name text NOT NULL,
  grid_type text,
  worker_id integer,
  notes text NOT NULL DEFAULT '',
  stat_code text,
  version integer NOT NULL,
  geom geometry(MultiPolygon, 4326) NOT NULL,
  valid_from timestamptz NOT NULL,
  valid_to timestamptz
);
CREATE INDEX region_history_id_idx ON region_history (id, valid_from);
CREATE INDEX region_history_time_idx ON region_history (valid_from, valid_to);
CREATE INDEX region_history_parent_idx ON region_history (parent_id);
CREATE UNIQUE INDEX region_history_open_idx ON region_history (id) WHERE valid_to IS NULL;
CREATE INDEX region_history_geom_idx ON region_history USING gist (geom);

-- Today's plan is where history starts: each region held since it was made.
INSERT INTO region_history (id, parent_id, level, code, name, grid_type, worker_id, notes, stat_code, version, geom, valid_from)
SELECT id, parent_id, level, code, name, grid_type, worker_id, notes, stat_code, version, geom, created_at FROM region;

CREATE FUNCTION gp_region_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NOT (
       NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.level IS DISTINCT FROM OLD.level OR NEW.code IS DISTINCT FROM OLD.code
       OR NEW.name IS DISTINCT FROM OLD.name OR NEW.grid_type IS DISTINCT FROM OLD.grid_type OR NEW.worker_id IS DISTINCT FROM OLD.worker_id
       OR NEW.notes IS DISTINCT FROM OLD.notes OR NEW.stat_code IS DISTINCT FROM OLD.stat_code
       OR NEW.geom::bytea IS DISTINCT FROM OLD.geom::bytea) THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    UPDATE region_history SET valid_to = now() WHERE id = OLD.id AND valid_to IS NULL;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO region_history (id, parent_id, level, code, name, grid_type, worker_id, notes, stat_code, version, geom, valid_from)
    VALUES (NEW.id, NEW.parent_id, NEW.level, NEW.code, NEW.name, NEW.grid_type, NEW.worker_id, NEW.notes, NEW.stat_code, NEW.version, NEW.geom, now());
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER region_history_trigger AFTER INSERT OR UPDATE OR DELETE ON region FOR EACH ROW EXECUTE FUNCTION gp_region_history();

-- The plan at a moment: every region as it was just before it (the end of a day includes that day's changes,
-- not those made at the stroke of midnight after). `unchanged`: the region is still as it was then, so what
-- `region` keeps of it now (its household count) holds for it.
CREATE FUNCTION gp_plan_at(t timestamptz)
RETURNS TABLE (id integer, parent_id integer, level text, code text, name text, grid_type text, worker_id integer, notes text,
               stat_code text, version integer, geom geometry, unchanged boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT h.id, h.parent_id, h.level, h.code, h.name, h.grid_type, h.worker_id, h.notes, h.stat_code, h.version, h.geom, h.valid_to IS NULL
  FROM region_history h WHERE h.valid_from < t AND (h.valid_to IS NULL OR h.valid_to >= t)
$$;

-- A region that takes another id (a revised grid layer's grid taking the id of the grid whose code it carries: the same
-- grid, changed) closes the history of the id it had and opens that of the id it takes, as any change of what the plan says.
CREATE OR REPLACE FUNCTION gp_region_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NOT (
       NEW.id IS DISTINCT FROM OLD.id OR NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.level IS DISTINCT FROM OLD.level OR NEW.code IS DISTINCT FROM OLD.code
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

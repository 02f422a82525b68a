-- Vector tiles (city-scale issue §2) are kept until an edit touches them. Every statement that
-- changes what a tile shows — regions, households, workers' names, grid-type rules — leaves here
-- the box of what it changed (old and new shapes) per tile layer; the server reads the new boxes
-- after each write and retires exactly the tiles of that layer they cross. A null box: everywhere.
CREATE TABLE tile_dirty (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  -- the tile layer it changed: a level of regions, or the households
  what text NOT NULL CHECK (what IN ('city', 'district', 'township', 'village', 'grid', 'households')),
  box box2d
);

-- Regions: per level, the rows added, removed, or changed in what a tile shows (an update that
-- rewrites a count with the same number changes nothing).
CREATE FUNCTION gp_tile_dirty_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.tile_dirty (what, box) SELECT level, ST_Extent(geom) FROM new_rows GROUP BY level;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO public.tile_dirty (what, box) SELECT level, ST_Extent(geom) FROM old_rows GROUP BY level;
  ELSE
    INSERT INTO public.tile_dirty (what, box)
    SELECT level, ST_Extent(geom) FROM (
      SELECT o.level, o.geom FROM old_rows o JOIN new_rows n ON n.id = o.id
      WHERE (o.geom, o.name, o.code, o.household_count, o.grid_type, o.worker_id, o.level, o.parent_id)
        IS DISTINCT FROM (n.geom, n.name, n.code, n.household_count, n.grid_type, n.worker_id, n.level, n.parent_id)
      UNION ALL SELECT n.level, n.geom FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE o.geom IS DISTINCT FROM n.geom) AS changed
    GROUP BY level;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER region_tiles_insert AFTER INSERT ON region REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_region();
CREATE TRIGGER region_tiles_update AFTER UPDATE ON region REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_region();
CREATE TRIGGER region_tiles_delete AFTER DELETE ON region REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_region();

-- Households: where they were and where they are.
CREATE FUNCTION gp_tile_dirty_household() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  b box2d;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT ST_Extent(geom) INTO b FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT ST_Extent(geom) INTO b FROM old_rows;
  ELSE
    SELECT ST_Extent(g) INTO b FROM (
      SELECT o.geom AS g FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE (o.geom, o.size) IS DISTINCT FROM (n.geom, n.size)
      UNION ALL SELECT n.geom FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE (o.geom, o.size) IS DISTINCT FROM (n.geom, n.size)) AS moved;
  END IF;
  IF b IS NOT NULL THEN
    INSERT INTO public.tile_dirty (what, box) VALUES ('households', b);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER household_tiles_insert AFTER INSERT ON household REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_household();
CREATE TRIGGER household_tiles_update AFTER UPDATE ON household REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_household();
CREATE TRIGGER household_tiles_delete AFTER DELETE ON household REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_household();

-- A worker renamed: the grids they work.
CREATE FUNCTION gp_tile_dirty_worker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.tile_dirty (what, box)
  SELECT 'grid', ST_Extent(r.geom) FROM public.region r JOIN new_rows n ON n.id = r.worker_id JOIN old_rows o ON o.id = n.id
  WHERE o.name IS DISTINCT FROM n.name HAVING count(*) > 0;
  RETURN NULL;
END $$;
CREATE TRIGGER worker_tiles_update AFTER UPDATE ON worker REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_worker();

-- A rule changed: every grid's status may have (null: everywhere).
CREATE FUNCTION gp_tile_dirty_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.tile_dirty (what, box) VALUES ('grid', NULL);
  RETURN NULL;
END $$;
CREATE TRIGGER grid_type_rule_tiles AFTER INSERT OR UPDATE OR DELETE ON grid_type_rule
  FOR EACH STATEMENT EXECUTE FUNCTION gp_tile_dirty_rules();

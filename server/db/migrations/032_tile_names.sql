-- Grid names (and their workers' names) are in grid tiles only from zoom 14 (GRID_NAMES_ZOOM in
-- server/db/tiles.ts): zoomed out nobody reads them, and a city's planners rename grids all day.
-- A change to nothing but a grid's name, or a worker's, is recorded as 'grid-names', which retires
-- only the grid tiles that carry names; any other change to a grid retires every grid tile it crosses.
ALTER TABLE tile_dirty DROP CONSTRAINT tile_dirty_what_check;
ALTER TABLE tile_dirty ADD CONSTRAINT tile_dirty_what_check
  CHECK (what IN ('city', 'district', 'township', 'village', 'grid', 'grid-names', 'households'));

CREATE OR REPLACE FUNCTION gp_tile_dirty_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.tile_dirty (what, box) SELECT level, ST_Extent(geom) FROM new_rows GROUP BY level;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO public.tile_dirty (what, box) SELECT level, ST_Extent(geom) FROM old_rows GROUP BY level;
  ELSE
    INSERT INTO public.tile_dirty (what, box)
    SELECT what, ST_Extent(geom) FROM (
      SELECT CASE WHEN o.level = 'grid' AND (o.geom, o.code, o.household_count, o.grid_type, o.worker_id, o.level, o.parent_id)
                       IS NOT DISTINCT FROM (n.geom, n.code, n.household_count, n.grid_type, n.worker_id, n.level, n.parent_id)
                  THEN 'grid-names' ELSE o.level END AS what, o.geom
      FROM old_rows o JOIN new_rows n ON n.id = o.id
      WHERE (o.geom, o.name, o.code, o.household_count, o.grid_type, o.worker_id, o.level, o.parent_id)
        IS DISTINCT FROM (n.geom, n.name, n.code, n.household_count, n.grid_type, n.worker_id, n.level, n.parent_id)
      UNION ALL SELECT n.level, n.geom FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE o.geom IS DISTINCT FROM n.geom) AS changed
    GROUP BY what;
  END IF;
  RETURN NULL;
END $$;

-- A worker renamed: the names in the tiles of the grids they work.
CREATE OR REPLACE FUNCTION gp_tile_dirty_worker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.tile_dirty (what, box)
  SELECT 'grid-names', ST_Extent(r.geom) FROM public.region r JOIN new_rows n ON n.id = r.worker_id JOIN old_rows o ON o.id = n.id
  WHERE o.name IS DISTINCT FROM n.name HAVING count(*) > 0;
  RETURN NULL;
END $$;

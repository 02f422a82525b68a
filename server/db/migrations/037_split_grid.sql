-- A grid in several pieces is one piece too many only where two of its pieces lie in one part of its
-- village. A village's detached part (飞地: farmland or a hamlet across another village) belongs to
-- one of its grids, which then lies in each part once; until now every such grid, or the empty grid
-- auto-split gave the part instead, was flagged, and a county with enclaves could never pass the check.
CREATE FUNCTION gp_split_grid(g geometry, village geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_NumGeometries(g) <= 1 THEN false
              WHEN village IS NULL OR ST_NumGeometries(village) <= 1 THEN true
              ELSE ST_NumGeometries(g) > (
                SELECT count(DISTINCT p.path[1]) FROM ST_Dump(village) p, ST_Dump(g) q
                WHERE p.geom && q.geom AND ST_Intersects(p.geom, ST_PointOnSurface(q.geom))) END
$$;

-- The same by the grid's village (read only for a grid in several pieces).
CREATE FUNCTION gp_split_grid(g geometry, village integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_NumGeometries(g) <= 1 THEN false
              ELSE gp_split_grid(g, (SELECT v.geom FROM region v WHERE v.id = village)) END
$$;

CREATE OR REPLACE VIEW grid_range AS
SELECT g.id AS grid_id,
       coalesce(own.min_households, dflt.min_households) AS lo,
       coalesce(own.max_households, dflt.max_households) AS hi,
       coalesce(own.target_households, dflt.target_households) AS target,
       (g.household_count BETWEEN coalesce(own.min_households, dflt.min_households, 0) AND coalesce(own.max_households, dflt.max_households, 1e9)
        AND g.worker_id IS NOT NULL AND NOT gp_split_grid(g.geom, g.parent_id)) AS passes
FROM region g
  LEFT JOIN region d ON d.level = 'district' AND d.code = split_part(g.code, '-', 1)
  LEFT JOIN grid_type_rule own ON own.district_id = d.id AND own.grid_type = g.grid_type
  LEFT JOIN grid_type_rule dflt ON dflt.district_id IS NULL AND dflt.grid_type = g.grid_type
WHERE g.level = 'grid';

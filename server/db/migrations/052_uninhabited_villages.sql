-- A village nobody lives in (desert, forest, a reservoir: 嘉峪关's Gobi villages) is covered by a grid of no
-- households, which no household range can be met by. Its grids are judged by no lower bound: a grid of 0 in an
-- empty village passes (with its worker, unsplit), as the coverage check, the tiles and the auto-split take it.
CREATE OR REPLACE VIEW grid_range AS
SELECT g.id AS grid_id,
       CASE WHEN v.household_count = 0 THEN 0 ELSE coalesce(own.min_households, dflt.min_households) END AS lo,
       coalesce(own.max_households, dflt.max_households) AS hi,
       coalesce(own.target_households, dflt.target_households) AS target,
       (g.household_count BETWEEN CASE WHEN v.household_count = 0 THEN 0 ELSE coalesce(own.min_households, dflt.min_households, 0) END
                              AND coalesce(own.max_households, dflt.max_households, 1e9)
        AND g.worker_id IS NOT NULL AND NOT gp_split_grid(g.geom, g.parent_id)) AS passes
FROM region g
  LEFT JOIN region v ON v.id = g.parent_id
  LEFT JOIN region d ON d.level = 'district' AND d.code = split_part(g.code, '-', 1)
  LEFT JOIN grid_type_rule own ON own.district_id = d.id AND own.grid_type = g.grid_type
  LEFT JOIN grid_type_rule dflt ON dflt.district_id IS NULL AND dflt.grid_type = g.grid_type
WHERE g.level = 'grid';

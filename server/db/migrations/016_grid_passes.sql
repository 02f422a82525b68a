-- Whether each grid passes its rules (households within its range, a full-time worker, one polygon),
-- beside its range: one definition for the overview, the daily figures and exports.
CREATE OR REPLACE VIEW grid_range AS
SELECT g.id AS grid_id,
       coalesce(own.min_households, dflt.min_households) AS lo,
       coalesce(own.max_households, dflt.max_households) AS hi,
       coalesce(own.target_households, dflt.target_households) AS target,
       (g.household_count BETWEEN coalesce(own.min_households, dflt.min_households, 0) AND coalesce(own.max_households, dflt.max_households, 1e9)
        AND g.worker_id IS NOT NULL AND ST_NumGeometries(g.geom) = 1) AS passes
FROM region g
  LEFT JOIN region d ON d.level = 'district' AND d.code = split_part(g.code, '-', 1)
  LEFT JOIN grid_type_rule own ON own.district_id = d.id AND own.grid_type = g.grid_type
  LEFT JOIN grid_type_rule dflt ON dflt.district_id IS NULL AND dflt.grid_type = g.grid_type
WHERE g.level = 'grid';

-- Each grid's household range: its district's own rule for its type, else the default. One
-- definition for every query that asks whether a grid passes (the overview, the daily figures).
CREATE VIEW grid_range AS
SELECT g.id AS grid_id,
       coalesce(own.min_households, dflt.min_households) AS lo,
       coalesce(own.max_households, dflt.max_households) AS hi,
       coalesce(own.target_households, dflt.target_households) AS target
FROM region g
  LEFT JOIN region d ON d.level = 'district' AND d.code = split_part(g.code, '-', 1)
  LEFT JOIN grid_type_rule own ON own.district_id = d.id AND own.grid_type = g.grid_type
  LEFT JOIN grid_type_rule dflt ON dflt.district_id IS NULL AND dflt.grid_type = g.grid_type
WHERE g.level = 'grid';

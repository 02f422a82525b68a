-- gp_area_m2, numerically stable. Each edge contributes ∫ sin φ dλ = Δλ (cos φ1 − cos φ2) / Δφ; for
-- a nearly level edge (Δφ of 1e-12 rad, as after a round trip through a Gauss–Krüger projection)
-- that quotient cancels catastrophically and a sliver's area came out as tens of thousands of m².
-- The same quotient written without cancellation:
--   (cos φ1 − cos φ2) / Δφ = sin((φ1 + φ2) / 2) · sin(Δφ / 2) / (Δφ / 2)
CREATE OR REPLACE FUNCTION gp_area_m2(g geometry) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  WITH seg AS (
    SELECT d.path[1] AS poly, d.path[2] AS ring,
           radians(ST_X(ST_StartPoint(d.geom))) AS l1, radians(ST_Y(ST_StartPoint(d.geom))) AS p1,
           radians(ST_X(ST_EndPoint(d.geom))) AS l2, radians(ST_Y(ST_EndPoint(d.geom))) AS p2
    FROM ST_DumpSegments(ST_Multi(ST_CollectionExtract(g, 3))) AS d
  ),
  ring AS (
    SELECT ring, abs(sum((l2 - l1) * sin((p1 + p2) / 2)
                         * CASE WHEN p2 = p1 THEN 1 ELSE sin((p2 - p1) / 2) / ((p2 - p1) / 2) END)) AS a
    FROM seg GROUP BY poly, ring
  )
  SELECT coalesce(sum(CASE WHEN ring = 1 THEN a ELSE -a END), 0) * 6371007.2 ^ 2 FROM ring
$$;

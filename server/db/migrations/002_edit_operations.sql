-- Editing: changes are grouped into operations (a split writes several rows) that undo and redo
-- replay as a whole; an undone operation is marked, not deleted, so the trail stays complete.
ALTER TABLE change ADD COLUMN op bigint;
ALTER TABLE change ADD COLUMN undone_at timestamptz;
CREATE INDEX change_op_idx ON change (op);
CREATE INDEX change_actor_idx ON change (actor, op);
CREATE SEQUENCE change_op_seq;

-- The precision grid of all stored geometry and every overlay: 2^-30 degree (about 0.1 mm).
-- A binary grid keeps the 1/1024-degree source vertices exact. Fixed-precision overlays
-- (snap-rounding) keep shared borders bit-identical, and they avoid a failure of PGlite's GEOS
-- 3.14 in WebAssembly: floating-point overlays of nearly coincident edges need GEOS's
-- exception-driven fallback, which there aborts the query and returns no row and no error.
CREATE FUNCTION gp_grid() RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 9.313225746154785e-10::float8 $$;

-- a minus b, on the grid; NULL b (no siblings) leaves a whole.
CREATE FUNCTION gp_difference(a geometry, b geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN b IS NULL OR ST_IsEmpty(b) THEN a ELSE ST_Difference(a, b, gp_grid()) END
$$;

-- An undo or redo operation names the operation it reverts.
ALTER TABLE change ADD COLUMN reverts bigint;

-- Area in m² of a lon/lat polygon whose edges are straight lines in lon/lat, as stored: the
-- integral of R² cos(lat) over the polygon, by Green's theorem, segment by segment
--   ∮ R² sin(φ) dλ,  with φ linear in λ along each edge.
-- Unlike ST_Area(geography), which bends edges into geodesics, it is additive: the parts of a
-- split add up to the whole. R is the authalic radius (within ~0.3% of ellipsoidal areas).
CREATE FUNCTION gp_area_m2(g geometry) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  WITH seg AS (
    SELECT d.path[1] AS poly, d.path[2] AS ring,
           radians(ST_X(ST_StartPoint(d.geom))) AS l1, radians(ST_Y(ST_StartPoint(d.geom))) AS p1,
           radians(ST_X(ST_EndPoint(d.geom))) AS l2, radians(ST_Y(ST_EndPoint(d.geom))) AS p2
    FROM ST_DumpSegments(ST_Multi(ST_CollectionExtract(g, 3))) AS d
  ),
  ring AS (
    SELECT ring, abs(sum(CASE WHEN abs(p2 - p1) < 1e-15 THEN (l2 - l1) * sin(p1)
                              ELSE (l2 - l1) * (cos(p1) - cos(p2)) / (p2 - p1) END)) AS a
    FROM seg GROUP BY poly, ring
  )
  SELECT coalesce(sum(CASE WHEN ring = 1 THEN a ELSE -a END), 0) * 6371007.2 ^ 2 FROM ring
$$;

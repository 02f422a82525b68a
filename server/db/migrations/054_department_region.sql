-- A department may be a county's own (a city's nine counties each have a 公安 and a 住建 of their own), or the
-- city's, or serve the whole plan (no region, as before). A department serves cases in its region only: the centre
-- is offered, a hotline order is sent to, and a case can be given (吹哨, 改派) only to departments whose region
-- holds the case; a region's wall and queue list the departments of that region, above it and below it.
-- No foreign key, as for hotline keys: a department whose region was removed serves nowhere rather than everywhere.
ALTER TABLE department ADD COLUMN region_id integer;
CREATE INDEX department_region_idx ON department (region_id);

-- Whether a department of region `dep_region` serves a case at `place` (a grid; NULL: not known, any department).
CREATE FUNCTION gp_serves(dep_region integer, place integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT dep_region IS NULL OR place IS NULL OR EXISTS (SELECT 1 FROM gp_ancestors(ARRAY[place]) a WHERE a.id = dep_region)
$$;

-- Whether a department of region `dep_region` has any part in region `r` (NULL: the whole plan): it serves all of it
-- (its region holds r) or part of it (r holds its region).
CREATE FUNCTION gp_overlaps(dep_region integer, r integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT gp_serves(dep_region, r) OR EXISTS (SELECT 1 FROM gp_ancestors(ARRAY[dep_region]) a WHERE a.id = r)
$$;

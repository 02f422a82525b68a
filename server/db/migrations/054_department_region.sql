-- A department may be a county's own (a city's nine counties each have a 公安 and a 住建 of their own), or the
-- city's, or serve the whole plan (no region, as before). A department serves cases in its region only: the centre
-- is offered, a hotline order is sent to, and a case can be given (吹哨, 改派) only to departments whose region
-- holds the case; a region's wall and queue list the departments of that region, above it and below it.
-- No foreign key, as for hotline keys: a department whose region was removed serves nowhere rather than everywhere.
ALTER TABLE department ADD COLUMN region_id integer;
CREATE INDEX department_region_idx ON department (region_id);

-- Whether a department of region `dep_region` serves a case at `place` (a grid, or the region holding the case). A case
-- whose place is not known (outside the plan) is served by the whole plan's departments only.
CREATE FUNCTION gp_serves(dep_region integer, place integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT dep_region IS NULL OR (place IS NOT NULL AND EXISTS (SELECT 1 FROM gp_ancestors(ARRAY[place]) a WHERE a.id = dep_region))
$$;

-- Whether a department of region `dep_region` has any part in region `r` (NULL: the whole plan, where every one has):
-- it serves all of it (its region holds r) or part of it (r holds its region).
CREATE FUNCTION gp_overlaps(dep_region integer, r integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT r IS NULL OR gp_serves(dep_region, r) OR EXISTS (SELECT 1 FROM gp_ancestors(ARRAY[dep_region]) a WHERE a.id = r)
$$;

-- The region tree's two walks, written once: every query that needs a subtree or a region's
-- ancestors calls these instead of its own recursive CTE. Plain SQL, STABLE: the planner inlines them.

-- A region and everything below it, with each one's level and depth below the root (0: the root).
-- Grids have no children: the walk does not look for any (on a district, 4,000 index probes fewer).
CREATE FUNCTION gp_subtree(root integer) RETURNS TABLE (id integer, level text, depth integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH RECURSIVE down AS (
    SELECT r.id, r.level, 0 AS depth FROM region r WHERE r.id = root
    UNION ALL
    SELECT c.id, c.level, d.depth + 1 FROM region c JOIN down d ON c.parent_id = d.id WHERE d.level <> 'grid'
  )
  SELECT down.id, down.level, down.depth FROM down
$$;

-- Regions and every region above them, each with its least depth above one of them (0: given).
CREATE FUNCTION gp_ancestors(ids integer[]) RETURNS TABLE (id integer, depth integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH RECURSIVE up AS (
    SELECT r.id, r.parent_id, 0 AS depth FROM region r WHERE r.id = ANY (ids)
    UNION ALL
    SELECT p.id, p.parent_id, u.depth + 1 FROM region p JOIN up u ON p.id = u.parent_id
  )
  SELECT up.id, min(up.depth)::int FROM up GROUP BY up.id
$$;

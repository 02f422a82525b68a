import type { Queryable } from './db.ts';

/**
 * Rebalancing an existing plan after new housing or a changed rule: which grids stay as they are.
 *
 * Every grid that still meets its own type's rule (the district's range, one polygon) is kept; the
 * rest of each village — grids out of range, land without a grid — is divided again. A free piece
 * that holds fewer households than its village's minimum cannot become a grid of its own, so the
 * kept neighbour with the fewest households is released to join it, until every free piece can
 * (or no neighbour is left). The caller divides the free pieces with the kept grids as walls.
 */
export async function gridsToKeep(
  tx: Queryable,
  regionId: number,
  minOf: ReadonlyMap<number, number>,
  range: { min?: number | undefined; max?: number | undefined } = {},
): Promise<{ keep: number[]; released: number[] }> {
  const { rows } = await tx.query<{ id: number; village_id: number }>(
    `SELECT g.id, g.parent_id AS village_id
     FROM gp_subtree($1) down JOIN region g ON g.parent_id = down.id AND g.level = 'grid'
       JOIN grid_range r ON r.grid_id = g.id
     WHERE down.level = 'village' AND g.household_count BETWEEN coalesce($2, r.lo) AND coalesce($3, r.hi) AND NOT gp_split_grid(g.geom, g.parent_id)
     ORDER BY g.id`,
    [regionId, range.min ?? null, range.max ?? null],
  );
  const keep = new Set(rows.map((r) => r.id));
  const villages = [...new Set(rows.map((r) => r.village_id))];
  const released: number[] = [];
  const mins = villages.map((v) => minOf.get(v) ?? 0);
  // One release per short free piece per round; a released grid may bring its piece up to the minimum.
  for (let round = 0; round < 200 && keep.size > 0; round++) {
    const { rows: release } = await tx.query<{ id: number }>(
      `WITH v AS (SELECT * FROM unnest($1::int[], $2::int[]) AS v(id, lo)),
       free AS (
         SELECT v.id AS village_id, v.lo, d.geom
         FROM v JOIN region r ON r.id = v.id,
           LATERAL ST_Dump(gp_difference(r.geom, (SELECT ST_Union(g.geom, gp_grid()) FROM region g WHERE g.parent_id = v.id AND g.id = ANY($3::int[])))) d
         WHERE gp_area_m2(d.geom) > 1
       ),
       short AS (
         SELECT f.*, row_number() OVER () AS piece FROM free f
         WHERE (SELECT count(*) FROM household h WHERE h.geom && f.geom AND ST_Intersects(f.geom, h.geom)) < f.lo
       )
       SELECT DISTINCT ON (s.piece) g.id
       FROM short s JOIN region g ON g.parent_id = s.village_id AND g.id = ANY($3::int[]) AND g.geom && s.geom
         AND ST_Length(ST_Intersection(ST_Boundary(g.geom), ST_Boundary(s.geom), gp_grid())) > 0
       ORDER BY s.piece, g.household_count, g.id`,
      [villages, mins, [...keep]],
    );
    const ids = [...new Set(release.map((r) => r.id))].filter((id) => keep.has(id));
    if (ids.length === 0) break;
    for (const id of ids) {
      keep.delete(id);
      released.push(id);
    }
  }
  return { keep: [...keep].sort((a, b) => a - b), released };
}

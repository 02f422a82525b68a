import type { Queryable } from './db.ts';

/**
 * Points every household (or those with `region_id IS NULL` when `onlyUnassigned`) at the finest
 * region containing it: its grid, else its village, township or district.
 */
export async function assignHouseholds(tx: Queryable, onlyUnassigned = false): Promise<void> {
  if (!onlyUnassigned) await tx.query('UPDATE household SET region_id = NULL');
  for (const level of ['grid', 'village', 'township', 'district']) {
    await tx.query(
      `UPDATE household h SET region_id = r.id
       FROM region r
       WHERE h.region_id IS NULL AND r.level = $1 AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)`,
      [level],
    );
  }
}

/** Recomputes `region.household_count` for every region, bottom-up through the four levels. */
export async function recountHouseholds(tx: Queryable): Promise<void> {
  for (const level of ['grid', 'village', 'township', 'district']) {
    await tx.query(
      `UPDATE region r SET household_count =
         (SELECT count(*) FROM household h WHERE h.region_id = r.id)
         + coalesce((SELECT sum(c.household_count) FROM region c WHERE c.parent_id = r.id), 0)
       WHERE r.level = $1`,
      [level],
    );
  }
}

/**
 * Re-finds the finest containing region of every household inside the given regions or
 * assigned to them (after they were created, reshaped or deleted).
 */
export async function reassignHouseholdsIn(tx: Queryable, regionIds: number[]): Promise<void> {
  if (regionIds.length === 0) return;
  await tx.query(
    // Two index lookups (filed there, lying there) rather than one OR that scans every household.
    `WITH affected AS (
       SELECT h.id FROM household h WHERE h.region_id = ANY($1::int[])
       UNION SELECT h.id FROM region r JOIN household h ON r.geom && h.geom AND ST_Intersects(r.geom, h.geom) WHERE r.id = ANY($1::int[]))
     UPDATE household h SET region_id = NULL FROM affected a WHERE a.id = h.id`,
    [regionIds],
  );
  await assignHouseholds(tx, true);
}

/** Recounts households of the given regions and all their ancestors, bottom-up. */
export async function recountHouseholdsAround(tx: Queryable, regionIds: number[]): Promise<void> {
  if (regionIds.length === 0) return;
  const { rows } = await tx.query<{ ids: number[] }>(
    `SELECT coalesce(array_agg(id), '{}') AS ids FROM gp_ancestors($1::int[])`,
    [regionIds],
  );
  for (const level of ['grid', 'village', 'township', 'district']) {
    await tx.query(
      `UPDATE region r SET household_count =
         (SELECT count(*) FROM household h WHERE h.region_id = r.id)
         + coalesce((SELECT sum(c.household_count) FROM region c WHERE c.parent_id = r.id), 0)
       WHERE r.level = $1 AND r.id = ANY($2::int[])`,
      [level, rows[0]!.ids],
    );
  }
}

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

/** Re-finds the finest containing region of every household inside the given regions (after they were created or changed). */
export async function reassignHouseholdsIn(tx: Queryable, regionIds: number[]): Promise<void> {
  if (regionIds.length === 0) return;
  await tx.query(
    `UPDATE household h SET region_id = NULL
     FROM region r
     WHERE r.id = ANY($1::int[]) AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)`,
    [regionIds],
  );
  await assignHouseholds(tx, true);
}

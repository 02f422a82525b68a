import type { HouseholdInput } from '../domain/household-input.ts';
import type { Db, Queryable } from './db.ts';
import { assignHouseholds, recountHouseholds, recountHouseholdsAround, regionLocator } from './households.ts';
import { nextOp, recordHouseholdBatch, updateHouseholds, type HouseholdUpdate } from './household-batches.ts';

/** Rows located between progress reports. */
const CHUNK = 5_000;

export type ImportProgress = { stage: 'parsing' | 'locating' | 'saving'; rows: number; total?: number };

export interface HouseholdImportResult {
  /** The operation undo takes back. */
  op: number;
  imported: number;
  assigned: { grid: number; coarser: number };
  outside: { count: number; indexes: number[] };
}

/** The plan's last change, to tell whether located households still lie where they were found. */
const planStamp = async (db: Queryable) =>
  (await db.query<{ s: string }>(`SELECT coalesce(max(id), 0)::text || ':' || (SELECT count(*) FROM region)::text AS s FROM change WHERE entity = 'region'`))
    .rows[0]!.s;

/**
 * The finest region holding a point (grid, else village, township, district; the lowest id where it
 * lies on a shared border), as SQL over a point expression: the reference `PointLocator` is held to.
 * The grid first, and the coarser levels — whose big polygons cost most to test — only for a point
 * in no grid.
 */
export const finestRegionSql = (g: string) => `coalesce(
    (SELECT r.id FROM region r WHERE r.level = 'grid' AND r.geom && ${g} AND ST_Intersects(r.geom, ${g}) ORDER BY r.id LIMIT 1),
    (SELECT r.id FROM region r WHERE r.level <> 'grid' AND r.geom && ${g} AND ST_Intersects(r.geom, ${g})
     ORDER BY CASE r.level WHEN 'village' THEN 1 WHEN 'township' THEN 2 ELSE 3 END, r.id LIMIT 1))`;

/** Each household's finest region, found in memory (a region's id, or null outside every district). */
async function locateAll(q: Queryable, rows: HouseholdInput[], onProgress?: (done: number) => void | Promise<void>): Promise<(number | null)[]> {
  const locator = await regionLocator(q, rows);
  const out: (number | null)[] = new Array<number | null>(rows.length);
  for (let i = 0; i < rows.length; i += CHUNK) {
    for (let j = i; j < Math.min(i + CHUNK, rows.length); j++) out[j] = locator.locate(rows[j]!.lon, rows[j]!.lat);
    await onProgress?.(Math.min(i + CHUNK, rows.length));
  }
  return out;
}

/**
 * Imports households without holding the database while they are located: the plan's regions are
 * read once and each household found in memory (130,000 took about 5 s of index probes in the
 * database), then one short transaction writes them all into the plan — or, when anything fails,
 * none. If the plan changed while they were located, that transaction locates them again first.
 */
export async function importHouseholds(
  db: Db,
  actor: string,
  rows: HouseholdInput[],
  format: string,
  onProgress: (p: ImportProgress) => void | Promise<void>,
  options: { updates?: HouseholdUpdate[] } = {},
): Promise<HouseholdImportResult> {
  const updates = options.updates ?? [];
  const stamp = await planStamp(db);
  let regions = await locateAll(db, rows, (done) => onProgress({ stage: 'locating', rows: done, total: rows.length }));
  await onProgress({ stage: 'saving', rows: rows.length, total: rows.length });
  return await db.transaction(async (tx) => {
    // Someone changed the plan meanwhile: where each household lies is looked up again.
    if ((await planStamp(tx)) !== stamp) regions = await locateAll(tx, rows);
    const op = await nextOp(tx);
    const {
      rows: [moved],
    } = await tx.query<{ n: number }>(
      `WITH ins AS (INSERT INTO household (geom, size, address, region_id, import_op, head_name, phone)
                    SELECT ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326), u.size, u.address, u.region, $6, u.head, u.phone
                    FROM unnest($1::float8[], $2::float8[], $3::int[], $4::text[], $5::int[], $7::text[], $8::text[])
                      WITH ORDINALITY AS u(lon, lat, size, address, region, head, phone, ord)
                    WHERE u.region IS NOT NULL ORDER BY u.ord RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      [
        rows.map((r) => r.lon),
        rows.map((r) => r.lat),
        rows.map((r) => r.size),
        rows.map((r) => r.address),
        regions,
        op,
        rows.map((r) => r.head ?? ''),
        rows.map((r) => r.phone ?? ''),
      ],
    );
    const changed = await updateHouseholds(tx, updates);
    // in no region at all is in no district: outside the plan
    const outside = regions.flatMap((id, i) => (id === null ? [i] : []));
    // households already in the plan without a region may lie in one now: then every count again; else only the counts
    // of the regions the new households went into, and above them (a list of 24 recounted a district's 4,500 regions)
    if ((await tx.query('SELECT 1 FROM household WHERE region_id IS NULL LIMIT 1')).rows.length > 0) {
      await assignHouseholds(tx, true);
      await recountHouseholds(tx);
    } else await recountHouseholdsAround(tx, [...new Set(regions.filter((id): id is number => id !== null))]);
    const {
      rows: [counts],
    } = await tx.query<{ grid: number; coarser: number }>(
      `SELECT count(*) FILTER (WHERE r.level = 'grid')::int AS grid, count(*) FILTER (WHERE r.level <> 'grid')::int AS coarser
       FROM household h JOIN region r ON r.id = h.region_id`,
    );
    await recordHouseholdBatch(
      tx,
      op,
      actor,
      'import',
      { batch: op, present: false, ...changed.before },
      { batch: op, present: true, ...changed.after },
      null,
      {
        imported: moved!.n,
        outside: outside.length,
        format,
      },
    );
    return {
      op,
      imported: moved!.n,
      assigned: counts ?? { grid: 0, coarser: 0 },
      outside: { count: outside.length, indexes: outside.slice(0, 1000) },
    };
  });
}

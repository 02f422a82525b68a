import { randomUUID } from 'node:crypto';
import type { HouseholdInput } from '../domain/household-input.ts';
import type { Db, Queryable } from './db.ts';
import { assignHouseholds, recountHouseholds } from './households.ts';
import { nextOp, recordHouseholdBatch, updateSizes } from './household-batches.ts';

/** Rows staged per short transaction: small enough that readers wait at most a fraction of a second. */
const CHUNK = 5_000;

export type ImportProgress = { stage: 'parsing' | 'locating' | 'saving'; rows: number; total?: number };

export interface HouseholdImportResult {
  /** The operation undo takes back. */
  op: number;
  imported: number;
  assigned: { grid: number; coarser: number };
  outside: { count: number; indexes: number[] };
}

/** The plan's last change, to tell whether staged locations still hold. */
const planStamp = async (db: Queryable) =>
  (await db.query<{ s: string }>(`SELECT coalesce(max(id), 0)::text || ':' || (SELECT count(*) FROM region)::text AS s FROM change WHERE entity = 'region'`))
    .rows[0]!.s;

/**
 * Locates staged households in their finest region (grid, else village, township, district): the
 * grid first, and the coarser levels — whose big polygons cost most to test — only for a household
 * in no grid. (Testing every level for every household took 4× as long.)
 */
const LOCATE = `UPDATE import_household s SET region_id = coalesce(
    (SELECT r.id FROM region r WHERE r.level = 'grid' AND r.geom && s.geom AND ST_Intersects(r.geom, s.geom) ORDER BY r.id LIMIT 1),
    (SELECT r.id FROM region r WHERE r.level <> 'grid' AND r.geom && s.geom AND ST_Intersects(r.geom, s.geom)
     ORDER BY CASE r.level WHEN 'village' THEN 1 WHEN 'township' THEN 2 ELSE 3 END, r.id LIMIT 1))`;

/**
 * Imports households without holding the database: each chunk is staged and located in a short
 * transaction of its own, and only the last, short transaction writes them into the plan — all of
 * them or, when anything fails, none (staged rows are dropped; a crash leaves only staged rows,
 * which the server empties at start). If the plan changed while the file was staged, the last
 * transaction locates the households again.
 */
export async function importHouseholds(
  db: Db,
  actor: string,
  rows: HouseholdInput[],
  format: string,
  onProgress: (p: ImportProgress) => void | Promise<void>,
  options: { updates?: { id: number; size: number }[] } = {},
): Promise<HouseholdImportResult> {
  const updates = options.updates ?? [];
  const importId = randomUUID();
  const stamp = await planStamp(db);
  try {
    for (let i = 0; i < rows.length; i += CHUNK) {
      const part = rows.slice(i, i + CHUNK);
      await db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO import_household (import_id, ord, geom, size, address, inside)
           SELECT $1, $2 + u.ord::int - 1, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326), u.size, u.address, true
           FROM unnest($3::float8[], $4::float8[], $5::int[], $6::text[]) WITH ORDINALITY AS u(lon, lat, size, address, ord)`,
          [importId, i, part.map((r) => r.lon), part.map((r) => r.lat), part.map((r) => r.size), part.map((r) => r.address)],
        );
        await tx.query(`${LOCATE} WHERE s.import_id = $1 AND s.ord >= $2`, [importId, i]);
        // in no region at all is in no district: outside the plan
        await tx.query('UPDATE import_household SET inside = false WHERE import_id = $1 AND ord >= $2 AND region_id IS NULL', [importId, i]);
      });
      await onProgress({ stage: 'locating', rows: Math.min(i + CHUNK, rows.length), total: rows.length });
    }
    await onProgress({ stage: 'saving', rows: rows.length, total: rows.length });
    return await db.transaction(async (tx) => {
      // Someone changed the plan meanwhile: where each household lies is looked up again.
      if ((await planStamp(tx)) !== stamp) await tx.query(`${LOCATE} WHERE s.import_id = $1 AND s.inside`, [importId]);
      const op = await nextOp(tx);
      const {
        rows: [moved],
      } = await tx.query<{ n: number }>(
        `WITH ins AS (INSERT INTO household (geom, size, address, region_id, import_op)
                      SELECT geom, size, address, region_id, $2 FROM import_household WHERE import_id = $1 AND inside ORDER BY ord RETURNING 1)
         SELECT count(*)::int AS n FROM ins`,
        [importId, op],
      );
      const sizes = await updateSizes(tx, updates);
      const { rows: outside } = await tx.query<{ ord: number }>('SELECT ord FROM import_household WHERE import_id = $1 AND NOT inside ORDER BY ord', [
        importId,
      ]);
      await tx.query('DELETE FROM import_household WHERE import_id = $1', [importId]);
      // households already in the plan without a region may lie in one now
      await assignHouseholds(tx, true);
      await recountHouseholds(tx);
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
        { batch: op, present: false, sizes: sizes.before },
        { batch: op, present: true, sizes: sizes.after },
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
        outside: { count: outside.length, indexes: outside.slice(0, 1000).map((r) => r.ord) },
      };
    });
  } finally {
    await db.query('DELETE FROM import_household WHERE import_id = $1', [importId]).catch(() => {});
  }
}

/** Staged rows of imports that never finished (the server stopped mid-way): dropped at start. */
export async function clearStagedImports(db: Queryable): Promise<void> {
  await db.query('TRUNCATE import_household');
}

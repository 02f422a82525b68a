import { GRID_TYPE_NAMES, type GridType } from '../domain/grid-types.ts';
import type { Queryable } from './db.ts';

/** What /api/health reports of the database. */
export async function healthFigures(db: Queryable): Promise<{ postgis: string; regions: number; households: number }> {
  const { rows } = await db.query<{ postgis: string; regions: number; households: number }>(
    `SELECT postgis_lib_version() AS postgis, (SELECT count(*)::int FROM region) AS regions, (SELECT count(*)::int FROM household) AS households`,
  );
  return rows[0]!;
}

/** The grid types with their default household ranges (a district's own rules aside). */
export async function defaultGridTypes(db: Queryable) {
  const { rows } = await db.query<{ grid_type: GridType; min_households: number; max_households: number; target_households: number }>(
    'SELECT grid_type, min_households, max_households, target_households FROM grid_type_rule WHERE district_id IS NULL ORDER BY id',
  );
  return rows.map((r) => ({
    gridType: r.grid_type,
    ...GRID_TYPE_NAMES[r.grid_type],
    min: r.min_households,
    max: r.max_households,
    target: r.target_households,
  }));
}

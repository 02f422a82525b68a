import type { Level } from '../domain/hierarchy.ts';
import type { RegionCollection, RegionFeature } from '../schemas/region.ts';
import type { Queryable } from './db.ts';

/**
 * When the plan is read: now (null), or as it was at a moment — then every region comes from
 * `region_history` (migration 019), households are counted as they lie today within each region
 * as it was, and staff is not shown (it has no history yet).
 */
export type PlanTime = Date | null;

/** The relation holding the plan at `at` (an instant we made, never text from a request). */
export const planAt = (at: PlanTime) => (at ? `gp_plan_at('${at.toISOString()}'::timestamptz)` : 'region');

/**
 * Households (as they lie today) in a region of a past plan: the live count where the region is
 * still as it was (most of them, and cheap), else counted within its old shape.
 */
export const householdsAt = (r: string) =>
  `CASE WHEN ${r}.unchanged THEN (SELECT x.household_count FROM region x WHERE x.id = ${r}.id)
   ELSE (SELECT count(*)::int FROM household h WHERE h.geom && ${r}.geom AND ST_Intersects(${r}.geom, h.geom)) END`;

/** A region's ancestors at `at` (as gp_ancestors: id, depth above it). */
const ancestorsAt = (at: PlanTime) =>
  at
    ? `(WITH RECURSIVE up AS (SELECT p.id, p.parent_id, 0 AS depth FROM ${planAt(at)} p WHERE p.id = r.id
        UNION ALL SELECT q.id, q.parent_id, u.depth + 1 FROM ${planAt(at)} q JOIN up u ON q.id = u.parent_id)
       SELECT id, depth FROM up)`
    : 'gp_ancestors(ARRAY[r.id])';

/** Region ids of a subtree at `at` (`root` a parameter placeholder), its root excluded. */
export const subtreeAt = (at: PlanTime, root: string) =>
  at
    ? `(WITH RECURSIVE down AS (SELECT p.id, p.level, 0 AS depth FROM ${planAt(at)} p WHERE p.id = ${root}
        UNION ALL SELECT c.id, c.level, d.depth + 1 FROM ${planAt(at)} c JOIN down d ON c.parent_id = d.id WHERE d.level <> 'grid')
       SELECT id FROM down WHERE depth > 0)`
    : `(SELECT id FROM gp_subtree(${root}) WHERE depth > 0)`;

// Display geometry: 6 decimals (~0.1 m) keeps responses small without visible loss.
const feature = (at: PlanTime) => `json_build_object(
  'type', 'Feature',
  'id', r.id,
  'geometry', ST_AsGeoJSON(r.geom, 6)::json,
  'properties', json_build_object(
    'id', r.id, 'parentId', r.parent_id, 'level', r.level, 'code', r.code, 'name', r.name, 'statCode', r.stat_code,
    'gridType', r.grid_type, 'workerId', r.worker_id, 'workerName', w.name,
    'households', ${at ? householdsAt('r') : 'r.household_count'},
    'version', r.version,
    'children', (SELECT count(*) FROM ${planAt(at)} c WHERE c.parent_id = r.id),
    'areaM2', ${at ? `CASE WHEN r.unchanged THEN (SELECT x.area_m2 FROM region x WHERE x.id = r.id) ELSE gp_area_m2(r.geom) END` : 'r.area_m2'},
    'label', json_build_array(round(ST_X(ST_PointOnSurface(r.geom))::numeric, 6), round(ST_Y(ST_PointOnSurface(r.geom))::numeric, 6))
  ))`;

async function collection(tx: Queryable, where: string, params: unknown[], at: PlanTime = null): Promise<RegionCollection> {
  const { rows } = await tx.query<{ fc: RegionCollection }>(
    `SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(${feature(at)} ORDER BY r.code), '[]'::json)) AS fc
     FROM ${planAt(at)} r LEFT JOIN worker w ON w.id = r.worker_id
     WHERE ${where}`,
    params,
  );
  return rows[0]!.fc;
}

/** The regions on top: cities, and districts that stand alone. */
export const districts = (tx: Queryable) => collection(tx, 'r.parent_id IS NULL', []);
export const byCode = (tx: Queryable, code: string) => collection(tx, 'r.code = $1', [code]);

/**
 * Regions whose name contains `q` or whose code starts with it: the 20 best — coarse levels first, a
 * name that is `q` itself before names that hold it — in that order, each with where it lies
 * (`place`: its county, township and village), and whether more match (`more`). At city scale a
 * name is seldom unique (three 白山村, thousands of 第1网格): the place tells them apart.
 */
export async function search(tx: Queryable, q: string): Promise<RegionCollection> {
  const { rows } = await tx.query<{ id: number }>(
    // (and by the 12-digit 统计用区划代码 a county's files carry, kept beside our codes)
    `SELECT id FROM region WHERE strpos(name, $1) > 0 OR code LIKE $2 || '%' OR stat_code LIKE $2 || '%'
     ORDER BY array_position(ARRAY['city', 'district', 'township', 'village', 'grid'], level), name <> $1, code LIMIT 21`,
    [q, q.replace(/[\\%_]/g, '\\$&')],
  );
  const ids = rows.slice(0, 20).map((r) => r.id);
  const fc = await collection(tx, 'r.id = ANY($1::int[])', [ids]);
  const { rows: places } = await tx.query<{ id: number; place: string }>(
    `SELECT x.id, string_agg(a.name, ' ' ORDER BY up.depth DESC) AS place
     FROM unnest($1::int[]) AS x(id) CROSS JOIN LATERAL gp_ancestors(ARRAY[x.id]) up JOIN region a ON a.id = up.id
     WHERE up.depth > 0 AND a.level IN ('district', 'township', 'village') GROUP BY x.id`,
    [ids],
  );
  const placeOf = new Map(places.map((p) => [p.id, p.place]));
  const order = new Map(ids.map((id, i) => [id, i]));
  fc.features.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  for (const f of fc.features) f.properties.place = placeOf.get(f.id) ?? '';
  return { ...fc, more: rows.length > 20 };
}
export const childrenOf = (tx: Queryable, id: number, at: PlanTime = null) => collection(tx, 'r.parent_id = $1', [id], at);

/** Every region at `level` below region `id`. */
export const descendantsOf = (tx: Queryable, id: number, level: Level, at: PlanTime = null) =>
  collection(tx, `r.level = $2 AND r.id IN ${subtreeAt(at, '$1')}`, [id, level], at);

/** One region with its ancestors (for the breadcrumb) and bounding box, or null. */
export async function regionById(tx: Queryable, id: number, at: PlanTime = null): Promise<RegionFeature | null> {
  const { rows } = await tx.query<{
    f: RegionFeature;
    ancestors: RegionFeature['properties']['ancestors'];
    bbox: [number, number, number, number];
    staff: RegionFeature['properties']['staff'];
  }>(
    `SELECT ${feature(at)} AS f,
       (SELECT coalesce(json_agg(json_build_object('id', a.id, 'level', a.level, 'code', a.code, 'name', a.name) ORDER BY up.depth DESC), '[]'::json)
          FROM ${ancestorsAt(at)} up JOIN ${planAt(at)} a ON a.id = up.id WHERE up.depth > 0) AS ancestors,
       json_build_array(ST_XMin(r.geom), ST_YMin(r.geom), ST_XMax(r.geom), ST_YMax(r.geom)) AS bbox,
       ${
         at
           ? `'[]'::json`
           : `(SELECT coalesce(json_agg(json_build_object('workerId', sw.id, 'name', sw.name, 'phone', sw.phone, 'role', s.role)
                                   ORDER BY sr.sort, sw.id), '[]'::json)
          FROM grid_staff s JOIN worker sw ON sw.id = s.worker_id JOIN staff_role sr ON sr.code = s.role WHERE s.grid_id = r.id)`
       } AS staff
     FROM ${planAt(at)} r LEFT JOIN worker w ON w.id = r.worker_id
     WHERE r.id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return null;
  return { ...row.f, properties: { ...row.f.properties, ancestors: row.ancestors, bbox: row.bbox, staff: row.staff } };
}

export async function regionLevel(tx: Queryable, id: number): Promise<{ level: Level; code: string; name: string } | null> {
  const { rows } = await tx.query<{ level: Level; code: string; name: string }>('SELECT level, code, name FROM region WHERE id = $1', [id]);
  return rows[0] ?? null;
}

export const byIds = (tx: Queryable, ids: number[]) => collection(tx, 'r.id = ANY($1::int[])', [ids]);

/** Regions and every region above them, with the least depth above one of them (0: given). */
export async function ancestorsWithDepth(db: Queryable, ids: number[]): Promise<{ id: number; depth: number }[]> {
  const { rows } = await db.query<{ id: number; depth: number }>('SELECT id, depth FROM gp_ancestors($1::int[])', [ids]);
  return rows;
}

/** Whether a region exists. */
/** Whether a region exists now, or existed at `at`. */
export async function regionAt(db: Queryable, id: number, at: PlanTime): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM ${planAt(at)} r WHERE r.id = $1`, [id])).rows.length > 0;
}

export async function regionExists(db: Queryable, id: number): Promise<boolean> {
  return (await db.query('SELECT 1 FROM region WHERE id = $1', [id])).rows.length > 0;
}

/**
 * The grids under a region (or those of `only` that are), as a list: passed on as an `int[]`, the planner counts them,
 * where a subtree walked inside a query it guessed at a handful and joined grid by grid (a city's 21,643 grids).
 */
export async function gridIdsUnder(db: Queryable, regionId: number, only?: number[] | null): Promise<number[]> {
  const { rows } = await db.query<{ ids: number[] | null }>(
    `SELECT array_agg(s.id ORDER BY s.id) AS ids FROM gp_subtree($1) s WHERE s.level = 'grid' AND ($2::int[] IS NULL OR s.id = ANY($2::int[]))`,
    [regionId, only ?? null],
  );
  return rows[0]?.ids ?? [];
}

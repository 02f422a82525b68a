import type { Level } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';

/** One region as an export gives it: what the offices that receive the plan ask for. */
export interface ExportRegion {
  level: Level;
  code: string;
  statCode: string | null;
  name: string;
  parentCode: string | null;
  parentName: string | null;
  gridType: string | null;
  households: number;
  areaM2: number;
  worker: string | null;
  phone: string | null;
  /** A grid's other staff, by role (in the staffing model's order). */
  staff: { role: string; roleZh: string; name: string; phone: string }[];
  /** A grid: households within its type's range, a full-time worker, one polygon. */
  passes: boolean | null;
  geometry: GeoJSON.MultiPolygon;
}

/** The region and every region of the given levels below it, in code order. */
export async function exportRegions(db: Queryable, rootId: number, levels: Level[]): Promise<ExportRegion[]> {
  const { rows } = await db.query<ExportRegion>(
    `SELECT r.level, r.code, r.stat_code AS "statCode", r.name, p.code AS "parentCode", p.name AS "parentName", r.grid_type AS "gridType",
            r.household_count AS households, round(gp_area_m2(r.geom)::numeric, 1)::float8 AS "areaM2", w.name AS worker, w.phone,
            coalesce((SELECT json_agg(json_build_object('role', s.role, 'roleZh', sr.zh, 'name', sw.name, 'phone', sw.phone) ORDER BY sr.sort, sw.name)
                      FROM grid_staff s JOIN worker sw ON sw.id = s.worker_id JOIN staff_role sr ON sr.code = s.role WHERE s.grid_id = r.id), '[]') AS staff,
            gr.passes, ST_AsGeoJSON(r.geom, 9)::json AS geometry
     FROM gp_subtree($1) t JOIN region r ON r.id = t.id
       LEFT JOIN region p ON p.id = r.parent_id
       LEFT JOIN worker w ON w.id = r.worker_id
       LEFT JOIN grid_range gr ON gr.grid_id = r.id
     WHERE r.level = ANY($2::text[])
     ORDER BY array_position($2::text[], r.level::text), r.code`,
    [rootId, levels],
  );
  return rows;
}

import { FILED_ORDER } from './incidents.ts';
import type { Level } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';
import { filterSql, type IncidentFilter } from './incidents.ts';

/** One region as an export gives it: what the offices that receive the plan ask for. */
export interface ExportRegion {
  id: number;
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
  // the staff gathered once per grid (a subquery per row read the worker table once per grid)
  const { rows } = await db.query<ExportRegion>(
    `WITH sub AS (SELECT t.id FROM gp_subtree($1) t WHERE t.level = ANY($2::text[])),
     staff AS (
       SELECT s.grid_id, json_agg(json_build_object('role', s.role, 'roleZh', sr.zh, 'name', sw.name, 'phone', sw.phone) ORDER BY sr.sort, sw.name) AS staff
       FROM grid_staff s JOIN sub ON sub.id = s.grid_id JOIN worker sw ON sw.id = s.worker_id JOIN staff_role sr ON sr.code = s.role
       GROUP BY s.grid_id)
     SELECT r.id, r.level, r.code, r.stat_code AS "statCode", r.name, p.code AS "parentCode", p.name AS "parentName", r.grid_type AS "gridType",
            r.household_count AS households, round(gp_area_m2(r.geom)::numeric, 1)::float8 AS "areaM2", w.name AS worker, w.phone,
            coalesce(st.staff, '[]') AS staff, gr.passes, ST_AsGeoJSON(r.geom, 15)::json AS geometry
     FROM sub JOIN region r ON r.id = sub.id
       LEFT JOIN region p ON p.id = r.parent_id
       LEFT JOIN worker w ON w.id = r.worker_id
       LEFT JOIN staff st ON st.grid_id = r.id
       LEFT JOIN grid_range gr ON gr.grid_id = r.id
     ORDER BY array_position($2::text[], r.level::text), r.code`,
    [rootId, levels],
  );
  return rows;
}

/** A household as an export gives it (to roles that may read households). */
export interface ExportHousehold {
  id: number;
  size: number;
  address: string;
  head: string;
  phone: string;
  gridCode: string | null;
  gridName: string | null;
  geometry: GeoJSON.Point;
}

/** The households within a region, by grid and id. */
export async function exportHouseholds(db: Queryable, rootId: number): Promise<ExportHousehold[]> {
  const { rows } = await db.query<ExportHousehold>(
    `SELECT h.id, h.size, h.address, h.head_name AS head, h.phone, g.code AS "gridCode", g.name AS "gridName", ST_AsGeoJSON(h.geom, 9)::json AS geometry
     FROM gp_subtree($1) t JOIN household h ON h.region_id = t.id LEFT JOIN region g ON g.id = h.region_id AND g.level = 'grid'
     ORDER BY g.code NULLS LAST, h.id`,
    [rootId],
  );
  return rows;
}

/** An incident as an export gives it. */
export interface ExportIncident {
  id: number;
  category: string;
  categoryZh: string;
  severity: number;
  status: string;
  source: string;
  reportedAt: string;
  description: string;
  address: string | null;
  gridCode: string | null;
  gridName: string | null;
  /** The grid it was filed in at its time. */
  filedCode: string | null;
  filedName: string | null;
  department: string | null;
  resolvedAt: string | null;
  closedAt: string | null;
  geometry: GeoJSON.Point;
}

/** How many incidents match the analyze filters. */
export async function countIncidents(db: Queryable, filter: IncidentFilter): Promise<number> {
  const f = filterSql(filter, 1);
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM incident i WHERE ${f.where}`, f.params);
  return rows[0]!.n;
}

/** Incidents matching the analyze filters, newest first, at most `limit` (the caller refuses more). */
export async function exportIncidents(db: Queryable, filter: IncidentFilter, limit: number): Promise<{ total: number; rows: ExportIncident[] }> {
  const f = filterSql(filter, 2);
  const local = (col: string) => `to_char(${col} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')`;
  const { rows } = await db.query<ExportIncident & { total: number }>(
    `SELECT i.id, i.category, c.zh AS "categoryZh", i.severity, i.status, i.source, ${local('i.reported_at')} AS "reportedAt", i.description, i.address,
            g.code AS "gridCode", g.name AS "gridName",
            fh.code AS "filedCode", fh.name AS "filedName",
            i.department, ${local('i.resolved_at')} AS "resolvedAt", ${local('i.closed_at')} AS "closedAt",
            ST_AsGeoJSON(i.geom, 7)::json AS geometry, count(*) OVER ()::int AS total
     FROM incident i JOIN incident_category c ON c.code = i.category LEFT JOIN region g ON g.id = i.grid_id
       -- the grid it was filed in, as it was then: one look for its code and name together
       LEFT JOIN LATERAL (SELECT h.code, h.name FROM region_history h WHERE h.id = i.filed_grid_id ${FILED_ORDER}) fh ON true
     WHERE ${f.where} ORDER BY i.reported_at DESC, i.id DESC LIMIT $1`,
    [limit, ...f.params],
  );
  return { total: rows[0]?.total ?? 0, rows };
}

/** What a printed sheet shows: a village's outline and grids with their people. */
export interface PrintSheet {
  village: Omit<ExportRegion, 'staff' | 'passes' | 'worker' | 'phone'>;
  grids: ExportRegion[];
}

/**
 * The plan's version as printed: the published version in force for the printed region (its own,
 * an ancestor's or a descendant's, the newest; a version exists only once it has taken effect), and
 * the plan's last change to regions or staff, which may be a live edit made since.
 */
export async function planVersion(
  db: Queryable,
  regionId: number,
): Promise<{ op: number | null; at: string | null; published: { id: number; name: string; effectiveFrom: string; op: number | null } | null }> {
  // The latest change to this part of the plan: its regions (those removed from it, by their parent),
  // the workers who staff it, and the rules it is judged by. Edits elsewhere in a city leave its stamp alone.
  const { rows } = await db.query<{ op: number | null; at: string | null }>(
    `WITH area AS (SELECT id FROM gp_subtree($1::int)),
          hits AS (
            SELECT op, at FROM change WHERE entity = 'region' AND entity_id IN (SELECT id FROM area)
            UNION ALL
            SELECT op, at FROM change WHERE entity = 'region'
              AND ((before->>'parentId')::int IN (SELECT id FROM area) OR (after->>'parentId')::int IN (SELECT id FROM area))
            UNION ALL
            SELECT op, at FROM change WHERE entity = 'worker' AND entity_id IN (SELECT worker_id FROM region WHERE id IN (SELECT id FROM area))
            UNION ALL
            SELECT op, at FROM change WHERE entity IN ('staff_role', 'staff_requirement', 'grid_type_rule'))
     SELECT max(op)::int AS op, to_char(max(at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS at FROM hits`,
    [regionId],
  );
  // (a version published from a draft that changed nothing wrote no operation: it stands for the plan as it was then)
  const { rows: versions } = await db.query<{ id: number; name: string; effectiveFrom: string; op: number | null }>(
    `SELECT v.id, v.name, to_char(v.effective_from AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS "effectiveFrom",
       coalesce(v.op, (SELECT max(c.op) FROM change c WHERE c.at <= v.published_at))::int AS op
     FROM plan_version v
     WHERE v.region_id IN (SELECT id FROM gp_subtree($1::int)) OR v.region_id IN (SELECT id FROM gp_ancestors(ARRAY[$1::int]))
     ORDER BY v.published_at DESC, v.id DESC LIMIT 1`,
    [regionId],
  );
  return { ...(rows[0] ?? { op: null, at: null }), published: versions[0] ?? null };
}

/** The sheets of a map book: one per village under `rootId` (a township, a village, or a grid's village). */
export async function printSheets(db: Queryable, rootId: number): Promise<PrintSheet[]> {
  const rows = await exportRegions(db, rootId, ['village', 'grid']);
  const grids = new Map<string, ExportRegion[]>();
  for (const r of rows) if (r.level === 'grid') grids.set(r.parentCode!, [...(grids.get(r.parentCode!) ?? []), r]);
  return rows.filter((r) => r.level === 'village').map((v) => ({ village: v, grids: grids.get(v.code) ?? [] }));
}

/** What lies in one part (child) of a region: the regions and grids below it, grids with a worker and grids that pass their rules. */
export interface PartFigures {
  id: number;
  townships: number;
  villages: number;
  grids: number;
  staffed: number;
  passing: number;
}

/** A child of a district or city on its printed overview: its outline and what lies in it. */
export interface OverviewPart extends PartFigures {
  code: string;
  name: string;
  level: Level;
  households: number;
  geometry: GeoJSON.MultiPolygon;
}

/**
 * Each child of a region with what lies below it (the plan's list of a city's counties or a county's townships; the printed
 * overview, with their outlines). One walk of each child's subtree; a grid passes as the coverage check judges it.
 */
export async function partFigures(db: Queryable, id: number): Promise<PartFigures[]>;
export async function partFigures(db: Queryable, id: number, outline: true): Promise<OverviewPart[]>;
export async function partFigures(db: Queryable, id: number, outline = false): Promise<PartFigures[]> {
  const more = outline ? `, k.code, k.name, k.level, k.household_count AS households, ST_AsGeoJSON(ST_Multi(k.geom), 6)::json AS geometry` : '';
  // Counted per child first and named after: grouping by the children's own columns sorted every region below
  // them with their parent's outline beside it (a city's 23,000, 70 MB on disk: 3–7 s, now 0.6 s).
  const { rows } = await db.query<PartFigures>(
    `WITH kids AS (SELECT id, code, name, level, household_count, geom FROM region WHERE parent_id = $1),
     below AS (SELECT k.id AS kid, t.level, t.id FROM kids k CROSS JOIN LATERAL gp_subtree(k.id) t
               WHERE t.depth > 0 AND t.level IN ('township', 'village', 'grid')),
     per AS (
       SELECT b.kid,
              count(*) FILTER (WHERE b.level = 'township')::int AS townships,
              count(*) FILTER (WHERE b.level = 'village')::int AS villages,
              count(*) FILTER (WHERE b.level = 'grid')::int AS grids,
              count(*) FILTER (WHERE b.level = 'grid' AND g.worker_id IS NOT NULL)::int AS staffed,
              count(*) FILTER (WHERE b.level = 'grid' AND gr.passes)::int AS passing
       FROM below b LEFT JOIN region g ON g.id = b.id AND b.level = 'grid' LEFT JOIN grid_range gr ON gr.grid_id = g.id
       GROUP BY b.kid)
     SELECT k.id, coalesce(p.townships, 0) AS townships, coalesce(p.villages, 0) AS villages, coalesce(p.grids, 0) AS grids,
            coalesce(p.staffed, 0) AS staffed, coalesce(p.passing, 0) AS passing${more}
     FROM kids k LEFT JOIN per p ON p.kid = k.id
     ORDER BY k.code`,
    [id],
  );
  return rows;
}

/**
 * A district's townships (a city's districts), each with its figures, for the one sheet a district or city prints:
 * its grids are too many for a sheet each (4,378 in Zhanyi), so the overview says where each part stands and the
 * parts print as their own books.
 */
export const overviewParts = (db: Queryable, id: number): Promise<OverviewPart[]> => partFigures(db, id, true);

/** A region's outline as GeoJSON, at full precision (a township book's cover). */
export async function outlineOf(db: Queryable, id: number): Promise<unknown> {
  const { rows } = await db.query<{ g: unknown }>('SELECT ST_AsGeoJSON(ST_Multi(geom), 15)::json AS g FROM region WHERE id = $1', [id]);
  return rows[0]?.g ?? null;
}

/** A region and the regions above it, from the district down, by name and level. */
export async function regionPath(db: Queryable, id: number): Promise<{ id: number; name: string; level: Level; code: string }[]> {
  const { rows } = await db.query<{ id: number; name: string; level: Level; code: string }>(
    `WITH RECURSIVE up AS (
       SELECT r.id, r.parent_id, r.name, r.level, r.code, 0 AS depth FROM region r WHERE r.id = $1
       UNION ALL SELECT p.id, p.parent_id, p.name, p.level, p.code, up.depth + 1 FROM region p JOIN up ON p.id = up.parent_id)
     SELECT id, name, level, code FROM up ORDER BY depth DESC`,
    [id],
  );
  return rows;
}

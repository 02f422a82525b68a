import type { Queryable } from './db.ts';
import { readPolygonRun } from './ewkb.ts';
import { screenTiling } from '../domain/tiling.ts';
import { segmentPattern } from '../domain/hierarchy.ts';
import { ISSUE_KINDS, type CoverageReport, type CoveragePath, type IssueFeature, type IssueKind } from '../domain/coverage-report.ts';

export { ISSUE_KINDS, type CoverageReport, type CoveragePath, type IssueFeature, type IssueKind };

/**
 * Coverage validation: children must tile their parent — no gap, no overlap, nothing outside —
 * and every grid must follow the rules. Each problem is a located GeoJSON feature.
 *
 *   parents in scope ──► union of children ──► gaps (parent − union), outside (union − parent)
 *                   └──► candidate sibling pairs ──► overlaps (a ∩ b)
 *   grids in scope  ──► invalid, multipart, households out of range, no worker, code mismatch
 *   households      ──► in no grid, or assigned to another grid than the one containing them
 *
 * Overlap candidates come from ST_CoverageInvalidEdges where PostGIS has it (3.6 with GEOS ≥ 3.12):
 * only polygons with invalid edges can overlap. Elsewhere (3.3) an && + ST_Relate join finds them.
 * Both paths then measure the same intersections, so they give the same answers.
 */

/**
 * How parents are screened before the full check, and overlap candidates found:
 * - `edges` (default, any PostGIS): children's edges counted in the server (`screenTiling`);
 *   only the children with an unmatched edge are paired with their siblings;
 * - `coverage` (PostGIS 3.6 with GEOS ≥ 3.12): ST_CoverageInvalidEdges flags the children;
 * - `relate` (any PostGIS, all in SQL): edges counted in SQL, every touching pair of siblings
 *   of a suspect parent tested with ST_Relate.
 * All three give the same answers (tested); `edges` is the fastest on both drivers (bench:coverage).
 */

export interface CoverageOptions {
  /** 1: the region's children only; 'all': every level below it. */
  depth: 1 | 'all';
  /** Gaps, overlaps and spills smaller than this (m²) are reported as slivers. */
  toleranceM2: number;
  /** Force an overlap path (tests and benchmarks); by default the fastest available. */
  path?: CoveragePath | undefined;
  /** Most household features to list (all are counted). */
  maxHouseholdFeatures?: number;
}

/** Whether this database's PostGIS has ST_CoverageInvalidEdges (asked each time: one process may hold both drivers). */
export async function hasCoverageFunctions(tx: Queryable): Promise<boolean> {
  return (await tx.query(`SELECT 1 FROM pg_proc WHERE proname = 'st_coverageinvalidedges'`)).rows.length > 0;
}

const km2 = (m2: number) => (m2 >= 1e5 ? `${(m2 / 1e6).toFixed(2)} km²` : `${Math.round(m2)} m²`);

const AREA_MESSAGES: Record<'gap' | 'overlap' | 'outside_parent', (a: number) => { zh: string; en: string }> = {
  gap: (a) => ({ zh: `未被任何下级覆盖的空白 ${km2(a)}`, en: `${km2(a)} not covered by any child` }),
  overlap: (a) => ({ zh: `两个下级重叠 ${km2(a)}`, en: `${km2(a)} covered by two children` }),
  outside_parent: (a) => ({ zh: `超出上级边界 ${km2(a)}`, en: `${km2(a)} outside the parent` }),
};

/** Under the tolerance: a sliver, named by what it is (a hair of a gap, of an overlap, or past the parent's edge). */
const SLIVER_MESSAGES: Record<'gap' | 'overlap' | 'outside_parent', (m2: string) => { zh: string; en: string }> = {
  gap: (a) => ({ zh: `细小缝隙 ${a} m²`, en: `sliver gap of ${a} m²` }),
  overlap: (a) => ({ zh: `细小重叠 ${a} m²`, en: `sliver overlap of ${a} m²` }),
  outside_parent: (a) => ({ zh: `细微超出上级边界 ${a} m²`, en: `sliver of ${a} m² outside the parent` }),
};

/**
 * The parents whose children may not tile them exactly, counted in SQL. In an exact tiling every interior edge
 * is used twice, in opposite directions (rings oriented counter-clockwise), and the edges used
 * once lie on the parent's border and add up to its perimeter. A parent passing this count needs
 * no union and no pairwise test; the others get the full, locating treatment.
 *
 *       a ──▶ b        interior edge: once a→b, once b→a  → matched
 *       ▲  A  │  B
 *       └─────┘        border edge: once, on the parent's outline
 */
export async function suspectParents(tx: Queryable, parents: number[], excluded: number[]): Promise<number[]> {
  if (parents.length === 0) return [];
  const { rows } = await tx.query<{ id: number }>(
    `WITH seg AS (
       SELECT c.parent_id, ST_X(ST_StartPoint(d.geom)) AS x1, ST_Y(ST_StartPoint(d.geom)) AS y1,
              ST_X(ST_EndPoint(d.geom)) AS x2, ST_Y(ST_EndPoint(d.geom)) AS y2
       FROM region c, LATERAL ST_DumpSegments(ST_ForcePolygonCCW(c.geom)) AS d
       WHERE c.parent_id = ANY($1::int[]) AND c.id <> ALL($2::int[])
     ),
     -- each edge keyed by its lower end first; dir says which way the child ran along it
     edge AS (
       SELECT parent_id, ax, ay, bx, by, count(*) AS n, sum(dir) AS turn
       FROM (SELECT parent_id,
                    CASE WHEN (x1, y1) < (x2, y2) THEN x1 ELSE x2 END AS ax, CASE WHEN (x1, y1) < (x2, y2) THEN y1 ELSE y2 END AS ay,
                    CASE WHEN (x1, y1) < (x2, y2) THEN x2 ELSE x1 END AS bx, CASE WHEN (x1, y1) < (x2, y2) THEN y2 ELSE y1 END AS by,
                    CASE WHEN (x1, y1) < (x2, y2) THEN 1 ELSE -1 END AS dir
             FROM seg) AS s
       GROUP BY parent_id, ax, ay, bx, by
     ),
     border AS (SELECT id, ST_Boundary(geom) AS line, ST_Perimeter(geom) AS perimeter FROM region WHERE id = ANY($1::int[])),
     -- the parent's own segments, keyed the same way: most border edges of children are exactly these
     outline AS (
       SELECT DISTINCT p.id AS parent_id,
              least_x, least_y, most_x, most_y
       FROM region p, LATERAL ST_DumpSegments(p.geom) AS d,
         LATERAL (SELECT ST_X(ST_StartPoint(d.geom)) AS x1, ST_Y(ST_StartPoint(d.geom)) AS y1, ST_X(ST_EndPoint(d.geom)) AS x2, ` +
      `ST_Y(ST_EndPoint(d.geom)) AS y2) AS e,
         LATERAL (SELECT CASE WHEN (x1, y1) < (x2, y2) THEN x1 ELSE x2 END AS least_x, CASE WHEN (x1, y1) < (x2, y2) THEN y1 ELSE y2 END AS least_y,
                         CASE WHEN (x1, y1) < (x2, y2) THEN x2 ELSE x1 END AS most_x, CASE WHEN (x1, y1) < (x2, y2) THEN y2 ELSE y1 END AS most_y) AS k
       WHERE p.id = ANY($1::int[])
     ),
     -- edges used once: on the border (exactly one of its segments, else within snap-rounding of it)
     -- and adding up to the perimeter
     lone AS (
       SELECT e.parent_id,
              bool_and(o.parent_id IS NOT NULL OR (
                   ST_DWithin(b.line, ST_SetSRID(ST_MakePoint(e.ax, e.ay), 4326), 1e-8)
                   AND ST_DWithin(b.line, ST_SetSRID(ST_MakePoint(e.bx, e.by), 4326), 1e-8)
                   AND ST_DWithin(b.line, ST_SetSRID(ST_MakePoint((e.ax + e.bx) / 2, (e.ay + e.by) / 2), 4326), 1e-8))) AS on_border,
              sum(sqrt((e.bx - e.ax) ^ 2 + (e.by - e.ay) ^ 2)) AS length
       FROM edge e JOIN border b ON b.id = e.parent_id
         LEFT JOIN outline o ON o.parent_id = e.parent_id AND o.least_x = e.ax AND o.least_y = e.ay AND o.most_x = e.bx AND o.most_y = e.by
       WHERE e.n = 1
       GROUP BY e.parent_id
     )
     SELECT b.id FROM border b LEFT JOIN lone l ON l.parent_id = b.id
     WHERE l.parent_id IS NULL OR NOT l.on_border OR abs(l.length - b.perimeter) > 1e-7 * b.perimeter
        OR b.id IN (SELECT parent_id FROM edge WHERE n > 2 OR (n = 2 AND turn <> 0))`,
    [parents, excluded],
  );
  return rows.map((r) => r.id);
}

/**
 * The same screen with GEOS's coverage validator (PostGIS 3.6): it flags unmatched edges but not
 * the coverage's outer boundary, so spills (a child not covered by its parent) and wide gaps (the
 * children's planar areas falling short of the parent's) are screened beside it.
 */
async function screenByCoverage(tx: Queryable, parents: number[], excluded: number[]): Promise<Screened> {
  if (parents.length === 0) return { suspects: [], flagged: [] };
  const { rows } = await tx.query<{ id: number; flagged: boolean }>(
    `WITH child AS (SELECT id, parent_id, geom FROM region WHERE parent_id = ANY($1::int[]) AND id <> ALL($2::int[])),
     flagged AS (
       SELECT id, parent_id FROM (SELECT id, parent_id, ST_CoverageInvalidEdges(geom) OVER (PARTITION BY parent_id) AS e FROM child) AS x
       WHERE e IS NOT NULL),
     spilling AS (SELECT DISTINCT c.parent_id FROM child c JOIN region p ON p.id = c.parent_id WHERE NOT ST_CoveredBy(c.geom, p.geom)),
     total AS (SELECT parent_id, sum(ST_Area(geom)) AS area FROM child GROUP BY parent_id)
     SELECT p.id, false AS flagged FROM region p LEFT JOIN total t ON t.parent_id = p.id
     WHERE p.id = ANY($1::int[])
       AND (t.area IS NULL OR abs(ST_Area(p.geom) - t.area) > 1e-9 * ST_Area(p.geom)
            OR p.id IN (SELECT parent_id FROM flagged) OR p.id IN (SELECT parent_id FROM spilling))
     UNION ALL SELECT id, true FROM flagged`,
    [parents, excluded],
  );
  return { suspects: rows.filter((r) => !r.flagged).map((r) => r.id), flagged: rows.filter((r) => r.flagged).map((r) => r.id) };
}

/** Degrees (about 1 m) added around a window. */
const WINDOW_MARGIN = 1e-5;

/** The same screen counted in the server, from each region's WKB: see `screenTiling`. */
async function screenByEdges(tx: Queryable, parents: number[], excluded: number[]): Promise<Screened> {
  if (parents.length === 0) return { suspects: [], flagged: [] };
  // One row per parent, its children's WKB laid end to end in base64: PGlite hands rows and bytea
  // over slowly (21,600 grids: 35 ms this way, 420 ms as a bytea per row).
  const { rows } = await tx.query<{ id: number; outline: string; ids: number[] | null; wkb: string | null }>(
    `WITH kids AS (
       SELECT parent_id, array_agg(id ORDER BY id) AS ids, encode(string_agg(ST_AsBinary(geom), ''::bytea ORDER BY id), 'base64') AS wkb
       FROM region WHERE parent_id = ANY($1::int[]) AND id <> ALL($2::int[]) GROUP BY parent_id)
     SELECT p.id, encode(ST_AsBinary(p.geom), 'base64') AS outline, k.ids, k.wkb
     FROM region p LEFT JOIN kids k ON k.parent_id = p.id WHERE p.id = ANY($1::int[])`,
    [parents, excluded],
  );
  const suspects: number[] = [];
  const flagged: number[] = [];
  const windows = new Map<number, [number, number, number, number] | null>();
  for (const r of rows) {
    const geometries = r.wkb === null ? [] : readPolygonRun(Buffer.from(r.wkb, 'base64'));
    const children = (r.ids ?? []).map((id, i) => ({ id, polygons: geometries[i]! }));
    const screen = screenTiling(readPolygonRun(Buffer.from(r.outline, 'base64'))[0]!, children);
    if (screen.suspect) suspects.push(r.id);
    flagged.push(...screen.flagged);
    // a little wider, so that a problem's box lies strictly inside
    const w = screen.window;
    windows.set(r.id, w && [w[0] - WINDOW_MARGIN, w[1] - WINDOW_MARGIN, w[2] + WINDOW_MARGIN, w[3] + WINDOW_MARGIN]);
  }
  return { suspects, flagged, windows };
}

/**
 * Parents that need the full check; the children whose edges went unmatched (null: pair all); and
 * per parent, the box its problems lie in (none: look everywhere).
 */
interface Screened {
  suspects: number[];
  flagged: number[] | null;
  windows?: Map<number, [number, number, number, number] | null>;
}

type AreaRow = { geometry: IssueFeature['geometry']; region_ids: number[]; parent_id: number; area: number };
type AreaKind = 'gap' | 'overlap' | 'outside_parent';

/**
 * Validates a region: scope → invalid children → screen → gaps and spills → overlaps → grid
 * rules → households. Each step is a function of its own below.
 */
export async function validateCoverage(tx: Queryable, regionId: number, options: CoverageOptions): Promise<CoverageReport> {
  const started = performance.now();
  const path: CoveragePath = options.path ?? 'edges';
  if (path === 'coverage' && !(await hasCoverageFunctions(tx))) throw new Error('this PostGIS has no ST_CoverageInvalidEdges');
  const { parents, area } = await scopeOf(tx, regionId, options.depth);
  const invalid = await invalidChildren(tx, parents);
  const invalidIds = invalid.map((f) => f.properties.regionIds[0]!);
  const screened = await screen(tx, path, parents, invalidIds);
  const suspects = [...new Set([...screened.suspects, ...invalid.map((f) => f.properties.parentId!)])];
  const { gaps, spills } = await gapsAndSpills(tx, suspects, invalidIds, screened.windows);
  const overlaps = await overlapsOf(tx, suspects, invalidIds, screened.flagged);
  const tiled = performance.now();
  const rules = await gridRules(tx, parents, regionId);
  const ruled = performance.now();
  const orphans = await orphanHouseholds(tx, regionId, options.maxHouseholdFeatures ?? 500);
  const areaFeatures = (kind: AreaKind, rows: AreaRow[]) => rows.map((r) => areaFeature(kind, r, options.toleranceM2));
  // an overlap names the two that overlap (瓜州县、玉门市), as a grid's problem names the grid
  const overlapping = await namesOf(tx, [...new Set(overlaps.flatMap((r) => r.region_ids))]);
  const named = (f: IssueFeature): IssueFeature => {
    const names = f.properties.regionIds.map((id) => overlapping.get(id)).filter((n): n is string => !!n);
    return names.length > 0 ? { ...f, properties: { ...f.properties, name: names.join('、') } } : f;
  };
  const features: IssueFeature[] = [
    ...invalid,
    ...areaFeatures('gap', gaps),
    ...areaFeatures('outside_parent', spills),
    ...areaFeatures('overlap', overlaps).map(named),
    ...rules,
    ...orphans.features,
  ];
  const counts = Object.fromEntries(ISSUE_KINDS.map((k) => [k, 0])) as Record<IssueKind, number>;
  for (const f of features) counts[f.properties.kind] += f.properties.kind === 'orphan_household' ? 0 : 1;
  counts.orphan_household = orphans.total;
  return {
    summary: {
      ok: ISSUE_KINDS.every((k) => k === 'sliver' || counts[k] === 0),
      counts,
      parentsChecked: parents.length,
      parentsSuspect: suspects.length,
      areaCheckedM2: area,
      path,
      elapsedMs: Math.round(performance.now() - started),
      stepsMs: { tiling: Math.round(tiled - started), rules: Math.round(ruled - tiled), households: Math.round(performance.now() - ruled) },
    },
    issues: { type: 'FeatureCollection', features },
  };
}

/** Regions' names by id. */
async function namesOf(tx: Queryable, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await tx.query<{ id: number; name: string }>('SELECT id, name FROM region WHERE id = ANY($1::int[])', [ids]);
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** The parents to check (the region, or every region below it with children) and the region's area. */
async function scopeOf(tx: Queryable, regionId: number, depth: 1 | 'all'): Promise<{ parents: number[]; area: number }> {
  const { rows } = await tx.query<{ parents: number[]; area: number }>(
    `SELECT coalesce(array_agg(p.id), '{}') AS parents, (SELECT gp_area_m2(geom) FROM region WHERE id = $1) AS area
     FROM gp_subtree($1) t JOIN region p ON p.id = t.id
     WHERE t.level <> 'grid' AND (t.depth = 0 OR $2) AND EXISTS (SELECT 1 FROM region c WHERE c.parent_id = p.id)`,
    [regionId, depth === 'all'],
  );
  return rows[0]!;
}

/** A gap, overlap or spill as a feature; under the tolerance a sliver. */
function areaFeature(kind: AreaKind, r: AreaRow, toleranceM2: number): IssueFeature {
  const sliver = r.area < toleranceM2;
  return {
    type: 'Feature',
    geometry: r.geometry,
    properties: {
      kind: sliver ? 'sliver' : kind,
      regionIds: r.region_ids,
      parentId: r.parent_id,
      areaM2: r.area,
      ...(sliver ? { of: kind } : {}),
      message: sliver ? SLIVER_MESSAGES[kind](r.area.toFixed(2)) : AREA_MESSAGES[kind](r.area),
    },
  };
}

/** Children GEOS finds invalid: reported with the reason and place, and kept out of the overlays (which need valid input). */
async function invalidChildren(tx: Queryable, parents: number[]): Promise<IssueFeature[]> {
  const { rows } = await tx.query<{ id: number; parent_id: number; reason: string; geometry: IssueFeature['geometry'] }>(
    `SELECT c.id, c.parent_id, (d).reason, ST_AsGeoJSON(coalesce((d).location, ST_PointOnSurface(c.geom)), 7)::json AS geometry
     FROM (SELECT r.*, ST_IsValidDetail(r.geom) AS d FROM region r WHERE r.parent_id = ANY($1::int[])) c
     WHERE NOT (c.d).valid`,
    [parents],
  );
  return rows.map((r) => ({
    type: 'Feature',
    geometry: r.geometry,
    properties: {
      kind: 'invalid_geometry',
      regionIds: [r.id],
      parentId: r.parent_id,
      message: { zh: `几何无效：${r.reason}`, en: `invalid geometry: ${r.reason}` },
    },
  }));
}

/** The parents that need the full check, by the chosen path (see `CoveragePath`). */
async function screen(tx: Queryable, path: CoveragePath, parents: number[], invalidIds: number[]): Promise<Screened> {
  if (path === 'edges') return screenByEdges(tx, parents, invalidIds);
  if (path === 'coverage') return screenByCoverage(tx, parents, invalidIds);
  return { suspects: await suspectParents(tx, parents, invalidIds), flagged: null };
}

/** Gaps (parent − children) and spills (children − parent) of suspect parents: one union of the children per parent serves both. */
async function gapsAndSpills(
  tx: Queryable,
  suspects: number[],
  invalidIds: number[],
  windows: Screened['windows'],
): Promise<{ gaps: AreaRow[]; spills: AreaRow[] }> {
  if (suspects.length === 0) return { gaps: [], spills: [] };
  const { rows } = await tx.query<AreaRow & { kind: 'gap' | 'outside_parent' }>(
    `WITH win AS (
       SELECT parent_id, CASE WHEN x0 IS NULL THEN NULL ELSE ST_MakeEnvelope(x0, y0, x1, y1, 4326) END AS w
       FROM unnest($1::int[], $3::float8[], $4::float8[], $5::float8[], $6::float8[]) AS u(parent_id, x0, y0, x1, y1)
     ),
     -- the union of the children in the window (all of them without one); no children: the whole parent is a gap
     cover AS (
       SELECT p.id AS parent_id, p.geom AS parent, win.w, ST_Union(c.geom, gp_grid()) AS children
       FROM win JOIN region p ON p.id = win.parent_id
         LEFT JOIN region c ON c.parent_id = p.id AND c.id <> ALL($2::int[]) AND (win.w IS NULL OR c.geom && win.w)
       GROUP BY p.id, win.w
     ),
     -- parent − children: gaps (in a window, the pieces inside it: the rest is what its children
     -- were not asked to cover); children − parent: spills
     piece AS (
       SELECT 'gap' AS kind, parent_id, ST_Normalize(d.geom) AS geom
       FROM cover, LATERAL ST_Dump(ST_CollectionExtract(gp_difference(parent, children), 3)) AS d
       WHERE w IS NULL OR d.geom @ w
       UNION ALL
       SELECT 'outside_parent', parent_id, ST_Normalize(d.geom) FROM cover, LATERAL ST_Dump(ST_CollectionExtract(gp_difference(children, parent), 3)) AS d
     )
     SELECT kind, parent_id, gp_area_m2(geom) AS area, ST_AsGeoJSON(geom, 7)::json AS geometry,
       CASE WHEN kind = 'gap' THEN ARRAY[parent_id]
            ELSE (SELECT array_agg(c.id ORDER BY c.id) FROM (SELECT id, geom FROM region WHERE parent_id = piece.parent_id OFFSET 0) c
                  WHERE c.geom && piece.geom AND ST_Intersects(c.geom, ST_PointOnSurface(piece.geom))) END AS region_ids
     FROM piece WHERE NOT ST_IsEmpty(geom)
     ORDER BY kind, parent_id, ST_XMin(geom), ST_YMin(geom), area`,
    [suspects, invalidIds, ...[0, 1, 2, 3].map((k) => suspects.map((id) => windows?.get(id)?.[k] ?? null))],
  );
  return {
    gaps: rows.filter((r) => r.kind === 'gap'),
    spills: rows.filter((r) => r.kind === 'outside_parent').map((r) => ({ ...r, region_ids: r.region_ids ?? [] })),
  };
}

/** Overlaps between siblings of suspect parents, from candidate pairs: each flagged child with all its siblings, or every pair (null). */
async function overlapsOf(tx: Queryable, suspects: number[], invalidIds: number[], flagged: number[] | null): Promise<AreaRow[]> {
  if (suspects.length === 0) return [];
  const candidates = flagged
    ? // one side of an overlap may have only matched edges: pair each flagged child with all its siblings
      `pair AS (SELECT DISTINCT least(f.id, s.id) AS a, greatest(f.id, s.id) AS b, f.parent_id,
                       CASE WHEN f.id < s.id THEN f.geom ELSE s.geom END AS ga, CASE WHEN f.id < s.id THEN s.geom ELSE f.geom END AS gb
                FROM region f JOIN region s ON s.parent_id = f.parent_id AND s.id <> f.id AND s.id <> ALL($2::int[]) AND s.geom && f.geom
                WHERE f.id = ANY($3::int[]) AND f.parent_id = ANY($1::int[]) AND ST_Relate(f.geom, s.geom, '2********'))`
    : `pair AS (SELECT a.id AS a, b.id AS b, a.parent_id, a.geom AS ga, b.geom AS gb
                FROM region a JOIN region b ON a.parent_id = b.parent_id AND a.id < b.id AND a.geom && b.geom
                WHERE a.parent_id = ANY($1::int[]) AND a.id <> ALL($2::int[]) AND b.id <> ALL($2::int[])
                  AND ST_Relate(a.geom, b.geom, '2********'))`;
  const { rows } = await tx.query<AreaRow>(
    `WITH ${candidates}
     SELECT parent_id, ARRAY[a, b] AS region_ids, gp_area_m2(d.geom) AS area, ST_AsGeoJSON(d.geom, 7)::json AS geometry
     FROM pair, LATERAL ST_Dump(ST_CollectionExtract(ST_Intersection(ga, gb, gp_grid()), 3)) AS d
     -- a pair may overlap in several pieces: ordered by place, so every path lists them alike
     ORDER BY a, b, ST_XMin(d.geom), ST_YMin(d.geom), area`,
    flagged ? [suspects, invalidIds, flagged.filter((id) => !invalidIds.includes(id))] : [suspects, invalidIds],
  );
  return rows;
}

/** Rules on the children: multipart grids, villages without grids, household ranges, workers, codes. */
async function gridRules(tx: Queryable, parents: number[], regionId: number): Promise<IssueFeature[]> {
  const { rows } = await tx.query<{
    kind: IssueKind;
    id: number;
    parent_id: number;
    geometry: IssueFeature['geometry'];
    n: number | null;
    lo: number | null;
    hi: number | null;
    code: string;
    parent_code: string;
    role: string | null;
    role_zh: string | null;
    role_en: string | null;
    name: string | null;
  }>(
    `WITH child AS (
       SELECT c.id, c.parent_id, c.level, c.code, c.grid_type, c.worker_id, c.household_count, p.code AS parent_code
       FROM region c JOIN region p ON p.id = c.parent_id WHERE c.parent_id = ANY($1::int[])
     ),
     grid AS (SELECT * FROM child WHERE level = 'grid'),
     -- the household range of each grid's type: its district's own rule, else the default
     ranged AS (
       -- (a village nobody lives in has grids of no households: no lower bound there, as in grid_range)
       SELECT g.id, g.parent_id, g.household_count AS n,
         CASE WHEN v.household_count = 0 THEN 0 ELSE coalesce(own.min_households, dflt.min_households) END AS lo,
         coalesce(own.max_households, dflt.max_households) AS hi
       FROM grid g
         LEFT JOIN region v ON v.id = g.parent_id
         LEFT JOIN region d ON d.level = 'district' AND d.code = split_part(g.code, '-', 1)
         LEFT JOIN grid_type_rule own ON own.district_id = d.id AND own.grid_type = g.grid_type
         LEFT JOIN grid_type_rule dflt ON dflt.district_id IS NULL AND dflt.grid_type = g.grid_type
     ),
     staffed AS (SELECT s.grid_id, s.role, count(*)::int AS n FROM grid_staff s WHERE s.grid_id IN (SELECT id FROM grid) GROUP BY s.grid_id, s.role),
     -- villages not yet divided into grids: below the region checked, or the village checked itself (a county
     -- whose villages came in but were never divided would otherwise check clean)
     bare AS (
       SELECT v.id, v.parent_id, v.household_count AS n FROM region v
       WHERE v.level = 'village' AND (v.parent_id = ANY($1::int[]) OR (v.id = $5 AND NOT v.id = ANY($1::int[])))
         AND NOT EXISTS (SELECT 1 FROM region g WHERE g.parent_id = v.id)
     ),
     problem AS (
       SELECT 'village_without_grids' AS kind, id, parent_id, n, NULL::int AS lo, NULL::int AS hi, NULL::text AS role FROM bare
       UNION ALL
       SELECT 'households_out_of_range', id, parent_id, n, lo, hi, NULL FROM ranged WHERE n < lo OR n > hi
       UNION ALL
       SELECT 'grid_without_worker', id, parent_id, NULL, NULL, NULL, NULL FROM grid WHERE worker_id IS NULL
       UNION ALL
       -- staffing: fewer members of a required role than the model asks (the full-time worker is the rule above)
       -- (the grid's district's own count where it has one: 1+N+X there, 1+3+M+X by default)
       SELECT 'grid_missing_role', g.id, g.parent_id, coalesce(st.n, 0), need.n, NULL, need.code
       FROM grid g
         LEFT JOIN region d ON d.level = 'district' AND d.code = split_part(g.code, '-', 1)
         CROSS JOIN LATERAL (SELECT sr.code, coalesce(own.min_per_grid, sr.min_per_grid) AS n FROM staff_role sr
                             LEFT JOIN staff_requirement own ON own.district_id = d.id AND own.role = sr.code) need
         LEFT JOIN staffed st ON st.grid_id = g.id AND st.role = need.code
       WHERE need.code <> 'full_time' AND need.n > 0 AND coalesce(st.n, 0) < need.n
       UNION ALL
       -- a county under its city keeps the state's six digits, the city's four first (530303 under 530300)
       SELECT 'code_mismatch', id, parent_id, NULL, NULL, NULL, NULL FROM child
       WHERE CASE WHEN level = 'district' THEN code !~ '^[0-9]{6}$' OR left(code, 4) <> left(parent_code, 4)
                  ELSE left(code, length(parent_code) + 1) <> parent_code || '-'
                       OR substr(code, length(parent_code) + 2) !~ CASE level WHEN 'grid' THEN $2 WHEN 'village' THEN $3 ELSE $4 END END
     ),
     multipart AS (SELECT r.id, r.parent_id, r.code, ST_NumGeometries(r.geom) AS n, r.geom FROM region r WHERE r.parent_id = ANY($1::int[])
       AND r.level = 'grid' AND gp_split_grid(r.geom, r.parent_id))
     SELECT 'multipart_grid' AS kind, m.id, m.parent_id, ST_AsGeoJSON(m.geom, 7)::json AS geometry, m.n, NULL::int AS lo, NULL::int AS hi, m.code,
            (SELECT p.code FROM region p WHERE p.id = m.parent_id), NULL::text AS role, NULL::text AS role_zh, NULL::text AS role_en,
            (SELECT r.name FROM region r WHERE r.id = m.id) AS name
       FROM multipart m
     UNION ALL
     SELECT x.kind, x.id, x.parent_id, (SELECT ST_AsGeoJSON(ST_PointOnSurface(r.geom), 7)::json FROM region r WHERE r.id = x.id), x.n, x.lo, x.hi,
            (SELECT r.code FROM region r WHERE r.id = x.id), (SELECT p.code FROM region p WHERE p.id = x.parent_id), x.role, sr.zh, sr.en,
            (SELECT r.name FROM region r WHERE r.id = x.id) AS name
       FROM problem x LEFT JOIN staff_role sr ON sr.code = x.role
     -- (a grid's missing roles in one order, grid after grid)
     ORDER BY kind, id, role`,
    [parents, segmentPattern('grid'), segmentPattern('village'), segmentPattern('township'), regionId],
  );
  return rows.map((r) => ({
    type: 'Feature',
    geometry: r.geometry,
    properties: {
      kind: r.kind,
      regionIds: [r.id],
      parentId: r.parent_id,
      ...(r.name ? { name: r.name } : {}),
      ...(r.n !== null ? { count: r.n } : {}),
      ...(r.role !== null ? { role: r.role } : {}),
      message:
        r.kind === 'multipart_grid'
          ? { zh: `网格分成 ${r.n} 块`, en: `grid in ${r.n} pieces` }
          : r.kind === 'village_without_grids'
            ? { zh: `尚未划分网格（${r.n} 户）`, en: `not yet divided into grids (${r.n} households)` }
            : r.kind === 'households_out_of_range'
              ? { zh: `${r.n} 户，应为 ${r.lo}–${r.hi} 户`, en: `${r.n} households, expected ${r.lo}–${r.hi}` }
              : r.kind === 'grid_without_worker'
                ? { zh: '未配备网格员', en: 'no grid worker' }
                : r.kind === 'grid_missing_role'
                  ? { zh: `缺${r.role_zh}（需 ${r.lo} 人，现 ${r.n} 人）`, en: `${r.role_en}: ${r.n} of ${r.lo} required` }
                  : { zh: `编码 ${r.code} 不符合上级编码 ${r.parent_code}`, en: `code ${r.code} does not follow its parent's ${r.parent_code}` },
    },
  }));
}

/** Households in no grid, or assigned to another region than the grid containing them (all counted, `limit` listed). */
async function orphanHouseholds(tx: Queryable, regionId: number, limit: number): Promise<{ features: IssueFeature[]; total: number }> {
  // Against each household's own grid, grid by grid (LATERAL), so PostGIS reuses the prepared
  // polygon: a containing-grid search per household costs 20× more.
  const { rows } = await tx.query<{ id: number; region_id: number | null; in_grid: boolean; geometry: IssueFeature['geometry']; total: number }>(
    `WITH tree AS (SELECT id FROM gp_subtree($1)),
     -- the grids first, then their households grid by grid (OFFSET 0 keeps the planner from joining
     -- every household of the table before it sees how few grids there are: a village of the demo in
     -- 30 ms rather than 250)
     grids AS MATERIALIZED (SELECT g.id, g.geom FROM region g WHERE g.id IN (SELECT id FROM tree) AND g.level = 'grid'),
     bad AS (
       -- assigned to a grid that does not contain it
       SELECT h.id, h.region_id, true AS in_grid, h.geom
       FROM grids g,
         LATERAL (SELECT h.* FROM household h WHERE h.region_id = g.id AND NOT ST_Intersects(g.geom, h.geom) OFFSET 0) h
       UNION ALL
       -- assigned to no grid: to a coarser region, or to nothing
       SELECT h.id, h.region_id, false, h.geom FROM household h JOIN region r ON r.id = h.region_id JOIN tree t ON t.id = r.id WHERE r.level <> 'grid'
       UNION ALL
       SELECT h.id, NULL, false, h.geom FROM household h, region s
       WHERE s.id = $1 AND h.region_id IS NULL AND s.geom && h.geom AND ST_Intersects(s.geom, h.geom)
     )
     SELECT id, region_id, in_grid, ST_AsGeoJSON(geom, 7)::json AS geometry, (SELECT count(*)::int FROM bad) AS total
     FROM bad ORDER BY id LIMIT $2`,
    [regionId, limit],
  );
  const features = rows.map((r): IssueFeature => ({
    type: 'Feature',
    geometry: r.geometry,
    properties: {
      kind: 'orphan_household',
      regionIds: r.region_id === null ? [] : [r.region_id],
      parentId: null,
      message: !r.in_grid
        ? { zh: '住户未归属任何网格', en: 'household not assigned to a grid' }
        : { zh: '住户归属的网格与所在位置不符', en: 'household assigned to another grid than the one containing it' },
    },
  }));
  return { features, total: rows[0]?.total ?? 0 };
}

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { notFound } from '../domain/errors.ts';
import { getisOrdGiStar, pValue, significance } from '../domain/hotspots.ts';
import { metresPerDegree } from '../domain/local-frame.ts';
import type { Queryable } from './db.ts';
import { caseLate, filterSql, gridColumn, type IncidentFilter } from './incidents.ts';

export type CellShape = 'square' | 'hex';

/** Metres per degree at a latitude (the equirectangular frame the cells are laid in). */
const frame = metresPerDegree;

/** The region's centre latitude and extent (for the cell frame and a default cell size). */
async function regionExtent(tx: Queryable, regionId: number | undefined): Promise<{ lat: number; diagonalM: number }> {
  const { rows } = await tx.query<{ lat: number; w: number; h: number }>(
    regionId === undefined
      ? `SELECT coalesce((ST_YMin(e) + ST_YMax(e)) / 2, 25) AS lat, coalesce(ST_XMax(e) - ST_XMin(e), 1) AS w, coalesce(ST_YMax(e) - ST_YMin(e), 1) AS h
         FROM (SELECT ST_Extent(geom)::geometry AS e FROM region WHERE level = 'district') AS x`
      : `SELECT (ST_YMin(geom) + ST_YMax(geom)) / 2 AS lat, ST_XMax(geom) - ST_XMin(geom) AS w, ST_YMax(geom) - ST_YMin(geom) AS h FROM region WHERE id = $1`,
    regionId === undefined ? [] : [regionId],
  );
  if (!rows[0]) throw notFound('region', regionId, 'region');
  const { kx, ky } = frame(rows[0].lat);
  return { lat: rows[0].lat, diagonalM: Math.hypot(rows[0].w * kx, rows[0].h * ky) };
}

/**
 * Incidents binned into square or hexagonal cells of `cellM` metres (square side; hexagon
 * width across flats), returned as cell centres with counts. Binning is arithmetic in SQL on a
 * local equirectangular frame: one pass over the filtered incidents, no geometry built.
 */
export async function heatmap(tx: Queryable, filter: IncidentFilter, shape: CellShape, cellM?: number, zoom?: number, options: { exact?: boolean } = {}) {
  const extent = await regionExtent(tx, filter.regionId);
  // By zoom: about 24 screen pixels per cell; else about 120 cells across the region.
  const metresPerPixel = zoom === undefined ? 0 : (156_543 * Math.cos((extent.lat * Math.PI) / 180)) / 2 ** zoom;
  const size = Math.max(50, Math.round(cellM ?? (zoom !== undefined ? 24 * metresPerPixel : extent.diagonalM / 120)));
  const { kx, ky } = frame(extent.lat);
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  const answer = (rows: { lon: number; lat: number; count: number }[]) => {
    const cells = rows
      .map((r) => ({ lon: round(r.lon), lat: round(r.lat), count: r.count }))
      .sort((a, b) => b.count - a.count || a.lon - b.lon || a.lat - b.lat);
    return { cell: { shape, sizeM: size }, total: cells.reduce((s, c) => s + c.count, 0), cells };
  };
  // Wide hexagons: count the incidents' stored 1/2048° cells (one cheap pass, no arithmetic per incident), then
  // give each cell's count to the hexagon holding the cell's centre. An incident lands at most half a cell's
  // diagonal (about 37 m for one stored cell) from where exact binning puts it: never more than 5% of the width.
  // The wider the hexagons, the coarser the cells may be (2, 4, 8, 16 stored cells a side): fewer groups to hand over.
  const halfDiagonal = Math.hypot(kx / CELLS_PER_DEGREE, ky / CELLS_PER_DEGREE) / 2;
  if (shape === 'hex' && !options.exact && halfDiagonal <= 0.05 * size) {
    const shift = Math.min(4, Math.floor(Math.log2((0.05 * size) / halfDiagonal)));
    const perDegree = CELLS_PER_DEGREE / 2 ** shift;
    const g = filterSql(filter, 1);
    // As one string: tens of thousands of rows cost the embedded database more to hand over than to count.
    const {
      rows: [packed],
    } = await tx.query<{ s: string | null }>(
      `SELECT string_agg(cx::text || ' ' || cy::text || ' ' || n::text, ' ') AS s
       FROM (SELECT i.cell_x >> ${shift} AS cx, i.cell_y >> ${shift} AS cy, count(*)::int AS n FROM incident i WHERE ${g.where} GROUP BY 1, 2) AS c`,
      g.params,
    );
    const numbers = packed?.s ? packed.s.split(' ').map(Number) : [];
    const hexes = new Map<string, { hu: number; hv: number; count: number }>();
    for (let k = 0; k < numbers.length; k += 3) {
      const [hu, hv] = hexOf((((numbers[k]! + 0.5) / perDegree) * kx) / size, (((numbers[k + 1]! + 0.5) / perDegree) * ky) / (size * Math.sqrt(3)));
      const key = `${hu},${hv}`;
      const h = hexes.get(key);
      if (h) h.count += numbers[k + 2]!;
      else hexes.set(key, { hu, hv, count: numbers[k + 2]! });
    }
    return answer([...hexes.values()].map((h) => ({ lon: (h.hu * size) / kx, lat: (h.hv * size * Math.sqrt(3)) / ky, count: h.count })));
  }
  const f = filterSql(filter, 4);
  // float8 casts matter: an untyped parameter makes all of this numeric arithmetic, several times slower.
  const xy = `ST_X(i.geom) * $1::float8 AS x, ST_Y(i.geom) * $2::float8 AS y`;
  const sql =
    shape === 'square'
      ? `SELECT (ix + 0.5) * $3::float8 / $1::float8 AS lon, (iy + 0.5) * $3::float8 / $2::float8 AS lat, count(*)::int AS count
       FROM (SELECT floor(x / $3::float8) AS ix, floor(y / $3::float8) AS iy FROM (SELECT ${xy} FROM incident i WHERE ${f.where}) AS p) AS c GROUP BY ix, iy`
      : // Pointy-top hexagons of width `size`: their centres are two rectangular lattices, one offset by half a
        // cell both ways; a point's hexagon is the nearer of its nearest centre in each (u, v: units of size, size·√3).
        // Half the arithmetic of rounding through cube coordinates, the same cells.
        `SELECT hu * $3::float8 / $1::float8 AS lon, hv * $3::float8 * sqrt(3) / $2::float8 AS lat, count(*)::int AS count FROM (
         SELECT CASE WHEN near_a THEN au ELSE bu END AS hu, CASE WHEN near_a THEN av ELSE bv END AS hv FROM (
           SELECT au, av, bu, bv, (u - au) ^ 2 + 3 * (v - av) ^ 2 <= (u - bu) ^ 2 + 3 * (v - bv) ^ 2 AS near_a FROM (
             SELECT u, v, round(u) AS au, round(v) AS av, round(u - 0.5) + 0.5 AS bu, round(v - 0.5) + 0.5 AS bv
             FROM (SELECT x / $3::float8 AS u, y / ($3::float8 * sqrt(3)) AS v FROM (SELECT ${xy} FROM incident i WHERE ${f.where}) AS p) AS uv
           ) AS c
         ) AS k
       ) AS h GROUP BY hu, hv`;
  const { rows } = await tx.query<{ lon: number; lat: number; count: number }>(sql, [kx, ky, size, ...f.params]);
  return answer(rows);
}

/** The stored incident cells (`incident.cell_x`, `cell_y`): 1/2048 of a degree. */
const CELLS_PER_DEGREE = 2048;

/** The hexagon (in the two-lattice units of heatmap(): u in widths, v in widths·√3) holding a point; as the SQL does it. */
export function hexOf(u: number, v: number): [number, number] {
  const au = Math.round(u);
  const av = Math.round(v);
  const bu = Math.round(u - 0.5) + 0.5;
  const bv = Math.round(v - 0.5) + 0.5;
  return (u - au) ** 2 + 3 * (v - av) ** 2 <= (u - bu) ** 2 + 3 * (v - bv) ** 2 ? [au, av] : [bu, bv];
}

/** Per child region (or per grid of a village): counts by category, rates, closure, time to close, overdue. */
export async function incidentStats(tx: Queryable, regionId: number, filter: Omit<IncidentFilter, 'regionId'>, now: Date) {
  const f = filterSql({ ...filter, regionId: undefined }, 3);
  const hashed = await windowCheaperThanRegion(tx, regionId, filter, now);
  const { rows } = await tx.query<{
    id: number;
    code: string;
    name: string;
    level: string;
    households: number;
    total: number;
    closed: number;
    overdue: number;
    median_hours: number | null;
    by_category: Record<string, number> | null;
  }>(
    `-- each region below the region, with the child of it that it lies in: one walk down the tree carrying the
     -- child (a walk per child cost a city's nine counties 1.18 s against 0.87 s on PostgreSQL)
     WITH RECURSIVE down AS (
       SELECT c.id AS child, c.id, c.level FROM region c WHERE c.parent_id = $1
       UNION ALL
       SELECT d.child, r.id, r.level FROM region r JOIN down d ON r.parent_id = d.id WHERE d.level <> 'grid'
     ),
     hit AS (
       SELECT d.child, i.category, i.status, i.reported_at, i.closed_at,
              ${caseLate('i', 'k', 'least($2::timestamptz, $4::timestamptz)')} AS overdue
       FROM incident i JOIN down d ON d.id = ${gridColumn(filter)}${hashed ? ' + 0' : ''} AND d.level = 'grid'
         JOIN incident_category k ON k.code = i.category
       WHERE ${f.where}
     ),
     per AS (
       SELECT child, count(*)::int AS total, count(*) FILTER (WHERE status = 'closed')::int AS closed, count(*) FILTER (WHERE overdue)::int AS overdue,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch
                FROM closed_at - reported_at) / 3600) FILTER (WHERE closed_at IS NOT NULL) AS median_hours
       FROM hit GROUP BY child
     ),
     cat AS (SELECT child, json_object_agg(category, n) AS by_category FROM (SELECT child, category, count(*)::int AS n FROM hit GROUP BY child,
       category) x GROUP BY child)
     SELECT c.id, c.code, c.name, c.level, c.household_count AS households, coalesce(p.total, 0) AS total, coalesce(p.closed, 0) AS closed,
            coalesce(p.overdue, 0) AS overdue, p.median_hours, cat.by_category
     FROM region c LEFT JOIN per p ON p.child = c.id LEFT JOIN cat ON cat.child = c.id
     WHERE c.parent_id = $1 ORDER BY c.code`,
    [regionId, now.toISOString(), ...f.params],
  );
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    name: r.name,
    level: r.level,
    households: r.households,
    total: r.total,
    byCategory: r.by_category ?? {},
    per100Households: r.households > 0 ? Math.round((r.total / r.households) * 10_000) / 100 : null,
    closureRate: r.total > 0 ? Math.round((r.closed / r.total) * 1000) / 1000 : null,
    medianHoursToClose: r.median_hours === null ? null : Math.round(r.median_hours * 10) / 10,
    overdue: r.overdue,
  }));
}

/**
 * How the statistics per child find their cases. PostgreSQL guesses the walk down the tree at a
 * hundred rows whatever its size, and so looks up each grid's cases through the grid index — all of
 * them, of every date, then keeps the window's: for a city's 21,640 grids 0.9 s for one month. The
 * other way (' + 0' on the join hides the grid index) takes the whole plan's cases of the window from
 * the time index and hashes them against the walk. Which costs less depends on the region's share
 * of the plan against the window's share of the cases' time: measured on 曲靖 (PostgreSQL), a month
 * — the city 909 → 168 ms, a county 52 → 18, a township 58 → 12; two years — the city 1,533 → 1,309,
 * but a county 131 → 561 and a village 26 → 1,058. Hashed where the window's share is under four
 * times the region's share of the households.
 */
async function windowCheaperThanRegion(tx: Queryable, regionId: number, filter: { from: Date; to: Date }, now: Date): Promise<boolean> {
  const {
    rows: [r],
  } = await tx.query<{ here: number; whole: number; since: Date | null }>(
    `SELECT r.household_count AS here, (SELECT sum(household_count)::float8 FROM region WHERE parent_id IS NULL) AS whole,
            (SELECT min(reported_at) FROM incident) AS since
     FROM region r WHERE r.id = $1`,
    [regionId],
  );
  if (!r || !r.since || !(r.whole > 0)) return false;
  const since = new Date(r.since).getTime();
  const span = now.getTime() - since;
  const window = Math.min(filter.to.getTime(), now.getTime()) - Math.max(filter.from.getTime(), since);
  if (span <= 0) return false;
  return Math.max(0, window) / span < (4 * r.here) / r.whole;
}

/** What a hotspot analysis needs of a set of grids beside their counts: names, label points and which touch which. */
interface GridSet {
  code: string[];
  name: string[];
  label: [number, number][];
  /** indexes into the set, of the grids sharing a border or a corner */
  neighbours: number[][];
}

/**
 * The shapes' part of a hotspot analysis — which grids touch which, and where each is labelled —
 * is the slow half (2 s of a district's 2.1 s on the embedded database; at city scale 0.3 s of
 * PostgreSQL's 0.8 s with the geometries hashed for the key), and the same for every filter an
 * analyst tries. Kept per set of grids as they stand: the key is every grid's id, version and time
 * of its last edit, which every edit of a region (whatever database, draft publication or undo
 * made it) changes.
 */
const gridSets = new LRUCache<string, GridSet>({ max: 16 });
async function gridSet(tx: Queryable, grids: { id: number; version: number; edited: string }[]): Promise<GridSet> {
  const key = createHash('sha1')
    .update(grids.map((g) => `${g.id}:${g.version}:${g.edited}`).join(','))
    .digest('hex');
  const known = gridSets.get(key);
  if (known) return known;
  const ids = grids.map((g) => g.id);
  const { rows: shapes } = await tx.query<{ id: number; code: string; name: string; x: number; y: number }>(
    `SELECT g.id, g.code, g.name, ST_X(p) AS x, ST_Y(p) AS y FROM region g CROSS JOIN LATERAL ST_PointOnSurface(g.geom) AS p
     WHERE g.id = ANY($1::int[])`,
    [ids],
  );
  const { rows: pairs } = await tx.query<{ a: number; b: number }>(
    `SELECT a.id AS a, b.id AS b FROM region a JOIN region b ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
     WHERE a.id = ANY($1::int[]) AND b.id = ANY($1::int[])`,
    [ids],
  );
  const index = new Map(ids.map((id, i) => [id, i]));
  const set: GridSet = { code: [], name: [], label: [], neighbours: ids.map(() => []) };
  for (const r of shapes) {
    const i = index.get(r.id)!;
    set.code[i] = r.code;
    set.name[i] = r.name;
    set.label[i] = [r.x, r.y];
  }
  for (const p of pairs) {
    set.neighbours[index.get(p.a)!]!.push(index.get(p.b)!);
    set.neighbours[index.get(p.b)!]!.push(index.get(p.a)!);
  }
  gridSets.set(key, set);
  return set;
}

/** Getis–Ord Gi* of incident counts over the grids of a region (neighbours: grids sharing a border or a corner). */
export async function hotspots(tx: Queryable, filter: IncidentFilter & { regionId: number }) {
  // Counted per grid and joined to the scope's grids: for the whole plan, with no walk of the tree first.
  const f = filterSql(filter, 1);
  // (where each grid lies, by its township, and its county under a city: grid names repeat across a city)
  const { rows: grids } = await tx.query<{ id: number; version: number; edited: string; households: number; n: number; place: string | null }>(
    `WITH counts AS (SELECT ${gridColumn(filter)} AS grid_id, count(*)::int AS n FROM incident i WHERE ${f.where} GROUP BY 1)
     SELECT g.id, g.version, g.updated_at::text AS edited, g.household_count AS households, coalesce(c.n, 0) AS n,
            CASE WHEN d.parent_id IS NOT NULL THEN d.name || ' · ' || t.name ELSE t.name END AS place
     FROM gp_subtree($${f.params.length + 1}) s JOIN region g ON g.id = s.id AND s.level = 'grid' LEFT JOIN counts c ON c.grid_id = g.id
       LEFT JOIN region v ON v.id = g.parent_id LEFT JOIN region t ON t.id = v.parent_id LEFT JOIN region d ON d.id = t.parent_id
     ORDER BY g.id`,
    [...f.params, filter.regionId],
  );
  const set = await gridSet(tx, grids);
  const z = getisOrdGiStar(
    grids.map((g) => g.n),
    set.neighbours,
  );
  return grids
    .map((g, i) => ({
      id: g.id,
      code: set.code[i]!,
      name: set.name[i]!,
      place: g.place ?? '',
      count: g.n,
      households: g.households,
      label: set.label[i]!,
      z: Math.round(z[i]! * 1000) / 1000,
      p: Math.round(pValue(z[i]!) * 10_000) / 10_000,
      significance: significance(z[i]!),
    }))
    .sort((a, b) => b.z - a.z || a.id - b.id);
}

export type Bucket = 'day' | 'week' | 'month';

/** Counts per time bucket (China Standard Time) and category. */
export async function timeSeries(tx: Queryable, filter: IncidentFilter, bucket: Bucket) {
  const f = filterSql(filter, 2);
  const { rows } = await tx.query<{ t: string; category: string; n: number }>(
    // Grouped by the truncated time and formatted after: formatting every incident first made PostgreSQL sort
    // them all (to disk, at city scale) instead of hashing into a few hundred groups — 520 ms against 260.
    `SELECT to_char(t, 'YYYY-MM-DD') AS t, category, n FROM (
       SELECT date_trunc($1, i.reported_at AT TIME ZONE 'Asia/Shanghai') AS t, i.category, count(*)::int AS n
       FROM incident i WHERE ${f.where} GROUP BY 1, 2) AS g
     ORDER BY 1, 2`,
    [bucket, ...f.params],
  );
  const byTime = new Map<string, Record<string, number>>();
  for (const r of rows) (byTime.get(r.t) ?? byTime.set(r.t, {}).get(r.t)!)[r.category] = r.n;
  return { bucket, series: [...byTime.entries()].map(([t, counts]) => ({ t, counts })) };
}

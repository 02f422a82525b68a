import { PointLocator } from '../domain/point-locator.ts';
import type { Queryable } from './db.ts';
import { readPolygonRun } from './ewkb.ts';

/**
 * Points every household (or those with `region_id IS NULL` when `onlyUnassigned`) at the finest
 * region containing it: its grid, else its village, township or district.
 */
export async function assignHouseholds(tx: Queryable, onlyUnassigned = false): Promise<void> {
  if (!onlyUnassigned) await tx.query('UPDATE household SET region_id = NULL');
  for (const level of ['grid', 'village', 'township', 'district', 'city']) {
    // once every household has its region, the coarser levels have nothing to do (each pass reads them all)
    if (level !== 'grid' && !(await tx.query('SELECT 1 FROM household WHERE region_id IS NULL LIMIT 1')).rows.length) break;
    // Region by region, each polygon tested against the points in its box (PostGIS prepares it once):
    // the planner, guessing few unfiled households from statistics taken before they were unfiled, went
    // household by household instead (4,386 imported grids over 78,700 households: 5.1 → 0.5 s). On a
    // shared border the lowest id wins, as the import's locator has it.
    await tx.query(
      `WITH unfiled AS MATERIALIZED (SELECT ST_Extent(geom)::geometry AS box FROM household WHERE region_id IS NULL),
       found AS (
         SELECT DISTINCT ON (f.id) f.id, r.id AS region_id
         FROM region r, unfiled u, LATERAL (
           SELECT h.id FROM household h WHERE h.region_id IS NULL AND h.geom && r.geom AND ST_Intersects(r.geom, h.geom)) f
         WHERE r.level = $1 AND u.box IS NOT NULL AND r.geom && u.box
         ORDER BY f.id, r.id)
       UPDATE household h SET region_id = found.region_id FROM found WHERE h.id = found.id`,
      [level],
    );
  }
}

/**
 * The regions around some points (those whose boxes meet the points' box), ready to find each point's
 * finest region in memory as `assignHouseholds` and the import's locating query would.
 */
export async function regionLocator(q: Queryable, points: readonly { lon: number; lat: number }[]): Promise<PointLocator> {
  if (points.length === 0) return new PointLocator([]);
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const { lon, lat } of points) {
    if (lon < x0) x0 = lon;
    if (lat < y0) y0 = lat;
    if (lon > x1) x1 = lon;
    if (lat > y1) y1 = lat;
  }
  // one row, the polygons' WKB end to end: PGlite hands over thousands of rows slowly
  const { rows } = await q.query<{ ids: number[] | null; levels: string[] | null; wkb: string | null }>(
    `SELECT array_agg(id ORDER BY id) AS ids, array_agg(level::text ORDER BY id) AS levels,
       encode(string_agg(ST_AsBinary(geom), ''::bytea ORDER BY id), 'base64') AS wkb
     FROM region WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)`,
    [x0, y0, x1, y1],
  );
  const r = rows[0]!;
  if (!r.ids || !r.levels || r.wkb === null) return new PointLocator([]);
  const polygons = readPolygonRun(Buffer.from(r.wkb, 'base64'));
  return new PointLocator(r.ids.map((id, i) => ({ id, level: r.levels![i]!, polygons: polygons[i]! })));
}

/** Recomputes `region.household_count` for every region, bottom-up through the four levels. */
export async function recountHouseholds(tx: Queryable): Promise<void> {
  for (const level of ['grid', 'village', 'township', 'district', 'city']) {
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
 * Recounts households of a region's subtree and of every region above it, bottom-up: what a bulk
 * load into one district changes (a full recount rewrites every region of a city).
 */
export async function recountHouseholdsIn(tx: Queryable, regionId: number): Promise<void> {
  const { rows } = await tx.query<{ ids: number[] }>(
    `SELECT array_agg(id) AS ids FROM (SELECT id FROM gp_subtree($1) UNION SELECT id FROM gp_ancestors(ARRAY[$1]::int[])) AS x`,
    [regionId],
  );
  for (const level of ['grid', 'village', 'township', 'district', 'city']) {
    await tx.query(
      `UPDATE region r SET household_count =
         (SELECT count(*) FROM household h WHERE h.region_id = r.id)
         + coalesce((SELECT sum(c.household_count) FROM region c WHERE c.parent_id = r.id), 0)
       WHERE r.level = $1 AND r.id = ANY($2::int[])`,
      [level, rows[0]!.ids],
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
  const { rows } = await tx.query<{ ids: number[] }>(`SELECT coalesce(array_agg(id), '{}') AS ids FROM gp_ancestors($1::int[])`, [regionIds]);
  for (const level of ['grid', 'village', 'township', 'district', 'city']) {
    await tx.query(
      `UPDATE region r SET household_count =
         (SELECT count(*) FROM household h WHERE h.region_id = r.id)
         + coalesce((SELECT sum(c.household_count) FROM region c WHERE c.parent_id = r.id), 0)
       WHERE r.level = $1 AND r.id = ANY($2::int[])`,
      [level, rows[0]!.ids],
    );
  }
}

/** Households inside a region as points (at most `limit`, and whether there were more); null when there is no such region. */
export async function householdPoints(db: Queryable, regionId: number, limit: number) {
  const { rows } = await db.query<{ id: number; x: number; y: number; size: number; region_id: number | null }>(
    `SELECT h.id, round(ST_X(h.geom)::numeric, 7)::float8 AS x, round(ST_Y(h.geom)::numeric, 7)::float8 AS y, h.size, h.region_id
     FROM household h JOIN region r ON r.id = $1 AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)
     ORDER BY h.id LIMIT $2`,
    [regionId, limit + 1],
  );
  if (rows.length === 0 && (await db.query('SELECT 1 FROM region WHERE id = $1', [regionId])).rows.length === 0) return null;
  const features = rows.slice(0, limit).map((r) => ({
    type: 'Feature' as const,
    id: r.id,
    geometry: { type: 'Point' as const, coordinates: [r.x, r.y] as [number, number] },
    properties: { size: r.size, regionId: r.region_id },
  }));
  return { type: 'FeatureCollection' as const, truncated: rows.length > limit, features };
}

/**
 * The households of grid `grid` (an SQL expression) in a month beginning at `from`: those there now,
 * and those taken out (迁出, 拆除, 重复登记) since the month began — they were there in it. A month's
 * visit share does not rise when the households not visited are removed, nor fall for one visited
 * and then removed. (Households of other grids: their ids, as visits name them.)
 */
export const householdsOfMonth = (grid: string, from: string) => `(
  SELECT h.id, false AS removed FROM household h WHERE h.region_id = ${grid}
  UNION ALL
  SELECT u.id, true AS removed FROM household_undone u WHERE u.region_id = ${grid}
    AND EXISTS (SELECT 1 FROM change c WHERE c.op = u.op AND c.entity = 'household' AND c.action = 'delete' AND c.at >= ${from}))`;

/** The same for a list of grids at once (`grids`: an SQL int[]), each household with its grid (`grid_id`): a city's month read in one pass. */
export const householdsOfMonthIn = (grids: string, from: string) => `(
  SELECT h.region_id AS grid_id, h.id, false AS removed FROM household h WHERE h.region_id = ANY(${grids})
  UNION ALL
  SELECT u.region_id, u.id, true AS removed FROM household_undone u WHERE u.region_id = ANY(${grids})
    AND EXISTS (SELECT 1 FROM change c WHERE c.op = u.op AND c.entity = 'household' AND c.action = 'delete' AND c.at >= ${from}))`;

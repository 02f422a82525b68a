/**
 * npm run bench:autosplit — our auto-split beside the obvious alternative, in one run.
 *
 * A county-sized area (沾益区's real boundary, 2,800 km²) as one village holding 100,000
 * households from the demo generator (county seat and streets dense, township seats, hamlets by
 * relief, mountains nearly empty). Divided into rural grids (10–25 households, target 18) by:
 *   - ours: planGrids (the engine behind POST /regions/:id/autosplit), and
 *   - the baseline: ST_ClusterKMeans on the households (k = households / 18) and the Voronoi
 *     polygons of the cluster centres, clipped to the area.
 * Both are scored by the same SQL: grids, share within range, gap and overlap area, grids in
 * more than one piece, mean Polsby–Popper, corners per grid. Ours runs twice: with straight borders
 * (a balanced power diagram, the default) and with the households' own Voronoi outlines (the
 * engine before), so the cost and the gain of straightening show side by side.
 *
 * Then the same on the demo district as it is used: its 147 villages and communities, each
 * divided on its own (the baseline: k-means and Voronoi per village). Last, the 40 biggest of them
 * get synthetic roads (a main road through the middle of the houses, lanes on a square grid
 * about three grids apart) imported as barrier lines: both are scored on the share of their
 * border inside the village that runs along a road, by the same SQL.
 * Runs on PGlite, and PostgreSQL when DATABASE_URL is set.
 *   npm run bench:autosplit -- [--households 100000] [--skip-area] [--skip-villages] [--skip-roads] [--skip-baseline (one area)]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { planGrids } from '../../server/db/autosplit-plan.ts';
import type { Db, Queryable } from '../../server/db/db.ts';
import { insertRegions } from '../../server/db/regions.ts';
import { parseBoundaryFeatures, type Position } from '../../server/domain/geojson-input.ts';
import { Random } from '../../server/seed/random.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';
import { generateHouseholds, planTownships, Territory } from '../../server/seed/settlements.ts';
import { benchDatabases, postgisVersion } from './databases.ts';

const { values } = parseArgs({
  options: {
    households: { type: 'string', default: '100000' },
    'skip-area': { type: 'boolean' },
    'skip-villages': { type: 'boolean' },
    'skip-roads': { type: 'boolean' },
    'skip-baseline': { type: 'boolean' },
  },
});
const HOUSEHOLDS = Number(values.households);
const RULE = { min: 10, max: 25, target: 18 };

const file = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'data', 'boundaries', 'qujing.geojson'), 'utf8'));
const county = parseBoundaryFeatures(file).features.find((f) => f.code === '530303')!;

async function buildArea(db: Db): Promise<number> {
  const random = new Random(100_000);
  const territory = new Territory(county.coordinates, random);
  const seat: Position = [103.822324, 25.600507];
  const townships = planTownships(
    territory,
    seat,
    ['西平街道', '龙华街道', '金龙街道', '花山街道'],
    ['白水镇', '盘江镇', '德泽乡', '菱角乡', '炎方乡', '大坡乡', '播乐乡'],
    random,
  );
  const households = generateHouseholds(territory, seat, townships, HOUSEHOLDS, random);
  return db.transaction(async (tx) => {
    const [district] = await insertRegions(tx, [{ parentId: null, level: 'district', code: '530303', name: '沾益区', coordinates: county.coordinates }], true);
    const [township] = await insertRegions(
      tx,
      [{ parentId: district!, level: 'township', code: '530303-001', name: '全区', coordinates: county.coordinates }],
      true,
    );
    const [village] = await insertRegions(
      tx,
      [{ parentId: township!, level: 'village', code: '530303-001-001', name: '全区一村', coordinates: county.coordinates, gridType: 'rural' }],
      true,
    );
    for (let i = 0; i < households.length; i += 10_000) {
      const part = households.slice(i, i + 10_000);
      await tx.query(
        `INSERT INTO household (geom, size, region_id) SELECT ST_SetSRID(ST_MakePoint(x, y), 4326), s, $4 FROM unnest($1::float8[], $2::float8[],
          $3::int[]) AS u(x, y, s)`,
        [part.map((h) => h.lon), part.map((h) => h.lat), part.map((h) => h.size), village],
      );
    }
    await tx.query('ANALYZE household');
    return village!;
  });
}

interface Score {
  vertices: number;
  grids: number;
  within: number;
  gapM2: number;
  overlapM2: number;
  multipart: number;
  compactness: number;
  households: number;
}

/** The same yardstick for both: grids in `bench_grid(geom)` against the village and its households. */
async function score(tx: Queryable, villageId: number): Promise<Score> {
  const { rows } = await tx.query<Score>(
    `WITH g AS (SELECT geom, (SELECT count(*) FROM household h WHERE h.geom && b.geom AND ST_Intersects(b.geom, h.geom)) AS n FROM bench_grid b),
     u AS (SELECT ST_Union(geom, gp_grid()) AS geom, sum(gp_area_m2(geom)) AS s FROM bench_grid),
     v AS (SELECT geom FROM region WHERE id = $1)
     SELECT (SELECT count(*)::int FROM g) AS grids,
            (SELECT count(*)::int FROM g WHERE n BETWEEN $2 AND $3) AS within,
            (SELECT sum(n)::int FROM g) AS households,
            gp_area_m2(gp_difference(v.geom, u.geom)) AS "gapM2",
            u.s - gp_area_m2(u.geom) AS "overlapM2",
            (SELECT count(*)::int FROM bench_grid WHERE ST_NumGeometries(geom) > 1) AS multipart,
            (SELECT avg(4 * pi() * gp_area_m2(geom) / ST_Perimeter(geom::geography) ^ 2) FROM bench_grid WHERE NOT ST_IsEmpty(geom)) AS compactness,
            (SELECT avg(ST_NPoints(geom) - ST_NumGeometries(geom) - ST_NumInteriorRings(ST_GeometryN(geom, 1)))::float8
             FROM bench_grid WHERE NOT ST_IsEmpty(geom)) AS vertices
     FROM u, v`,
    [villageId, RULE.min, RULE.max],
  );
  return rows[0]!;
}

/** The yardstick per village (each grid against its own type's range), for the district's villages. */
async function scoreVillages(tx: Queryable): Promise<Score> {
  const { rows } = await tx.query<Score>(
    `WITH g AS (
       SELECT b.geom, b.village_id, (SELECT count(*) FROM household h WHERE h.geom && b.geom AND ST_Intersects(b.geom, h.geom)) AS n FROM bench_grid b
     ),
     r AS (SELECT v.id, coalesce(d.min_households, t.min_households) AS lo, coalesce(d.max_households, t.max_households) AS hi
           FROM region v JOIN grid_type_rule t ON t.district_id IS NULL AND t.grid_type = v.grid_type
           LEFT JOIN grid_type_rule d ON d.district_id = (SELECT id FROM region WHERE level = 'district' LIMIT 1) AND d.grid_type = v.grid_type
           WHERE v.level = 'village'),
     -- per village: what its grids leave uncovered, and cover twice
     cover AS (
       SELECT gp_area_m2(gp_difference(v.geom, u.geom)) AS gap, u.s - gp_area_m2(u.geom) AS overlap
       FROM region v JOIN (SELECT village_id, ST_Union(geom, gp_grid()) AS geom, sum(gp_area_m2(geom)) AS s FROM bench_grid GROUP BY village_id) u
         ON u.village_id = v.id
     )
     SELECT count(*)::int AS grids, count(*) FILTER (WHERE g.n BETWEEN r.lo AND r.hi)::int AS within, sum(g.n)::int AS households,
            (SELECT sum(gap)::float8 FROM cover) AS "gapM2", (SELECT sum(overlap)::float8 FROM cover) AS "overlapM2",
            count(*) FILTER (WHERE ST_NumGeometries(g.geom) > 1)::int AS multipart,
            avg(4 * pi() * gp_area_m2(g.geom) / nullif(ST_Perimeter(g.geom::geography), 0) ^ 2) AS compactness,
            avg(ST_NPoints(g.geom) - ST_NumGeometries(g.geom) - ST_NumInteriorRings(ST_GeometryN(g.geom, 1)))::float8 AS vertices
     FROM g JOIN r ON r.id = g.village_id WHERE NOT ST_IsEmpty(g.geom)`,
  );
  return rows[0]!;
}

async function ours(db: Db, villageId: number, straight: boolean): Promise<{ ms: number; score: Score; infeasible: number; straight: number }> {
  return db.transaction(async (tx) => {
    const t = performance.now();
    const { grids } = await planGrids(tx, villageId, { gridType: 'rural', ...RULE, straight });
    const ms = performance.now() - t;
    await tx.query('CREATE TEMP TABLE bench_grid ON COMMIT DROP AS SELECT geom FROM autosplit_grid');
    // Infeasible: grids the engine itself flags (a single address above the maximum, too few in a piece).
    return {
      ms,
      score: await score(tx, villageId),
      infeasible: grids.filter((g) => g.reason && g.reason !== 'no_balanced_cut').length,
      straight: grids.filter((g) => g.straight).length,
    };
  });
}

/** The demo district (沾益区, 78,700 households, 147 villages and communities of every type), seeded in the database. */
async function seedDemo(db: Db): Promise<number> {
  await seedDistrict(db, DEMO);
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district'`);
  return rows[0]!.id;
}

async function oursVillages(db: Db, districtId: number, straight: boolean): Promise<{ ms: number; score: Score; straight: number }> {
  return db.transaction(async (tx) => {
    const t = performance.now();
    const { grids } = await planGrids(tx, districtId, { straight });
    const ms = performance.now() - t;
    await tx.query('CREATE TEMP TABLE bench_grid ON COMMIT DROP AS SELECT village_id, geom FROM autosplit_grid');
    return { ms, score: await scoreVillages(tx), straight: grids.filter((g) => g.straight).length };
  });
}

async function baselineOnRoads(db: Db, villages: number[]): Promise<{ ms: number; score: Score; share: number }> {
  return baselineVillages(db, villages) as Promise<{ ms: number; score: Score; share: number }>;
}

async function baselineVillages(db: Db, villages?: number[]): Promise<{ ms: number; score: Score; share?: number }> {
  return db.transaction(async (tx) => {
    const t = performance.now();
    // per village: k-means of its households (k from its type's target), the Voronoi of the centres, clipped to the village
    await tx.query(
      `CREATE TEMP TABLE bench_grid ON COMMIT DROP AS
       WITH hv AS (SELECT h.geom, v.id AS village_id FROM household h JOIN region g ON g.id = h.region_id JOIN region v ON v.id = g.parent_id),
       -- each village's own rule: the district's, else the default
       t AS (SELECT DISTINCT ON (grid_type) grid_type, target_households FROM grid_type_rule ORDER BY grid_type, district_id NULLS LAST),
       k AS (SELECT v.id, greatest(1, round(count(hv.geom) / t.target_households::float8))::int AS k FROM region v
             JOIN t ON t.grid_type = v.grid_type JOIN hv ON hv.village_id = v.id
             WHERE v.level = 'village' GROUP BY v.id, t.target_households),
       c AS (SELECT hv.village_id, ST_ClusterKMeans(hv.geom, k.k) OVER (PARTITION BY hv.village_id) AS cid, hv.geom FROM hv JOIN k ON k.id = hv.village_id),
       centre AS (SELECT village_id, ST_Centroid(ST_Collect(geom)) AS geom FROM c GROUP BY village_id, cid),
       cell AS (SELECT x.village_id, (ST_Dump(CASE WHEN count(*) = 1 THEN ST_Expand(ST_Envelope(r.geom), 0.01)
                  ELSE ST_VoronoiPolygons(ST_Collect(x.geom), 0, ST_Expand(ST_Envelope(r.geom), 0.01)) END)).geom AS geom
                FROM centre x JOIN region r ON r.id = x.village_id GROUP BY x.village_id, r.geom)
       SELECT cell.village_id, ST_Multi(ST_CollectionExtract(ST_Intersection(cell.geom, r.geom, gp_grid()), 3)) AS geom
       FROM cell JOIN region r ON r.id = cell.village_id`,
    );
    const ms = performance.now() - t;
    if (!villages) return { ms, score: await scoreVillages(tx) };
    await tx.query('DELETE FROM bench_grid WHERE NOT village_id = ANY($1::int[])', [villages]);
    return { ms, score: await scoreVillages(tx), share: await onRoads(tx, villages) };
  });
}

async function baseline(db: Db, villageId: number): Promise<{ ms: number; score: Score }> {
  return db.transaction(async (tx) => {
    const t = performance.now();
    await tx.query(
      `CREATE TEMP TABLE bench_grid ON COMMIT DROP AS
       WITH k AS (SELECT ST_ClusterKMeans(geom, $2) OVER () AS cid, geom FROM household),
       c AS (SELECT ST_Centroid(ST_Collect(geom)) AS geom FROM k GROUP BY cid),
       v AS (SELECT (ST_Dump(ST_VoronoiPolygons(ST_Collect(c.geom), 0, (SELECT ST_Expand(geom, 0.1) FROM region WHERE id = $1)))).geom AS geom FROM c)
       SELECT ST_Multi(ST_CollectionExtract(ST_Intersection(v.geom, r.geom, gp_grid()), 3)) AS geom FROM v, region r WHERE r.id = $1`,
      [villageId, Math.round(HOUSEHOLDS / RULE.target)],
    );
    const ms = performance.now() - t;
    return { ms, score: await score(tx, villageId) };
  });
}

/** Synthetic roads in the 40 biggest villages: a main road west–east through the middle of the houses, lanes every ~3 grids. */
async function addRoads(db: Db): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `WITH v AS (
       SELECT v.id, v.geom, v.household_count AS n, ST_Centroid(ST_Collect(h.geom)) AS c
       FROM region v JOIN household h ON h.geom && v.geom AND ST_Intersects(v.geom, h.geom)
       WHERE v.level = 'village' GROUP BY v.id ORDER BY v.household_count DESC, v.id LIMIT 40
     ),
     -- lanes: blocks of about 54 households (three grids of 18), in degrees at the village's latitude
     s AS (SELECT id, geom, c, sqrt(gp_area_m2(geom) / greatest(n / 54.0, 1)) / 111320.0 AS step FROM v),
     lines AS (
       SELECT id, 'main_road' AS class, ST_MakeLine(ST_MakePoint(ST_XMin(geom), ST_Y(c)), ST_MakePoint(ST_XMax(geom), ST_Y(c))) AS g FROM s
       UNION ALL
       SELECT id, 'lane', ST_MakeLine(ST_MakePoint(x::float8, ST_YMin(geom)), ST_MakePoint(x::float8, ST_YMax(geom)))
       FROM s, generate_series((ST_XMin(geom) + step)::numeric, ST_XMax(geom)::numeric, step::numeric) AS x
       UNION ALL
       SELECT id, 'lane', ST_MakeLine(ST_MakePoint(ST_XMin(geom), y::float8), ST_MakePoint(ST_XMax(geom), y::float8))
       FROM s, generate_series((ST_YMin(geom) + step / 2)::numeric, ST_YMax(geom)::numeric, step::numeric) AS y
     ),
     ins AS (INSERT INTO barrier (class, name, geom) SELECT class, '', ST_Multi(ST_SetSRID(g, 4326)) FROM lines RETURNING 1)
     SELECT id FROM v ORDER BY id`,
  );
  return rows.map((r) => r.id);
}

/** The share of the border drawn inside each village (not its outline) that runs along a barrier line, for grids in bench_grid(village_id, geom). */
async function onRoads(tx: Queryable, villages: number[]): Promise<number> {
  const { rows } = await tx.query<{ share: number }>(
    `WITH v AS (SELECT id, ST_Buffer(ST_Boundary(geom), 1e-7) AS outline,
                       (SELECT ST_Buffer(ST_Union(ST_Intersection(b.geom, r.geom)), 1e-7) FROM barrier b WHERE b.geom && r.geom) AS roads
                FROM region r WHERE id = ANY($1::int[])),
     g AS (SELECT ST_Boundary(b.geom) AS edge, v.outline, v.roads FROM bench_grid b JOIN v ON v.id = b.village_id)
     SELECT sum(ST_Length(ST_Intersection(ST_Difference(edge, outline), roads)::geography)) / sum(ST_Length(ST_Difference(edge, outline)::geography)) AS share
     FROM g`,
    [villages],
  );
  return rows[0]!.share;
}

async function oursRoads(db: Db, districtId: number, villages: number[], imported: boolean) {
  return db.transaction(async (tx) => {
    const t = performance.now();
    await planGrids(tx, districtId, { importedBarriers: imported, describe: false });
    const ms = performance.now() - t;
    await tx.query('CREATE TEMP TABLE bench_grid ON COMMIT DROP AS SELECT village_id, geom FROM autosplit_grid WHERE village_id = ANY($1::int[])', [villages]);
    return { ms, share: await onRoads(tx, villages), score: await scoreVillages(tx) };
  });
}

const pct = (a: number, b: number) => `${((100 * a) / Math.max(b, 1)).toFixed(1)}%`;
const m2 = (x: number) => `${x.toFixed(2)} m²`;

const row = (name: string, r: { ms: number; score: Score }, extra = '') =>
  console.log(
    `  ${name.padEnd(30)} ${(r.ms / 1000).toFixed(2).padStart(7)} s ${String(r.score.grids).padStart(6)} grids  within range ` +
      `${pct(r.score.within, r.score.grids).padStart(6)}  gap ${m2(r.score.gapM2).padStart(10)}  overlap ${m2(r.score.overlapM2).padStart(10)}  ` +
      `multi-piece ${String(r.score.multipart).padStart(4)}  compactness ${r.score.compactness.toFixed(3)}  ` +
      `corners/grid ${r.score.vertices.toFixed(1).padStart(5)}` +
      `  households ${r.score.households}${extra}`,
  );

for (const db of await benchDatabases('gridplan_bench_autosplit')) {
  const label = await postgisVersion(db);
  if (!values['skip-area']) {
    const what = `${HOUSEHOLDS.toLocaleString('en')} households in 沾益区 (one area), rural grids ${RULE.min}–${RULE.max}, target ${RULE.target}`;
    console.log(`\n${label}: ${what}`);
    const villageId = await buildArea(db);
    const a = await ours(db, villageId, true);
    const old = await ours(db, villageId, false);
    const b = values['skip-baseline'] ? { ms: NaN, score: a.score } : await baseline(db, villageId);
    const extra = (r: typeof a) =>
      `  straight ${pct(r.straight, r.score.grids)}; infeasible ${r.infeasible}; ` +
      `within range where feasible ${pct(r.score.within, r.score.grids - r.infeasible)}`;
    row('ours, straight (planGrids)', a, extra(a));
    row('ours, between the houses', old, extra(old));
    row('ST_ClusterKMeans + Voronoi', b);
    console.log(`  time ratio ours / baseline: ${(a.ms / b.ms).toFixed(2)} (target ≤ 2); straight / between the houses: ${(a.ms / old.ms).toFixed(2)}`);
    await db.query('DELETE FROM household');
    await db.query('DELETE FROM region');
  }
  if (!values['skip-villages']) {
    console.log(`\n${label}: the demo district's villages and communities, each divided by its own type's rule`);
    const t = performance.now();
    const districtId = await seedDemo(db);
    console.log(`  (seeded in ${((performance.now() - t) / 1000).toFixed(0)} s)`);
    const a = await oursVillages(db, districtId, true);
    const old = await oursVillages(db, districtId, false);
    const b = await baselineVillages(db);
    row('ours, straight (planGrids)', a, `  straight ${pct(a.straight, a.score.grids)}`);
    row('ours, between the houses', old);
    row('ST_ClusterKMeans + Voronoi', b);
    console.log(`  time ratio ours / baseline: ${(a.ms / b.ms).toFixed(2)}; straight / between the houses: ${(a.ms / old.ms).toFixed(2)} (target ≤ 2)`);
    if (!values['skip-roads']) {
      const villages = await addRoads(db);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM barrier');
      console.log(`\n${label}: ${villages.length} biggest villages with synthetic roads (${rows[0]!.n} lines: a main road, lanes about three grids apart)`);
      const withRoads = await oursRoads(db, districtId, villages, true);
      const without = await oursRoads(db, districtId, villages, false);
      const base = await baselineOnRoads(db, villages);
      const line = (name: string, r: { ms: number; share: number; score: Score }) =>
        console.log(
          `  ${name.padEnd(30)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  border along roads ${pct(r.share, 1).padStart(6)}  ` +
            `compactness ${r.score.compactness.toFixed(3)}  corners/grid ${r.score.vertices.toFixed(1)}  within range ${pct(r.score.within, r.score.grids)}`,
        );
      line('ours, along the roads', withRoads);
      line('ours, roads not given', without);
      line('ST_ClusterKMeans + Voronoi', base);
      console.log(`  time ratio along the roads / not given: ${(withRoads.ms / without.ms).toFixed(2)}`);
    }
  }
  await db.close();
}

/**
 * npm run bench:coverage — our coverage validator beside the obvious alternatives, in one run.
 *
 * A Qujing-scale layer: 1 district → 20 townships → 180 villages → 21,600 grids on a jittered
 * lattice (shared vertices exact), with known defects injected, each in its own village. Prints
 * time and precision/recall per kind for: our validator; a naive pairwise ST_Intersects +
 * ST_Intersection join with parent − union gaps; ST_CoverageInvalidEdges where PostGIS has it.
 * Then validates the real county boundaries of the four seed cities as children of their city.
 * Runs on PGlite, and on PostgreSQL too when DATABASE_URL is set (in a scratch database).
 *   npm run bench:coverage -- [--city qujing]   (a whole seeded city instead: minutes to seed)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateCoverage, hasCoverageFunctions, type CoverageReport } from '../../server/db/coverage.ts';
import type { Db } from '../../server/db/db.ts';
import { maintain } from '../../server/db/db.ts';
import { seedCity } from '../../server/seed/seed-city.ts';
import { DEMO } from '../../server/seed/seed-district.ts';
import { benchDatabases } from './databases.ts';
import { insertRegions } from '../../server/db/regions.ts';
import { parseBoundaryFeatures, type Position } from '../../server/domain/geojson-input.ts';
import { childCode } from '../../server/domain/hierarchy.ts';
import { Random } from '../../server/seed/random.ts';

const GRID = 2 ** -30;
const snap = (v: number) => Math.round(v / GRID) * GRID;
const [TW_X, TW_Y, V_X, V_Y, G_X, G_Y] = [4, 5, 3, 3, 10, 12]; // 20 townships, 180 villages, 21,600 grids
const D = 0.004; // lattice step in degrees (~400 m)
const TOLERANCE_M2 = 10;

/** Lattice point (i, j), jittered inside, exact on the outer border. */
function lattice(random: Random) {
  const cols = TW_X * V_X * G_X;
  const rows = TW_Y * V_Y * G_Y;
  const pts: Position[][] = [];
  for (let i = 0; i <= cols; i++) {
    pts[i] = [];
    for (let j = 0; j <= rows; j++) {
      const inner = i > 0 && j > 0 && i < cols && j < rows;
      const jx = inner ? random.range(-0.3, 0.3) * D : 0;
      const jy = inner ? random.range(-0.3, 0.3) * D : 0;
      pts[i]![j] = [snap(104 + i * D + jx), snap(25 + j * D + jy)];
    }
  }
  return pts;
}

/** The ring around lattice cells [i0, i1) × [j0, j1), through every lattice point on its border. */
function blockRing(p: Position[][], i0: number, j0: number, i1: number, j1: number): Position[] {
  const ring: Position[] = [];
  for (let i = i0; i < i1; i++) ring.push(p[i]![j0]!);
  for (let j = j0; j < j1; j++) ring.push(p[i1]![j]!);
  for (let i = i1; i > i0; i--) ring.push(p[i]![j1]!);
  for (let j = j1; j > j0; j--) ring.push(p[i0]![j]!);
  ring.push(ring[0]!);
  return ring;
}

interface Expected {
  kind: string;
  key: string;
}

async function buildLayer(db: Db): Promise<{ districtId: number; expected: Expected[] }> {
  const random = new Random(42);
  const p = lattice(random);
  return db.transaction(async (tx) => {
    const [districtId] = await insertRegions(tx, [
      { parentId: null, level: 'district', code: '539900', name: '基准市', coordinates: [[blockRing(p, 0, 0, TW_X * V_X * G_X, TW_Y * V_Y * G_Y)]] },
    ]);
    const townships = [];
    for (let tx_ = 0; tx_ < TW_X; tx_++) for (let ty = 0; ty < TW_Y; ty++) townships.push({ tx_, ty });
    const tIds = await insertRegions(
      tx,
      townships.map(({ tx_, ty }, n) => ({
        parentId: districtId!,
        level: 'township',
        code: childCode('539900', 'township', n + 1),
        name: `镇${n + 1}`,
        coordinates: [[blockRing(p, tx_ * V_X * G_X, ty * V_Y * G_Y, (tx_ + 1) * V_X * G_X, (ty + 1) * V_Y * G_Y)]],
      })),
    );
    const villages: { parentId: number; code: string; i0: number; j0: number }[] = [];
    townships.forEach(({ tx_, ty }, n) => {
      let k = 0;
      for (let vx = 0; vx < V_X; vx++)
        for (let vy = 0; vy < V_Y; vy++) {
          villages.push({
            parentId: tIds[n]!,
            code: childCode(childCode('539900', 'township', n + 1), 'village', ++k),
            i0: (tx_ * V_X + vx) * G_X,
            j0: (ty * V_Y + vy) * G_Y,
          });
        }
    });
    const vIds = await insertRegions(
      tx,
      villages.map((v, n) => ({
        parentId: v.parentId,
        level: 'village',
        code: v.code,
        name: `村${n + 1}`,
        coordinates: [[blockRing(p, v.i0, v.j0, v.i0 + G_X, v.j0 + G_Y)]],
      })),
    );
    const grids = villages.flatMap((v, n) => {
      const out = [];
      let k = 0;
      for (let gx = 0; gx < G_X; gx++)
        for (let gy = 0; gy < G_Y; gy++) {
          out.push({
            parentId: vIds[n]!,
            level: 'grid' as const,
            code: childCode(v.code, 'grid', ++k),
            name: `网格${k}`,
            gridType: 'rural',
            coordinates: [[blockRing(p, v.i0 + gx, v.j0 + gy, v.i0 + gx + 1, v.j0 + gy + 1)]],
          });
        }
      return out;
    });
    for (let i = 0; i < grids.length; i += 4_000) await insertRegions(tx, grids.slice(i, i + 4_000));
    await tx.query(`INSERT INTO worker (name) SELECT '员' || g FROM generate_series(1, 100) AS g`);
    await tx.query(`UPDATE region SET household_count = 15, worker_id = (SELECT min(id) FROM worker) WHERE level = 'grid'`);
    // Every grid staffed as the default model asks: a leader, a police officer and an instructor per village.
    await tx.query(`INSERT INTO worker (name, role) SELECT r.code || '-' || sr.code, sr.code FROM region r, staff_role sr
                    WHERE r.level = 'village' AND sr.code <> 'full_time' AND sr.min_per_grid > 0`);
    await tx.query(`INSERT INTO grid_staff (grid_id, worker_id, role)
                    SELECT g.id, w.id, w.role FROM region g JOIN region v ON v.id = g.parent_id
                      JOIN staff_role sr ON sr.code <> 'full_time' AND sr.min_per_grid > 0 JOIN worker w ON w.name = v.code || '-' || sr.code
                    WHERE g.level = 'grid'`);

    // Defects, each kind in its own villages. A grid is named by (village number, grid number).
    const expected: Expected[] = [];
    const grid = async (v: number, g: number) =>
      (await tx.query<{ id: number; parent_id: number }>('SELECT id, parent_id FROM region WHERE code = $1', [childCode(villages[v]!.code, 'grid', g)]))
        .rows[0]!;
    const PER_KIND = 5;
    // Spills go in villages on the district's west border; every other defect in an inner village.
    const west = villages.flatMap((x, i) => (x.i0 === 0 ? [i] : []));
    const inner = villages.flatMap((x, i) => (x.i0 === 0 ? [] : [i]));
    let next = 0;
    let v = inner[0]!;
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // gap: a deleted grid
      const g = await grid(v, 50);
      await tx.query('DELETE FROM region WHERE id = $1', [g.id]);
      expected.push({ kind: 'gap', key: `${g.parent_id}` });
    }
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // overlap: a grid takes a strip of its upper neighbour
      const a = await grid(v, 50);
      const b = await grid(v, 51);
      await tx.query(
        `UPDATE region SET geom = ST_Multi(ST_Union(geom, ST_Intersection((SELECT geom FROM region WHERE id = $2), ST_Buffer(geom, 0.0004), gp_grid()),
          gp_grid())) WHERE id = $1`,
        [a.id, b.id],
      );
      expected.push({ kind: 'overlap', key: [a.id, b.id].sort((x, y) => x - y).join(',') });
    }
    for (let n = 0; n < PER_KIND; n++) {
      // outside: a grid on the district's west border reaches beyond it
      const g = await grid(west[n]!, 1 + (n % G_Y));
      // The strip west of the border only: the district's west border is straight and unjittered.
      await tx.query(
        `UPDATE region SET geom = ST_Multi(ST_Union(geom, gp_difference(ST_Translate(ST_Envelope(geom), -0.0005, 0), (SELECT geom FROM region
          WHERE level = 'district' AND code = '539900')), gp_grid())) WHERE id = $1`,
        [g.id],
      );
      expected.push({ kind: 'outside_parent', key: `${g.id}` });
    }
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // sliver: a grid pulled back 2e-8° (2 mm) from its east neighbour
      const g = await grid(v, 50);
      await tx.query(
        `UPDATE region SET geom = ST_Multi(ST_CollectionExtract(ST_Intersection(geom, ST_Translate(geom, -2e-8, 0), gp_grid()), 3)) WHERE id = $1`,
        [g.id],
      );
      expected.push({ kind: 'sliver', key: `${g.parent_id}` });
    }
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // invalid: a bow-tie (its area then also shows as a gap)
      const g = await grid(v, 50);
      await tx.query(
        `UPDATE region SET geom = ST_Multi(ST_MakePolygon(ST_MakeLine(ARRAY[
        ST_PointN(ST_ExteriorRing(ST_Envelope(geom)), 1), ST_PointN(ST_ExteriorRing(ST_Envelope(geom)), 3),
        ST_PointN(ST_ExteriorRing(ST_Envelope(geom)), 2), ST_PointN(ST_ExteriorRing(ST_Envelope(geom)), 4),
        ST_PointN(ST_ExteriorRing(ST_Envelope(geom)), 1)]))) WHERE id = $1`,
        [g.id],
      );
      expected.push({ kind: 'invalid_geometry', key: `${g.id}` }, { kind: 'gap', key: `${g.parent_id}` });
    }
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // multipart: a grid takes over a non-adjacent sibling
      const a = await grid(v, 50);
      const c = await grid(v, 52);
      await tx.query(`UPDATE region SET geom = ST_Multi(ST_CollectionExtract(ST_Collect(geom, (SELECT geom FROM region WHERE id = $2)), 3)) WHERE id = $1`, [
        a.id,
        c.id,
      ]);
      await tx.query('DELETE FROM region WHERE id = $1', [c.id]);
      expected.push({ kind: 'multipart_grid', key: `${a.id}` });
    }
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // rules: out of range, no worker, bad code
      const a = await grid(v, 10);
      const b = await grid(v, 20);
      const c = await grid(v, 30);
      const d = await grid(v, 40);
      await tx.query('UPDATE region SET household_count = 3 WHERE id = $1', [a.id]);
      await tx.query('UPDATE region SET worker_id = NULL WHERE id = $1', [b.id]);
      await tx.query(`UPDATE region SET code = code || 'x' WHERE id = $1`, [c.id]);
      await tx.query(`DELETE FROM grid_staff WHERE grid_id = $1 AND role = 'police'`, [d.id]);
      expected.push(
        { kind: 'households_out_of_range', key: `${a.id}` },
        { kind: 'grid_without_worker', key: `${b.id}` },
        { kind: 'code_mismatch', key: `${c.id}` },
        { kind: 'grid_missing_role', key: `${d.id}` },
      );
    }
    for (let n = 0; n < PER_KIND; n++, v = inner[++next]!) {
      // orphan: a household inside one grid, assigned to another
      const a = await grid(v, 10);
      const b = await grid(v, 20);
      await tx.query(`INSERT INTO household (geom, size, region_id) SELECT ST_PointOnSurface(geom), 3, $2 FROM region WHERE id = $1`, [a.id, b.id]);
      expected.push({ kind: 'orphan_household', key: `${b.id}` });
    }
    return { districtId: districtId!, expected };
  });
}

function keyOf(f: CoverageReport['issues']['features'][number]): string {
  const p = f.properties;
  if (p.kind === 'gap' || p.kind === 'sliver') return `${p.parentId}`;
  return [...p.regionIds].sort((a, b) => a - b).join(',');
}

function score(found: { kind: string; key: string }[], expected: Expected[], kinds: string[]) {
  return kinds.map((kind) => {
    const want = new Set(expected.filter((e) => e.kind === kind).map((e) => e.key));
    const got = found.filter((f) => f.kind === kind);
    const hits = got.filter((f) => want.has(f.key)).length;
    const matched = new Set(got.filter((f) => want.has(f.key)).map((f) => f.key)).size;
    return {
      kind,
      expected: want.size,
      found: got.length,
      precision: got.length ? hits / got.length : want.size ? 0 : 1,
      recall: want.size ? matched / want.size : 1,
    };
  });
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/** A warm-up run, then the median of three. */
async function median3<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  await fn();
  const runs = [await time(fn), await time(fn), await time(fn)].sort((a, b) => a.ms - b.ms);
  return runs[1]!;
}

async function benchLayer(db: Db) {
  console.log(`\n== ${db.driver}: building the layer…`);
  const built = await time(() => buildLayer(db));
  const { districtId, expected } = built.value;
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level = 'grid'`);
  console.log(`   ${rows[0]!.n} grids, ${expected.length} injected defects, built in ${seconds(built.ms)}`);
  const kinds = [...new Set(expected.map((e) => e.kind))];

  await db.query('ANALYZE');
  const ours = await median3(() => validateCoverage(db, districtId, { depth: 'all', toleranceM2: TOLERANCE_M2 }));
  const oursFound = ours.value.issues.features.map((f) => ({
    kind: f.properties.kind,
    key: f.properties.kind === 'orphan_household' ? `${f.properties.regionIds[0]}` : keyOf(f),
  }));

  // Naive: every touching sibling pair intersected; every parent minus the union of its children.
  const naive = await time(async () => {
    const overlaps = await db.query<{ a: number; b: number; area: number }>(
      `SELECT a.id AS a, b.id AS b, gp_area_m2(ST_Intersection(a.geom, b.geom, gp_grid())) AS area
       FROM region a JOIN region b ON a.parent_id = b.parent_id AND a.id < b.id AND ST_Intersects(a.geom, b.geom)
       WHERE ST_IsValid(a.geom) AND ST_IsValid(b.geom)`,
    );
    const gaps = await db.query<{ id: number; area: number }>(
      `SELECT p.id, gp_area_m2(ST_Difference(p.geom, ST_Union(c.geom, gp_grid()), gp_grid())) AS area
       FROM region p JOIN region c ON c.parent_id = p.id WHERE ST_IsValid(c.geom) GROUP BY p.id, p.geom`,
    );
    return [
      ...overlaps.rows.filter((r) => r.area >= TOLERANCE_M2).map((r) => ({ kind: 'overlap', key: `${r.a},${r.b}` })),
      ...gaps.rows.filter((r) => r.area >= TOLERANCE_M2).map((r) => ({ kind: 'gap', key: `${r.id}` })),
    ];
  });

  const coverageAvailable = await hasCoverageFunctions(db);
  const invalidEdges = coverageAvailable
    ? await median3(
        async () =>
          (
            await db.query<{ id: number }>(
              `SELECT id FROM (SELECT id, ST_CoverageInvalidEdges(geom) OVER (PARTITION BY parent_id) AS e FROM region WHERE ST_IsValid(geom)) x
                WHERE e IS NOT NULL`,
            )
          ).rows,
      )
    : null;

  console.log(`\n   ${'kind'.padEnd(24)} ${'injected'.padStart(8)}   ours: found  prec  recall   naive: found  prec  recall`);
  const naiveScores = score(naive.value, expected, kinds);
  for (const s of score(oursFound, expected, kinds)) {
    const n = naiveScores.find((x) => x.kind === s.kind)!;
    const naiveCovers = s.kind === 'gap' || s.kind === 'overlap';
    console.log(
      `   ${s.kind.padEnd(24)} ${String(s.expected).padStart(8)}   ` +
        `${String(s.found).padStart(11)} ${pct(s.precision).padStart(5)} ${pct(s.recall).padStart(7)}   ` +
        `${naiveCovers ? `${String(n.found).padStart(12)} ${pct(n.precision).padStart(5)} ${pct(n.recall).padStart(7)}` : '           — (not checked)'}`,
    );
  }
  const unexpected = oursFound.filter((f) => !kinds.includes(f.kind));
  if (unexpected.length > 0)
    console.log(`   ours also found ${unexpected.length} problems of kinds never injected: ${[...new Set(unexpected.map((f) => f.kind))].join(', ')}`);
  const spatialMs = ours.ms;
  console.log(`\n   time  ours (all kinds, path ${ours.value.summary.path}): ${seconds(spatialMs)}`);
  console.log(`         naive pairwise join (gaps + overlaps only):  ${seconds(naive.ms)}   → ours is ${(naive.ms / spatialMs).toFixed(1)}× faster`);
  if (invalidEdges) {
    console.log(
      `         ST_CoverageInvalidEdges (flags edges only):  ${seconds(invalidEdges.ms)}   → ours takes ${(spatialMs / invalidEdges.ms).toFixed(1)}× ` +
        `as long, and also measures and locates every problem`,
    );
    const overlapIds = new Set(expected.filter((e) => e.kind === 'overlap').flatMap((e) => e.key.split(',').map(Number)));
    const flagged = new Set(invalidEdges.value.map((r) => r.id));
    console.log(
      `         (ST_CoverageInvalidEdges flagged ${flagged.size} polygons; ` +
        `${[...overlapIds].filter((i) => flagged.has(i)).length}/${overlapIds.size} of the overlapping grids; wide gaps are out of its scope)`,
    );
  } else {
    console.log('         ST_CoverageInvalidEdges: not in this PostGIS');
  }
  // Our other screening paths, same answers (tested), for the record.
  for (const path of coverageAvailable ? (['coverage', 'relate'] as const) : (['relate'] as const)) {
    const other = await median3(() => validateCoverage(db, districtId, { depth: 'all', toleranceM2: TOLERANCE_M2, path }));
    const same = JSON.stringify(other.value.issues) === JSON.stringify(ours.value.issues);
    console.log(`         ours with path ${path.padEnd(8)}:  ${seconds(other.ms)}${same ? ', the same problems' : '  — DIFFERENT PROBLEMS'}`);
  }
  console.log('         (ours and ST_CoverageInvalidEdges: median of three after a warm-up; the naive join: one run)');
}

/** The real county boundaries of each seed city, validated as children of their union. */
async function benchRealBoundaries(db: Db) {
  console.log(`\n== ${db.driver}: real county boundaries as children of their city (repaired)`);
  for (const city of ['qujing', 'jiuquan', 'zhangye', 'jiayuguan']) {
    const fc = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'data', 'boundaries', `${city}.geojson`), 'utf8'));
    const { features } = parseBoundaryFeatures(fc);
    const report = await db.transaction(async (tx) => {
      const code = `9${features[0]!.code.slice(0, 4)}0`;
      const [cityId] = await insertRegions(
        tx,
        [{ parentId: null, level: 'district', code: `${code}-${city}`, name: city, coordinates: features[0]!.coordinates }],
        true,
      );
      await insertRegions(
        tx,
        features.map((f, i) => ({
          parentId: cityId!,
          level: 'township',
          code: childCode(`${code}-${city}`, 'township', i + 1),
          name: f.name,
          coordinates: f.coordinates,
        })),
        true,
      );
      // The city is the union of its counties: what the files leave between counties is a gap.
      await tx.query(`UPDATE region SET geom = ST_Multi((SELECT ST_Union(geom, gp_grid()) FROM region WHERE parent_id = $1)) WHERE id = $1`, [cityId]);
      const r = await validateCoverage(tx, cityId!, { depth: 1, toleranceM2: 1_000 });
      const names = new Map(
        (await tx.query<{ id: number; name: string }>('SELECT id, name FROM region WHERE parent_id = $1', [cityId])).rows.map((x) => [x.id, x.name]),
      );
      await tx.query('DELETE FROM region WHERE parent_id = $1', [cityId]);
      await tx.query('DELETE FROM region WHERE id = $1', [cityId]);
      return { ...r, names };
    });
    const sum = (kind: string) => report.issues.features.filter((f) => f.properties.kind === kind).reduce((s, f) => s + (f.properties.areaM2 ?? 0), 0);
    const c = report.summary.counts;
    const area = (m2: number) => (m2 >= 1e6 ? `${(m2 / 1e6).toFixed(2)} km²` : `${Math.round(m2).toLocaleString('en')} m²`);
    console.log(
      `   ${city.padEnd(10)} ${features.length} counties: ${c.gap} gaps (${area(sum('gap'))}), ${c.overlap} overlaps (${area(sum('overlap'))}), ` +
        `${c.sliver} slivers under 1,000 m²  — ${report.summary.elapsedMs} ms`,
    );
    for (const f of report.issues.features.filter((x) => x.properties.kind !== 'sliver')) {
      const [x, y] = f.geometry?.type === 'Polygon' ? (f.geometry.coordinates as number[][][])[0]![0]! : [NaN, NaN];
      console.log(
        `      ${f.properties.kind} ${area(f.properties.areaM2 ?? 0)} near ${x!.toFixed(3)}, ${y!.toFixed(3)} between ` +
          `${f.properties.regionIds.map((id) => report.names.get(id) ?? id).join(' / ')}`,
      );
    }
  }
}

/**
 * A whole seeded city (`--city qujing`: nine counties, about 21,600 grids and 388,000 households):
 * our check of every level below the city beside ST_CoverageInvalidEdges over the same regions.
 */
async function benchCity(db: Db, city: string) {
  console.log(`\n== ${db.driver}: the city ${city}, seeded from its real county outlines…`);
  const seeded = await time(() => seedCity(db, { city, seed: DEMO.seed, scale: 1, rule: DEMO.rule! }));
  await maintain(db);
  if (db.driver === 'pg') await db.query('ANALYZE');
  const { cityId, grids, households } = seeded.value;
  console.log(`   ${grids.toLocaleString()} grids, ${households.toLocaleString()} households, seeded in ${seconds(seeded.ms)}`);
  const ours = await median3(() => validateCoverage(db, cityId, { depth: 'all', toleranceM2: TOLERANCE_M2 }));
  const steps = ours.value.summary.stepsMs;
  const problems = Object.entries(ours.value.summary.counts).filter(([, n]) => n > 0);
  console.log(
    `   ours, every level (path ${ours.value.summary.path}): ${seconds(ours.ms)} — tiling ${steps.tiling} ms (validity, gaps, overlaps, spills), ` +
      `rules ${steps.rules} ms, households ${steps.households} ms; found ${problems.map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing'}`,
  );
  if (!(await hasCoverageFunctions(db))) {
    console.log('   ST_CoverageInvalidEdges: not in this PostGIS');
    return;
  }
  const edges = await median3(async () => {
    const { rows } = await db.query<{ id: number }>(
      `SELECT id FROM (SELECT id, ST_CoverageInvalidEdges(geom) OVER (PARTITION BY parent_id) AS e FROM region WHERE ST_IsValid(geom)) x WHERE e IS NOT NULL`,
    );
    return rows.length;
  });
  console.log(`   ST_CoverageInvalidEdges (with ST_IsValid; flags edges only): ${seconds(edges.ms)}, ${edges.value} polygons flagged`);
  console.log(
    `   → the tiling takes ${(steps.tiling / edges.ms).toFixed(2)}× as long as ST_CoverageInvalidEdges (aim ≤ 1×); ` +
      `the whole report, with the grid rules and every household, ${(ours.ms / edges.ms).toFixed(2)}×`,
  );
}

const cityArg = process.argv.indexOf('--city');
const city = cityArg > 0 ? process.argv[cityArg + 1] : undefined;
for (const db of await benchDatabases('gridplan_bench')) {
  if (city) await benchCity(db, city);
  else {
    await benchLayer(db);
    await benchRealBoundaries(db);
  }
  await db.close();
}

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCoverage, type CoveragePath, type CoverageReport } from '../../server/db/coverage.ts';
import { insertRegions } from '../../server/db/regions.ts';
import { cellsToMultiPolygon, dropCollinear, toDegrees, type Cell } from '../support/cells.ts';
import { cloneTestDb, DRIVERS } from '../support/db.ts';
import type { Db } from '../../server/db/db.ts';

/**
 * A village on a small lattice and one or more layers of children over it: each layer labels
 * cells, each label becomes a child (the union of its cells — holes, enclaves and pieces touching
 * at a corner included). One exact layer is a tiling; more layers, a duplicated child, a child
 * nested in another, cells left out or outside the village make every kind of defect.
 */
const layerCase = fc
  .record({ w: fc.integer({ min: 2, max: 5 }), h: fc.integer({ min: 2, max: 5 }), k: fc.integer({ min: 1, max: 4 }) })
  .chain(({ w, h, k }) => {
    const n = w * h;
    return fc.record({
      w: fc.constant(w),
      h: fc.constant(h),
      // cells of the lattice the village leaves out (none: a rectangle)
      villageMissing: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: Math.floor(n / 3) }),
      // the first layer: a label per cell, -1 leaves the cell uncovered
      first: fc.array(fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: k - 1 }) }, { weight: 1, arbitrary: fc.constant(-1) }), {
        minLength: n,
        maxLength: n,
      }),
      // whether the first layer keeps to the village's cells
      exact: fc.boolean(),
      // further layers, mostly sparse: double and triple covers, nested children
      more: fc.array(
        fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) }), { minLength: n, maxLength: n }),
        { maxLength: 2 },
      ),
      duplicate: fc.option(fc.integer({ min: 0, max: k - 1 }), { nil: undefined }),
      // polygons drawn without their collinear vertices: borders split at other points than the neighbours'
      // (per layer, as one tool draws a layer; the last flag is the village's)
      simplify: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      // a whole second layer over the village, cut another way (the case the edge screen once missed)
      secondLayer: fc.boolean(),
    });
  });

type Case = typeof layerCase extends fc.Arbitrary<infer T> ? T : never;

/** The children of a case, each as its cells; and what an oracle counting cells says is wrong. */
function build(c: Case) {
  const cellOf = (i: number): Cell => [i % c.w, Math.floor(i / c.w)];
  const missing = new Set(c.villageMissing);
  const village = [...Array(c.w * c.h).keys()].filter((i) => !missing.has(i));
  const first = c.first.map((l, i) => (c.exact && missing.has(i) ? -1 : l));
  // the second layer: the village in columns rather than the first layer's labels
  const second = c.secondLayer ? [...Array(c.w * c.h).keys()].map((i) => (missing.has(i) ? -1 : i % c.w)) : [];
  const layers = [first, ...c.more, ...(second.length ? [second] : [])];
  const children: { cells: number[]; simplify: boolean }[] = [];
  layers.forEach((layer, n) => {
    const byLabel = new Map<number, number[]>();
    layer.forEach((l, i) => l >= 0 && byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
    children.push(...[...byLabel.values()].map((cells) => ({ cells, simplify: c.simplify[n]! })));
  });
  if (c.duplicate !== undefined && children[c.duplicate]) children.push({ ...children[c.duplicate]! });
  const cover = new Array<number>(c.w * c.h).fill(0);
  for (const ch of children) for (const i of ch.cells) cover[i]!++;
  return {
    village: village.map(cellOf),
    children: children.map((ch) => ({ cells: ch.cells.map(cellOf), simplify: ch.simplify })),
    oracle: {
      gap: village.some((i) => cover[i] === 0),
      overlap: cover.some((n) => n >= 2),
      outside_parent: cover.some((n, i) => n > 0 && missing.has(i)),
    },
  };
}

const RUNS = Number(process.env.COVERAGE_PROPERTY_RUNS ?? 30);
const CELL = 0.001; // degrees, about 100 m: every defect is far above the 1 m² sliver tolerance
const SPATIAL = new Set(['gap', 'overlap', 'outside_parent', 'sliver', 'invalid_geometry']);

for (const driver of DRIVERS) {
  describe(`coverage: every screening path finds the same problems on generated layers (${driver})`, () => {
    let db: Db;
    let dispose: () => Promise<void>;
    let township: number;
    let paths: CoveragePath[];
    let n = 0;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      db = t.db;
      dispose = t.dispose;
      const square = [
        [
          [
            [60, 10],
            [62, 10],
            [62, 12],
            [60, 12],
            [60, 10],
          ],
        ],
      ] as [number, number][][][];
      township = await db.transaction(async (tx) => {
        const [d] = await insertRegions(tx, [{ parentId: null, level: 'district', code: '690000', name: '生成区', coordinates: square }]);
        return (await insertRegions(tx, [{ parentId: d!, level: 'township', code: '690000-001', name: '生成镇', coordinates: square }]))[0]!;
      });
      const has36 = (await db.query(`SELECT 1 FROM pg_proc WHERE proname = 'st_coverageinvalidedges'`)).rows.length > 0;
      paths = has36 ? ['edges', 'coverage', 'relate'] : ['edges', 'relate'];
    });
    afterAll(() => dispose());

    it('agrees with the others and with counting cells: doubles, triples, nesting, holes, multipolygons, gaps, spills', async () => {
      await fc.assert(
        fc.asyncProperty(layerCase, async (c) => {
          const { village, children, oracle } = build(c);
          if (village.length === 0) return;
          n++;
          const origin: [number, number] = [60 + (n % 30) * 0.06, 10 + Math.floor(n / 30) * 0.06];
          const geo = (cells: Cell[], simplify = false) =>
            toDegrees((simplify ? dropCollinear : (x: ReturnType<typeof cellsToMultiPolygon>) => x)(cellsToMultiPolygon(cells)), origin, CELL);
          const villageId = await db.transaction(async (tx) => {
            const [v] = await insertRegions(tx, [
              {
                parentId: township,
                level: 'village',
                code: `690000-001-${String(n).padStart(3, '0')}`,
                name: `村${n}`,
                coordinates: geo(village, c.simplify[4]),
              },
            ]);
            await insertRegions(
              tx,
              children.map(({ cells, simplify }, i) => ({
                parentId: v!,
                level: 'grid' as const,
                code: `690000-001-${String(n).padStart(3, '0')}-${String(i + 1).padStart(4, '0')}`,
                name: `格${i + 1}`,
                coordinates: geo(cells, simplify),
              })),
            );
            return v!;
          });
          const reports: CoverageReport[] = [];
          for (const path of paths) reports.push(await validateCoverage(db, villageId, { depth: 1, toleranceM2: 1, path }));
          const spatial = (r: CoverageReport) => r.issues.features.filter((f) => SPATIAL.has(f.properties.kind));
          for (const [i, r] of reports.entries()) {
            const brief = (x: CoverageReport) =>
              spatial(x).map((f) => `${f.properties.kind} ${f.properties.regionIds.join('+')} ${f.properties.areaM2?.toFixed(3)}`);
            expect(brief(r), `${paths[i]} vs ${paths[0]} on ${JSON.stringify(c)}`).toEqual(brief(reports[0]!));
            expect(spatial(r), `${paths[i]} vs ${paths[0]} on ${JSON.stringify(c)}`).toEqual(spatial(reports[0]!));
            const kinds = new Set(spatial(r).map((f) => f.properties.kind));
            expect(
              { gap: kinds.has('gap'), overlap: kinds.has('overlap'), outside_parent: kinds.has('outside_parent') },
              `${paths[i]} on ${JSON.stringify(c)}`,
            ).toEqual(oracle);
          }
        }),
        {
          numRuns: RUNS,
          // Two complete layers, one drawn with long straight sides and one cell by cell, so that no
          // edge of one meets an edge of the other: every edge is matched, yet the village is covered twice.
          examples: [
            [
              {
                w: 3,
                h: 2,
                villageMissing: [],
                first: [0, 0, 0, 0, 0, 0],
                exact: true,
                more: [],
                duplicate: undefined,
                simplify: [true, false, false, false, false],
                secondLayer: true,
              },
            ],
          ],
        },
      );
    });
  });
}

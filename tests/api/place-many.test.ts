import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/db/db.ts';
import { placeMany } from '../../server/db/region-import.ts';
import type { BoundaryFeature } from '../../server/domain/geojson-input.ts';
import { cloneTestDb, DRIVERS } from '../support/db.ts';

type Ring = [number, number][];

/**
 * A grid layer across many villages is placed in one query (`placeMany` with every village); a
 * layer for one parent, in a query of its own. The two must agree on every feature: validity, area
 * outside, overlaps with the parent's children and with the features before it, and the clipped shape.
 */
for (const driver of DRIVERS) {
  describe(`placing a layer across many parents in one query (${driver})`, () => {
    let db: Db;
    let dispose: () => Promise<void>;
    let villages: { id: number; grids: Ring[] }[];

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      db = t.db;
      dispose = t.dispose;
      // six villages and the outer rings of their grids (the features a revised layer would bring)
      const { rows } = await db.query<{ id: number; rings: string }>(
        `SELECT v.id, json_agg(ST_AsGeoJSON(ST_ExteriorRing(ST_GeometryN(g.geom, 1)), 7)::json -> 'coordinates' ORDER BY g.id)::text AS rings
         FROM region v JOIN region g ON g.parent_id = v.id
         WHERE v.id IN (SELECT id FROM region WHERE level = 'village' ORDER BY id LIMIT 6)
         GROUP BY v.id ORDER BY v.id`,
      );
      villages = rows.map((r) => ({ id: r.id, grids: JSON.parse(r.rings) as Ring[] }));
    });
    afterAll(() => dispose());

    it('agrees with placing each parent on its own (random shifts, clip and repair on and off)', async () => {
      expect(villages.length).toBe(6);
      const shifted = (ring: Ring, dx: number, dy: number): Ring => ring.map(([x, y]) => [x + dx, y + dy]);
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              village: fc.nat({ max: 5 }),
              grid: fc.nat({ max: 40 }),
              // most stay (overlapping the grid already there), some move by up to ~500 m (spilling out, onto neighbours)
              dx: fc.integer({ min: -50, max: 50 }).map((n) => n / 10_000),
              dy: fc.integer({ min: -50, max: 50 }).map((n) => n / 10_000),
              bowtie: fc.boolean(),
            }),
            { minLength: 2, maxLength: 14 },
          ),
          fc.boolean(),
          fc.boolean(),
          async (picks, clip, repair) => {
            const groups = new Map<number, BoundaryFeature[]>();
            picks.forEach((p, i) => {
              const v = villages[p.village]!;
              const ring = shifted(v.grids[p.grid % v.grids.length]!, p.dx, p.dy);
              // a self-crossing ring now and then: refused as invalid, or repaired
              const coords = p.bowtie && ring.length > 4 ? [ring[0]!, ring[2]!, ring[1]!, ...ring.slice(3)] : ring;
              const list = groups.get(v.id) ?? [];
              list.push({ index: i, code: `T${i}`, name: `测试${i}`, coordinates: [[coords]] });
              groups.set(v.id, list);
            });
            const asked = [...groups].map(([parentId, features]) => ({ parentId, features }));
            const o = { repair, clip, toleranceM2: 1 };
            const together = await db.transaction(async (tx) => placeMany(tx, asked, o));
            const apart = await db.transaction(async (tx) => Promise.all(asked.map(async (g) => (await placeMany(tx, [g], o))[0]!)));
            // (ord counts the rows of its own query)
            const strip = (xs: { ord: number }[][]) => xs.map((g) => g.map(({ ord: _ord, ...rest }) => rest));
            expect(strip(together)).toEqual(strip(apart));
          },
        ),
        { numRuns: driver === 'pglite' ? 12 : 25 },
      );
    });
  });
}

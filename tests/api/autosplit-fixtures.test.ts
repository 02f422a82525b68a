import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autosplit } from '../../server/db/autosplit.ts';
import { childCode } from '../../server/domain/hierarchy.ts';
import { cloneTestDb, DRIVERS } from '../support/db.ts';
import type { Db } from '../../server/db/db.ts';
import { expectFixture, fixtureCases, style } from '../support/fixtures.ts';

const COLORS = ['#1971c2', '#2f9e44', '#e8590c', '#9c36b5', '#c2255c', '#0c8599', '#66a80f', '#f08c00', '#5f3dc4', '#d9480f'];
const LINE = { river: '#1c7ed6', main_road: '#5c3d2e', railway: '#212529' } as Record<string, string>;

/**
 * Auto-split's whole pipeline on golden villages you can open (tests/fixtures/autosplit): a
 * U-shaped village, a village cut by a river with a lane, a town quarter of streets. The outputs
 * were made on PGlite (PostGIS 3.6) and must be reproduced there exactly; PostgreSQL (PostGIS 3.3,
 * another GEOS) must give the same grids by their household counts. Every run must tile the
 * village, one polygon per grid, every household in one grid, no grid across a river or main road.
 */
for (const driver of DRIVERS) {
  describe(`auto-split golden villages (${driver})`, () => {
    let db: Db;
    let dispose: () => Promise<void>;
    let district: { id: number; code: string };
    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      db = t.db;
      dispose = t.dispose;
      const { rows } = await db.query<{ id: number; code: string }>(
        `INSERT INTO region (parent_id, level, code, name, geom) VALUES (NULL, 'district', '519999', '金沙测试县',
           ST_Multi(ST_MakeEnvelope(100.4, 30.4, 100.7, 30.7, 4326))) RETURNING id, code`,
      );
      district = rows[0]!;
    });
    afterAll(() => dispose());

    for (const c of fixtureCases('autosplit')) {
      it(`divides ${c.name}: in range, tiled, along its lines`, async () => {
        const village = c.input.features.find((f) => f.properties?.role === 'village')!;
        const rule = { min: village.properties!.min as number, max: village.properties!.max as number, target: village.properties!.target as number };
        const lines = c.input.features.filter((f) => f.properties?.role === 'barrier');
        const households = c.input.features.filter((f) => f.properties?.role === 'household');
        const out = await db
          .transaction(async (tx) => {
            const geom = JSON.stringify(village.geometry);
            const township = (
              await tx.query<{ id: number; code: string }>(
                `INSERT INTO region (parent_id, level, code, name, geom) VALUES ($1, 'township', $2, '测试镇', ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($3), 4326)))
                 RETURNING id, code`,
                [district.id, childCode(district.code, 'township', 1), geom],
              )
            ).rows[0]!;
            const villageId = (
              await tx.query<{ id: number }>(
                `INSERT INTO region (parent_id, level, code, name, grid_type, geom)
                 VALUES ($1, 'village', $2, $3, 'rural', ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($4), 4326))) RETURNING id`,
                [township.id, childCode(township.code, 'village', 1), c.name, geom],
              )
            ).rows[0]!.id;
            await tx.query(
              `INSERT INTO household (geom, size, address, region_id)
               SELECT ST_SetSRID(ST_MakePoint(x, y), 4326), 3, '测试' || ord || '号', $3 FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, ord)`,
              [
                households.map((h) => (h.geometry as GeoJSON.Point).coordinates[0]),
                households.map((h) => (h.geometry as GeoJSON.Point).coordinates[1]),
                villageId,
              ],
            );
            await tx.query(
              `INSERT INTO barrier (class, name, geom) SELECT cls, name, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(g), 4326))
               FROM unnest($1::text[], $2::text[], $3::text[]) AS t(cls, name, g)`,
              [lines.map((l) => l.properties!.class), lines.map((l) => l.properties!.name), lines.map((l) => JSON.stringify(l.geometry))],
            );
            const result = await autosplit(tx, villageId, { ...rule });
            const { rows: check } = await tx.query<{ gap: number; overlap: number; spill: number; crossing: number; placed: number }>(
              `WITH g AS (SELECT geom FROM autosplit_grid),
               u AS (SELECT ST_Union(geom, gp_grid()) AS geom, sum(gp_area_m2(geom)) AS s FROM g),
               v AS (SELECT geom FROM region WHERE id = $1)
               SELECT gp_area_m2(gp_difference(v.geom, u.geom)) AS gap, u.s - gp_area_m2(u.geom) AS overlap, gp_area_m2(gp_difference(u.geom, v.geom)) AS spill,
                      (SELECT count(*)::int FROM g, barrier b
                       WHERE b.class IN ('river', 'main_road') AND ST_Intersects(ST_Buffer(g.geom, -1e-6), b.geom)) AS crossing,
                      (SELECT count(*)::int FROM household h, g WHERE h.region_id = $1 AND ST_Intersects(g.geom, h.geom)) AS placed
               FROM u, v`,
              [villageId],
            );
            throw Object.assign(new Error('rolled back'), { result, check: check[0]! });
          })
          .catch((e: { result?: Awaited<ReturnType<typeof autosplit>>; check?: Record<string, number> }) => {
            if (!e.result) throw e;
            return { result: e.result, check: e.check! };
          });
        const { summary, proposal } = out.result;
        expect(Math.max(out.check.gap!, out.check.overlap!, out.check.spill!)).toBeLessThan(1);
        expect(out.check.crossing).toBe(0);
        expect(out.check.placed).toBe(households.length);
        expect(summary.withinRangeShare).toBe(1);
        for (const f of proposal.features) expect(f.properties.parts).toBe(1);
        if (lines.length > 0) expect(summary.borderOnBarrierShare).toBeGreaterThan(0.15);
        const golden = {
          type: 'FeatureCollection' as const,
          features: [
            {
              type: 'Feature' as const,
              properties: {
                role: 'village',
                grids: summary.grids,
                withinRangeShare: summary.withinRangeShare,
                meanCompactness: summary.meanCompactness,
                meanVertices: summary.meanVertices,
                borderM: summary.borderM,
                borderOnBarrierShare: summary.borderOnBarrierShare,
                ...style('#000000'),
              },
              geometry: village.geometry,
            },
            ...lines.map((l) => ({ ...l, properties: { ...l.properties, stroke: LINE[l.properties!.class] ?? '#868e96', 'stroke-width': 3 } })),
            ...proposal.features.map((f, i) => ({
              type: 'Feature' as const,
              properties: {
                role: 'grid',
                households: f.properties.households,
                compactness: f.properties.compactness,
                borderM: f.properties.borderM,
                offBarrierM: f.properties.offBarrierM,
                ...style(COLORS[i % COLORS.length]!, COLORS[i % COLORS.length]!, 0.3),
              },
              geometry: f.geometry as GeoJSON.Geometry,
            })),
          ],
        };
        if (driver === 'pglite') expectFixture(c, golden);
        else {
          const made = JSON.parse(readFileSync(c.outPath, 'utf8')) as GeoJSON.FeatureCollection;
          const counts = (fc: GeoJSON.FeatureCollection) =>
            fc.features
              .filter((f) => f.properties?.role === 'grid')
              .map((f) => f.properties!.households as number)
              .sort((a, b) => a - b);
          expect(counts(golden)).toEqual(counts(made));
        }
      });
    }
  });
}

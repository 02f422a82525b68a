import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/**
 * 贴合边界: a village given a new outline (as an import's `update` gives an official 村界) and its grids fitted to it.
 * What comes out is checked with GEOS itself: the grids' union against the outline, households against their grids.
 */
for (const driver of DRIVERS) {
  describe(`fitting grids to a village's new outline (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let village: number;
    let township: number;

    /** Gap, overlap and spill of a parent's children in m² (GEOS's planar areas, at the parent's latitude). */
    async function tiling(parentId: number) {
      const { rows } = await ctx.db.query<{ gap: number; overlap: number; outside: number }>(
        `WITH p AS (SELECT geom, 111320.0 * 110574.0 * cos(radians(ST_Y(ST_Centroid(geom)))) AS k FROM region WHERE id = $1),
         c AS (SELECT ST_Union(geom) AS u, sum(ST_Area(geom)) AS s FROM region WHERE parent_id = $1)
         SELECT ST_Area(ST_Difference(p.geom, c.u)) * p.k AS gap, (c.s - ST_Area(c.u)) * p.k AS overlap, ST_Area(ST_Difference(c.u, p.geom)) * p.k AS outside
         FROM p, c`,
        [parentId],
      );
      return rows[0]!;
    }
    const grids = async (parentId: number) =>
      (
        await ctx.db.query<{ id: number; version: number; wkb: string }>(
          `SELECT id, version, encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE parent_id = $1 ORDER BY id`,
          [parentId],
        )
      ).rows;
    const version = async (id: number) => (await ctx.db.query<{ version: number }>('SELECT version FROM region WHERE id = $1', [id])).rows[0]!.version;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      // a village with several grids and households, whose grids tile it
      const { rows } = await ctx.db.query<{ id: number; parent_id: number }>(
        `SELECT v.id, v.parent_id FROM region v WHERE v.level = 'village'
           AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) >= 4 AND v.household_count > 40
         ORDER BY v.code LIMIT 1`,
      );
      ({ id: village, parent_id: township } = rows[0]!);
      const before = await tiling(village);
      expect(before.gap + before.outside).toBeLessThan(5);
    });
    afterAll(() => dispose());

    it('cuts the grids back to the new outline, gives the slivers it leaves to their neighbours, files the households again, and undoes whole', async () => {
      const original = await grids(village);
      const outline = (await ctx.db.query<{ wkb: string }>(`SELECT encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE id = $1`, [village])).rows[0]!.wkb;
      // The official outline: 30 m east of the drawn one (as an outline digitised on another map is) — the grids spill
      // out on the east and leave a 30 m strip uncovered on the west.
      await ctx.db.query(
        `UPDATE region SET geom = ST_Multi(ST_Translate(geom, 30 / (111320 * cos(radians(ST_Y(ST_Centroid(geom))))), 0)), version = version + 1 WHERE id = $1`,
        [village],
      );
      const moved = await tiling(village);
      expect(moved.gap).toBeGreaterThan(1000);
      expect(moved.outside).toBeGreaterThan(1000);

      const stale = await ctx.request('POST', `/api/regions/${village}/fit`, { version: 1 });
      expect(stale.status).toBe(409);
      expect(stale.body.error.code).toBe('version_conflict');

      const res = await ctx.request('POST', `/api/regions/${village}/fit`, { version: await version(village) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.op).toEqual(expect.any(Number));
      expect(res.body.fit.clipped).toBeGreaterThan(0);
      expect(res.body.fit.absorbed.pieces).toBeGreaterThan(0);
      expect(res.body.fit.gaps).toEqual({ pieces: 0, m2: 0 });
      expect(res.body.fit.outside).toEqual([]);
      // GEOS: the grids now tile the new outline
      const after = await tiling(village);
      expect(after.gap).toBeLessThan(1);
      expect(after.outside).toBeLessThan(1);
      expect(after.overlap).toBeLessThan(1);
      const { rows: valid } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM region WHERE parent_id = $1 AND (NOT ST_IsValid(geom) OR GeometryType(geom) <> 'MULTIPOLYGON')`,
        [village],
      );
      expect(valid[0]!.n).toBe(0);
      // every household inside the village is filed in the grid that holds it, and the counts follow
      const { rows: misfiled } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM household h JOIN region v ON v.id = $1 AND ST_Intersects(v.geom, h.geom)
         WHERE NOT EXISTS (SELECT 1 FROM region g WHERE g.id = h.region_id AND g.parent_id = $1 AND ST_Intersects(g.geom, h.geom))`,
        [village],
      );
      expect(misfiled[0]!.n).toBe(0);
      const { rows: counts } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM region g WHERE g.parent_id = $1 AND g.household_count <> (SELECT count(*) FROM household h WHERE h.region_id = g.id)`,
        [village],
      );
      expect(counts[0]!.n).toBe(0);

      // done again, there is nothing to do
      const again = await ctx.request('POST', `/api/regions/${village}/fit`, { version: await version(village) });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ op: null, fit: { clipped: 0, absorbed: { pieces: 0 } } });

      // in the change log as 贴合边界, and undone whole: every grid as it was
      const ops = await ctx.request('GET', `/api/operations?action=fit&region=${village}`);
      expect(ops.body.operations[0]).toMatchObject({ op: res.body.op, action: 'fit' });
      const undo = await ctx.request('POST', `/api/changes/undo?op=${res.body.op}`);
      expect(undo.status, JSON.stringify(undo.body)).toBe(200);
      expect((await grids(village)).map((g) => g.wkb)).toEqual(original.map((g) => g.wkb));
      await ctx.db.query(`UPDATE region SET geom = ST_GeomFromEWKB(decode($2, 'hex')), version = version + 1 WHERE id = $1`, [village, outline]);
    });

    it('gives the pieces of a grid the new outline cuts apart to the neighbours sharing most border with them', async () => {
      const outline = (await ctx.db.query<{ wkb: string }>(`SELECT encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE id = $1`, [village])).rows[0]!.wkb;
      // the grid with most of its border shared with its siblings, cut across by a 10 m strip the new outline leaves out
      // (a road the official line follows): the strip ends at the grid's own border, so only that grid falls in two
      const { rows } = await ctx.db.query<{ id: number }>(
        `SELECT g.id FROM region g WHERE g.parent_id = $1
         ORDER BY (SELECT sum(ST_Length(ST_Intersection(ST_Boundary(g.geom), ST_Boundary(s.geom)))) FROM region s
                   WHERE s.parent_id = $1 AND s.id <> g.id AND s.geom && g.geom) / ST_Perimeter(g.geom) DESC NULLS LAST, g.id
         LIMIT 1`,
        [village],
      );
      const cut = rows[0]!.id;
      await ctx.db.query(
        `WITH g AS (SELECT geom FROM region WHERE id = $2),
         strip AS (SELECT ST_Intersection(g.geom, ST_SetSRID(ST_Buffer(ST_MakeLine(ST_MakePoint(ST_XMin(g.geom) - 0.001, ST_Y(ST_Centroid(g.geom))),
                                               ST_MakePoint(ST_XMax(g.geom) + 0.001, ST_Y(ST_Centroid(g.geom))))::geography, 5)::geometry, 4326)) AS s FROM g)
         UPDATE region v SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(v.geom, strip.s), 3)), version = v.version + 1
         FROM strip WHERE v.id = $1`,
        [village, cut],
      );
      const res = await ctx.request('POST', `/api/regions/${village}/fit`, { version: await version(village) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.fit.moved, JSON.stringify(res.body.fit)).toBeGreaterThanOrEqual(1);
      const { rows: parts } = await ctx.db.query<{ n: number }>('SELECT ST_NumGeometries(geom) AS n FROM region WHERE id = $1', [cut]);
      expect(parts[0]!.n).toBe(1);
      const after = await tiling(village);
      expect(after.gap).toBeLessThan(1);
      expect(after.outside).toBeLessThan(1);
      expect(after.overlap).toBeLessThan(1);
      await ctx.request('POST', `/api/changes/undo?op=${res.body.op}`);
      await ctx.db.query(`UPDATE region SET geom = ST_GeomFromEWKB(decode($2, 'hex')), version = version + 1 WHERE id = $1`, [village, outline]);
    });

    it('leaves a wide gap for the planner and a grid wholly outside where it is, and says so', async () => {
      const kids = await grids(village);
      const { rows } = await ctx.db.query<{ id: number }>(
        `SELECT g.id FROM region g, region v WHERE v.id = $1 AND g.parent_id = v.id
         ORDER BY ST_Length(ST_Intersection(ST_Boundary(g.geom), ST_Boundary(v.geom))) DESC LIMIT 1`,
        [village],
      );
      const lost = rows[0]!.id;
      // The new outline leaves out one grid's whole area and takes in a half disc of 300 m radius on the far side:
      // that grid is outside, the half disc (some 180 m wide on average) a gap no sliver rule gives away.
      await ctx.db.query(
        `WITH far AS (SELECT d.geom AS pt FROM region v, region g, LATERAL ST_DumpPoints(ST_Boundary(v.geom)) AS d
                      WHERE v.id = $1 AND g.id = $2 ORDER BY ST_Distance(d.geom, g.geom) DESC LIMIT 1)
         UPDATE region v SET geom = ST_Multi(ST_CollectionExtract(ST_Union(ST_Difference(v.geom, g.geom), ST_Buffer(far.pt::geography, 300)::geometry), 3)),
           version = v.version + 1
         FROM region g, far WHERE v.id = $1 AND g.id = $2`,
        [village, lost],
      );
      const res = await ctx.request('POST', `/api/regions/${village}/fit`, { version: await version(village) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.fit.outside).toContainEqual(expect.objectContaining({ id: lost, name: expect.any(String), parent: expect.any(String) }));
      expect(res.body.fit.gaps.pieces, JSON.stringify(res.body.fit)).toBeGreaterThanOrEqual(1);
      expect(res.body.fit.gaps.m2).toBeGreaterThan(50_000);
      expect(res.body.gapM2).toBe(res.body.fit.gaps.m2);
      // the grid outside is as it was
      expect((await grids(village)).find((g) => g.id === lost)!.wkb).toBe(kids.find((g) => g.id === lost)!.wkb);
      if (res.body.op) await ctx.request('POST', `/api/changes/undo?op=${res.body.op}`);
    });

    it('is refused outside a planner’s area', async () => {
      const { rows } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' AND id <> $1 ORDER BY id LIMIT 1`, [township]);
      const { cookie } = await ctx.cookie({ username: 'fit-elsewhere', role: 'planner', regionId: rows[0]!.id });
      const before = await ctx.snapshot();
      const res = await ctx.request('POST', `/api/regions/${village}/fit`, { version: await version(village) }, { cookie });
      expect(res.status).toBe(403);
      expect(await ctx.snapshot()).toEqual(before);
      const bad = await ctx.request('POST', `/api/regions/${village}/fit`, { version: 'one' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.path).toBe('json.version');
    });
  });
}

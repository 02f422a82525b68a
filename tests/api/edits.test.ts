import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

for (const driver of DRIVERS) {
  describe(`editing grids (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    /** Two adjacent grids of one village, and the village. */
    let a: number, b: number, village: number;

    const user = (name: string) => ({ 'x-gridplan-user': name });
    const get = async (id: number) => (await ctx.request('GET', `/api/regions/${id}`)).body;
    const geometryOf = async (sql: string, params: unknown[]) =>
      (await ctx.db.query<{ g: any }>(`SELECT ST_AsGeoJSON(${sql}, 15)::json AS g`, params)).rows[0]!.g;
    /** Gap, overlap and spill of a parent's children, in m² (planar, converted at the parent's latitude). */
    async function tiling(parentId: number) {
      const { rows } = await ctx.db.query<{ gap: number; overlap: number; outside: number }>(
        `WITH p AS (SELECT geom, 111320.0 * 110574.0 * cos(radians(ST_Y(ST_Centroid(geom)))) AS k FROM region WHERE id = $1),
         c AS (SELECT ST_Union(geom, gp_grid()) AS u, sum(ST_Area(geom)) AS s FROM region WHERE parent_id = $1)
         SELECT (ST_Area(p.geom) - ST_Area(ST_Intersection(p.geom, c.u, gp_grid()))) * p.k AS gap,
                (c.s - ST_Area(c.u)) * p.k AS overlap, (ST_Area(c.u) - ST_Area(ST_Intersection(p.geom, c.u, gp_grid()))) * p.k AS outside
         FROM p, c`,
        [parentId],
      );
      return rows[0]!;
    }

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      const { rows } = await ctx.db.query<{ a: number; b: number; v: number }>(
        `SELECT x.id AS a, y.id AS b, x.parent_id AS v FROM region x JOIN region y ON x.parent_id = y.parent_id AND x.id < y.id
         WHERE x.level = 'grid' AND x.household_count > 0 AND y.household_count > 0
           AND ST_Length(ST_Intersection(ST_Boundary(x.geom), ST_Boundary(y.geom))) > 0.005
         ORDER BY x.code LIMIT 1`,
      );
      ({ a, b, v: village } = rows[0]!);
    });
    afterAll(() => dispose());

    it('changes properties with the current version and refuses a stale one with 409', async () => {
      const before = await get(a);
      const ok = await ctx.request(
        'PATCH',
        `/api/regions/${a}`,
        { version: before.properties.version, name: '新名字网格', notes: '靠近学校' },
        user('planner-a'),
      );
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.regions.features[0].properties).toMatchObject({ name: '新名字网格', version: before.properties.version + 1 });
      const stale = await ctx.request('PATCH', `/api/regions/${a}`, { version: before.properties.version, name: '旧' }, user('planner-b'));
      expect(stale.status).toBe(409);
      expect(stale.body.error).toMatchObject({ code: 'version_conflict', path: 'version', details: { currentVersion: before.properties.version + 1 } });
      expect((await get(a)).properties.name).toBe('新名字网格');
    });

    it('lets exactly one of two concurrent edits of the same grid win; the other gets 409', async () => {
      const { properties: p } = await get(b);
      const [r1, r2] = await Promise.all([
        ctx.request('PATCH', `/api/regions/${b}`, { version: p.version, name: '甲改' }, user('planner-a')),
        ctx.request('PATCH', `/api/regions/${b}`, { version: p.version, name: '乙改' }, user('planner-b')),
      ]);
      expect([r1.status, r2.status].sort()).toEqual([200, 409]);
      const winner = r1.status === 200 ? '甲改' : '乙改';
      expect((await get(b)).properties).toMatchObject({ name: winner, version: p.version + 1 });
    });

    it('assigns and unassigns a worker, refusing an unknown one', async () => {
      const { properties: p } = await get(a);
      const { rows } = await ctx.db.query<{ id: number; name: string }>('SELECT id, name FROM worker ORDER BY id LIMIT 1');
      const set = await ctx.request('PATCH', `/api/regions/${a}`, { version: p.version, workerId: rows[0]!.id });
      expect(set.body.regions.features[0].properties.workerName).toBe(rows[0]!.name);
      const unknown = await ctx.request('PATCH', `/api/regions/${a}`, { version: p.version + 1, workerId: 987654 });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.path).toBe('workerId');
      const unset = await ctx.request('PATCH', `/api/regions/${a}`, { version: p.version + 1, workerId: null });
      expect(unset.body.regions.features[0].properties.workerId).toBeNull();
    });

    it('refuses a new grid that overlaps a sibling or leaves the village, naming them; writes nothing', async () => {
      const before = await ctx.snapshot();
      const onB = await geometryOf(`(SELECT ST_Buffer(ST_PointOnSurface(geom), 0.0005, 8) FROM region WHERE id = $1)`, [b]);
      const res = await ctx.request('POST', '/api/regions', { parentId: village, geometry: onB });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('overlaps_siblings');
      expect(res.body.error.details.overlaps.map((o: any) => o.id)).toContain(b);
      const far = {
        type: 'Polygon',
        coordinates: [
          [
            [90, 30],
            [90.01, 30],
            [90.01, 30.01],
            [90, 30.01],
            [90, 30],
          ],
        ],
      };
      const outside = await ctx.request('POST', '/api/regions', { parentId: village, geometry: far });
      expect(outside.status).toBe(422);
      expect(outside.body.error.code).toBe('outside_parent');
      const clipped = await ctx.request('POST', '/api/regions', { parentId: village, geometry: onB, clip: true });
      expect(clipped.status).toBe(422);
      expect(clipped.body.error.code).toBe('empty_after_clip');
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('deletes a grid into a gap, redraws it from scratch, and households follow', async () => {
      const grid = await get(a);
      const shape = await geometryOf('(SELECT geom FROM region WHERE id = $1)', [a]);
      const villageBefore = (await get(village)).properties.households;
      const del = await ctx.request('DELETE', `/api/regions/${a}?version=${grid.properties.version}`, undefined, user('planner-a'));
      expect(del.status, JSON.stringify(del.body)).toBe(200);
      expect(del.body.removed).toEqual([a]);
      const { gap } = await tiling(village);
      expect(gap).toBeGreaterThan(1_000);
      // the answer says how much it left uncovered: the grid's whole area, as the coverage check finds it
      expect(Math.abs(del.body.gapM2 - gap) / gap).toBeLessThan(0.01);
      expect((await get(village)).properties.households).toBe(villageBefore);
      const orphans = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM household WHERE region_id = $1', [village]);
      expect(orphans.rows[0]!.n).toBe(grid.properties.households);

      const drawn = await ctx.request('POST', '/api/regions', { parentId: village, geometry: shape, name: '重画网格', gridType: 'rural' }, user('planner-a'));
      expect(drawn.status, JSON.stringify(drawn.body)).toBe(201);
      const created = drawn.body.regions.features[0];
      expect(created.properties).toMatchObject({ name: '重画网格', level: 'grid', gridType: 'rural', households: grid.properties.households });
      expect(created.properties.code.startsWith(`${(await get(village)).properties.code}-`)).toBe(true);
      const t = await tiling(village);
      expect(t.gap).toBeLessThan(1);
      expect(t.overlap).toBeLessThan(1);
      a = created.id;
    });

    it('splits a grid along a line into parts that tile it, with households recounted', async () => {
      const grid = await get(a);
      const [w, s, e, n] = grid.properties.bbox;
      const y = (s + n) / 2;
      const miss = await ctx.request('POST', `/api/regions/${a}/split`, {
        version: grid.properties.version,
        line: {
          type: 'LineString',
          coordinates: [
            [w - 1, s - 1],
            [w - 0.5, s - 1],
          ],
        },
      });
      expect(miss.status).toBe(422);
      expect(miss.body.error.code).toBe('line_does_not_cut');
      const res = await ctx.request(
        'POST',
        `/api/regions/${a}/split`,
        {
          version: grid.properties.version,
          line: {
            type: 'LineString',
            coordinates: [
              [w - 0.01, y],
              [e + 0.01, y],
            ],
          },
        },
        user('planner-a'),
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const parts = res.body.regions.features;
      expect(parts.length).toBeGreaterThanOrEqual(2);
      expect(parts.map((f: any) => f.id)).toContain(a);
      expect(parts.reduce((sum: number, f: any) => sum + f.properties.households, 0)).toBe(grid.properties.households);
      expect(Math.abs(parts.reduce((sum: number, f: any) => sum + f.properties.areaM2, 0) - grid.properties.areaM2)).toBeLessThan(1);
      expect((await tiling(village)).overlap).toBeLessThan(1);
      // a name of its own gets -2 on the new part; a grid named as the plan names them names its new part by its code
      expect(parts.find((f: any) => f.id !== a).properties.name).toBe('重画网格-2');
      const { body: siblings } = await ctx.request('GET', `/api/regions/${village}/children`);
      const plain = await get(siblings.features.find((f: any) => /第\d+网格$/.test(f.properties.name)).id);
      const [pw, ps, pe, pn] = plain.properties.bbox;
      const cut = await ctx.request(
        'POST',
        `/api/regions/${plain.id}/split`,
        {
          version: plain.properties.version,
          line: {
            type: 'LineString',
            coordinates: [
              [pw - 0.01, (ps + pn) / 2],
              [pe + 0.01, (ps + pn) / 2],
            ],
          },
        },
        user('planner-a'),
      );
      expect(cut.status, JSON.stringify(cut.body)).toBe(200);
      const piece = cut.body.regions.features.find((f: any) => f.id !== plain.id);
      const villageName = (await get(village)).properties.name;
      expect(piece.properties.name).toBe(`${villageName}第${Number(piece.properties.code.split('-').pop())}网格`);
      expect((await ctx.request('POST', '/api/changes/undo', {}, user('planner-a'))).status).toBe(200);
    });

    it('merges adjacent siblings and refuses strangers and non-neighbours', async () => {
      const { body } = await ctx.request('GET', `/api/regions/${village}/children`);
      const parts = body.features.filter((f: any) => f.properties.name.startsWith('重画网格'));
      expect(parts.length).toBeGreaterThanOrEqual(2);
      const ids = parts.map((f: any) => f.id);
      const versions = parts.map((f: any) => f.properties.version);
      const households = parts.reduce((s: number, f: any) => s + f.properties.households, 0);

      const other = await ctx.db.query<{ id: number; version: number }>(`SELECT id, version FROM region WHERE level = 'grid' AND parent_id <> $1 LIMIT 1`, [
        village,
      ]);
      const strangers = await ctx.request('POST', '/api/regions/merge', { ids: [ids[0], other.rows[0]!.id], versions: [versions[0], other.rows[0]!.version] });
      expect(strangers.body.error.code).toBe('not_siblings');
      const far = await ctx.db.query<{ id: number; version: number }>(
        `SELECT id, version FROM region WHERE parent_id = $1 AND id <> ALL($2::int[]) AND NOT ST_Intersects(geom, (SELECT geom FROM region
          WHERE id = $3)) LIMIT 1`,
        [village, ids, ids[0]],
      );
      if (far.rows[0]) {
        const apart = await ctx.request('POST', '/api/regions/merge', { ids: [ids[0], far.rows[0].id], versions: [versions[0], far.rows[0].version] });
        expect(apart.status).toBe(422);
        expect(apart.body.error.code).toBe('not_adjacent');
      }
      const stale = await ctx.request('POST', '/api/regions/merge', { ids, versions: versions.map((v: number) => v + 7) });
      expect(stale.status).toBe(409);

      const merged = await ctx.request('POST', '/api/regions/merge', { ids, versions }, user('planner-a'));
      expect(merged.status, JSON.stringify(merged.body)).toBe(200);
      expect(merged.body.regions.features).toHaveLength(1);
      expect(merged.body.removed).toEqual(ids.slice(1));
      expect(merged.body.regions.features[0].properties.households).toBe(households);
      expect(merged.body.regions.features[0].geometry.coordinates).toHaveLength(1);
    });

    it("undoes and redoes a planner's own operations, not another's", async () => {
      const childrenNames = async () => (await ctx.request('GET', `/api/regions/${village}/children`)).body.features.map((f: any) => f.properties.name).sort();
      const merged = await childrenNames();
      const undo = await ctx.request('POST', '/api/changes/undo', undefined, user('planner-a'));
      expect(undo.status, JSON.stringify(undo.body)).toBe(200);
      expect(undo.body.action).toBe('merge');
      const split = await childrenNames();
      expect(split.length).toBeGreaterThan(merged.length);
      expect((await tiling(village)).overlap).toBeLessThan(1);

      const nobody = await ctx.request('POST', '/api/changes/undo', undefined, user('someone-else'));
      expect(nobody.status).toBe(409);
      expect(nobody.body.error.code).toBe('nothing_to_undo');

      const redo = await ctx.request('POST', '/api/changes/redo', undefined, user('planner-a'));
      expect(redo.status, JSON.stringify(redo.body)).toBe(200);
      expect(redo.body.action).toBe('merge');
      expect(await childrenNames()).toEqual(merged);
      const again = await ctx.request('POST', '/api/changes/redo', undefined, user('planner-a'));
      expect(again.body.error.code).toBe('nothing_to_redo');
    });

    it('refuses to undo an operation whose region someone changed since', async () => {
      const grid = await get(b);
      await ctx.request('PATCH', `/api/regions/${b}`, { version: grid.properties.version, name: '改一次' }, user('planner-c'));
      await ctx.request('PATCH', `/api/regions/${b}`, { version: grid.properties.version + 1, name: '别人改' }, user('planner-d'));
      const res = await ctx.request('POST', '/api/changes/undo', undefined, user('planner-c'));
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('version_conflict');
      expect((await get(b)).properties.name).toBe('别人改');
    });

    it('moves a shared border for both neighbours when a grid is reshaped', async () => {
      const [ga, gb] = [await get(a), await get(b)];
      // Grow A by a 50 m strip of B along their shared border.
      const grown = await geometryOf(
        `(SELECT ST_Union(x.geom, ST_Intersection(y.geom, ST_Buffer(x.geom, 0.0005), gp_grid()), gp_grid()) FROM region x, region y WHERE x.id = $1
          AND y.id = $2)`,
        [a, b],
      );
      const res = await ctx.request('PATCH', `/api/regions/${a}`, { version: ga.properties.version, geometry: grown }, user('planner-a'));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const byId = new Map(res.body.regions.features.map((f: any) => [f.id, f]));
      expect(byId.has(b)).toBe(true);
      const [na, nb] = [byId.get(a) as any, byId.get(b) as any];
      expect(na.properties.areaM2).toBeGreaterThan(ga.properties.areaM2);
      expect(nb.properties.areaM2).toBeLessThan(gb.properties.areaM2);
      expect(Math.abs(na.properties.areaM2 + nb.properties.areaM2 - ga.properties.areaM2 - gb.properties.areaM2)).toBeLessThan(5);
      expect(na.properties.households + nb.properties.households).toBe(ga.properties.households + gb.properties.households);
      const t = await tiling(village);
      expect(t.overlap).toBeLessThan(1);
      expect(t.gap).toBeLessThan(1);
      const keep = await ctx.request('PATCH', `/api/regions/${b}`, {
        version: nb.properties.version,
        geometry: await geometryOf('(SELECT geom FROM region WHERE id = $1)', [village]),
        neighbours: 'keep',
      });
      expect(keep.body.error.code).toBe('overlaps_siblings');
    });

    it('records every change with who, when, before and after', async () => {
      const { body } = await ctx.request('GET', `/api/changes?entityId=${b}&limit=10`);
      expect(body.length).toBeGreaterThan(2);
      expect(body[0]).toMatchObject({ entity: 'region', entityId: b, actor: expect.any(String), at: expect.stringMatching(/^\d{4}-/) });
      const { rows } = await ctx.db.query<{ before: any; after: any }>(
        `SELECT before, after FROM change WHERE entity_id = $1 AND action = 'update' ORDER BY id DESC LIMIT 1`,
        [b],
      );
      expect(rows[0]!.before.version + 1).toBe(rows[0]!.after.version);
    });
  });
}

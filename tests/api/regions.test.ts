import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

for (const driver of DRIVERS) {
  describe(`regions API (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let districtId: number;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      const { body } = await ctx.request('GET', '/api/regions');
      districtId = body.features[0].id;
    });
    afterAll(() => dispose());

    it('reports its driver and PostGIS version', async () => {
      const { status, body } = await ctx.request('GET', '/api/health');
      expect(status).toBe(200);
      expect(body.driver).toBe(driver);
      expect(body.postgis).toMatch(/^3\.\d+/);
      expect(body.households).toBeGreaterThan(2_000);
    });

    it('lists the demo district 沾益区 as the only top-level region', async () => {
      const { status, body } = await ctx.request('GET', '/api/regions');
      expect(status).toBe(200);
      expect(body.type).toBe('FeatureCollection');
      expect(body.features.map((f: any) => [f.properties.code, f.properties.name, f.properties.level])).toEqual([['530303', '沾益区', 'district']]);
      // The real boundary: about 2,800 km².
      expect(body.features[0].properties.areaM2 / 1e6).toBeGreaterThan(2_500);
      expect(body.features[0].properties.areaM2 / 1e6).toBeLessThan(3_100);
    });

    it('finds any region by its code, and returns an empty collection for an unknown code', async () => {
      const grid = await ctx.db.query<{ code: string; name: string }>(`SELECT code, name FROM region WHERE level = 'grid' ORDER BY code LIMIT 1`);
      const { body } = await ctx.request('GET', `/api/regions?code=${encodeURIComponent(grid.rows[0]!.code)}`);
      expect(body.features).toHaveLength(1);
      expect(body.features[0].properties.name).toBe(grid.rows[0]!.name);
      const none = await ctx.request('GET', '/api/regions?code=999999');
      expect(none.status).toBe(200);
      expect(none.body.features).toEqual([]);
    });

    it('searches regions by name or code prefix, coarse levels first', async () => {
      const byName = await ctx.request('GET', `/api/regions?q=${encodeURIComponent('街道')}`);
      expect(byName.body.features.length).toBeGreaterThan(0);
      expect(byName.body.features.every((f: any) => f.properties.name.includes('街道'))).toBe(true);
      const byCode = await ctx.request('GET', '/api/regions?q=530303-001');
      const levels = byCode.body.features.map((f: any) => f.properties.level);
      expect(levels[0]).toBe('township');
      expect(byCode.body.features.every((f: any) => f.properties.code.startsWith('530303-001'))).toBe(true);
      expect(byCode.body.features.length).toBeLessThanOrEqual(20);
      // a blank search is refused, not every region of the plan
      const blank = await ctx.request('GET', '/api/regions?q=%20%20%20');
      expect(blank.status).toBe(400);
      const wild = await ctx.request('GET', `/api/regions?q=${encodeURIComponent('%')}`);
      expect(wild.body.features).toEqual([]);
      // coarse levels first, in that order (not re-sorted by code), and whether more match than the 20 listed
      const wide = await ctx.request('GET', '/api/regions?q=530303');
      const order = ['city', 'district', 'township', 'village', 'grid'];
      const ranks = wide.body.features.map((f: any) => order.indexOf(f.properties.level));
      expect(ranks).toEqual([...ranks].sort((a: number, b: number) => a - b));
      expect([wide.body.features.length, wide.body.more]).toEqual([20, true]);
      // each with where it lies: a grid's county, township and village
      const { rows } = await ctx.db.query<{ code: string; township: string; village: string; district: string }>(
        `SELECT g.code, t.name AS township, v.name AS village, d.name AS district FROM region g JOIN region v ON v.id = g.parent_id
         JOIN region t ON t.id = v.parent_id JOIN region d ON d.id = t.parent_id WHERE g.level = 'grid' ORDER BY g.id LIMIT 1`,
      );
      const grid = (await ctx.request('GET', `/api/regions?q=${rows[0]!.code}`)).body.features[0];
      expect(grid.properties.place).toBe(`${rows[0]!.district} ${rows[0]!.township} ${rows[0]!.village}`);
      // a name that is the query itself comes before the names that hold it
      const exact = await ctx.request('GET', `/api/regions?q=${encodeURIComponent(rows[0]!.township)}`);
      expect(exact.body.features[0].properties.name).toBe(rows[0]!.township);
      expect(exact.body.more).toBe(false);
    });

    it('returns a region with its ancestors for the breadcrumb', async () => {
      const { rows } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'grid' ORDER BY code LIMIT 1`);
      const { status, body } = await ctx.request('GET', `/api/regions/${rows[0]!.id}`);
      expect(status).toBe(200);
      expect(body.type).toBe('Feature');
      expect(body.geometry.type).toBe('MultiPolygon');
      expect(body.properties.ancestors.map((a: any) => a.level)).toEqual(['district', 'township', 'village']);
      expect(body.properties.code.startsWith(`${body.properties.ancestors[2].code}-`)).toBe(true);
      expect(body.properties.gridType).not.toBeNull();
      expect(body.properties.bbox).toHaveLength(4);
    });

    it('lists children with household counts that add up to the parent', async () => {
      const { body: district } = await ctx.request('GET', `/api/regions/${districtId}`);
      const { status, body } = await ctx.request('GET', `/api/regions/${districtId}/children`);
      expect(status).toBe(200);
      expect(body.features.length).toBeGreaterThanOrEqual(8);
      expect(body.features.length).toBeLessThanOrEqual(11);
      expect(body.features.every((f: any) => f.properties.level === 'township')).toBe(true);
      const sum = body.features.reduce((n: number, f: any) => n + f.properties.households, 0);
      expect(sum).toBe(district.properties.households);
      expect(district.properties.children).toBe(body.features.length);
    });

    it('counts what lies in each child — grids, those with a worker, those that pass as the coverage check judges them — until an edit below', async () => {
      type Part = { id: number; townships: number; villages: number; grids: number; staffed: number; passing: number };
      const parts = async (id: number) => (await ctx.request('GET', `/api/regions/${id}/parts`)).body.parts as Part[];
      const towns = (await ctx.request('GET', `/api/regions/${districtId}/children`)).body.features;
      const before = await parts(districtId);
      expect(before.map((p) => p.id).sort()).toEqual(towns.map((f: any) => f.id).sort());
      // each township by another road: its grids listed, and the grids its coverage check (every level below) finds at fault
      const failing = async (town: number) => {
        const report = (await ctx.request('GET', `/api/regions/${town}/coverage?depth=all`)).body;
        const kinds = ['households_out_of_range', 'grid_without_worker', 'multipart_grid'];
        return new Set(report.issues.features.filter((f: any) => kinds.includes(f.properties.kind)).flatMap((f: any) => f.properties.regionIds));
      };
      const town = towns.find((f: any) => f.properties.name === '白水镇') ?? towns[0];
      const grids = (await ctx.request('GET', `/api/regions/${town.id}/descendants?level=grid`)).body.features;
      const villages = (await ctx.request('GET', `/api/regions/${town.id}/descendants?level=village`)).body.features;
      const mine = before.find((p) => p.id === town.id)!;
      expect(mine).toEqual({
        id: town.id,
        townships: 0,
        villages: villages.length,
        grids: grids.length,
        staffed: grids.filter((g: any) => g.properties.workerId !== null).length,
        passing: grids.length - (await failing(town.id)).size,
      });
      // a village's grids are counted on the township's list too
      const village = villages[0];
      const underVillage = grids.filter((g: any) => g.properties.parentId === village.id);
      expect((await parts(town.id)).find((p) => p.id === village.id)).toMatchObject({ villages: 0, grids: underVillage.length });

      // a grid loses its worker: one fewer staffed and passing in its township, at once (the kept answer retired)
      const grid = underVillage.find((g: any) => g.properties.workerId !== null);
      const res = await ctx.request('PATCH', `/api/regions/${grid.id}`, { version: grid.properties.version, workerId: null });
      expect(res.status).toBe(200);
      const after = (await parts(districtId)).find((p) => p.id === town.id)!;
      expect([after.staffed, after.passing]).toEqual([mine.staffed - 1, grids.length - (await failing(town.id)).size]);
      expect(after.passing).toBeLessThan(mine.passing + 1);
      expect((await parts(districtId)).filter((p) => p.id !== town.id)).toEqual(before.filter((p) => p.id !== town.id));
      // a grid has no parts; nothing there is an empty list, a region not there 404
      expect(await parts(grid.id)).toEqual([]);
      const none = await ctx.request('GET', '/api/regions/999999/parts');
      expect([none.status, none.body.error.code]).toEqual([404, 'not_found']);
      // undone: as before
      expect((await ctx.request('POST', '/api/changes/undo', {})).status).toBe(200);
      expect(await parts(districtId)).toEqual(before);
    });

    it('lists every grid under a district', async () => {
      const { rows } = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level = 'grid'`);
      const { body } = await ctx.request('GET', `/api/regions/${districtId}/descendants?level=grid`);
      expect(body.features).toHaveLength(rows[0]!.n);
    });

    it('answers 404 for an unknown region and 400 for a malformed id, in the error shape', async () => {
      const missing = await ctx.request('GET', '/api/regions/987654');
      expect(missing.status).toBe(404);
      expect(missing.body.error).toMatchObject({ code: 'not_found', path: 'id' });
      const children = await ctx.request('GET', '/api/regions/987654/children');
      expect(children.status).toBe(404);
      const bad = await ctx.request('GET', '/api/regions/abc');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_request', path: 'param.id' });
      const level = await ctx.request('GET', `/api/regions/${districtId}/descendants?level=street`);
      expect(level.status).toBe(400);
      expect(level.body.error.path).toBe('query.level');
    });

    it('answers unknown API routes with a JSON 404', async () => {
      const { status, body } = await ctx.request('GET', '/api/nothing-here');
      expect(status).toBe(404);
      expect(body.error.code).toBe('not_found');
    });

    it('serves an OpenAPI document describing its routes', async () => {
      const { status, body } = await ctx.request('GET', '/api/openapi.json');
      expect(status).toBe(200);
      expect(body.openapi).toBe('3.1.0');
      expect(Object.keys(body.paths)).toEqual(
        expect.arrayContaining([
          '/api/health',
          '/api/regions',
          '/api/regions/{id}',
          '/api/regions/{id}/children',
          '/api/regions/import',
          '/api/households/import',
        ]),
      );
    });

    it('sends secure headers', async () => {
      const { headers } = await ctx.request('GET', '/api/health');
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('x-frame-options')).toBe('SAMEORIGIN');
    });
  });
}

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/**
 * Roads and rivers come in as a line layer (a GBK Shapefile written by GDAL's own ogr2ogr), and
 * auto-split cuts along them by class: a national road is never crossed, a lane is followed.
 */
for (const driver of DRIVERS) {
  describe(`barrier lines: import and auto-split along them (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let dir: string;
    let admin: string;
    let village: { id: number; township: number; households: number; x0: number; y0: number; x1: number; y1: number; cx: number; cy: number };

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      dir = await mkdtemp(join(tmpdir(), 'gridplan-barriers-'));
      ctx = await apiContext(t.db, { importDir: dir });
      admin = (await ctx.cookie({ username: 'tester', role: 'admin' })).cookie;
      const { rows } = await ctx.db.query<typeof village>(
        `SELECT v.id, v.parent_id AS township, v.household_count AS households, ST_XMin(v.geom) AS x0, ST_YMin(v.geom) AS y0, ST_XMax(v.geom) AS x1,
                ST_YMax(v.geom) AS y1, ST_X(c.geom) AS cx, ST_Y(c.geom) AS cy
         FROM region v, LATERAL (SELECT ST_Centroid(ST_Collect(h.geom)) AS geom FROM household h WHERE ST_Intersects(v.geom, h.geom)) c
         WHERE v.level = 'village' AND v.grid_type IN ('rural', 'scattered') ORDER BY v.household_count DESC, v.code LIMIT 1`,
      );
      village = rows[0]!;
    });
    afterAll(async () => {
      await dispose();
      await rm(dir, { recursive: true, force: true });
    });

    /** A national road west–east and a lane south–north through the middle of the village's households, as a zipped GBK Shapefile. */
    async function roadsZip(): Promise<Uint8Array> {
      const { x0, x1, y0, y1, cx, cy } = village;
      const geojson = {
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            properties: { 名称: 'G326国道', 等级: '国道' },
            geometry: {
              type: 'LineString',
              coordinates: [
                [x0 - 0.01, cy],
                [x1 + 0.01, cy],
              ],
            },
          },
          {
            type: 'Feature',
            properties: { 名称: '幸福巷', 等级: '小巷' },
            geometry: {
              type: 'LineString',
              coordinates: [
                [cx, y0 - 0.01],
                [cx, y1 + 0.01],
              ],
            },
          },
          {
            type: 'Feature',
            properties: { 名称: '远处的路', 等级: '县道' },
            geometry: {
              type: 'LineString',
              coordinates: [
                [x0 - 1, y0 - 1],
                [x0 - 0.9, y0 - 1],
              ],
            },
          },
        ],
      };
      await writeFile(join(dir, 'roads.geojson'), JSON.stringify(geojson));
      execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', '-lco', 'ENCODING=GBK', join(dir, 'roads.shp'), join(dir, 'roads.geojson')]);
      const files: Record<string, Uint8Array> = {};
      for (const ext of ['shp', 'shx', 'dbf', 'prj', 'cpg']) files[`roads.${ext}`] = new Uint8Array(await readFile(join(dir, `roads.${ext}`)));
      return zipSync(files);
    }

    it('imports a GBK Shapefile of roads as lines by class, refuses the one outside, and undoes it', async () => {
      const res = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { cookie: admin, 'content-type': 'application/octet-stream', 'x-file-name': 'roads.zip' },
        body: (await roadsZip()) as Uint8Array<ArrayBuffer>,
      });
      const up = (await res.json()) as any;
      expect(res.status, JSON.stringify(up).slice(0, 300)).toBe(201);
      expect(up.layers[0]).toMatchObject({ geometryType: 'LineString', count: 3, kind: 'barrier' });
      const body = { layer: up.layers[0].name, kind: 'barrier', parentId: village.township };
      const checked = await ctx.request('POST', `/api/imports/${up.id}/plan`, body, { cookie: admin });
      expect(checked.status, JSON.stringify(checked.body).slice(0, 300)).toBe(200);
      expect(checked.body.fields).toEqual({ name: '名称', barrierClass: '等级' });
      expect(checked.body.outcome).toMatchObject({ total: 3, accepted: 2, problemCounts: { outside_parent: 1 }, barriers: { imported: 2 } });
      expect(checked.body.outcome.barriers.classes).toEqual({ main_road: 1, lane: 1 });
      const refused = await ctx.request('POST', `/api/imports/${up.id}/commit`, body, { cookie: admin });
      expect(refused.status).toBe(422);
      expect((await ctx.request('GET', `/api/barriers?regionId=${village.id}`)).body.features).toEqual([]);
      const done = await ctx.request('POST', `/api/imports/${up.id}/commit`, { ...body, partial: true }, { cookie: admin });
      expect(done.status, JSON.stringify(done.body).slice(0, 300)).toBe(201);
      const listed = await ctx.request('GET', `/api/barriers?regionId=${village.id}`);
      expect(listed.body.features.map((f: any) => [f.properties.class, f.properties.name])).toEqual([
        ['main_road', 'G326国道'],
        ['lane', '幸福巷'],
      ]);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, { cookie: admin })).status).toBe(200);
      expect((await ctx.request('GET', `/api/barriers?regionId=${village.id}`)).body.features).toEqual([]);
      expect((await ctx.request('POST', '/api/changes/redo', undefined, { cookie: admin })).status).toBe(200);
      expect((await ctx.request('GET', `/api/barriers?regionId=${village.id}`)).body.features).toHaveLength(2);
    });

    /** Proposed grids whose inside the national road runs through (beyond 10 cm of their border). */
    async function crossingRoad(features: any[], cls = 'main_road'): Promise<number> {
      const { rows } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM unnest($1::text[]) AS g(json), barrier b
         WHERE b.present AND b.class = $2 AND ST_Intersects(ST_Buffer(ST_SetSRID(ST_GeomFromGeoJSON(g.json), 4326), -1e-6), b.geom)`,
        [features.map((f) => JSON.stringify(f.geometry)), cls],
      );
      return rows[0]!.n;
    }

    it('auto-split never crosses the national road, follows the lane where it can, and reports the border along them', async () => {
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {}, { cookie: admin });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const { summary, proposal } = res.body;
      expect(summary).toMatchObject({ households: village.households, barrierCrossings: 0 });
      expect(await crossingRoad(proposal.features)).toBe(0);
      expect(summary.borderOnBarrierShare).toBeGreaterThan(0);
      for (const f of proposal.features) {
        expect(f.properties.offBarrierM).toBeLessThanOrEqual(f.properties.borderM);
        expect(f.properties.workload).toBe(f.properties.households);
      }
      // Without the imported lines the road is crossed, and no border runs along a line.
      const free = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { importedBarriers: false }, { cookie: admin });
      expect(free.body.summary.borderOnBarrierShare).toBe(0);
      expect(await crossingRoad(free.body.proposal.features)).toBeGreaterThan(0);
      // The lane made a line never to cross: the village's four quarters are crossed only where one is too small for a grid, and
      // every such grid is reported.
      const strict = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { barrierClasses: { lane: 'never' } }, { cookie: admin });
      const spans = (await crossingRoad(strict.body.proposal.features, 'lane')) + (await crossingRoad(strict.body.proposal.features));
      expect(spans).toBeGreaterThanOrEqual(strict.body.summary.barrierCrossings);
      expect(spans > 0).toBe(strict.body.summary.barrierCrossings > 0);
    });

    it('counts incidents of the last 12 months per grid, and balancing the workload keeps every count in range', async () => {
      const { rows } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM incident i JOIN region v ON v.id = $1 AND ST_Intersects(v.geom, i.geom)
         WHERE i.reported_at > now() - interval '12 months'`,
        [village.id],
      );
      const quick = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { importedBarriers: false }, { cookie: admin });
      expect(quick.body.summary.incidents).toBeNull(); // not counted unless asked for
      const plain = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { importedBarriers: false, workload: true }, { cookie: admin });
      expect(plain.body.summary.incidents).toBe(rows[0]!.n);
      for (const f of plain.body.proposal.features) expect(f.properties.workload).toBeCloseTo(f.properties.households + 0.25 * f.properties.incidents, 1);
      const balanced = await ctx.request(
        'POST',
        `/api/regions/${village.id}/autosplit`,
        { importedBarriers: false, balanceWorkload: true, incidentWeight: 1 },
        { cookie: admin },
      );
      expect(balanced.status, JSON.stringify(balanced.body).slice(0, 300)).toBe(200);
      expect(balanced.body.summary).toMatchObject({ households: village.households, incidents: rows[0]!.n, withinRangeShare: 1 });
      // A walking-distance limit: the widest grid is reported, and no wider than without the limit.
      const limited = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { importedBarriers: false, maxWidthM: 800 }, { cookie: admin });
      expect(limited.body.summary.withinRangeShare).toBe(1);
      expect(limited.body.summary.widestM).toBeGreaterThan(0);
      expect(limited.body.summary.grids).toBeGreaterThanOrEqual(quick.body.summary.grids);
      for (const f of balanced.body.proposal.features) expect(f.properties.workload).toBeCloseTo(f.properties.households + f.properties.incidents, 1);
    });

    it('refuses a bad class preference and a negative weight with a located error', async () => {
      const bad = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { barrierClasses: { highway: 'never' } }, { cookie: admin });
      expect(bad.status).toBe(400);
      const neg = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { incidentWeight: -1 }, { cookie: admin });
      expect(neg.status).toBe(400);
      expect(neg.body.error.path).toContain('incidentWeight');
      const narrow = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { maxWidthM: 10 }, { cookie: admin });
      expect([narrow.status, narrow.body.error.path]).toEqual([400, 'json.maxWidthM']);
      expect((await ctx.request('GET', '/api/barriers?regionId=abc')).status).toBe(400);
      expect((await ctx.request('GET', '/api/barriers?regionId=999999')).status).toBe(404);
    });

    it('keeps a line only as far as it runs inside the region it is imported for', async () => {
      // from the village's middle to the middle of another township
      const { rows } = await ctx.db.query<{ id: number; x: number; y: number }>(
        `SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region
         WHERE level = 'township' AND id <> $1 ORDER BY id LIMIT 1`,
        [village.township],
      );
      const other = rows[0]!;
      const line = {
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            properties: { 名称: '越界河', 类别: '河流' },
            geometry: {
              type: 'LineString',
              coordinates: [
                [village.cx, village.cy],
                [other.x, other.y],
              ],
            },
          },
        ],
      };
      const res = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { cookie: admin, 'content-type': 'application/octet-stream', 'x-file-name': 'river.geojson' },
        body: new TextEncoder().encode(JSON.stringify(line)),
      });
      const up = (await res.json()) as any;
      expect(res.status).toBe(201);
      const body = { layer: up.layers[0].name, kind: 'barrier', parentId: village.township, fields: { name: '名称' } };
      const done = await ctx.request('POST', `/api/imports/${up.id}/commit`, body, { cookie: admin });
      expect(done.status, JSON.stringify(done.body).slice(0, 300)).toBe(201);
      expect(done.body.barriers).toMatchObject({ imported: 1, clipped: 1 });
      // (the cut falls on the township's edge, within rounding of its last digit)
      const { rows: kept } = await ctx.db.query<{ outsideM: number; km: number }>(
        `SELECT ST_Length(ST_Difference(b.geom, t.geom)::geography) AS "outsideM", ST_Length(b.geom::geography) / 1000 AS km
         FROM barrier b, region t WHERE b.name = '越界河' AND t.id = $1`,
        [village.township],
      );
      expect(kept).toHaveLength(1);
      expect(kept[0]!.outsideM).toBeLessThan(0.01);
      expect(kept[0]!.km).toBeGreaterThan(0);
      // nothing of it runs into the other township (it may end on their shared edge)
      const { rows: into } = await ctx.db.query<{ m: number }>(
        `SELECT ST_Length(ST_Intersection(b.geom, o.geom)::geography) AS m FROM barrier b, region o WHERE b.name = '越界河' AND o.id = $1`,
        [other.id],
      );
      expect(into[0]!.m).toBeLessThan(0.01);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, { cookie: admin })).status).toBe(200);
    });
  });
}

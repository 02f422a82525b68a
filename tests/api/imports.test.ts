import gcoord from 'gcoord';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

const FILES = join(import.meta.dirname, '..', 'fixtures', 'import', 'files');
const JIAYUGUAN = join(import.meta.dirname, '..', '..', 'data', 'boundaries', 'jiayuguan.geojson');

/** The extent GDAL's own ogrinfo reads from a file: [x0, y0, x1, y1]. */
function ogrExtent(file: string): number[] {
  const out = execFileSync('ogrinfo', ['-so', '-al', file], { encoding: 'utf8' });
  const m = /Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)/.exec(out)!;
  return m.slice(1, 5).map(Number);
}

function extentOf(fc: { features: { geometry: { coordinates: unknown } }[] }): number[] {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c: unknown): void => {
    if (typeof (c as number[])[0] === 'number') {
      const [x, y] = c as number[];
      b[0] = Math.min(b[0]!, x!);
      b[1] = Math.min(b[1]!, y!);
      b[2] = Math.max(b[2]!, x!);
      b[3] = Math.max(b[3]!, y!);
    } else (c as unknown[]).forEach(visit);
  };
  for (const f of fc.features) visit(f.geometry.coordinates);
  return b;
}

for (const driver of DRIVERS) {
  describe(`import wizard API (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let dir: string;
    let admin: string;
    let districtId: number;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      dir = await mkdtemp(join(tmpdir(), 'gridplan-imports-'));
      ctx = await apiContext(t.db, { importDir: dir });
      admin = (await ctx.cookie({ username: 'tester', role: 'admin' })).cookie;
      districtId = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1`)).rows[0]!.id;
    });
    afterAll(async () => {
      await dispose();
      await rm(dir, { recursive: true, force: true });
    });

    async function upload(name: string, bytes?: Uint8Array, cookie = admin) {
      const body = (bytes ?? new Uint8Array(await readFile(join(FILES, name)))) as Uint8Array<ArrayBuffer>;
      const res = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(name.split('/').pop()!) },
        body,
      });
      return { status: res.status, body: (await res.json()) as any };
    }
    const plan = (id: string, body: object) => ctx.request('POST', `/api/imports/${id}/plan`, body);
    /** The operation an undo's answer took back, as the change log records it. */
    const revertedBy = async (res: { body: { op: number } }) =>
      (await ctx.db.query<{ reverts: number }>('SELECT reverts FROM change WHERE op = $1 LIMIT 1', [res.body.op])).rows[0]?.reverts;
    const commit = (id: string, body: object) => ctx.request('POST', `/api/imports/${id}/commit`, body);

    it('reads a GBK Shapefile in a zone-prefixed Gauss–Krüger zone, checks it without writing, imports it as a district, and undoes it', async () => {
      const up = await upload('jiayuguan-gk-gbk.zip');
      expect(up.status).toBe(201);
      expect(up.body.format).toBe('shapefile');
      expect(up.body.layers).toEqual([
        expect.objectContaining({
          name: 'jiayuguan',
          geometryType: 'Polygon',
          count: 1,
          crs: 'EPSG:4521',
          encoding: 'GBK',
          fields: ['名称', '代码'],
          kind: 'boundary',
        }),
      ]);
      expect(up.body.warnings.map((w: { code: string }) => w.code)).toEqual(['gbk_without_cpg']);
      const before = await ctx.snapshot();
      const checked = await plan(up.body.id, { layer: 'jiayuguan', kind: 'boundary', parentId: null, repair: true });
      expect(checked.status).toBe(200);
      expect(checked.body.fields).toEqual({ name: '名称', code: '代码' });
      expect(checked.body.crs).toEqual({ declared: 'EPSG:4521', used: 'EPSG:4521', guessed: false });
      expect(checked.body.outcome).toMatchObject({ total: 1, accepted: 1, problems: [], op: null });
      expect(checked.body.outcome.regions.created).toEqual([expect.objectContaining({ code: '620201', name: '嘉峪关市' })]);
      // Back in lon/lat where GDAL's ogrinfo puts the original outline (to a millionth of a degree).
      const [x0, y0, x1, y1] = ogrExtent(JIAYUGUAN);
      const got = extentOf(checked.body.preview);
      for (const [a, b] of got.map((v, i) => [v, [x0, y0, x1, y1][i]!])) expect(Math.abs(a! - b!)).toBeLessThan(1e-6);
      expect(await ctx.snapshot()).toEqual(before);

      const done = await commit(up.body.id, { layer: 'jiayuguan', kind: 'boundary', parentId: null, repair: true });
      expect(done.status).toBe(201);
      expect(done.body.op).toEqual(expect.any(Number));
      const { rows } = await ctx.db.query<{ name: string; level: string }>(`SELECT name, level FROM region WHERE code = '620201'`);
      expect(rows).toEqual([{ name: '嘉峪关市', level: 'district' }]);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect((await ctx.db.query(`SELECT 1 FROM region WHERE code = '620201'`)).rows).toEqual([]);
      expect((await ctx.request('POST', '/api/changes/redo')).status).toBe(200);
    });

    it('derives codes from 统计用区划代码, keeps them, and leaves no gap or overlap for towns cut from their district', async () => {
      const parent = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE code = '620201'`)).rows[0]!.id;
      const up = await upload('jiayuguan-towns-gk.zip');
      expect(up.body.layers[0]).toMatchObject({ crs: 'EPSG:4542', encoding: 'UTF-8', count: 3 });
      const body = { layer: 'towns', kind: 'boundary', parentId: parent, repair: true };
      const checked = await plan(up.body.id, body);
      expect(checked.status).toBe(200);
      expect(checked.body.fields).toMatchObject({ name: '名称', statCode: '统计码' });
      expect(checked.body.outcome.regions.created.map((c: { code: string; statCode: string }) => [c.code, c.statCode])).toEqual([
        ['620201-101', '620201101000'],
        ['620201-100', '620201100000'],
        ['620201-102', '620201102000'],
      ]);
      expect(checked.body.outcome.regions.coverage).toMatchObject({ gap: 0, overlap: 0, outside_parent: 0 });
      const done = await commit(up.body.id, body);
      expect(done.status).toBe(201);
      // The check skips filing households and incidents into the new towns and the change log; its report is the
      // commit's (but for the new regions' ids: the check's were rolled back; and where they landed, which only a commit says).
      const report = (o: object) => JSON.parse(JSON.stringify({ ...o, op: null }, (k, v: unknown) => (k === 'regionIds' || k === 'landed' ? undefined : v)));
      expect(done.body.regions.landed).toBe(parent);
      expect(report(done.body)).toEqual(report(checked.body.outcome));
      const { rows } = await ctx.db.query<{ code: string; stat_code: string }>(`SELECT code, stat_code FROM region WHERE parent_id = $1 ORDER BY code`, [
        parent,
      ]);
      expect(rows).toEqual([
        { code: '620201-100', stat_code: '620201100000' },
        { code: '620201-101', stat_code: '620201101000' },
        { code: '620201-102', stat_code: '620201102000' },
      ]);
      // found by the statistical code the clerk knows, which the region's detail gives back
      const found = await ctx.request('GET', '/api/regions?q=620201101');
      expect(found.body.features.map((f: { properties: { code: string; statCode: string } }) => [f.properties.code, f.properties.statCode])).toEqual([
        ['620201-101', '620201101000'],
      ]);
      // The same file again (each named by its code this time): each town overlaps the one now there, and the
      // report's short line names that one, not the row.
      const again = await plan(up.body.id, { ...body, fields: { name: '统计码', statCode: '统计码' } });
      expect(again.body.outcome.problems.map((p: { code: string; subject: string }) => [p.code, p.subject])).toEqual([
        ['overlaps_siblings', '峪泉镇'],
        ['overlaps_siblings', '新城镇'],
        ['overlaps_siblings', '文殊镇'],
      ]);
      // The towns left out come down as a GeoPackage in lon/lat, each with why (read back by GDAL's ogrinfo).
      const left = await ctx.app.request(`/api/imports/${up.body.id}/left-out`, { headers: { cookie: admin } });
      expect([left.status, left.headers.get('content-type')]).toEqual([200, 'application/geopackage+sqlite3']);
      const gpkg = join(dir, 'towns-left-out.gpkg');
      await writeFile(gpkg, new Uint8Array(await left.arrayBuffer()));
      const info = execFileSync('ogrinfo', ['-al', gpkg], { encoding: 'utf8' });
      expect(info).toContain('Feature Count: 3');
      expect([...info.matchAll(/问题 \(String\) = (.*)/g)].map((m) => m[1])).toEqual(['重叠于：峪泉镇', '重叠于：新城镇', '重叠于：文殊镇']);
      const [x0, y0, x1, y1] = ogrExtent(gpkg);
      expect([x0! > 97 && x1! < 99, y0! > 39 && y1! < 41]).toEqual([true, true]);
      // A wrong system chosen puts every town far from its district, and the report says so.
      const wrong = await plan(up.body.id, { ...body, crs: 'EPSG:4543' });
      expect(wrong.body.outcome.accepted).toBe(0);
      expect(Object.keys(wrong.body.outcome.problemCounts)).toContain('outside_parent');
      // two zones east of the district: the zone whose meridian the eastings belong to is offered (99°E, as the .prj says)
      expect(wrong.body.crs.suggest).toBe('EPSG:4542');
      expect((await plan(up.body.id, body)).body.crs.suggest ?? null).toBeNull();
      // Metres taken for degrees cannot be read at all: the answer names the choice, not a server fault.
      for (const crs of ['EPSG:4490', 'GCJ-02']) {
        const lonlat = await plan(up.body.id, { ...body, crs });
        expect(lonlat.status).toBe(422);
        expect(lonlat.body.error).toMatchObject({ code: 'crs_mismatch', path: 'crs', details: { crs } });
        // and says what the numbers look like: the file's own zone
        expect(lonlat.body.error.details.suggest).toMatch(/^EPSG:45\d\d$/);
      }
    });

    it('commits boundaries as its check placed them, and places them again when the plan changed in between', async () => {
      const parent = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE code = '620201'`)).rows[0]!.id;
      const up = await upload('jiayuguan-towns-gk.zip');
      const body = { layer: 'towns', kind: 'boundary', parentId: parent, repair: true, partial: true };
      // The towns are there already (the test before): each row overlaps one.
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome.problems.map((p: { code: string }) => p.code)).toEqual(['overlaps_siblings', 'overlaps_siblings', 'overlaps_siblings']);
      // Meanwhile they are taken out (that import undone): the commit must not keep the check's overlaps.
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect((await ctx.db.query(`SELECT 1 FROM region WHERE parent_id = $1`, [parent])).rows).toEqual([]);
      const done = await commit(up.body.id, body);
      expect(done.status).toBe(201);
      expect(done.body).toMatchObject({ accepted: 3, problems: [] });
      // Checked again with nothing changed since, the commit takes the check's placements: the same report.
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      const again = await plan(up.body.id, body);
      expect(again.body.outcome).toMatchObject({ accepted: 3, problems: [] });
      const last = await commit(up.body.id, body);
      expect(last.status).toBe(201);
      expect(last.body.regions.created.map((c: { code: string }) => c.code)).toEqual(again.body.outcome.regions.created.map((c: { code: string }) => c.code));
      expect(last.body.regions.landed).toBe(parent);
    });

    it('puts each village of a county-wide layer into the township holding it, when told the layer is villages', async () => {
      const parent = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE code = '620201'`)).rows[0]!.id;
      // A county's village layer as 民政 sends it: every town cut in two (west and east), in no town's order, and one
      // village of another county far away.
      const { rows } = await ctx.db.query<{ f: string }>(
        `SELECT json_build_object('type', 'Feature', 'properties', json_build_object('名称', t.name || h.side || '村'),
                  'geometry', ST_AsGeoJSON(ST_Intersection(t.geom, h.box), 9)::json)::text AS f
         FROM region t, LATERAL (SELECT ST_XMin(t.geom) - 1 AS x0, ST_YMin(t.geom) - 1 AS y0, ST_XMax(t.geom) + 1 AS x1, ST_YMax(t.geom) + 1 AS y1,
                                       ST_X(ST_Centroid(t.geom)) AS cx) b,
              LATERAL (VALUES ('西', ST_MakeEnvelope(b.x0, b.y0, b.cx, b.y1, 4326)), ('东', ST_MakeEnvelope(b.cx, b.y0, b.x1, b.y1, 4326))) AS h(side, box)
         WHERE t.parent_id = $1 ORDER BY h.side, t.code`,
        [parent],
      );
      // (a MultiPolygon among Polygons, as a tool may write them)
      const far = {
        type: 'Feature',
        properties: { 名称: '别县村' },
        geometry: {
          type: 'MultiPolygon',
          coordinates: [
            [
              [
                [90, 30],
                [90.01, 30],
                [90.01, 30.01],
                [90, 30],
              ],
            ],
          ],
        },
      };
      const file = { type: 'FeatureCollection', features: [...rows.map((r) => JSON.parse(r.f)), far] };
      const up = await upload('嘉峪关市村级界线.geojson', new TextEncoder().encode(JSON.stringify(file)));
      expect(up.status).toBe(201);
      // Polygons and a MultiPolygon in one layer (GDAL: of no one type) are named as the shapes they are.
      expect(up.body.layers[0]).toMatchObject({ geometryType: 'MultiPolygon', count: 7 });
      const body = { layer: up.body.layers[0].name, kind: 'boundary', parentId: parent, level: 'village', repair: true, partial: true };
      // Given the district alone, they would be taken for towns, and each overlaps one.
      const asTowns = await plan(up.body.id, { ...body, level: undefined });
      expect(asTowns.body.outcome.problemCounts.overlaps_siblings).toBe(6);
      const checked = await plan(up.body.id, body);
      expect(checked.status).toBe(200);
      const outcome = checked.body.outcome;
      expect(outcome).toMatchObject({ total: 7, accepted: 6 });
      expect(outcome.problems.map((p: { code: string; subject: string; index: number }) => [p.index, p.code, p.subject])).toEqual([
        [6, 'no_township', '别县村'],
      ]);
      // each into its own town, coded under it, and together they cover each town: no gap, no overlap
      const towns = new Map(
        (await ctx.db.query<{ name: string; code: string }>('SELECT name, code FROM region WHERE parent_id = $1', [parent])).rows.map((t) => [t.name, t.code]),
      );
      for (const c of outcome.regions.created as { name: string; code: string; parent: string }[]) {
        expect(c.name.startsWith(c.parent)).toBe(true);
        expect(c.code.startsWith(`${towns.get(c.parent)}-`)).toBe(true);
      }
      expect(new Set(outcome.regions.created.map((c: { parent: string }) => c.parent)).size).toBe(3);
      expect(outcome.regions.coverage).toMatchObject({ gap: 0, overlap: 0, outside_parent: 0 });
      const done = await commit(up.body.id, body);
      expect(done.status).toBe(201);
      expect(done.body.accepted).toBe(6);
      expect(done.body.regions.landed).toBe(parent);
      const { rows: counts } = await ctx.db.query<{ n: number }>(
        `SELECT count(v.id)::int AS n FROM region t LEFT JOIN region v ON v.parent_id = t.id WHERE t.parent_id = $1 GROUP BY t.id`,
        [parent],
      );
      expect(counts.map((c) => c.n)).toEqual([2, 2, 2]);
      // A grid drawn since in one of the new villages: the import's own undo would leave it without a village, and says so.
      const {
        rows: [spot],
      } = await ctx.db.query<{ id: number; g: GeoJSON.Polygon }>(
        `SELECT v.id, ST_AsGeoJSON(ST_Buffer(ST_PointOnSurface(v.geom)::geography, 40, 4)::geometry, 9)::json AS g
         FROM region v JOIN region t ON t.id = v.parent_id WHERE t.parent_id = $1 ORDER BY v.id LIMIT 1`,
        [parent],
      );
      const drawn = await ctx.request('POST', '/api/regions', { parentId: spot!.id, geometry: spot!.g });
      expect(drawn.status).toBe(201);
      const held = await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`);
      expect(held.status).toBe(409);
      expect(held.body.error.message).toMatch(/was added under .*村 after this operation/);
      expect(await revertedBy(await ctx.request('POST', '/api/changes/undo'))).toBe(drawn.body.op);
      // A level above the parent's next is refused in words; the one undo takes all six back.
      const wrong = await plan(up.body.id, {
        ...body,
        parentId: (await ctx.db.query<{ id: number }>('SELECT id FROM region WHERE parent_id = $1 LIMIT 1', [parent])).rows[0]!.id,
        level: 'township',
      });
      expect(wrong.status).toBe(422);
      expect(wrong.body.error).toMatchObject({ code: 'wrong_level', path: 'level' });
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect((await ctx.db.query(`SELECT 1 FROM region v JOIN region t ON t.id = v.parent_id WHERE t.parent_id = $1`, [parent])).rows).toEqual([]);
    });

    it('replaces a village’s grids with a revised layer when asked, in one operation that undo takes back whole', async () => {
      // The revised layer: the busiest village cut in two halves, west and east.
      const {
        rows: [v],
      } = await ctx.db.query<{ id: number; households: number; west: string; east: string }>(
        `WITH v AS (SELECT r.id, r.household_count AS households, r.geom, ST_XMin(r.geom) x0, ST_YMin(r.geom) y0, ST_XMax(r.geom) x1, ST_YMax(r.geom) y1
                    FROM region r WHERE r.level = 'village' AND EXISTS (SELECT 1 FROM region g WHERE g.parent_id = r.id AND g.worker_id IS NOT NULL)
                    ORDER BY r.household_count DESC LIMIT 1)
         SELECT id, households,
           ST_AsGeoJSON(ST_Intersection(geom, ST_MakeEnvelope(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1, 4326)), 9) AS west,
           ST_AsGeoJSON(ST_Intersection(geom, ST_MakeEnvelope((x0 + x1) / 2, y0 - 1, x1 + 1, y1 + 1, 4326)), 9) AS east FROM v`,
      );
      const gridsOf = async () =>
        (
          await ctx.db.query<{ s: string }>(`SELECT string_agg(id || ':' || coalesce(worker_id, 0), ',' ORDER BY id) AS s FROM region WHERE parent_id = $1`, [
            v!.id,
          ])
        ).rows[0]!.s;
      const filed = async () =>
        (
          await ctx.db.query<{ s: string }>(
            `SELECT string_agg(h.id || ':' || h.region_id, ',' ORDER BY h.id) AS s FROM household h JOIN region g ON g.id = h.region_id WHERE g.parent_id = $1`,
            [v!.id],
          )
        ).rows[0]!.s;
      // a worker's walk in one of the old grids, kept where it was walked whatever becomes of the grid
      const {
        rows: [walk],
      } = await ctx.db.query<{ id: number }>(
        `INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, points, distance_m, reported_by, client_key)
         SELECT worker_id, id, now() - interval '1 hour', now(), 0, 0, 'test', 'replace-walk' FROM region
         WHERE parent_id = $1 AND worker_id IS NOT NULL ORDER BY id LIMIT 1 RETURNING id`,
        [v!.id],
      );
      const walked = async () =>
        (await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM patrol p JOIN region g ON g.id = p.grid_id WHERE p.id = $1`, [walk!.id])).rows[0]!.n;
      expect(await walked()).toBe(1);
      const [oldGrids, oldFiled] = [await gridsOf(), await filed()];
      const oldCount = oldGrids.split(',').length;
      const file = {
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { 名称: '西片网格（修订）', 类型: '农村' }, geometry: JSON.parse(v!.west) },
          { type: 'Feature', properties: { 名称: '东片网格', 类型: '农村' }, geometry: JSON.parse(v!.east) },
        ],
      };
      const up = await upload('revised-grids.geojson', new TextEncoder().encode(JSON.stringify(file)));
      expect(up.status).toBe(201);
      const body = { layer: up.body.layers[0].name, kind: 'grid', parentId: v!.id, repair: true };
      // Beside the grids there, each half overlaps them.
      const beside = await plan(up.body.id, body);
      expect(beside.body.outcome.accepted).toBe(0);
      expect(Object.keys(beside.body.outcome.problemCounts)).toEqual(['overlaps_siblings']);
      // In their place: both go in, and the report says how many grids make way and how many had a worker.
      const checked = await plan(up.body.id, { ...body, replace: true });
      expect(checked.body.outcome).toMatchObject({ accepted: 2, problems: [] });
      expect(checked.body.outcome.regions.replaced).toEqual({ grids: oldCount, staffed: expect.any(Number), kept: 0, same: 0, villages: 1 });
      expect(checked.body.outcome.regions.replaced.staffed).toBeGreaterThan(0);
      expect(await gridsOf()).toBe(oldGrids); // the check wrote nothing
      const done = await commit(up.body.id, { ...body, replace: true });
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      const { rows: now } = await ctx.db.query<{ name: string; households: number }>(
        `SELECT name, household_count AS households FROM region WHERE parent_id = $1 ORDER BY name`,
        [v!.id],
      );
      // names as the file wrote them: full-width brackets stay full-width
      expect(now.map((g) => g.name)).toEqual(['东片网格', '西片网格（修订）']);
      // every household of the village filed in one of the two, and the counts add up
      expect(now.reduce((n, g) => n + g.households, 0)).toBe(v!.households);
      const { rows: village } = await ctx.db.query<{ n: number }>(`SELECT household_count AS n FROM region WHERE id = $1`, [v!.id]);
      expect(village[0]!.n).toBe(v!.households);
      // Undo: the old grids again, with their workers and their households.
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`)).status).toBe(200);
      expect(await gridsOf()).toBe(oldGrids);
      expect(await filed()).toBe(oldFiled);
      expect(await walked()).toBe(1);
    });

    it('keeps the people of every grid whose code a revised layer keeps, through undo and redo', async () => {
      // the village's own grids written back (as an export would give them), the first two merged under the first's code
      const { rows: gs } = await ctx.db.query<{ id: number; code: string; name: string; worker: number | null; g: string; staff: string }>(
        `WITH v AS (SELECT r.id FROM region r WHERE r.level = 'village'
                      AND (SELECT count(*) FROM region g WHERE g.parent_id = r.id AND g.worker_id IS NOT NULL) >= 3 ORDER BY r.id DESC LIMIT 1)
         SELECT g.id, g.code, g.name, g.worker_id AS worker, ST_AsGeoJSON(g.geom, 15) AS g,
                (SELECT coalesce(string_agg(s.worker_id || s.role, ',' ORDER BY s.role, s.worker_id), '') FROM grid_staff s WHERE s.grid_id = g.id) AS staff
         FROM region g, v WHERE g.parent_id = v.id ORDER BY g.code`,
      );
      const village = (await ctx.db.query<{ p: number }>(`SELECT parent_id AS p FROM region WHERE id = $1`, [gs[0]!.id])).rows[0]!.p;
      const merged = (
        await ctx.db.query<{ g: string }>(`SELECT ST_AsGeoJSON(ST_Union(geom), 15) AS g FROM region WHERE id = ANY($1::int[])`, [[gs[0]!.id, gs[1]!.id]])
      ).rows[0]!.g;
      const file = {
        type: 'FeatureCollection',
        features: gs
          .filter((_, i) => i !== 1)
          .map((g, i) => ({ type: 'Feature', properties: { 编码: g.code, 名称: g.name, 类型: '农村' }, geometry: JSON.parse(i === 0 ? merged : g.g) })),
      };
      const crews = async () =>
        (
          await ctx.db.query<{ s: string }>(
            `SELECT string_agg(g.code || ':' || coalesce(g.worker_id, 0) || ':' ||
                    (SELECT coalesce(string_agg(s.worker_id || s.role, ',' ORDER BY s.role, s.worker_id), '') FROM grid_staff s WHERE s.grid_id = g.id),
                    ';' ORDER BY g.code) AS s
             FROM region g WHERE g.parent_id = $1`,
            [village],
          )
        ).rows[0]!.s;
      const before = await crews();
      const up = await upload('revised-same-codes.geojson', new TextEncoder().encode(JSON.stringify(file)));
      const body = { layer: up.body.layers[0].name, kind: 'grid', parentId: village, replace: true, fields: { code: '编码', name: '名称', gridType: '类型' } };
      const staffed = gs.filter((g) => g.worker !== null).length;
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome).toMatchObject({ accepted: gs.length - 1, problems: [] });
      expect(checked.body.outcome.regions.replaced).toEqual({
        grids: gs.length,
        staffed,
        kept: staffed - (gs[1]!.worker === null ? 0 : 1),
        same: gs.length - 1,
        villages: 1,
      });
      // each grid's households against the district's range for 农村型, said before it goes in (from a clerk: the check had said nothing)
      const { rows: rural } = await ctx.db.query<{ min: number; max: number }>(
        `SELECT coalesce(own.min_households, d.min_households) AS min, coalesce(own.max_households, d.max_households) AS max
         FROM grid_type_rule d LEFT JOIN grid_type_rule own ON own.district_id = $1 AND own.grid_type = 'rural'
         WHERE d.district_id IS NULL AND d.grid_type = 'rural'`,
        [districtId],
      );
      const off: [string, number][] = [];
      for (const f of file.features) {
        const { rows: n } = await ctx.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM household h WHERE ST_Intersects(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), h.geom)',
          [JSON.stringify(f.geometry)],
        );
        if (n[0]!.n < rural[0]!.min || n[0]!.n > rural[0]!.max) off.push([f.properties.名称, n[0]!.n]);
      }
      const said = checked.body.outcome.regions.outOfRange as { count: number; grids: { name: string; households: number; min: number }[] } | undefined;
      expect(said?.grids.map((g) => [g.name, g.households]) ?? []).toEqual(off);
      if (said) expect(said).toMatchObject({ count: off.length, grids: [{ gridType: 'rural', min: rural[0]!.min, max: rural[0]!.max }] });
      // a patrol walked in the first grid, and its history: the grid stays itself
      await ctx.db.query(
        `INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, points, distance_m, reported_by, client_key)
         SELECT id, $1, now() - interval '1 hour', now(), 0, 0, 'test', 'kept-walk' FROM worker ORDER BY id LIMIT 1`,
        [gs[0]!.id],
      );
      const versions = async () =>
        (
          await ctx.db.query<{ s: string }>(`SELECT string_agg(id || ':' || code || ':' || version, ';' ORDER BY code) AS s FROM region WHERE parent_id = $1`, [
            village,
          ])
        ).rows[0]!.s;
      const [beforeIds, wkbBefore] = [
        await versions(),
        (
          await ctx.db.query<{ s: string }>(`SELECT string_agg(encode(ST_AsEWKB(geom), 'hex'), ';' ORDER BY code) AS s FROM region WHERE parent_id = $1`, [
            village,
          ])
        ).rows[0]!.s,
      ];
      const done = await commit(up.body.id, body);
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      // every grid but the merged-away one as it was: same code, same worker, same staff — and the same grid (its id, a version on)
      const expected = gs
        .filter((_, i) => i !== 1)
        .map((g) => `${g.code}:${g.worker ?? 0}:${g.staff}`)
        .join(';');
      expect(await crews()).toBe(expected);
      const { rows: kept } = await ctx.db.query<{ id: number; code: string }>(`SELECT id, code FROM region WHERE parent_id = $1 ORDER BY code`, [village]);
      expect(kept).toEqual(gs.filter((_, i) => i !== 1).map((g) => ({ id: g.id, code: g.code })));
      expect(
        (await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM patrol p JOIN region g ON g.id = p.grid_id WHERE p.client_key = 'kept-walk'`))
          .rows[0]!.n,
      ).toBe(1);
      // the plan's history: each grid one open state, none for an id no region has
      const ghosts = `SELECT count(*)::int AS n FROM region_history h WHERE h.valid_to IS NULL AND NOT EXISTS (SELECT 1 FROM region r WHERE r.id = h.id)`;
      expect((await ctx.db.query<{ n: number }>(ghosts)).rows[0]!.n).toBe(0);
      // the change log holds a change of each kept grid (before → after), not a removal and an addition
      const { rows: logged } = await ctx.db.query<{ entity_id: number; was: boolean; now: boolean }>(
        `SELECT entity_id, before IS NOT NULL AS was, after IS NOT NULL AS now FROM change WHERE op = $1 AND entity = 'region' ORDER BY entity_id`,
        [done.body.op],
      );
      expect(logged.filter((c) => c.entity_id === gs[0]!.id)).toEqual([{ entity_id: gs[0]!.id, was: true, now: true }]);
      expect(logged.filter((c) => c.entity_id === gs[1]!.id)).toEqual([{ entity_id: gs[1]!.id, was: true, now: false }]);
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`)).status).toBe(200);
      expect(await crews()).toBe(before);
      // undone: every grid as it was, to the vertex, each a version past (an undo never gives an earlier version number back)
      expect(
        (
          await ctx.db.query<{ s: string }>(`SELECT string_agg(encode(ST_AsEWKB(geom), 'hex'), ';' ORDER BY code) AS s FROM region WHERE parent_id = $1`, [
            village,
          ])
        ).rows[0]!.s,
      ).toBe(wkbBefore);
      expect((await versions()).split(';').map((x) => x.split(':').slice(0, 2).join(':'))).toEqual(
        beforeIds.split(';').map((x) => x.split(':').slice(0, 2).join(':')),
      );
      expect((await ctx.request('POST', `/api/changes/redo`)).status).toBe(200);
      expect(await crews()).toBe(expected);
      expect((await ctx.request('POST', `/api/changes/undo`)).status).toBe(200);
      expect(await crews()).toBe(before);
    });

    it('takes back a village’s grids exported as a Shapefile and brought in again in their place: no slivers, every grid its people', async () => {
      // the village with most grids that tile it exactly today
      const {
        rows: [v],
      } = await ctx.db.query<{ id: number }>(
        `SELECT r.id FROM region r WHERE r.level = 'village' AND EXISTS (SELECT 1 FROM region g WHERE g.parent_id = r.id AND g.worker_id IS NOT NULL)
         ORDER BY (SELECT count(*) FROM region g WHERE g.parent_id = r.id) DESC, r.id LIMIT 1`,
      );
      const issues = async () =>
        (await ctx.request('GET', `/api/regions/${v!.id}/coverage`)).body.issues.features.map((f: any) => `${f.properties.kind}:${f.properties.of ?? ''}`);
      expect(await issues()).toEqual([]);
      const crews = async () =>
        (
          await ctx.db.query<{ s: string }>(`SELECT string_agg(g.code || ':' || g.worker_id, ',' ORDER BY g.code) AS s FROM region g WHERE g.parent_id = $1`, [
            v!.id,
          ])
        ).rows[0]!.s;
      const before = await crews();
      const exported = await ctx.app.request(`/api/regions/${v!.id}/export?format=shp&levels=grid`, { headers: { cookie: admin } });
      expect(exported.status).toBe(200);
      const up = await upload('grid.zip', new Uint8Array(await exported.arrayBuffer()));
      expect(up.status).toBe(201);
      expect(up.body.layers[0]).toMatchObject({ kind: 'grid', levels: ['grid'] });
      // its township's villages exported the same way are taken for villages, their empty 网格类型 column notwithstanding
      const town = (await ctx.db.query<{ p: number }>('SELECT parent_id AS p FROM region WHERE id = $1', [v!.id])).rows[0]!.p;
      const villages = await ctx.app.request(`/api/regions/${town}/export?format=shp&levels=village`, { headers: { cookie: admin } });
      const upV = await upload('villages.zip', new Uint8Array(await villages.arrayBuffer()));
      expect(upV.body.layers[0]).toMatchObject({ kind: 'boundary', levels: ['village'] });
      expect(upV.body.layers[0].fields).toContain('grid_type');
      const body = { layer: up.body.layers[0].name, kind: 'grid', parentId: v!.id, replace: true };
      const checked = await plan(up.body.id, body);
      expect(checked.body.fields).toMatchObject({ code: 'code', name: 'name', gridType: 'grid_type' });
      expect(checked.body.outcome.regions.coverage).toMatchObject({ gap: 0, overlap: 0, outside_parent: 0, sliver: 0 });
      const done = await commit(up.body.id, body);
      expect(done.status, JSON.stringify(done.body).slice(0, 300)).toBe(201);
      expect(await issues()).toEqual([]);
      expect(await crews()).toBe(before);
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`)).status).toBe(200);
    });

    it("gives villages already there the file's outlines when asked, in one operation undone whole (from a clerk: 民政's 村界 could not come in)", async () => {
      // a township's villages as 民政 would give them: the same names, one outline redrawn (drawn in a little: another survey)
      const { rows: vs } = await ctx.db.query<{ id: number; name: string; parent: number; g: string; wkb: string; version: number }>(
        `WITH t AS (SELECT r.parent_id AS id FROM region r WHERE r.level = 'village' GROUP BY r.parent_id HAVING count(*) BETWEEN 2 AND 12
                    ORDER BY count(*), r.parent_id LIMIT 1)
         SELECT r.id, r.name, r.parent_id AS parent, r.version, encode(ST_AsEWKB(r.geom), 'hex') AS wkb,
                ST_AsGeoJSON(CASE WHEN r.id = (SELECT min(x.id) FROM region x WHERE x.parent_id = t.id) THEN ST_Multi(ST_Buffer(r.geom, -0.0003))
                                  ELSE r.geom END, 15) AS g
         FROM region r, t WHERE r.parent_id = t.id ORDER BY r.id`,
      );
      const file = {
        type: 'FeatureCollection',
        // (one written as its committee: 中堡村委会 for 中堡村)
        features: vs.map((v, i) => ({ type: 'Feature', properties: { 名称: i === 1 ? v.name.replace(/村$/, '村委会') : v.name }, geometry: JSON.parse(v.g) })),
      };
      const up = await upload('村界.geojson', new TextEncoder().encode(JSON.stringify(file)));
      const body = { layer: up.body.layers[0].name, kind: 'boundary', parentId: vs[0]!.parent, fields: { name: '名称' } };
      // not asked: each overlaps the village of its name, nothing goes in
      const plain = await plan(up.body.id, body);
      expect(plain.body.outcome).toMatchObject({ accepted: 0, problemCounts: { overlaps_siblings: vs.length } });
      const checked = await plan(up.body.id, { ...body, update: true });
      expect(checked.body.outcome).toMatchObject({ accepted: vs.length, problems: [] });
      expect(checked.body.outcome.regions).toMatchObject({ created: [], updated: { count: vs.length, names: vs.map((v) => v.name) } });
      const done = await commit(up.body.id, { ...body, update: true });
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      const now = async (id: number) =>
        (await ctx.db.query<{ wkb: string; version: number }>(`SELECT encode(ST_AsEWKB(geom), 'hex') AS wkb, version FROM region WHERE id = $1`, [id]))
          .rows[0]!;
      const redrawn = await now(vs[0]!.id);
      expect(redrawn.wkb).not.toBe(vs[0]!.wkb);
      expect(redrawn.version).toBe(vs[0]!.version + 1);
      // (the same villages: no region made, the grids below where they were)
      expect((await ctx.db.query('SELECT count(*)::int AS n FROM region WHERE parent_id = $1', [vs[0]!.parent])).rows[0]).toEqual({ n: vs.length });
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`)).status).toBe(200);
      expect((await now(vs[0]!.id)).wkb).toBe(vs[0]!.wkb);

      // asked to fit what is below (贴合边界): the redrawn village's grids cut back to its new outline, in the same operation
      const grids = async () =>
        (
          await ctx.db.query<{ s: string }>(`SELECT string_agg(encode(ST_AsEWKB(geom), 'hex'), ',' ORDER BY id) AS s FROM region WHERE parent_id = $1`, [
            vs[0]!.id,
          ])
        ).rows[0]!.s;
      const gridsBefore = await grids();
      const fitting = await plan(up.body.id, { ...body, update: true, fit: true });
      expect(fitting.body.outcome.regions.fitted.clipped).toBeGreaterThan(0);
      expect(await grids()).toBe(gridsBefore);
      const fitted = await commit(up.body.id, { ...body, update: true, fit: true });
      expect(fitted.status, JSON.stringify(fitted.body).slice(0, 300)).toBe(201);
      const kinds = (await ctx.request('GET', `/api/regions/${vs[0]!.id}/coverage`)).body.issues.features.map((f: any) => f.properties.kind);
      expect(kinds).not.toContain('outside_parent');
      expect(kinds).not.toContain('gap');
      expect((await ctx.request('POST', `/api/changes/undo?op=${fitted.body.op}`)).status).toBe(200);
      expect((await now(vs[0]!.id)).wkb).toBe(vs[0]!.wkb);
      expect(await grids()).toBe(gridsBefore);
    });

    it("cuts official outlines a few metres over the parent's back to it when asked, and says how much lies outside (a clerk: 村界 all refused)", async () => {
      // a township's villages drawn a little larger (another survey: some 15 m outward), and one of them somewhere else entirely
      const { rows: vs } = await ctx.db.query<{ id: number; name: string; parent: number; g: string; wkb: string }>(
        `WITH t AS (SELECT r.parent_id AS id FROM region r WHERE r.level = 'village' GROUP BY r.parent_id HAVING count(*) BETWEEN 3 AND 12
                    ORDER BY count(*) DESC, r.parent_id LIMIT 1)
         SELECT r.id, r.name, r.parent_id AS parent, encode(ST_AsEWKB(r.geom), 'hex') AS wkb,
                ST_AsGeoJSON(CASE WHEN r.id = (SELECT max(x.id) FROM region x WHERE x.parent_id = t.id) THEN ST_Translate(r.geom, 0.3, 0)
                                  ELSE ST_Multi(ST_Buffer(r.geom, 0.00015, 'join=mitre')) END, 15) AS g
         FROM region r, t WHERE r.parent_id = t.id ORDER BY r.id`,
      );
      const far = vs.at(-1)!;
      const file = { type: 'FeatureCollection', features: vs.map((v) => ({ type: 'Feature', properties: { 村名: v.name }, geometry: JSON.parse(v.g) })) };
      const up = await upload('村界-民政.geojson', new TextEncoder().encode(JSON.stringify(file)));
      const body = { layer: up.body.layers[0].name, kind: 'boundary', parentId: vs[0]!.parent, fields: { name: '村名' }, update: true };
      const checked = await plan(up.body.id, body);
      const o = checked.body.outcome;
      const over = o.problems.filter((p: any) => p.code === 'overhangs_parent');
      expect(over.length).toBeGreaterThan(0);
      for (const p of over) {
        expect(p.areaM2).toBeGreaterThan(10);
        expect(p.share).toBeLessThan(0.1);
        expect(p.message).toMatch(/m² \(.*%\) of .* lie outside .*: clip to cut them off/);
      }
      // the one elsewhere is outside, not a little over: another place, or the wrong coordinate system
      expect(o.problems.filter((p: any) => p.code === 'outside_parent').map((p: any) => p.subject)).toEqual([far.name]);
      expect(o.problems.find((p: any) => p.code === 'outside_parent').share).toBeGreaterThan(0.9);
      // every row named a village there: matched, though not all could be updated
      expect(o.regions.updated).toMatchObject({ matched: vs.length, count: vs.length - 1 - over.length, clipped: [] });
      // asked to clip: those a little over are cut back to the township and come in; the one elsewhere still does not
      const clipped = await plan(up.body.id, { ...body, clip: true });
      expect(clipped.body.outcome.problemCounts).toEqual({ outside_parent: 1 });
      expect(clipped.body.outcome.regions.updated.clipped.map((c: any) => c.name).sort()).toEqual(over.map((p: any) => p.subject).sort());
      const done = await commit(up.body.id, { ...body, clip: true, partial: true });
      expect(done.status, JSON.stringify(done.body).slice(0, 300)).toBe(201);
      const { rows: outside } = await ctx.db.query<{ m2: number }>(
        `SELECT max(gp_area_m2(gp_difference(v.geom, t.geom))) AS m2 FROM region v JOIN region t ON t.id = v.parent_id WHERE v.parent_id = $1`,
        [vs[0]!.parent],
      );
      expect(outside[0]!.m2).toBeLessThan(1);
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`)).status).toBe(200);
      const { rows: back } = await ctx.db.query<{ wkb: string }>(`SELECT encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE parent_id = $1 ORDER BY id`, [
        vs[0]!.parent,
      ]);
      expect(back.map((b) => b.wkb)).toEqual(vs.map((v) => v.wkb));
    });

    it('shows how the region writes its addresses when not one address of a list is found', async () => {
      const csv = '户主,地址,人口\n王一,幸福路 88 号 3 栋,3\n李二,光明巷 12 号,2\n张三,,2\n';
      const up = await upload('others.csv', new TextEncoder().encode(csv));
      expect(up.status).toBe(201);
      const checked = await plan(up.body.id, {
        layer: up.body.layers[0].name,
        kind: 'household',
        parentId: districtId,
        fields: { address: '地址', size: '人口' },
      });
      // (a row whose address cell is empty is said so: 地址为空, from a clerk)
      expect(checked.body.outcome.problemCounts).toEqual({ unmatched_address: 2, empty_address: 1 });
      const { rows } = await ctx.db.query<{ address: string }>(`SELECT address FROM household WHERE address <> '' ORDER BY id LIMIT 1`);
      expect(checked.body.outcome.households.addressExample).toBe(rows[0]!.address);
    });

    it('places a flat of a door the region has at that door, a new household there; a committee is its village (from a clerk)', async () => {
      const { rows: known } = await ctx.db.query<{ id: number; address: string; x: number; y: number }>(
        `SELECT id, address, ST_X(geom) AS x, ST_Y(geom) AS y FROM household WHERE address ~ '村[0-9]+号$' ORDER BY id LIMIT 2`,
      );
      const [a, b] = known as [(typeof known)[0], (typeof known)[0]];
      const flat = a.address.replace(/号$/, '号5栋1单元301室');
      const committee = b.address.replace(/村([0-9]+号)$/, '村委会$1');
      const csv = `户主,地址,人口\n王一,${flat},3\n李二,${committee},2\n`;
      const up = await upload('一标三实.csv', new TextEncoder().encode(csv));
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: districtId, fields: { address: '地址', size: '人口', head: '户主' } };
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome).toMatchObject({ accepted: 2, problemCounts: {}, households: { added: 1, updated: 1, atDoor: 1 } });
      const done = await commit(up.body.id, body);
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      const { rows: added } = await ctx.db.query<{ x: number; y: number; head: string }>(
        'SELECT ST_X(geom) AS x, ST_Y(geom) AS y, head_name AS head FROM household WHERE address = $1',
        [flat],
      );
      expect(added).toEqual([{ x: a.x, y: a.y, head: '王一' }]);
      expect((await ctx.db.query('SELECT head_name FROM household WHERE id = $1', [b.id])).rows).toEqual([{ head_name: '李二' }]);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect((await ctx.db.query('SELECT 1 FROM household WHERE address = $1', [flat])).rows).toEqual([]);
    });

    it('takes a household register with names and phones for households, and a roster naming grids for staff', async () => {
      const register = await upload('户籍登记表.csv', new TextEncoder().encode('户主姓名,家庭住址,家庭人口,联系电话\n王一,幸福路 88 号,3,138****0001\n'));
      expect(register.body.layers[0].kind).toBe('household');
      const roster = await upload('网格员名册.csv', new TextEncoder().encode('姓名,联系电话,所属网格\n王一,138****0001,第1网格\n'));
      expect(roster.body.layers[0].kind).toBe('staff');
      // township outlines whose 类型 says 街道 or 镇 are boundaries; a layer naming grid types is grids
      const square = (x: number) => `[[[${x},39.8],[${x + 0.01},39.8],[${x + 0.01},39.81],[${x},39.81],[${x},39.8]]]`;
      const layer = (props: string) =>
        new TextEncoder().encode(
          `{"type":"FeatureCollection","features":[{"type":"Feature","properties":${props},"geometry":{"type":"Polygon","coordinates":${square(98.2)}}}]}`,
        );
      expect((await upload('乡镇街道界.geojson', layer('{"名称":"五一街道","代码":"620201001000","类型":"街道"}'))).body.layers[0].kind).toBe('boundary');
      expect((await upload('网格.geojson', layer('{"名称":"第1网格","网格类型":"农村型"}'))).body.layers[0].kind).toBe('grid');
    });

    it("says when a list's coordinates lie all one way from the households its addresses found, and which system brings them together", async () => {
      // a list picked on Amap: the addresses are the region's own, the points GCJ-02, and the file says nothing of its system
      const { rows } = await ctx.db.query<{ address: string; x: number; y: number }>(
        `SELECT address, ST_X(geom) AS x, ST_Y(geom) AS y FROM household WHERE address <> '' ORDER BY id LIMIT 12`,
      );
      const lines = rows.map((h) => {
        const [x, y] = gcoord.transform([h.x, h.y], gcoord.WGS84, gcoord.GCJ02) as [number, number];
        return `${h.address},3,${x.toFixed(7)},${y.toFixed(7)}`;
      });
      const up = await upload('list.csv', new TextEncoder().encode(`地址,人口,经度,纬度\n${lines.join('\n')}\n`));
      expect(up.status).toBe(201);
      const body = {
        layer: up.body.layers[0].name,
        kind: 'household',
        parentId: districtId,
        fields: { address: '地址', size: '人口', lon: '经度', lat: '纬度' },
      };
      const asWgs = (await plan(up.body.id, body)).body.outcome;
      expect(asWgs.shift).toMatchObject({ rows: 12, suggest: 'GCJ-02' });
      expect(asWgs.shift.metres).toBeGreaterThan(200);
      expect(asWgs.shift.after).toBeLessThan(5);
      // read as the system it names: together, nothing said
      expect((await plan(up.body.id, { ...body, crs: 'GCJ-02' })).body.outcome.shift).toBeUndefined();
      // New households at no known address (a township with none yet: no shift to measure), in columns named for
      // Amap: read in GCJ-02 unasked, and said to be a guess. Named for nothing: WGS 84.
      const fresh = rows.map((h, i) => `新村 ${i + 1} 号,3,${(h.x + 0.01).toFixed(7)},${h.y.toFixed(7)}`).join('\n');
      for (const [lon, lat, used] of [
        ['高德经度', '高德纬度', 'GCJ-02'],
        ['lng_bd09', 'lat_bd09', 'BD-09'],
        ['经度', '纬度', 'EPSG:4326'],
      ] as const) {
        const named = await upload('新户.csv', new TextEncoder().encode(`地址,人口,${lon},${lat}\n${fresh}\n`));
        const read = await plan(named.body.id, { ...body, layer: named.body.layers[0].name, fields: undefined });
        expect([read.body.fields.lon, read.body.crs]).toEqual([lon, { declared: null, used, guessed: used !== 'EPSG:4326' }]);
      }
    });

    it('says which grids a list of new households would take out of their range before writing anything (a clerk: 21 → 32 households, unsaid)', async () => {
      // a grid in range, and enough new households inside it to take it past its type's most
      const { rows } = await ctx.db.query<{ id: number; name: string; n: number; lo: number; hi: number; x: number; y: number }>(
        `SELECT g.id, g.name, g.household_count AS n, gr.lo, gr.hi, ST_X(p) AS x, ST_Y(p) AS y
         FROM region g JOIN grid_range gr ON gr.grid_id = g.id CROSS JOIN LATERAL ST_PointOnSurface(g.geom) AS p
         WHERE g.level = 'grid' AND g.grid_type IS NOT NULL AND g.household_count BETWEEN gr.lo AND gr.hi AND gr.hi IS NOT NULL
         ORDER BY g.id LIMIT 1`,
      );
      const g = rows[0]!;
      const extra = g.hi - g.n + 1;
      const lines = Array.from({ length: extra }, (_, i) => `新户 ${i + 1} 号,2,${g.x.toFixed(7)},${g.y.toFixed(7)}`).join('\n');
      const up = await upload('新增户.csv', new TextEncoder().encode(`地址,人口,经度,纬度\n${lines}\n`));
      const body = {
        layer: up.body.layers[0].name,
        kind: 'household',
        parentId: districtId,
        fields: { address: '地址', size: '人口', lon: '经度', lat: '纬度' },
      };
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome.households.added).toBe(extra);
      expect(checked.body.outcome.households.outOfRange).toEqual({
        count: 1,
        grids: [expect.objectContaining({ name: g.name, before: g.n, households: g.hi + 1, max: g.hi, min: g.lo })],
      });
      expect((await ctx.db.query('SELECT household_count AS n FROM region WHERE id = $1', [g.id])).rows[0]).toEqual({ n: g.n });
      // one fewer keeps it in range: nothing said
      const fewer = lines.split('\n').slice(1).join('\n');
      const up2 = await upload('新增户.csv', new TextEncoder().encode(`地址,人口,经度,纬度\n${fewer}\n`));
      expect((await plan(up2.body.id, { ...body, layer: up2.body.layers[0].name })).body.outcome.households.outOfRange).toBeUndefined();
    });

    it('replaces only the villages that receive a grid: one whose rows are all refused keeps its grids', async () => {
      // two villages with grids: the first gets a whole-village grid, the second only a self-crossing one (refused)
      const { rows: vs } = await ctx.db.query<{ id: number; whole: string; cx: number; cy: number }>(
        `SELECT v.id, ST_AsGeoJSON(v.geom, 9) AS whole, ST_X(ST_PointOnSurface(v.geom)) AS cx, ST_Y(ST_PointOnSurface(v.geom)) AS cy
         FROM region v WHERE v.level = 'village' AND EXISTS (SELECT 1 FROM region g WHERE g.parent_id = v.id AND g.worker_id IS NOT NULL)
         ORDER BY v.id LIMIT 2`,
      );
      const [a, b] = vs as [(typeof vs)[0], (typeof vs)[0]];
      const gridsOf = async (v: number) =>
        (await ctx.db.query<{ s: string | null }>(`SELECT string_agg(id::text, ',' ORDER BY id) AS s FROM region WHERE parent_id = $1`, [v])).rows[0]!.s;
      const [oldA, oldB] = [await gridsOf(a.id), await gridsOf(b.id)];
      const d = 0.0002;
      const bowtie = {
        type: 'Polygon',
        coordinates: [
          [
            [b.cx - d, b.cy - d],
            [b.cx + d, b.cy + d],
            [b.cx + d, b.cy - d],
            [b.cx - d, b.cy + d],
            [b.cx - d, b.cy - d],
          ],
        ],
      };
      const file = {
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { 名称: '整村网格', 类型: '农村' }, geometry: JSON.parse(a.whole) },
          { type: 'Feature', properties: { 名称: '交叉网格', 类型: '农村' }, geometry: bowtie },
        ],
      };
      const up = await upload('replace-partly.geojson', new TextEncoder().encode(JSON.stringify(file)));
      const parent = (await ctx.db.query<{ p: number }>(`SELECT parent_id AS p FROM region WHERE id = $1`, [a.id])).rows[0]!.p;
      const sameTown = (await ctx.db.query<{ p: number }>(`SELECT parent_id AS p FROM region WHERE id = $1`, [b.id])).rows[0]!.p === parent;
      const body = { layer: up.body.layers[0].name, kind: 'grid', parentId: sameTown ? parent : 1, replace: true, partial: true };
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome).toMatchObject({ accepted: 1, problemCounts: { invalid_geometry: 1 } });
      expect(checked.body.outcome.regions.replaced).toMatchObject({ villages: 1 });
      const done = await commit(up.body.id, body);
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      expect(done.body.regions.replaced).toMatchObject({ villages: 1 });
      // 在规划中查看 opens the one village that took the grids, not the township or district asked
      expect(done.body.regions.landed).toBe(a.id);
      expect(await gridsOf(b.id)).toBe(oldB); // refused there: its grids stay
      expect(await gridsOf(a.id)).not.toBe(oldA);
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`)).status).toBe(200);
      expect(await gridsOf(a.id)).toBe(oldA);
      expect(await gridsOf(b.id)).toBe(oldB);
    });

    it('opens a Shapefile zipped on a Chinese Windows: file names in GBK bytes, without the zip’s UTF-8 flag', async () => {
      // (GDAL alone takes such names for CP437 and refuses the file)
      const up = await upload('towns-gbk-names.zip');
      expect(up.status).toBe(201);
      expect(up.body.layers).toEqual([expect.objectContaining({ name: '嘉峪关乡镇', count: 3, crs: 'EPSG:4542', fields: ['名称', '统计码'] })]);
      const parent = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE code = '620201'`)).rows[0]!.id;
      const checked = await plan(up.body.id, { layer: '嘉峪关乡镇', kind: 'boundary', parentId: parent, repair: true });
      expect(checked.status).toBe(200);
      expect(checked.body.outcome.total).toBe(3);
      expect(checked.body.crs).toMatchObject({ declared: 'EPSG:4542', used: 'EPSG:4542' });
      // the same zip damaged inside a member: a refusal in words, never a server fault (the renaming unpacks it)
      const bytes = new Uint8Array(await readFile(join(FILES, 'towns-gbk-names.zip')));
      // the last member's deflate stream starts with a block of the reserved type 11: unpacking it fails
      const last = bytes.lastIndexOf(0x50, bytes.length - 1);
      const view = new DataView(bytes.buffer);
      let at = 0;
      for (let i = 0; i + 4 <= last; i++) if (view.getUint32(i, true) === 0x04034b50) at = i;
      bytes[at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true)] = 0x07;
      const damaged = await upload('towns-gbk-names.zip', bytes);
      expect(damaged.status).toBeLessThan(500);
      if (damaged.status === 201) {
        const read = await plan(damaged.body.id, { layer: '嘉峪关乡镇', kind: 'boundary', parentId: parent, repair: true });
        expect(read.status).toBeLessThan(500);
      }
    });

    it('places an Excel household list by address however it is written, and refuses it whole until told to skip the bad rows', async () => {
      const up = await upload('households.xlsx');
      expect(up.status).toBe(201);
      expect(up.body.layers[0]).toMatchObject({ headerRow: 1, fields: ['序号', '户主姓名', '地址', '家庭人口'], kind: 'household' });
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: districtId };
      const checked = await plan(up.body.id, body);
      expect(checked.status).toBe(200);
      // 户主姓名: who heads each household, set on those the addresses find
      expect(checked.body.fields).toEqual({ address: '地址', size: '家庭人口', head: '户主姓名' });
      expect(checked.body.outcome).toMatchObject({ total: 14, accepted: 12, households: { added: 0, updated: 12 } });
      expect(checked.body.outcome.problems.map((p: { index: number; code: string }) => [p.index, p.code])).toEqual([
        [12, 'unmatched_address'],
        [13, 'invalid_size'],
      ]);
      // The preview shows each matched row at the household its address names (the row with a bad size too, in red).
      const matched = checked.body.preview.features.filter((f: any) => f.properties.how === 'exact' || f.properties.how === 'normalized');
      expect(matched.map((f: any) => f.properties.i).sort((a: number, b: number) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]);
      const [hx, hy] = matched[0].geometry.coordinates;
      const { rows: near } = await ctx.db.query(`SELECT 1 FROM household WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326), 1e-7)`, [hx, hy]);
      expect(near).toHaveLength(1);
      // The unmatched row, placed on the map by hand, goes in as a new household there.
      const { rows: spot } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' ORDER BY id LIMIT 1`,
      );
      const placed = await plan(up.body.id, { ...body, places: { 12: [spot[0]!.x, spot[0]!.y] } });
      expect(placed.status).toBe(200);
      expect(placed.body.outcome).toMatchObject({ accepted: 13, households: { added: 1, updated: 12 } });
      expect(placed.body.preview.features.filter((f: any) => f.properties.how === 'placed').map((f: any) => f.properties.i)).toEqual([12]);
      const nowhere = await plan(up.body.id, { ...body, places: { 99: [103.8, 25.6] } });
      expect([nowhere.status, nowhere.body.error.code, nowhere.body.error.path]).toEqual([422, 'unknown_row', 'places.99']);
      // one row, one key: "012" is not row 12
      expect((await plan(up.body.id, { ...body, places: { '012': [spot[0]!.x, spot[0]!.y] } })).status).toBe(400);
      const before = await ctx.snapshot();
      const refused = await commit(up.body.id, body);
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('invalid_rows');
      expect(await ctx.snapshot()).toEqual(before);
      const sizesBefore = (await ctx.db.query<{ s: string }>(`SELECT string_agg(id || ':' || size || ':' || head_name, ',' ORDER BY id) AS s FROM household`))
        .rows[0]!.s;
      const done = await commit(up.body.id, { ...body, partial: true });
      expect(done.status).toBe(201);
      expect(done.body.households).toMatchObject({ added: 0, updated: 12 });
      const sizesAfter = (await ctx.db.query<{ s: string }>(`SELECT string_agg(id || ':' || size || ':' || head_name, ',' ORDER BY id) AS s FROM household`))
        .rows[0]!.s;
      expect(sizesAfter).not.toBe(sizesBefore);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect(
        (await ctx.db.query<{ s: string }>(`SELECT string_agg(id || ':' || size || ':' || head_name, ',' ORDER BY id) AS s FROM household`)).rows[0]!.s,
      ).toBe(sizesBefore);
    });

    it('gives the rows left out as a workbook: each with its place in the file, why and its own columns — all of them, past the 2,000 listed', async () => {
      const up = await upload('households.xlsx');
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: districtId };
      const leftOut = (id: string, cookie = admin) => ctx.app.request(`/api/imports/${id}/left-out`, { headers: { cookie } });
      // nothing checked yet: nothing to give
      expect((await leftOut(up.body.id)).status).toBe(404);
      expect((await plan(up.body.id, body)).body.outcome.problemCounts).toEqual({ unmatched_address: 1, invalid_size: 1 });
      const read = async (res: Response, ext: string) => {
        expect(res.status).toBe(200);
        expect(decodeURIComponent(res.headers.get('content-disposition')!)).toContain(`-未导入.${ext}`);
        const file = join(dir, `left-out-${Math.random()}.${ext}`);
        await writeFile(file, new Uint8Array(await res.arrayBuffer()));
        // read back by GDAL's own ogr2ogr, not ours
        return execFileSync('ogr2ogr', ['-f', 'CSV', '-lco', 'STRING_QUOTING=IF_NEEDED', '/vsistdout/', file], { encoding: 'utf8' }).trim().split('\n');
      };
      const lines = await read(await leftOut(up.body.id), 'xlsx');
      expect(lines[0]).toBe('原行号,问题,problem,序号,户主姓名,地址,家庭人口');
      // the sheet's header is its second row: row 12 of the list is the sheet's 15th
      expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
        expect.stringMatching(/^15,地址未匹配：/),
        expect.stringMatching(/^16,人数无效/),
      ]);
      expect(lines[1]).toContain('no household has the address');
      // someone else's file is not theirs to read
      const other = (await ctx.cookie({ username: 'other-planner', role: 'planner' })).cookie;
      expect((await leftOut(up.body.id, other)).status).toBe(404);
      // A list of 2,500 unknown addresses: the answer lists 2,000 problems, the download has every row.
      const csv = `户主,地址,人口\n${Array.from({ length: 2_500 }, (_, i) => `户${i},无此路 ${i + 1} 号,2`).join('\n')}\n`;
      const many = await upload('unknown.csv', new TextEncoder().encode(csv));
      const checked = await plan(many.body.id, {
        layer: many.body.layers[0].name,
        kind: 'household',
        parentId: districtId,
        fields: { address: '地址', size: '人口' },
      });
      expect(checked.body.outcome.problemCounts).toEqual({ unmatched_address: 2_500 });
      expect(checked.body.outcome.problems).toHaveLength(2_000);
      const all = await read(await leftOut(many.body.id), 'xlsx');
      expect(all).toHaveLength(2_501);
      expect(all.at(-1)).toMatch(/^2501,地址未匹配：无此路 2500 号,.*,户2499,无此路 2500 号,2$/);
      // numbers go back as numbers, to sum and sort in Excel; text stays text (GDAL's reading of the cells' types)
      const file = join(dir, 'many-left-out.xlsx');
      await writeFile(file, new Uint8Array(await (await leftOut(many.body.id)).arrayBuffer()));
      const types = execFileSync('ogrinfo', ['-so', '-al', file], { encoding: 'utf8' });
      expect(types).toMatch(/原行号: Integer/);
      expect(types).toMatch(/人口: Integer/);
      expect(types).toMatch(/户主: String/);
    });

    it('commits what its check found, and checks again when the households changed in between', async () => {
      const up = await upload('households.xlsx');
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: districtId, partial: true };
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome).toMatchObject({ accepted: 12, households: { added: 0, updated: 12 } });
      // Meanwhile a second household comes in at one of the list's addresses: that row no longer names one household.
      const matched = checked.body.preview.features.find((f: any) => f.properties.how === 'exact' || f.properties.how === 'normalized');
      const [x, y] = matched.geometry.coordinates;
      const {
        rows: [named],
      } = await ctx.db.query<{ address: string }>(`SELECT address FROM household WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326), 1e-7)`, [x, y]);
      const twin = await ctx.request('POST', '/api/households/import', `lon,lat,size,address\n${x},${y},3,${named!.address}`, { 'content-type': 'text/csv' });
      expect(twin.status).toBe(201);
      const done = await commit(up.body.id, body);
      expect(done.status).toBe(201);
      expect(done.body.households).toMatchObject({ added: 0, updated: 11 });
      expect(done.body.problems.map((p: { code: string }) => p.code)).toContain('ambiguous_address');
      // The import only set sizes: still the change log of the village where those households lie lists it (undo
      // would take it back), and its undo too.
      const {
        rows: [where],
      } = await ctx.db.query<{ village: number }>(
        `SELECT g.parent_id AS village FROM household h JOIN region g ON g.id = h.region_id
         WHERE ST_DWithin(h.geom, ST_SetSRID(ST_MakePoint($1, $2), 4326), 1e-7) LIMIT 1`,
        [x, y],
      );
      const listed = async () => (await ctx.request('GET', `/api/operations?region=${where!.village}`)).body.operations.map((o: { op: number }) => o.op);
      expect(await listed()).toContain(done.body.op);
      const undone = await ctx.request('POST', '/api/changes/undo');
      expect(undone.status).toBe(200);
      expect(await listed()).toContain(undone.body.op);
      // and the twin taken back
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
    });

    it('adds households from coordinates and takes exactly them back on undo, and gives them back on redo', async () => {
      const { rows: pts } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' ORDER BY id LIMIT 3`,
      );
      const csv = ['经度,纬度,人数,地址', ...pts.map((p, i) => `${p.x},${p.y},${i + 2},新建小区${i + 1}栋`)].join('\n');
      const up = await upload('new.csv', new TextEncoder().encode(csv));
      expect(up.status).toBe(201);
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: districtId };
      const n0 = Number((await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM household')).rows[0]!.n);
      const done = await commit(up.body.id, body);
      expect(done.status).toBe(201);
      expect(done.body.households).toMatchObject({ added: 3, updated: 0 });
      const count = async () => (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM household')).rows[0]!.n;
      const counted = async () => (await ctx.db.query<{ n: number }>(`SELECT household_count AS n FROM region WHERE id = $1`, [districtId])).rows[0]!.n;
      expect(await count()).toBe(n0 + 3);
      const c1 = await counted();
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect(await count()).toBe(n0);
      expect(await counted()).toBe(c1 - 3);
      expect((await ctx.request('POST', '/api/changes/redo')).status).toBe(200);
      expect(await count()).toBe(n0 + 3);
      expect(await counted()).toBe(c1);
    });

    it('names rows whose longitude and latitude are swapped, and the import’s own undo takes back that import, after later ones too, or nothing', async () => {
      const { rows: pts } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' ORDER BY id DESC LIMIT 3`,
      );
      const csv = [
        '经度,纬度,人数,地址',
        `${pts[0]!.x},${pts[0]!.y},三口,甲`, // a size as a clerk writes it
        `${pts[1]!.y},${pts[1]!.x},3,乙`, // the columns mixed up
        '116.39,39.91,4,丙', // in Beijing: outside, and no better swapped
        `,${pts[2]!.y},2,戊`, // the longitude left out: that is the problem, not the address
      ].join('\n');
      const up = await upload('swapped.csv', new TextEncoder().encode(csv));
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: districtId, partial: true };
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome.problemCounts).toEqual({ swapped_lonlat: 1, outside_parent: 1, bad_coordinates: 1 });
      expect(checked.body.outcome.problems.find((p: { code: string }) => p.code === 'swapped_lonlat')).toMatchObject({ index: 1, path: 'rows[1].geometry' });
      const first = await commit(up.body.id, body);
      expect(first.status).toBe(201);
      expect((await ctx.db.query<{ size: number }>('SELECT size FROM household WHERE import_op = $1', [first.body.op])).rows).toEqual([{ size: 3 }]);
      // the change log of the district (and of the grid it landed in) lists it
      const { rows: landed } = await ctx.db.query<{ region_id: number }>('SELECT region_id FROM household WHERE import_op = $1', [first.body.op]);
      for (const region of [districtId, landed[0]!.region_id]) {
        const log = await ctx.request('GET', `/api/operations?region=${region}`);
        expect(log.body.operations.map((o: { op: number }) => o.op)).toContain(first.body.op);
      }
      const count = async () => (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM household')).rows[0]!.n;
      // A later import by the same person: the first import's undo button takes back the first, not the later one, which stays.
      const again = await upload('later.csv', new TextEncoder().encode(`经度,纬度,人数,地址\n${pts[2]!.x},${pts[2]!.y},2,丁`));
      const second = await commit(again.body.id, { ...body, layer: again.body.layers[0].name });
      expect(second.status).toBe(201);
      const n = await count();
      const mine = (op: number) => ctx.db.query('SELECT 1 FROM household WHERE import_op = $1', [op]);
      const undone = await ctx.request('POST', `/api/changes/undo?op=${first.body.op}`);
      expect(undone.status).toBe(200);
      // (no regions removed: an import of households names none — it said [null])
      expect(undone.body.removed).toEqual([]);
      expect(await revertedBy(undone)).toBe(first.body.op);
      expect(await count()).toBe(n - 1);
      expect((await mine(second.body.op)).rows).toHaveLength(1);
      // someone else's import is not theirs to take back, however late
      const other = (await ctx.cookie({ username: 'other-importer', role: 'planner' })).cookie;
      const notTheirs = await ctx.app.request(`/api/changes/undo?op=${second.body.op}`, { method: 'POST', headers: { cookie: other } });
      expect(notTheirs.status).toBe(409);
      expect(((await notTheirs.json()) as any).error.code).toBe('nothing_to_undo');
      // the next plain undo is the later import's; redo gives it back
      expect(await revertedBy(await ctx.request('POST', '/api/changes/undo'))).toBe(second.body.op);
      expect(await count()).toBe(n - 2);
      expect((await ctx.request('POST', '/api/changes/redo')).status).toBe(200);
      expect((await mine(second.body.op)).rows).toHaveLength(1);

      // A later list sets the size of a household the earlier one added: the earlier can no longer be taken back alone.
      const third = await commit((await upload('third.csv', new TextEncoder().encode(`经度,纬度,人数,地址\n${pts[0]!.x},${pts[0]!.y},2,己巷1号`))).body.id, {
        ...body,
        layer: 'third',
      });
      expect(third.status).toBe(201);
      const sized = await upload('sizes.csv', new TextEncoder().encode('人数,地址\n6,己巷1号'));
      const fourth = await commit(sized.body.id, { ...body, layer: sized.body.layers[0].name, fields: { address: '地址', size: '人数' } });
      expect(fourth.body.households).toMatchObject({ added: 0, updated: 1 });
      const m = await count();
      const held = await ctx.request('POST', `/api/changes/undo?op=${third.body.op}`);
      expect(held.status).toBe(409);
      expect(held.body.error).toMatchObject({ code: 'version_conflict', details: { reason: 'sizes', n: 1 } });
      expect(held.body.error.message).toMatch(/later import or correction changed 1 household/);
      expect(await count()).toBe(m);
      // the later one first, then the earlier
      expect((await ctx.request('POST', `/api/changes/undo?op=${fourth.body.op}`)).status).toBe(200);
      expect((await ctx.request('POST', `/api/changes/undo?op=${third.body.op}`)).status).toBe(200);
      expect(await count()).toBe(m - 1);
    });

    it('lets a planner moved to another township neither undo nor redo a household import made in the old one', async () => {
      const {
        rows: [at],
      } = await ctx.db.query<{ town: number; other: number; x: number; y: number }>(
        `SELECT t.id AS town, (SELECT id FROM region WHERE level = 'township' AND id <> t.id ORDER BY id LIMIT 1) AS other,
                ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y
         FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id WHERE g.level = 'grid' ORDER BY g.id LIMIT 1`,
      );
      const name = 'moved-importer';
      const there = await ctx.cookie({ username: name, role: 'planner', regionId: at!.town });
      const up = await upload('moved.csv', new TextEncoder().encode(`经度,纬度,人数,地址\n${at!.x},${at!.y},3,调走前导入1号`), there.cookie);
      const body = { layer: up.body.layers[0].name, kind: 'household', parentId: at!.town };
      const done = await ctx.request('POST', `/api/imports/${up.body.id}/commit`, body, there);
      expect(done.status).toBe(201);
      const mine = async () => (await ctx.db.query('SELECT 1 FROM household WHERE import_op = $1', [done.body.op])).rows.length;
      expect(await mine()).toBe(1);
      // moved: the old township's households are no longer theirs to take back, by either door
      const moved = await ctx.cookie({ username: name, role: 'planner', regionId: at!.other });
      for (const path of [`/api/changes/undo?op=${done.body.op}`, '/api/changes/undo']) {
        const refused = await ctx.request('POST', path, undefined, moved);
        expect([refused.status, refused.body.error?.code]).toEqual([403, 'outside_scope']);
      }
      expect(await mine()).toBe(1);
      // back in the township: the undo is theirs; moved again, the redo is not
      const back = await ctx.cookie({ username: name, role: 'planner', regionId: at!.town });
      expect((await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`, undefined, back)).status).toBe(200);
      expect(await mine()).toBe(0);
      const redo = await ctx.request('POST', '/api/changes/redo', undefined, await ctx.cookie({ username: name, role: 'planner', regionId: at!.other }));
      expect([redo.status, redo.body.error?.code]).toEqual([403, 'outside_scope']);
      expect(await mine()).toBe(0);

      // Back again, redone; then a grid worker visits the household on a patrol: the visit rests on it, so the import stays
      // (undone, the visit would lose its household for good, redo or not).
      expect((await ctx.request('POST', '/api/changes/redo', undefined, back)).status).toBe(200);
      expect(await mine()).toBe(1);
      await ctx.db.query(
        `WITH p AS (INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, points, distance_m, reported_by, client_key)
                    SELECT id, 0, now() - interval '1 hour', now(), 0, 0, 'test', 'visit-after-import' FROM worker ORDER BY id LIMIT 1 RETURNING id)
         INSERT INTO patrol_visit (patrol_id, household_id, at) SELECT p.id, h.id, now() FROM p, household h WHERE h.import_op = $1`,
        [done.body.op],
      );
      const visited = await ctx.request('POST', '/api/changes/undo', undefined, back);
      expect(visited.status).toBe(409);
      expect(visited.body.error.details).toEqual({ reason: 'visits', n: 1 });
      expect(await mine()).toBe(1);
      expect((await ctx.db.query('SELECT 1 FROM patrol_visit WHERE household_id IS NOT NULL AND note = $1', [''])).rows.length).toBeGreaterThan(0);
    });

    it('says when the longitude and latitude columns of incidents are the wrong way round, and reads them swapped (from a clerk)', async () => {
      const { rows: pts } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' ORDER BY id LIMIT 2`,
      );
      const csv = ['经度,纬度,类别,上报时间', ...pts.map((p) => `${p.y},${p.x},消防,2026-11-03 14:22`)].join('\n');
      const up = await upload('事件_经纬度颠倒.csv', new TextEncoder().encode(csv));
      const body = { layer: up.body.layers[0].name, kind: 'incident', parentId: districtId, crs: 'EPSG:4326' };
      const checked = await plan(up.body.id, body);
      expect(checked.body.fields).toMatchObject({ lon: '经度', lat: '纬度' });
      expect(checked.body.outcome).toMatchObject({ accepted: 0, problemCounts: { swapped_lonlat: 2 } });
      const swapped = await plan(up.body.id, { ...body, fields: { ...checked.body.fields, lon: '纬度', lat: '经度' } });
      expect(swapped.body.outcome).toMatchObject({ total: 2, accepted: 2, problemCounts: {} });
    });

    it("reads a category of the county's own as the one of ours the clerk names (from a clerk: 占道经营 had to be edited out of the file)", async () => {
      const { rows: pts } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' ORDER BY id LIMIT 2`,
      );
      const { rows: ours } = await ctx.db.query<{ code: string }>('SELECT code FROM incident_category ORDER BY code LIMIT 1');
      const csv = ['经度,纬度,类别,上报时间', ...pts.map((p) => `${p.x},${p.y},占道经营,2026-11-03 14:22`)].join('\n');
      const up = await upload('事件台账.csv', new TextEncoder().encode(csv));
      const body = { layer: up.body.layers[0].name, kind: 'incident', parentId: districtId, crs: 'EPSG:4326' };
      const checked = await plan(up.body.id, body);
      expect(checked.body.outcome).toMatchObject({ accepted: 0, problemCounts: { unknown_category: 2 } });
      expect(checked.body.outcome.problems[0]).toMatchObject({ code: 'unknown_category', subject: '占道经营' });
      const named = await plan(up.body.id, { ...body, categories: { 占道经营: ours[0]!.code } });
      expect(named.body.outcome).toMatchObject({ total: 2, accepted: 2, problemCounts: {} });
      const wrong = await plan(up.body.id, { ...body, categories: { 占道经营: 'no_such_category' } });
      expect([wrong.status, wrong.body.error.code, wrong.body.error.path]).toEqual([422, 'unknown_category', 'categories.占道经营']);
      const done = await commit(up.body.id, { ...body, categories: { 占道经营: ours[0]!.code } });
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      expect(done.body.incidents).toEqual({ imported: 2 });
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
    });

    it('reads a GBK CSV of incidents picked on Baidu maps, with Chinese categories, severities and times', async () => {
      const up = await upload('incidents-bd09.csv');
      expect(up.status).toBe(201);
      expect(up.body.layers[0]).toMatchObject({ encoding: 'GBK', kind: 'incident' });
      const body = { layer: up.body.layers[0].name, kind: 'incident', parentId: districtId, crs: 'BD-09' };
      // nothing declared, but the file's name says Baidu: read as BD-09 unasked, and said to be a guess
      const unasked = await plan(up.body.id, { ...body, crs: undefined });
      expect(unasked.body.crs).toEqual({ declared: null, used: 'BD-09', guessed: true });
      const checked = await plan(up.body.id, body);
      expect(checked.status).toBe(200);
      expect(checked.body.fields).toMatchObject({ lon: '经度', lat: '纬度', category: '类别', severity: '紧急程度', time: '上报时间', description: '内容' });
      expect(checked.body.outcome).toMatchObject({ total: 6, accepted: 5, problemCounts: { unknown_category: 1 } });
      const done = await commit(up.body.id, { ...body, partial: true });
      expect(done.status).toBe(201);
      // Back from BD-09, each lies within a few metres of the household it was picked at.
      const { rows } = await ctx.db.query<{ d: number; severity: number; at: string }>(
        `SELECT (SELECT min(ST_Distance(i.geom::geography, h.geom::geography)) FROM household h WHERE ST_DWithin(h.geom, i.geom, 0.01)) AS d,
                i.severity, to_char(i.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS at
         FROM incident i WHERE i.description LIKE '%附近群众反映' ORDER BY i.reported_at`,
      );
      expect(rows).toHaveLength(5);
      for (const r of rows) expect(r.d).toBeLessThan(5);
      expect(rows.map((r) => r.severity)).toEqual([1, 2, 1, 3, 1]);
      expect(rows[0]!.at).toBe('2026-10-03 09:10');
      expect(done.body.op).toEqual(expect.any(Number));

      // One operation: undo takes exactly these five back (same ids on redo) while nobody has acted on them.
      const imported = async () =>
        (
          await ctx.db.query<{ s: string | null }>(
            `SELECT string_agg(id::text || ':' || source, ',' ORDER BY id) AS s FROM incident WHERE description LIKE '%附近群众反映'`,
          )
        ).rows[0]!.s;
      const ids = await imported();
      expect(ids).toMatch(/^(\d+:import,){4}\d+:import$/);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect(await imported()).toBeNull();
      expect((await ctx.request('POST', '/api/changes/redo')).status).toBe(200);
      expect(await imported()).toBe(ids);
      // A report the centre merged into one of them (合并重复) rests on it: taken back, the report would vanish from every list.
      const second = Number(ids!.split(',')[1]!.split(':')[0]);
      const {
        rows: [dup],
      } = await ctx.db.query<{ id: number }>(
        `INSERT INTO incident (geom, category, severity, description, reported_at, status, void_kind, void_reason, voided_at, merged_into)
         SELECT geom, category, severity, '同一件事又报了一次', now(), 'reported', 'duplicate', '重复', now(), id FROM incident WHERE id = $1 RETURNING id`,
        [second],
      );
      const merged = await ctx.request('POST', '/api/changes/undo');
      expect(merged.status).toBe(409);
      expect(merged.body.error.details).toMatchObject({ reason: 'handled', n: 1 });
      expect(await imported()).toBe(ids);
      await ctx.db.query('DELETE FROM incident WHERE id = $1', [dup!.id]);
      // Once one of them is handled it is a case of its own: the import can no longer be taken back.
      const first = Number(ids!.split(':')[0]);
      await ctx.db.query(`UPDATE incident SET version = version + 1 WHERE id = $1`, [first]);
      const refused = await ctx.request('POST', '/api/changes/undo');
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/1 of the 5 imported incidents have been handled/);
      expect(await imported()).toBe(ids);
    });

    it('staffs grids from a list by grid code or name, one person per phone number, and undoes it', async () => {
      const up = await upload('staff.xlsx');
      const body = { layer: up.body.layers[0].name, kind: 'staff', parentId: districtId };
      const checked = await plan(up.body.id, body);
      expect(checked.status).toBe(200);
      expect(checked.body.fields).toEqual({ person: '姓名', phone: '手机号', role: '职务', grid: '所属网格' });
      expect(checked.body.outcome).toMatchObject({
        total: 5,
        accepted: 4,
        staff: { assigned: 4, grids: 3, newWorkers: 3 },
        problemCounts: { unknown_role: 1 },
      });
      const before = await ctx.snapshot();
      const done = await commit(up.body.id, { ...body, partial: true });
      expect(done.status).toBe(201);
      const { rows } = await ctx.db.query<{ role: string; phone: string }>(
        `SELECT s.role, w.phone FROM grid_staff s JOIN worker w ON w.id = s.worker_id WHERE w.phone LIKE '1390874100%' ORDER BY w.phone, s.grid_id`,
      );
      expect(rows).toEqual([
        { role: 'grid_leader', phone: '13908741001' },
        { role: 'grid_leader', phone: '13908741001' },
        { role: 'police', phone: '13908741002' },
        { role: 'instructor', phone: '13908741003' },
      ]);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      expect((await ctx.db.query(`SELECT 1 FROM grid_staff s JOIN worker w ON w.id = s.worker_id WHERE w.phone LIKE '1390874100%'`)).rows).toEqual([]);
      expect((await ctx.snapshot()).region).toBe(before.region);
    });

    it("places a roster's row by the grid's name when its code column is blank", async () => {
      const { rows: gs } = await ctx.db.query<{ code: string; name: string }>(
        `SELECT code, name FROM region WHERE level = 'grid' AND name IN (SELECT name FROM region WHERE level = 'grid' GROUP BY name HAVING count(*) = 1)
         ORDER BY code LIMIT 2`,
      );
      const csv = `姓名,联系电话,职务,网格编码,网格名称\n赵一,13908742001,网格长,${gs[0]!.code},${gs[0]!.name}\n钱二,13908742002,网格长,,${gs[1]!.name}\n`;
      const up = await upload('网格力量花名册.csv', new TextEncoder().encode(csv));
      const checked = await plan(up.body.id, { layer: up.body.layers[0].name, kind: 'staff', parentId: districtId });
      expect(checked.status).toBe(200);
      expect(checked.body.fields.grid).toBe('网格编码');
      expect(checked.body.outcome).toMatchObject({ total: 2, accepted: 2, problemCounts: {} });
    });

    it('says before anything is written whose place a roster takes: a grid’s full-time worker replaced, a second 网格长 added', async () => {
      const { rows: gs } = await ctx.db.query<{ id: number; code: string; name: string }>(
        `SELECT id, code, name FROM region WHERE level = 'grid' ORDER BY code LIMIT 2`,
      );
      const [{ id: was }] = (
        await ctx.db.query<{ id: number }>(`INSERT INTO worker (name, phone, role) VALUES ('彭娜', '13908743001', 'full_time') RETURNING id`)
      ).rows as [{ id: number }];
      const [{ id: leader }] = (
        await ctx.db.query<{ id: number }>(`INSERT INTO worker (name, phone, role) VALUES ('黄文', '13908743002', 'grid_leader') RETURNING id`)
      ).rows as [{ id: number }];
      const kept = (await ctx.db.query<{ worker_id: number | null }>('SELECT worker_id FROM region WHERE id = $1', [gs[0]!.id])).rows[0]!.worker_id;
      await ctx.db.query('UPDATE region SET worker_id = $2 WHERE id = $1', [gs[0]!.id, was]);
      await ctx.db.query(`INSERT INTO grid_staff (grid_id, worker_id, role) VALUES ($1, $2, 'grid_leader')`, [gs[1]!.id, leader]);
      const csv = `姓名,联系电话,职务,网格编码\n王小二,13908743003,网格员,${gs[0]!.code}\n李大山,13908743004,网格长,${gs[1]!.code}\n彭娜,13908743001,网格员,${gs[0]!.code}1\n`;
      const up = await upload('中堡村网格力量.csv', new TextEncoder().encode(csv));
      const checked = await plan(up.body.id, { layer: up.body.layers[0].name, kind: 'staff', parentId: districtId, partial: true });
      expect(checked.status).toBe(200);
      expect(checked.body.outcome.staff).toMatchObject({
        displacedCount: 2,
        displaced: [
          { grid: gs[0]!.name, role: '专职网格员', was: ['彭娜'], now: '王小二', replaces: true },
          // (besides whoever else leads that grid in the test plan)
          { grid: gs[1]!.name, role: '网格长', was: expect.arrayContaining(['黄文']), now: '李大山', replaces: false },
        ],
      });
      // nothing was written by the check
      expect((await ctx.db.query<{ worker_id: number }>('SELECT worker_id FROM region WHERE id = $1', [gs[0]!.id])).rows[0]!.worker_id).toBe(was);
      await ctx.db.query('UPDATE region SET worker_id = $2 WHERE id = $1', [gs[0]!.id, kept]);
      await ctx.db.query('DELETE FROM grid_staff WHERE worker_id = $1', [leader]);
    });

    it('names the row a grid overlaps in its own file by that row’s name, whatever village each went to', async () => {
      const { rows: vs } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(v.geom)) AS x, ST_Y(ST_PointOnSurface(v.geom)) AS y FROM region v
         WHERE v.level = 'village' AND v.parent_id = (SELECT parent_id FROM region WHERE level = 'village' ORDER BY code LIMIT 1) ORDER BY v.code LIMIT 2`,
      );
      const square = (p: { x: number; y: number }) => [
        [
          [p.x - 1e-4, p.y - 1e-4],
          [p.x + 1e-4, p.y - 1e-4],
          [p.x + 1e-4, p.y + 1e-4],
          [p.x - 1e-4, p.y + 1e-4],
          [p.x - 1e-4, p.y - 1e-4],
        ],
      ];
      const grid = (name: string, p: { x: number; y: number }) => ({
        type: 'Feature',
        properties: { 名称: name, 类型: '农村' },
        geometry: { type: 'Polygon', coordinates: square(p) },
      });
      // the first village's grid comes first in the file; the second village's two grids overlap each other
      const file = { type: 'FeatureCollection', features: [grid('甲村一格', vs[0]!), grid('乙村一格', vs[1]!), grid('乙村重格', vs[1]!)] };
      const up = await upload('overlap-rows.geojson', new TextEncoder().encode(JSON.stringify(file)));
      const township = (await ctx.db.query<{ id: number }>(`SELECT parent_id AS id FROM region WHERE level = 'village' ORDER BY code LIMIT 1`)).rows[0]!.id;
      const checked = await plan(up.body.id, { layer: up.body.layers[0].name, kind: 'grid', parentId: township, replace: true, partial: true });
      expect(checked.status, JSON.stringify(checked.body).slice(0, 300)).toBe(200);
      const overlap = checked.body.outcome.problems.find((p: { code: string }) => p.code === 'overlaps_siblings');
      expect(overlap).toMatchObject({ index: 2, subject: '乙村一格' });
      expect(overlap.message).toMatch(/overlaps feature 1 \(/);
    });

    it('asks which, when a staff list gives one grid two full-time workers, instead of letting the later row win', async () => {
      const { rows: g } = await ctx.db.query<{ code: string; worker_id: number | null }>(
        `SELECT code, worker_id FROM region WHERE level = 'grid' ORDER BY code LIMIT 2`,
      );
      const csv = [
        '姓名,手机号,职务,所属网格',
        `罗娟,13908742001,专职网格员,${g[0]!.code}`,
        `周强,13908742002,专职网格员,${g[1]!.code}`,
        `赵错号,13908742003,专职网格员,${g[0]!.code}`,
        `钱七,1381234,专职网格员,${g[1]!.code}`,
      ].join('\n');
      const up = await upload('two-for-one.csv', new TextEncoder().encode(csv));
      const body = {
        layer: up.body.layers[0].name,
        kind: 'staff',
        parentId: districtId,
        fields: { person: '姓名', phone: '手机号', role: '职务', grid: '所属网格' },
      };
      const checked = await plan(up.body.id, body);
      expect(checked.status, JSON.stringify(checked.body)).toBe(200);
      // both rows of the doubled grid are asked about (which is right, the clerk knows); a 7-digit number from 1 is no phone
      expect(checked.body.outcome).toMatchObject({ total: 4, accepted: 1, problemCounts: { duplicate_full_time: 2, invalid_phone: 1 } });
      expect(checked.body.outcome.problems.find((p: { code: string }) => p.code === 'duplicate_full_time').subject).toContain('罗娟、赵错号');
      const before = await ctx.snapshot();
      const refused = await commit(up.body.id, body);
      expect(refused.status).toBe(422);
      expect(await ctx.snapshot()).toEqual(before);
      const done = await commit(up.body.id, { ...body, partial: true });
      expect(done.status).toBe(201);
      const { rows: now } = await ctx.db.query<{ worker_id: number | null }>(`SELECT worker_id FROM region WHERE code = $1`, [g[0]!.code]);
      expect(now[0]!.worker_id).toBe(g[0]!.worker_id);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
    });

    it('measures a sliver with nearly level edges as the sliver it is (the area of what a projection round trip leaves)', async () => {
      // Δφ of 1e-13°: the old quotient (cos φ1 − cos φ2) / Δφ cancelled into tens of thousands of m²
      const { rows } = await ctx.db.query<{ sliver: number; town: number; geodesic: number }>(
        `SELECT gp_area_m2(ST_GeomFromText('POLYGON((98 39.8, 98.05 39.8000000000001, 98.1 39.8, 98 39.8))', 4326)) AS sliver,
                gp_area_m2(geom) AS town, ST_Area(geom::geography) AS geodesic FROM region WHERE code = '620201-100'`,
      );
      expect(Math.abs(rows[0]!.sliver)).toBeLessThan(0.01);
      expect(Math.abs(rows[0]!.town / rows[0]!.geodesic - 1)).toBeLessThan(0.005);
    });

    it('says why GDAL cannot read a file in words of the file, never its working paths, SQL or our parser (the attacker’s pass)', async () => {
      const enc = new TextEncoder();
      const junk = new Uint8Array(4096).map((_, i) => (i * 7919) % 251);
      const sqlite = new Uint8Array([...enc.encode('SQLite format 3\0'), ...junk]);
      const shp = zipSync({ '村界.shp': junk, '村界.shx': junk.slice(0, 100), '村界.dbf': junk.slice(0, 200) });
      const xlsx = zipSync({ '[Content_Types].xml': enc.encode('<Types/>'), 'xl/workbook.xml': enc.encode('<workbook><sheets><sheet') });
      const huge = enc.encode(
        JSON.stringify({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [0, 0] } }).replace('[0,0]', '[1e400,0]'),
      );
      for (const [name, bytes] of [
        ['g.gpkg', sqlite],
        ['村界.zip', shp],
        ['住户.xlsx', xlsx],
        ['points.geojson', huge],
      ] as const) {
        const res = await upload(name, bytes);
        expect(res.status, name).toBeGreaterThanOrEqual(400);
        expect(res.status, name).toBeLessThan(500);
        expect(res.body.error.code, name).toBe('unreadable_file');
        expect(res.body.error.message, name).not.toMatch(/output|vsi|SELECT|sqlite3_|[0-9a-f]{8}-[0-9a-f]{4}-|JSON|token|ERROR \d/);
      }
    });

    it('refuses a layer of more rows than one import takes before reading it, and says so at upload', async () => {
      const small = await apiContext(ctx.db, { importDir: dir, limits: { importRows: 50 } });
      const cookie = (await small.cookie({ username: 'tester', role: 'admin' })).cookie;
      const csv = ['经度,纬度,人数,地址', ...Array.from({ length: 51 }, (_, i) => `103.8,25.6,${(i % 5) + 1},测试路${i + 1}号`)].join('\n');
      const res = await small.app.request('/api/imports', {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': 'many.csv' },
        body: new TextEncoder().encode(csv),
      });
      const up = (await res.json()) as any;
      expect(res.status).toBe(201);
      expect(up.warnings).toContainEqual(expect.objectContaining({ code: 'too_many_rows', subject: 'many' }));
      const before = await ctx.snapshot();
      for (const step of ['plan', 'commit']) {
        const refused = await small.request('POST', `/api/imports/${up.id}/${step}`, { layer: 'many', kind: 'household', parentId: districtId });
        expect(refused.status).toBe(413);
        expect(refused.body.error).toMatchObject({ code: 'too_many_rows', path: 'layer' });
        expect(refused.body.error.message).toBe(
          'many.csv: layer many has 51 rows; one import takes at most 50 — split the file (by township, say) and import each part',
        );
      }
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('says what is wrong with a broken file, and writes nothing', async () => {
      const before = await ctx.snapshot();
      const truncated = await upload('broken/truncated.zip');
      expect([truncated.status, truncated.body.error.code]).toEqual([422, 'broken_zip']);
      // the page's words name the file the clerk sent
      expect(truncated.body.error.details).toEqual({ file: 'truncated.zip' });
      const noShx = await upload('broken/no-shx.zip');
      expect([noShx.status, noShx.body.error.code]).toEqual([422, 'shapefile_incomplete']);
      expect(noShx.body.error.message).toContain('.shx');
      const badPrj = await upload('broken/bad-prj.zip');
      expect(badPrj.status).toBe(201);
      expect(badPrj.body.warnings.map((w: { code: string }) => w.code)).toContain('unreadable_prj');
      // the box of its first shapes' numbers, as they stand, for the wizard to say at once what they look like
      const [x0, y0, x1, y1] = badPrj.body.layers[0].sampleBox as number[];
      expect([Math.floor(x0! / 1e6), Math.floor(x1! / 1e6), y0! > 4e6 && y1! < 4.5e6]).toEqual([33, 33, true]);
      // its numbers say zone 33 with the prefix: guessed, and said to be a guess
      const guessed = await plan(badPrj.body.id, { layer: 'jiayuguan', kind: 'boundary', parentId: null, repair: true });
      expect(guessed.body.crs).toMatchObject({ used: 'EPSG:4521', guessed: true });
      const mixed = await upload('broken/mixed.geojson');
      // polygons with a stray line: taken for boundaries (whose check names the stray), not for households
      expect(mixed.body.layers[0]).toMatchObject({ geometryType: 'Geometry', kind: 'boundary' });
      const report = await plan(mixed.body.id, { layer: mixed.body.layers[0].name, kind: 'boundary', parentId: districtId });
      expect(report.body.outcome.problems.map((p: { index: number; code: string }) => [p.index, p.code])).toContainEqual([1, 'wrong_geometry_type']);
      // a zip bomb: 60 MB of zeros in a few kilobytes
      const bomb = zipSync({ 'a.shp': new Uint8Array(60 * 1024 * 1024), 'a.shx': new Uint8Array(100), 'a.dbf': new Uint8Array(100) }, { level: 9 });
      const refused = await upload('bomb.zip', bomb);
      expect([refused.status, refused.body.error.code]).toEqual([413, 'zip_too_large']);
      const unknown = await upload('notes.docx', new TextEncoder().encode('hello'));
      expect([unknown.status, unknown.body.error.code]).toEqual([415, 'unknown_format']);
      // an old Excel workbook (an OLE2 file, whatever its name): said as one, with the way out
      const xls = await upload('户籍.xls', new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0, 0, 0]));
      expect([xls.status, xls.body.error.code]).toEqual([415, 'old_excel']);
      expect(xls.body.error.message).toMatch(/save it as \.xlsx/);
      // a polygon past the vertex limit: reported, and previewed as its box (not megabytes of positions)
      const ring = Array.from({ length: 60_001 }, (_, k) => {
        const a = (2 * Math.PI * (k % 60_000)) / 60_000;
        return [103.8 + 0.01 * Math.cos(a), 25.6 + 0.01 * Math.sin(a)];
      });
      const big = await upload(
        'big.geojson',
        new TextEncoder().encode(JSON.stringify({ type: 'Feature', properties: { 名称: '大' }, geometry: { type: 'Polygon', coordinates: [ring] } })),
      );
      const bigPlan = await plan(big.body.id, { layer: big.body.layers[0].name, kind: 'boundary', parentId: districtId });
      expect(bigPlan.body.outcome.problems.map((p: { code: string }) => p.code)).toEqual(['geometry_too_large']);
      expect(bigPlan.body.preview.features[0].geometry.coordinates[0]).toHaveLength(5);
      // a number no double holds: refused in words, not in JavaScript's
      const huge = await upload(
        'huge.geojson',
        new TextEncoder().encode(
          '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1e999,25]}}]}',
        ),
      );
      expect(huge.status).toBeLessThan(500);
      expect(JSON.stringify(huge.body)).not.toMatch(/Cannot read|undefined|TypeError/);
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('gives the departments as an Excel list that comes back through the wizard: a department renamed by its row keeps its code', async () => {
      const exported = await ctx.app.request('/api/settings/departments/export?format=xlsx', { headers: { cookie: admin } });
      expect(exported.status).toBe(200);
      expect(exported.headers.get('content-disposition')).toContain(encodeURIComponent('部门.xlsx'));
      const xlsx = join(dir, 'departments-out.xlsx');
      await writeFile(xlsx, new Uint8Array(await exported.arrayBuffer()));
      // read by GDAL, not by us
      const lines = execFileSync('ogr2ogr', ['-f', 'CSV', '/vsistdout/', xlsx], { encoding: 'utf8', env: { ...process.env, OGR_XLSX_HEADERS: 'FORCE' } })
        .trim()
        .split(/\r?\n/);
      expect(lines[0]).toBe('编码,部门名称,英文名称,联系人,联系电话,承办类别,服务区域,区域代码');
      const count = (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM department')).rows[0]!.n;
      expect(lines).toHaveLength(count + 1);
      const police = lines.find((l) => l.startsWith('police,'))!;
      expect(police.split(',')[1]).toBe('公安');
      // only an admin has the county's contacts
      const planner = (await ctx.cookie({ username: 'dept-export-planner', role: 'planner' })).cookie;
      expect((await ctx.app.request('/api/settings/departments/export', { headers: { cookie: planner } })).status).toBe(403);
      // renamed in the list and brought back: the same department (its cases and accounts with it), not a new one
      const edited = join(dir, 'departments-in.csv');
      await writeFile(edited, lines.map((l) => (l.startsWith('police,') ? l.replace(',公安,', ',县公安局,') : l)).join('\n') + '\n');
      const back = join(dir, 'departments-back.xlsx');
      execFileSync('ogr2ogr', ['-f', 'XLSX', back, edited]);
      const up = await upload('部门.xlsx', new Uint8Array(await readFile(back)));
      expect(up.status).toBe(201);
      expect(up.body.layers[0].kind).toBe('department');
      const body = { layer: up.body.layers[0].name, kind: 'department', parentId: districtId, partial: true };
      const done = await commit(up.body.id, body);
      expect(done.status, JSON.stringify(done.body).slice(0, 300)).toBe(201);
      expect(done.body.departments).toMatchObject({ added: 0, updated: 1 });
      expect((await ctx.db.query<{ zh: string }>(`SELECT zh FROM department WHERE code = 'police'`)).rows).toEqual([{ zh: '县公安局' }]);
      expect((await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM department')).rows[0]!.n).toBe(count);
      expect((await ctx.request('POST', `/api/settings/changes/${done.body.departments.change}/undo`)).status).toBe(200);
      expect((await ctx.db.query<{ zh: string }>(`SELECT zh FROM department WHERE code = 'police'`)).rows).toEqual([{ zh: '公安' }]);
    });

    it('brings in a county’s department list from Excel as one settings change, undone whole', async () => {
      // Yumen's list as 政务办 keeps it, made an Excel workbook by GDAL's ogr2ogr
      const csv = join(dir, '职能部门.csv');
      await writeFile(
        csv,
        '部门名称,联系人,联系电话\n' +
          '公安,王建国,0937-3221100\n' +
          '市应急管理局,李明,0937-3322110\n' +
          '市自然资源局,赵丽,13909370001\n' +
          '市消防救援大队,陈刚,0937-3221119\n' +
          '市应急管理局,重复,0937-3322111\n' +
          '市水务局,孙强,值班室\n' +
          ',,\n',
      );
      const xlsx = join(dir, '职能部门.xlsx');
      execFileSync('ogr2ogr', ['-f', 'XLSX', xlsx, csv]);
      const up = await upload('职能部门.xlsx', new Uint8Array(await readFile(xlsx)));
      expect(up.status).toBe(201);
      expect(up.body.layers[0].kind).toBe('department');
      const departments = async () =>
        (await ctx.db.query<{ s: string }>(`SELECT string_agg(code || ':' || zh || ':' || contact || ':' || phone, ',' ORDER BY code) AS s FROM department`))
          .rows[0]!.s;
      const before = await departments();
      const body = { layer: up.body.layers[0].name, kind: 'department', parentId: districtId, partial: true };
      const checked = await plan(up.body.id, body);
      expect(checked.status).toBe(200);
      expect(checked.body.fields).toEqual({ name: '部门名称', contact: '联系人', phone: '联系电话' });
      expect(checked.body.outcome).toMatchObject({ total: 7, accepted: 4, departments: { added: 3, updated: 1, unchanged: 0 } });
      expect(checked.body.outcome.problems.map((p: { index: number; code: string }) => [p.index, p.code])).toEqual([
        [4, 'duplicate_name'],
        [5, 'invalid_phone'],
        [6, 'missing_name'],
      ]);
      // 市消防救援大队 beside 消防救援: most often one department written two ways — said before it is added
      expect(checked.body.outcome.departments.similar).toEqual([{ name: '市消防救援大队', like: '消防救援' }]);
      expect(await departments()).toBe(before);
      // a list for one township does not change another township's own department, even named by its code
      const { rows: twoTowns } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' ORDER BY id LIMIT 2`);
      const theirs = await ctx.request('POST', '/api/settings/departments', { code: 'ps_other', zh: '别镇派出所', regionId: twoTowns[1]!.id });
      expect(theirs.status).toBe(201);
      const codedCsv = join(dir, 'coded.csv');
      await writeFile(codedCsv, '编码,部门名称,联系人\nps_other,本镇派出所,张三\n');
      const codedUp = await upload('coded.csv', new Uint8Array(await readFile(codedCsv)));
      const codedPlan = await plan(codedUp.body.id, { layer: codedUp.body.layers[0].name, kind: 'department', parentId: twoTowns[0]!.id, partial: true });
      expect(codedPlan.status, JSON.stringify(codedPlan.body).slice(0, 300)).toBe(200);
      expect(codedPlan.body.outcome.problems.map((p: { code: string; path: string }) => [p.code, p.path])).toEqual([['department_elsewhere', 'rows[0].code']]);
      expect(codedPlan.body.outcome.departments).toMatchObject({ added: 0, updated: 0 });
      expect((await ctx.db.query<{ zh: string }>(`SELECT zh FROM department WHERE code = 'ps_other'`)).rows).toEqual([{ zh: '别镇派出所' }]);
      expect((await ctx.request('DELETE', `/api/settings/departments/${theirs.body.id}?version=1`)).status).toBe(204);
      // a list is for a city, a county or a township: not for a village
      const { rows: village } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'village' ORDER BY id LIMIT 1`);
      const refusedLevel = await plan(up.body.id, { ...body, parentId: village[0]!.id });
      expect([refusedLevel.status, refusedLevel.body.error?.code, refusedLevel.body.error?.path]).toEqual([422, 'department_region_level', 'parentId']);
      // a planner may import the plan, not the county's departments
      const planner = (await ctx.cookie({ username: 'dept-planner', role: 'planner' })).cookie;
      const mine = await upload('职能部门.xlsx', new Uint8Array(await readFile(xlsx)), planner);
      const refused = await ctx.request('POST', `/api/imports/${mine.body.id}/plan`, { ...body, layer: mine.body.layers[0].name }, { cookie: planner });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
      const done = await commit(up.body.id, body);
      expect(done.status).toBe(201);
      expect(done.body.op).toBeNull();
      const { rows: made } = await ctx.db.query<{ code: string; zh: string; en: string; contact: string; phone: string }>(
        `SELECT code, zh, en, contact, phone FROM department WHERE zh IN ('公安', '市应急管理局', '市自然资源局') ORDER BY zh`,
      );
      // the new ones serve the county the list was brought in for; 公安, matched by its name, stays the whole plan's
      const { rows: serving } = await ctx.db.query<{ zh: string; region_id: number | null }>(
        `SELECT zh, region_id FROM department WHERE zh IN ('公安', '市应急管理局') ORDER BY zh`,
      );
      expect(serving).toEqual([
        { zh: '公安', region_id: null },
        { zh: '市应急管理局', region_id: districtId },
      ]);
      expect(made).toEqual([
        { code: 'police', zh: '公安', en: 'Police', contact: '王建国', phone: '0937-3221100' },
        { code: expect.stringMatching(/^dept_\d+$/), zh: '市应急管理局', en: '市应急管理局', contact: '李明', phone: '0937-3322110' },
        { code: expect.stringMatching(/^dept_\d+$/), zh: '市自然资源局', en: '市自然资源局', contact: '赵丽', phone: '13909370001' },
      ]);
      // one entry in the settings log, saying what it changed department by department
      const log = (await ctx.request('GET', '/api/settings/changes?limit=5')).body;
      expect(log[0]).toMatchObject({ id: done.body.departments.change, entity: 'department_list', subject: '4 个部门', undone: false });
      expect(log[0].changed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ item: 'police', field: 'contact', before: '', after: '王建国' }),
          expect.objectContaining({ itemZh: '市应急管理局', field: 'departments', before: '', after: '✓' }),
        ]),
      );
      // the same list again changes nothing
      expect((await plan(up.body.id, body)).body.outcome.departments).toEqual({ added: 0, updated: 0, unchanged: 4, change: null, similar: [] });
      // one of them changed since in settings: the list's undo waits, naming which one (for the page to say so in words)
      const emergency = (await ctx.request('GET', '/api/settings/departments')).body.find((d: { zh: string }) => d.zh === '市应急管理局');
      expect((await ctx.request('PATCH', `/api/settings/departments/${emergency.id}`, { contact: '周敏', version: emergency.version })).status).toBe(200);
      const held = await ctx.request('POST', `/api/settings/changes/${done.body.departments.change}/undo`);
      expect([held.status, held.body.error.code, held.body.error.details]).toEqual([409, 'version_conflict', { reason: 'department', name: '市应急管理局' }]);
      const later = (await ctx.request('GET', '/api/settings/changes?limit=1')).body[0];
      expect((await ctx.request('POST', `/api/settings/changes/${later.id}/undo`)).status).toBe(200);
      // undone whole: the new ones gone, 公安 as it was
      const undone = await ctx.request('POST', `/api/settings/changes/${done.body.departments.change}/undo`);
      expect(undone.status).toBe(200);
      expect(await departments()).toBe(before);
      // a row without a code is given one that no later row of the file names (the list was refused whole: "dept_8 exists")
      const n = (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM department')).rows[0]!.n;
      const named = await upload(
        'codes.csv',
        new TextEncoder().encode(`部门名称,部门代码,联系人,联系电话\n新部门甲,,张三,0874-1234567\n新部门乙,dept_${n + 1},李四,0874-7654321\n`),
      );
      const coded = await commit(named.body.id, { ...body, layer: named.body.layers[0].name });
      expect(coded.status).toBe(201);
      const { rows: codes } = await ctx.db.query<{ code: string; zh: string }>(`SELECT code, zh FROM department WHERE zh LIKE '新部门%' ORDER BY zh`);
      expect(codes).toHaveLength(2);
      expect(codes.find((c) => c.zh === '新部门乙')!.code).toBe(`dept_${n + 1}`);
      expect(codes.find((c) => c.zh === '新部门甲')!.code).not.toBe(`dept_${n + 1}`);
      // what a file's cells hide comes in as it reads: a turn of direction, a terminal's escape, a zero-width space, a line break
      const hidden = await upload(
        'hidden.csv',
        new TextEncoder().encode('部门名称,联系人,联系电话\n"恶意\u202e部门txt.exe","张三\u001b[31m",0874-1234567\n"住建\u200b局","王\n五",0874-1234568\n'),
      );
      expect((await commit(hidden.body.id, { ...body, layer: hidden.body.layers[0].name })).status).toBe(201);
      const { rows: shown } = await ctx.db.query<{ zh: string; contact: string }>(
        `SELECT zh, contact FROM department WHERE zh IN ('恶意部门txt.exe', '住建局') ORDER BY zh DESC`,
      );
      expect(shown).toEqual([
        { zh: '恶意部门txt.exe', contact: '张三[31m' },
        { zh: '住建局', contact: '王 五' },
      ]);
      // a county's departments are dozens: a list of thousands is refused before it is read
      const many = await upload(
        'many.csv',
        new TextEncoder().encode('部门名称\n' + Array.from({ length: 1_001 }, (_, i) => `测试部门${i}号局`).join('\n') + '\n'),
      );
      const tooMany = await plan(many.body.id, { ...body, layer: many.body.layers[0].name });
      expect([tooMany.status, tooMany.body.error.code]).toEqual([413, 'too_many_rows']);
    });

    it('lets each role import only what it may, where it may, and shows a file to no one but its sender', async () => {
      const analyst = (await ctx.cookie({ username: 'imp-analyst', role: 'analyst' })).cookie;
      expect((await upload('households.xlsx', undefined, analyst)).status).toBe(403);
      const planner = (await ctx.cookie({ username: 'imp-planner', role: 'planner' })).cookie;
      const up = await upload('households.xlsx', undefined, planner);
      expect(up.status).toBe(201);
      // not the admin's to see? an admin sees every file; another planner does not
      const other = (await ctx.cookie({ username: 'imp-other', role: 'planner' })).cookie;
      const seen = await ctx.request('GET', `/api/imports/${up.body.id}`, undefined, { cookie: other });
      expect(seen.status).toBe(404);
      const incidents = await ctx.request(
        'POST',
        `/api/imports/${up.body.id}/plan`,
        { layer: up.body.layers[0].name, kind: 'incident', parentId: districtId },
        { cookie: planner },
      );
      expect([incidents.status, incidents.body.error.code]).toEqual([403, 'forbidden']);
      const { rows } = await ctx.db.query<{ a: number; b: number }>(
        `SELECT min(id) FILTER (WHERE level = 'township') AS a, max(id) FILTER (WHERE level = 'township') AS b FROM region`,
      );
      const scoped = (await ctx.cookie({ username: 'imp-scoped', role: 'planner', regionId: rows[0]!.a })).cookie;
      const mine = await upload('households.xlsx', undefined, scoped);
      const outside = await ctx.request(
        'POST',
        `/api/imports/${mine.body.id}/plan`,
        { layer: mine.body.layers[0].name, kind: 'household', parentId: rows[0]!.b },
        { cookie: scoped },
      );
      expect([outside.status, outside.body.error.code]).toEqual([403, 'outside_scope']);
      expect((await ctx.request('DELETE', `/api/imports/${up.body.id}`, undefined, { cookie: planner })).status).toBe(204);
      expect((await ctx.request('GET', `/api/imports/${up.body.id}`, undefined, { cookie: planner })).status).toBe(404);
    });
  });
}

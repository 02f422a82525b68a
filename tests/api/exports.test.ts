import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';
import { ogrinfo, ogrValues } from '../support/ogr.ts';

for (const driver of DRIVERS) {
  describe(`exports (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let dir: string;
    let township: { id: number; name: string };
    let village: { id: number; name: string; grids: number };
    let grid: { code: string; name: string; households: number; worker: string; phone: string };

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      dir = await mkdtemp(join(tmpdir(), 'gridplan-exports-'));
      ctx = await apiContext(t.db, { importDir: join(dir, 'jobs') });
      village = (
        await ctx.db.query<{ id: number; name: string; grids: number }>(
          `SELECT v.id, v.name, count(g.id)::int AS grids FROM region v JOIN region g ON g.parent_id = v.id
           GROUP BY v.id ORDER BY count(g.id) DESC, v.id LIMIT 1`,
        )
      ).rows[0]!;
      township = (
        await ctx.db.query<{ id: number; name: string }>(`SELECT p.id, p.name FROM region v JOIN region p ON p.id = v.parent_id WHERE v.id = $1`, [village.id])
      ).rows[0]!;
      grid = (
        await ctx.db.query<typeof grid>(
          `SELECT g.code, g.name, g.household_count AS households, w.name AS worker, w.phone FROM region g JOIN worker w ON w.id = g.worker_id
           WHERE g.parent_id = $1 ORDER BY g.code LIMIT 1`,
          [village.id],
        )
      ).rows[0]!;
    });
    afterAll(async () => {
      await dispose();
      await rm(dir, { recursive: true, force: true });
    });

    async function download(
      path: string,
      as: { username: string; role: 'admin' | 'planner' | 'analyst' | 'worker'; workerId?: number } = { username: 'tester', role: 'admin' },
    ): Promise<{ status: number; file: string; headers: Headers; body: any }> {
      const { cookie } = await ctx.cookie(as);
      const res = await ctx.app.request(path, { headers: { cookie } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const ext = /filename="export\.(\w+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'bin';
      const file = join(dir, `${Math.random().toString(36).slice(2)}.${ext}`);
      await writeFile(file, bytes);
      let body: unknown = null;
      if (res.status >= 400) body = JSON.parse(new TextDecoder().decode(bytes));
      return { status: res.status, file, headers: res.headers, body };
    }

    it('writes every format so that GDAL’s ogrinfo finds the layers, the counts, the coordinate system and the values', async () => {
      const { rows } = await ctx.db.query<{ level: string; n: number }>(
        `SELECT r.level, count(*)::int AS n FROM gp_subtree($1) t JOIN region r ON r.id = t.id WHERE r.level <> 'township' GROUP BY r.level`,
        [township.id],
      );
      const counts = Object.fromEntries(rows.map((r) => [r.level, r.n]));
      const gpkg = await download(`/api/regions/${township.id}/export?format=gpkg&crs=EPSG:4544`);
      expect(gpkg.status).toBe(200);
      expect(gpkg.headers.get('content-disposition')).toContain(encodeURIComponent(`${township.name}-村社区-网格-EPSG4544.gpkg`));
      expect(ogrinfo(gpkg.file).layers).toEqual({ village: { count: counts.village, epsg: '4544' }, grid: { count: counts.grid, epsg: '4544' } });
      expect(ogrValues(gpkg.file, 'grid', `code = '${grid.code}'`)).toMatchObject({
        name: grid.name,
        level: 'grid',
        households: String(grid.households),
        worker: grid.worker,
        phone: grid.phone,
      });
      // 是否达标 is the grids' (an integer, as GDAL reads it), not a text field of empty cells in the villages' layer
      const fields = ogrinfo(gpkg.file).text.split(/\nLayer name: /);
      expect(fields.find((b) => b.startsWith('grid'))).toMatch(/passes: Integer/);
      expect(fields.find((b) => b.startsWith('village'))).not.toMatch(/passes/);

      // GCJ-02 has no EPSG code: never labelled WGS 84 (its points lie hundreds of metres off it), named so,
      // and read back by our own import as GCJ-02 — the same place as the WGS 84 export
      for (const format of ['gpkg', 'shp', 'geojson'] as const) {
        const gcj = await download(`/api/regions/${village.id}/export?format=${format}&levels=grid&crs=GCJ-02`);
        expect(gcj.status).toBe(200);
        expect(gcj.headers.get('content-disposition')).toContain(encodeURIComponent(`-GCJ02.${format === 'shp' ? 'zip' : format}`));
        const info = ogrinfo(format === 'shp' ? `/vsizip/${gcj.file}` : gcj.file);
        // (GeoJSON is WGS 84 by definition, RFC 7946: its name says GCJ-02, which our import reads as a hint)
        if (format !== 'geojson') {
          expect(info.text, format).not.toMatch(/ID\["EPSG",4326\]|GEOGCRS\["WGS 84"/);
          expect(info.text, format).toMatch(/GCJ[-_]02/);
        }
        const { cookie } = await ctx.cookie({ username: 'tester', role: 'admin' });
        const res = await ctx.app.request('/api/imports', {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(`back-GCJ02.${format === 'shp' ? 'zip' : format}`) },
          body: new Uint8Array(await readFile(gcj.file)),
        });
        const up = (await res.json()) as { id: string; layers: { name: string; crs: string | null }[] };
        expect([res.status, up.layers[0]!.crs], format).toEqual([201, format === 'geojson' ? 'EPSG:4326' : 'GCJ-02']);
        // read in GCJ-02 (declared, or for GeoJSON guessed from the name) and so back where the WGS 84 export puts it
        const planned = await ctx.request('POST', `/api/imports/${up.id}/plan`, {
          layer: up.layers[0]!.name,
          kind: 'grid',
          parentId: village.id,
          replace: true,
        });
        expect(planned.body.crs, format).toMatchObject({ used: 'GCJ-02' });
        await ctx.app.request(`/api/imports/${up.id}`, { method: 'DELETE', headers: { cookie } });
      }
      // a table's 经度/纬度 say their system in the header, and a zone (no longitude to give) is refused for one
      const table = await download(`/api/regions/${village.id}/households/export?format=xlsx&crs=GCJ-02`);
      expect(table.status).toBe(200);
      const sheet = ogrinfo(table.file).text;
      expect(sheet).toMatch(/经度（GCJ-02）/);
      expect((await download(`/api/regions/${village.id}/households/export?format=xlsx&crs=EPSG:4544`)).body?.error?.code).toBe('table_crs');

      const shp = await download(`/api/regions/${township.id}/export?format=shp&encoding=gbk`);
      expect(shp.status).toBe(200);
      const zipped = `/vsizip/${shp.file}`;
      expect(ogrinfo(zipped).layers).toEqual({ village: { count: counts.village, epsg: '4326' }, grid: { count: counts.grid, epsg: '4326' } });
      const names: string[] = [];
      unzipSync(new Uint8Array(await readFile(shp.file)), { filter: (f) => (names.push(f.name), false) });
      expect(names).toEqual(expect.arrayContaining(['grid.shp', 'grid.shx', 'grid.dbf', 'grid.prj', 'grid.cpg']));
      expect(ogrValues(zipped, 'grid', `code = '${grid.code}'`)).toMatchObject({ name: grid.name, worker: grid.worker });

      for (const [format, layer] of [
        ['geojson', 'regions'],
        ['csv', 'regions'],
      ] as const) {
        const f = await download(`/api/regions/${township.id}/export?format=${format}&levels=grid`);
        expect(f.status).toBe(200);
        const info = ogrinfo(f.file);
        expect(Object.values(info.layers)[0]!.count).toBe(counts.grid);
        expect(ogrValues(f.file, Object.keys(info.layers)[0] ?? layer, `code = '${grid.code}'`)).toMatchObject({ name: grid.name });
      }
      const kml = await download(`/api/regions/${village.id}/export?format=kml`);
      expect(ogrinfo(kml.file).layers.grid!.count).toBe(village.grids);
      const kmlTownship = await download(`/api/regions/${township.id}/export?format=kml`);
      expect(ogrinfo(kmlTownship.file).layers).toEqual({ village: { count: counts.village, epsg: '4326' }, grid: { count: counts.grid, epsg: '4326' } });

      const xlsx = await download(`/api/regions/${township.id}/export?format=xlsx`);
      expect(xlsx.status).toBe(200);
      const sheets = ogrinfo(xlsx.file).layers;
      expect(Object.keys(sheets)).toEqual(['村社区', '网格', '人员名册']);
      expect(sheets['网格']!.count).toBe(counts.grid);
      expect(ogrValues(xlsx.file, '网格', `"编码" = '${grid.code}'`)).toMatchObject({ 名称: grid.name, 专职网格员: grid.worker, 电话: grid.phone });
    });

    it('refuses a level above the region, an unknown format or system, and a region that does not exist', async () => {
      expect((await download(`/api/regions/${village.id}/export?format=gpkg&levels=township`)).body.error.code).toBe('invalid_level');
      expect((await download(`/api/regions/${village.id}/export?format=dwg`)).status).toBe(400);
      expect((await download(`/api/regions/${village.id}/export?format=gpkg&crs=EPSG:3857`)).body.error.code).toBe('unknown_crs');
      expect((await download(`/api/regions/99999999/export?format=gpkg`)).status).toBe(404);
      expect((await download(`/api/regions/2147483648/export?format=gpkg`)).status).toBe(400);
      expect((await download(`/api/incidents/export?format=csv&to=0000-01-01`)).body.error.code).toBe('invalid_time');
      // a level named twice is one layer
      const twice = await download(`/api/regions/${village.id}/export?format=gpkg&levels=grid,grid`);
      expect(twice.status).toBe(200);
      expect(Object.keys(ogrinfo(twice.file).layers)).toEqual(['grid']);
    });

    it('round-trips: grids exported in a Gauss–Krüger zone and imported back through the wizard are the same grids, to a millimetre', async () => {
      for (const [format, crs] of [
        ['shp', 'EPSG:4544'],
        ['gpkg', 'EPSG:4544'],
        ['geojson', 'EPSG:4544'],
        ['csv', 'EPSG:4544'],
        ['kml', 'EPSG:4326'], // KML is WGS 84 by definition
      ] as const) {
        const out = await download(`/api/regions/${village.id}/export?format=${format}&crs=${crs}`);
        expect(out.status).toBe(200);
        await ctx.db.query('DROP TABLE IF EXISTS before_export');
        await ctx.db.query(`CREATE TABLE before_export AS SELECT code, name, grid_type, geom FROM region WHERE parent_id = $1`, [village.id]);
        await ctx.db.query(`UPDATE region SET worker_id = NULL WHERE parent_id = $1`, [village.id]);
        await ctx.db.query(`DELETE FROM region WHERE parent_id = $1`, [village.id]);
        const { cookie } = await ctx.cookie({ username: 'tester', role: 'admin' });
        const up = await ctx.app.request('/api/imports', {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': `grids.${out.file.split('.').pop()}` },
          body: new Uint8Array(await readFile(out.file)),
        });
        const job = (await up.json()) as { id: string; layers: { name: string; count: number; fields: { name: string }[] }[] };
        expect(up.status, JSON.stringify(job)).toBe(201);
        const layer = job.layers.find((l) => l.name === 'grid' || l.name === 'grids')?.name;
        expect(layer, JSON.stringify(job.layers.map((l) => l.name))).toBeDefined();
        expect(job.layers.find((l) => l.name === layer)).toMatchObject({ count: village.grids });
        // GDAL's KML driver reads a placemark's <name> as Name; the other attributes keep their names
        const fields = { name: format === 'kml' ? 'Name' : 'name', code: 'code', gridType: 'grid_type' };
        const done = await ctx.request('POST', `/api/imports/${job.id}/commit`, { layer, kind: 'grid', parentId: village.id, fields });
        expect(done.status, `${format}: ${JSON.stringify(done.body)}`).toBe(201);
        const { rows } = await ctx.db.query<{ code: string; same: boolean; d: number }>(
          `SELECT b.code, r.name = b.name AND r.grid_type IS NOT DISTINCT FROM b.grid_type AS same,
                  ST_HausdorffDistance(ST_Transform(r.geom, 4544), ST_Transform(b.geom, 4544)) AS d
           FROM before_export b LEFT JOIN region r ON r.code = b.code AND r.parent_id = $1`,
          [village.id],
        );
        expect(rows).toHaveLength(village.grids);
        for (const r of rows) {
          expect(r.same, `${format} ${r.code}`).toBe(true);
          expect(r.d, `${format} ${r.code}`).toBeLessThan(0.001);
        }
      }
    });

    it('round-trips the Excel roster: imported back as staff, it assigns the same people to the same grids and adds nobody', async () => {
      // the demo's phones are masked (138****1234); a county's roster has whole numbers
      await ctx.db.query(`UPDATE worker SET phone = '139' || lpad(id::text, 8, '0')`);
      // two grids without a full-time worker yet: the roster gives each a line to fill in
      await ctx.db.query(
        `UPDATE region SET worker_id = NULL
         WHERE id IN (SELECT g.id FROM gp_subtree($1) t JOIN region g ON g.id = t.id AND g.level = 'grid' ORDER BY g.code LIMIT 2)`,
        [township.id],
      );
      const {
        rows: [vacant],
      } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM gp_subtree($1) t JOIN region g ON g.id = t.id AND g.level = 'grid' WHERE g.worker_id IS NULL`,
        [township.id],
      );
      expect(vacant!.n).toBeGreaterThanOrEqual(2);
      const out = await download(`/api/regions/${township.id}/export?format=xlsx`);
      expect(out.status).toBe(200);
      const { rows: people } = await ctx.db.query<{ n: number }>(
        `SELECT (count(g.worker_id) + (SELECT count(*) FROM grid_staff s JOIN gp_subtree($1) t2 ON t2.id = s.grid_id))::int AS n
         FROM gp_subtree($1) t JOIN region g ON g.id = t.id AND g.level = 'grid'`,
        [township.id],
      );
      const { cookie } = await ctx.cookie({ username: 'tester', role: 'admin' });
      const up = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': 'roster.xlsx' },
        body: new Uint8Array(await readFile(out.file)),
      });
      const job = (await up.json()) as { id: string; layers: { name: string }[] };
      expect(job.layers.map((l) => l.name)).toContain('人员名册');
      const planned = await ctx.request('POST', `/api/imports/${job.id}/plan`, { layer: '人员名册', kind: 'staff', parentId: township.id });
      expect(planned.status, JSON.stringify(planned.body)).toBe(200);
      expect(planned.body.fields).toMatchObject({ person: '姓名', phone: '电话', role: '职务', grid: '网格编码' });
      // the blank lines are passed over, not refused
      expect(planned.body.outcome).toMatchObject({ total: people[0]!.n, accepted: people[0]!.n, problems: [], staff: { newWorkers: 0, blank: vacant!.n } });
    });

    it('writes a CSV cell that starts like a formula as text, so Excel does not run it', async () => {
      await ctx.db.query(`UPDATE region SET name = '=HYPERLINK("http://x")' WHERE id = (SELECT id FROM region WHERE parent_id = $1 ORDER BY code LIMIT 1)`, [
        village.id,
      ]);
      const csv = await download(`/api/regions/${village.id}/export?format=csv`);
      const text = await readFile(csv.file, 'utf8');
      expect(text).toContain(`'=HYPERLINK(`);
      expect(text).not.toMatch(/,"?=HYPERLINK/);
    });

    it('gives household points only to roles that may read households, and incidents by the analyze filters', async () => {
      const households = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM household h JOIN gp_subtree($1) t ON t.id = h.region_id`, [
        township.id,
      ]);
      const path = `/api/regions/${township.id}/households/export?format=gpkg&crs=EPSG:4490`;
      const analyst = await download(path, { username: 'ana', role: 'analyst' });
      expect(analyst.status).toBe(403);
      expect(analyst.body.error.code).toBe('forbidden');
      const planner = await download(path, { username: 'plan', role: 'planner' });
      expect(planner.status).toBe(200);
      expect(ogrinfo(planner.file).layers).toEqual({ household: { count: households.rows[0]!.n, epsg: '4490' } });

      const filter = `from=2000-01-01&category=sanitation,hazard&region=${township.id}`;
      const listed = await ctx.request('GET', `/api/incidents?${filter}&limit=1`);
      expect(listed.status).toBe(200);
      const total = listed.body.total as number;
      expect(total).toBeGreaterThan(0);
      const csv = await download(`/api/incidents/export?format=csv&${filter}`, { username: 'ana', role: 'analyst' });
      expect(csv.status).toBe(200);
      expect(Object.values(ogrinfo(csv.file).layers)[0]!.count).toBe(total);
      // a CSV is opened in Excel: the workbook's Chinese headers and words, not our codes
      const header = (await readFile(csv.file, 'utf8')).replace(/^\uFEFF/, '').split(/\r?\n/)[0]!;
      expect(header.split(',').slice(0, 5)).toEqual(['编号', '类别', '等级', '状态', '来源']);
      const xlsx = await download(`/api/incidents/export?format=xlsx&${filter}&to=2027-01-01`, { username: 'ana', role: 'analyst' });
      // named for the period's last day (\`to\` is exclusive)
      // and for the area and the categories: two exports of one period are told apart
      expect(xlsx.headers.get('content-disposition')).toContain(encodeURIComponent(`事件-${township.name}-环境卫生、安全隐患-2000-01-01至2026-12-31.xlsx`));
      expect(ogrinfo(xlsx.file).layers).toEqual({ 事件: { count: total, epsg: null } });
      // all kinds but one: named for the one left out (a file of six of seven kinds had said nothing of it)
      const { rows: kinds } = await ctx.db.query<{ code: string }>(`SELECT code FROM incident_category WHERE code <> 'sanitation' ORDER BY code`);
      const most = await download(
        `/api/incidents/export?format=csv&region=${township.id}&from=2000-01-01&to=2027-01-01&category=${kinds.map((k) => k.code).join(',')}`,
        { username: 'ana', role: 'analyst' },
      );
      expect(most.headers.get('content-disposition')).toContain(encodeURIComponent(`事件-${township.name}-除环境卫生-2000-01-01至2026-12-31.csv`));
      const first = listed.body.items[0] as { id: number; category: string };
      const values = ogrValues(xlsx.file, '事件', `"编号" = ${first.id}`);
      expect(values).toMatchObject({ 类别: first.category === 'hazard' ? '安全隐患' : '环境卫生' });
      expect(['一般', '较重', '严重', '紧急']).toContain(values['等级']);
      // the grid it was filed in at its time, named even when it was reported before the plan's history began
      expect(values['上报时网格']).toMatch(/网格/);
      // times are times in the workbook, those a case has not reached yet empty cells (办结时间 − 上报时间 is a sum in Excel)
      // (GDAL 3.6's ogrinfo, Debian 12's, writes a field per line: "上报时间: DateTime (0.0)")
      const summary = execFileSync('ogrinfo', ['-so', '-oo', 'HEADERS=FORCE', xlsx.file, '事件'], { encoding: 'utf8' });
      const fields = Object.fromEntries([...summary.matchAll(/^(\S+): (\w+) \(/gm)].map((m) => [m[1], m[2]]));
      expect([fields['上报时间'], fields['办结时间'], fields['归档时间']]).toEqual(['DateTime', 'DateTime', 'DateTime']);
      const geojson = await download(`/api/incidents/export?format=geojson&${filter}&crs=GCJ-02`, { username: 'ana', role: 'analyst' });
      expect(Object.values(ogrinfo(geojson.file).layers)[0]!.count).toBe(total);
      expect((await download(`/api/incidents/export?format=shp&${filter}`, { username: 'ana', role: 'analyst' })).status).toBe(400);
      expect((await download(`/api/incidents/export?format=csv&category=nope`, { username: 'ana', role: 'analyst' })).status).toBe(400);
    });
  });
}

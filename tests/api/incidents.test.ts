import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';
import { heatmap } from '../../server/db/incident-analytics.ts';
import { recordPlanFigures } from '../../server/db/overview.ts';

for (const driver of DRIVERS) {
  describe(`incidents and heatmaps (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let grid: { id: number; label: [number, number]; village: number };
    let district: number;
    const count = async (where: string, params: unknown[] = []) =>
      (await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM incident i WHERE ${where}`, params)).rows[0]!.n;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      const { rows } = await ctx.db.query<{ id: number; x: number; y: number; village: number; district: number }>(
        `SELECT g.id, ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y, g.parent_id AS village,
                (SELECT id FROM region WHERE level = 'district') AS district
         FROM region g WHERE g.level = 'grid' ORDER BY g.household_count DESC, g.id LIMIT 1`,
      );
      grid = { id: rows[0]!.id, label: [rows[0]!.x, rows[0]!.y], village: rows[0]!.village };
      district = rows[0]!.district;
    });
    afterAll(() => dispose());

    it('seeds about two years of demo incidents, all filed under a grid, most of them closed', async () => {
      const total = await count('true');
      expect(total).toBeGreaterThan(5_000);
      expect(await count('grid_id IS NULL')).toBe(0);
      expect(await count(`status = 'closed'`)).toBeGreaterThan(total * 0.8);
      expect(await count(`reported_at < now() - interval '700 days'`)).toBeGreaterThan(0);
      // The dry season (January–April) has more fires than the rainy months (June–September).
      const fires = async (months: number[]) => count(`category = 'fire' AND extract(month FROM reported_at) = ANY($1::int[])`, [months]);
      expect(await fires([1, 2, 3, 4])).toBeGreaterThan(2 * (await fires([6, 7, 8, 9])));
    });

    it('takes a report at a location, files it under the grid there and walks the loop in order', async () => {
      // The grid's own worker reports it; the change log names them.
      const {
        rows: [staff],
      } = await ctx.db.query<{ worker_id: number }>('SELECT worker_id FROM region WHERE id = $1', [grid.id]);
      const worker = await ctx.cookie({ username: 'worker-7', role: 'worker', workerId: staff!.worker_id });
      const res = await ctx.request(
        'POST',
        '/api/incidents',
        { lon: grid.label[0], lat: grid.label[1], category: 'hazard', severity: 3, description: '围墙开裂' },
        worker,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({
        gridId: grid.id,
        reporterId: staff!.worker_id,
        status: 'reported',
        category: 'hazard',
        severity: 3,
        version: 1,
        overdue: false,
      });
      const id = res.body.id;
      const dispatcher = await ctx.cookie({ username: 'dispatcher', role: 'admin' });
      const step = (body: object) => ctx.request('PATCH', `/api/incidents/${id}`, body, dispatcher);

      const skip = await step({ status: 'resolved' });
      expect(skip.status).toBe(422);
      expect(skip.body.error).toMatchObject({
        code: 'illegal_transition',
        path: 'status',
        details: { from: 'reported', to: 'resolved', allowed: ['dispatched'] },
      });
      expect((await step({ status: 'dispatched' })).body.error).toMatchObject({ code: 'department_required', path: 'department' });
      const dispatched = await step({ status: 'dispatched', department: '住建局', version: 1 });
      expect(dispatched.status).toBe(200);
      expect(dispatched.body).toMatchObject({ status: 'dispatched', department: '住建局', version: 2 });
      expect(dispatched.body.dispatchedAt).not.toBeNull();
      expect((await step({ status: 'resolved', version: 1 })).status).toBe(409);
      expect((await step({ status: 'resolved', version: 2 })).status).toBe(200);
      expect((await step({ status: 'closed' })).body.error.code).toBe('feedback_required');
      const closed = await step({ status: 'closed', feedback: '已加固，回访满意' });
      expect(closed.body).toMatchObject({ status: 'closed', feedback: '已加固，回访满意', version: 4 });
      expect((await step({ status: 'reported' })).body.error).toMatchObject({ code: 'illegal_transition', details: { allowed: [] } });
      const { rows } = await ctx.db.query<{ action: string; actor: string }>(
        `SELECT action, actor FROM change WHERE entity = 'incident' AND entity_id = $1 ORDER BY id`,
        [id],
      );
      expect(rows).toEqual([
        { action: 'report', actor: 'worker-7' },
        { action: 'dispatch', actor: 'dispatcher' },
        { action: 'resolve', actor: 'dispatcher' },
        { action: 'close', actor: 'dispatcher' },
      ]);
    });

    it('refuses a bad report with a located error and writes nothing', async () => {
      const before = await count('true');
      const cases: [object, number, string, string][] = [
        [{ lon: 10, lat: 10, category: 'fire', severity: 1 }, 422, 'outside_area', 'lon'],
        [{ lon: grid.label[0], lat: grid.label[1], category: 'ufo', severity: 1 }, 422, 'unknown_category', 'category'],
        [{ lon: grid.label[0], lat: grid.label[1], category: 'fire', severity: 5 }, 422, 'invalid_severity', 'severity'],
        [{ lon: grid.label[0], lat: grid.label[1], category: 'fire', severity: 1, reportedAt: '2999-01-01T00:00:00Z' }, 422, 'time_in_future', 'reportedAt'],
        [{ lon: grid.label[0], lat: grid.label[1], category: 'fire', severity: 1, reportedAt: 'yesterday' }, 400, 'invalid_time', 'reportedAt'],
        [{ lon: 200, lat: grid.label[1], category: 'fire', severity: 1 }, 422, 'coordinate_out_of_range', 'lon[0]'],
        [{ lon: '104', lat: grid.label[1], category: 'fire', severity: 1 }, 400, 'invalid_request', 'json.lon'],
        [{ lon: grid.label[0], lat: grid.label[1], category: 'fire', severity: 1, reporterId: 999999 }, 404, 'not_found', 'reporterId'],
      ];
      for (const [body, status, code, path] of cases) {
        const res = await ctx.request('POST', '/api/incidents', body);
        expect({ body, status: res.status, code: res.body.error?.code, path: res.body.error?.path }).toEqual({ body, status, code, path });
      }
      expect(await count('true')).toBe(before);
    });

    it('imports a CSV all or nothing, reporting each bad row, or just the good rows with partial=true', async () => {
      const [x, y] = grid.label;
      const csv = [
        'lon,lat,category,severity,description,reported_at',
        `${x},${y},sanitation,1,垃圾堆放,2026-01-05T09:00:00+08:00`,
        `${x},${y},nonsense,2,?,2026-01-05`,
        `${x},${y},traffic,2,路面塌陷,`,
        '',
      ].join('\n');
      const before = await count('true');
      const refused = await ctx.request('POST', '/api/incidents/import', csv, { 'content-type': 'text/csv' });
      expect(refused.status).toBe(422);
      expect(refused.body.error).toMatchObject({ code: 'invalid_rows', path: 'line 3, column category' });
      expect(refused.body.error.details).toEqual([expect.objectContaining({ index: 1, code: 'unknown_category' })]);
      expect(await count('true')).toBe(before);
      const ok = await ctx.request('POST', '/api/incidents/import?partial=true', csv, { 'content-type': 'text/csv' });
      expect(ok.status).toBe(201);
      expect(ok.body).toMatchObject({ imported: 2, outside: { count: 0 } });
      expect(await count('true')).toBe(before + 2);
    });

    it('gives back an undone import on redo exactly as it was: its reporter and every other column', async () => {
      const [x, y] = grid.label;
      const worker = (await ctx.db.query<{ id: number }>('SELECT id FROM worker ORDER BY id LIMIT 1')).rows[0]!.id;
      const csv = [
        'lon,lat,category,severity,description,reported_at,reporter_id',
        `${x},${y},sanitation,2,撤销后重做的事件,2026-01-06T09:00:00+08:00,${worker}`,
        '',
      ];
      const imported = await ctx.request('POST', '/api/incidents/import', csv.join('\n'), { 'content-type': 'text/csv' });
      expect(imported.status).toBe(201);
      // a column the import does not set, set since (as a later migration's column would be)
      await ctx.db.query(`UPDATE incident SET external_ref = 'HL-20260106-01', caller = '李女士' WHERE import_op = $1`, [imported.body.op]);
      const rows = async () =>
        (
          await ctx.db.query<{ row: Record<string, unknown> }>(
            `SELECT to_jsonb(i) - 'geom' || jsonb_build_object('wkt', ST_AsText(i.geom)) AS row FROM incident i WHERE import_op = $1 ORDER BY id`,
            [imported.body.op],
          )
        ).rows.map((r) => r.row);
      const before = await rows();
      expect(before).toEqual([expect.objectContaining({ reporter_id: worker, external_ref: 'HL-20260106-01', caller: '李女士' })]);
      expect((await ctx.request('POST', `/api/changes/undo?op=${imported.body.op}`)).status).toBe(200);
      expect(await rows()).toEqual([]);
      expect((await ctx.request('POST', '/api/changes/redo')).status).toBe(200);
      expect(await rows()).toEqual(before);
    });

    it('lists incidents by filter, newest first, in pages', async () => {
      const q = `region=${district}&category=fire,hazard&status=closed&from=2000-01-01`;
      const first = await ctx.request('GET', `/api/incidents?${q}&limit=50`);
      expect(first.status).toBe(200);
      expect(first.body.total).toBe(await count(`category IN ('fire', 'hazard') AND status = 'closed'`));
      expect(first.body.items).toHaveLength(50);
      expect(first.body.items.every((i: any) => ['fire', 'hazard'].includes(i.category) && i.status === 'closed')).toBe(true);
      const times = first.body.items.map((i: any) => Date.parse(i.reportedAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const second = await ctx.request('GET', `/api/incidents?${q}&limit=50&offset=${first.body.next}`);
      expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
      // the last page, part full, and a page past the end still tell the whole count; the pages join up
      const total = first.body.total as number;
      const last = await ctx.request('GET', `/api/incidents?${q}&limit=50&offset=${total - 7}`);
      expect(last.body).toMatchObject({ total, next: null });
      expect(last.body.items).toHaveLength(7);
      const beyond = await ctx.request('GET', `/api/incidents?${q}&limit=50&offset=${total + 1000}`);
      expect(beyond.body).toMatchObject({ total, next: null, items: [] });
      const before = await ctx.request('GET', `/api/incidents?${q}&limit=10&offset=${total - 17}`);
      expect([...before.body.items, ...last.body.items].map((i: any) => i.id)).toEqual(
        (await ctx.request('GET', `/api/incidents?${q}&limit=17&offset=${total - 17}`)).body.items.map((i: any) => i.id),
      );
      const bad = await ctx.request('GET', '/api/incidents?status=lost');
      expect(bad.body.error).toMatchObject({ code: 'unknown_value', path: 'query.status[0]' });
      expect((await ctx.request('GET', '/api/incidents?bbox=1,2,3')).body.error.code).toBe('invalid_bbox');
    });

    it('aggregates the heatmap into cells whose counts add up to the filtered incidents', async () => {
      const from = '2025-01-01T00:00:00Z';
      const to = '2026-01-01T00:00:00Z';
      const expected = await count(`reported_at >= $1 AND reported_at < $2 AND category IN ('fire', 'dispute')`, [from, to]);
      for (const shape of ['hex', 'square']) {
        const res = await ctx.request('GET', `/api/heatmap?region=${district}&from=${from}&to=${to}&category=fire,dispute&shape=${shape}&cell=1000`);
        expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
        expect(res.body.cell).toEqual({ shape, sizeM: 1000 });
        expect(res.body.total).toBe(expected);
        expect(res.body.cells.reduce((s: number, c: any) => s + c.count, 0)).toBe(expected);
        expect(res.body.cells.length).toBeLessThan(expected);
      }
      // Cells are where the incidents are: the busiest hexagon's centre lies within a cell of some incident.
      const res = await ctx.request('GET', `/api/heatmap?region=${district}&from=${from}&to=${to}&shape=hex&cell=500`);
      const top = res.body.cells[0];
      const near = await count(
        `ST_DWithin(i.geom::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 300) AND reported_at >= $3 AND reported_at < $4`,
        [top.lon, top.lat, from, to],
      );
      expect(near).toBeGreaterThanOrEqual(top.count);
      expect((await ctx.request('GET', `/api/heatmap?from=2026-01-01&to=2025-01-01`)).body.error.code).toBe('invalid_range');
    });

    it('gives incidents per month and category in China time, adding up to the filtered incidents', async () => {
      const from = '2025-01-01T00:00:00+08:00';
      const to = '2026-01-01T00:00:00+08:00';
      const res = await ctx.request(
        'GET',
        `/api/incidents/timeseries?region=${district}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&category=fire,dispute&bucket=month`,
      );
      expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
      expect(res.body.bucket).toBe('month');
      // twelve months, each the first day of its month, in order; only the categories asked for
      expect(res.body.series.map((s: any) => s.t)).toEqual(Array.from({ length: 12 }, (_, m) => `2025-${String(m + 1).padStart(2, '0')}-01`));
      expect(res.body.series.every((s: any) => Object.keys(s.counts).every((k) => k === 'fire' || k === 'dispute'))).toBe(true);
      const total = res.body.series.reduce((a: number, s: any) => a + Object.values(s.counts as Record<string, number>).reduce((x, y) => x + y, 0), 0);
      expect(total).toBe(await count(`reported_at >= $1 AND reported_at < $2 AND category IN ('fire', 'dispute') AND void_kind IS NULL`, [from, to]));
      // a month counts the incidents of its China-time days
      const march = res.body.series[2].counts.fire ?? 0;
      expect(march).toBe(
        await count(`reported_at >= $1 AND reported_at < $2 AND category = 'fire'`, ['2025-03-01T00:00:00+08:00', '2025-04-01T00:00:00+08:00']),
      );
    });

    it("counts wide hexagons from the incidents' stored cells: the same total, nearly every incident in its exact hexagon", async () => {
      const filter = { from: new Date('2000-01-01'), to: new Date('2100-01-01'), regionId: district, wholePlan: true, categories: null, statuses: null };
      for (const size of [1000, 4000]) {
        const fast = await heatmap(ctx.db, filter, 'hex', size);
        const exact = await heatmap(ctx.db, filter, 'hex', size, undefined, { exact: true });
        expect(fast.total).toBe(await count('true'));
        expect(fast.total).toBe(exact.total);
        const key = (c: { lon: number; lat: number }) => `${c.lon.toFixed(5)},${c.lat.toFixed(5)}`;
        const exactCells = new Map(exact.cells.map((c) => [key(c), c.count]));
        const same = fast.cells.reduce((s, c) => s + Math.min(c.count, exactCells.get(key(c)) ?? 0), 0);
        expect(same / exact.total).toBeGreaterThan(size === 1000 ? 0.9 : 0.97);
      }
      // Narrow hexagons are binned exactly.
      const narrow = await heatmap(ctx.db, filter, 'hex', 500);
      expect(narrow).toEqual(await heatmap(ctx.db, filter, 'hex', 500, undefined, { exact: true }));
    });

    it('gives per-township statistics that add up, and ranks hotspot grids by Gi*', async () => {
      const stats = await ctx.request('GET', `/api/regions/${district}/incident-stats?from=2000-01-01`);
      expect(stats.status).toBe(200);
      expect(stats.body.reduce((s: number, r: any) => s + r.total, 0)).toBe(await count('true'));
      for (const r of stats.body) {
        expect(r.level).toBe('township');
        if (r.total > 0) {
          expect(r.closureRate).toBeGreaterThan(0.5);
          expect(r.closureRate).toBeLessThanOrEqual(1);
          expect(Object.values(r.byCategory as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(r.total);
        }
      }
      const hot = await ctx.request('GET', `/api/hotspots?region=${grid.village}&from=2000-01-01`);
      expect(hot.status).toBe(200);
      const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM region WHERE parent_id = $1', [grid.village]);
      expect(hot.body).toHaveLength(rows[0]!.n);
      // each grid says where it lies: its township (grid names repeat across a city)
      const township = (await ctx.db.query<{ name: string }>('SELECT t.name FROM region v JOIN region t ON t.id = v.parent_id WHERE v.id = $1', [grid.village]))
        .rows[0]!.name;
      expect(new Set(hot.body.map((h: any) => h.place))).toEqual(new Set([township]));
      const z = hot.body.map((h: any) => h.z);
      expect(z).toEqual([...z].sort((a, b) => b - a));
      // 60 fresh incidents in one grid, none elsewhere in the last hour: across the district's grids that is a significant hotspot.
      const [x, y] = grid.label;
      const csv = 'lon,lat,category,severity\n' + Array.from({ length: 60 }, () => `${x},${y},dispute,1`).join('\n');
      expect((await ctx.request('POST', '/api/incidents/import', csv, { 'content-type': 'text/csv' })).status).toBe(201);
      const after = await ctx.request('GET', `/api/hotspots?region=${district}&from=${new Date(Date.now() - 3_600_000).toISOString()}`);
      const hotGrid = after.body.find((h: any) => h.id === grid.id);
      expect(hotGrid.count).toBeGreaterThanOrEqual(60); // and the reports of the tests before
      expect(hotGrid.significance).toMatch(/^hot/);
      // Its neighbourhood leads the ranking (Gi* counts the neighbours too).
      expect(after.body[0].significance).toMatch(/^hot/);
      expect(after.body.at(-1).significance).not.toMatch(/^hot/);
    });

    it('serves the overview figures with the previous period, and counts a new report today', async () => {
      const get = async () => (await ctx.request('GET', `/api/stats/overview?region=${district}`)).body;
      const before = await get();
      expect(Object.keys(before.figures).sort()).toEqual(
        [
          'closureRate',
          'coverageArea',
          'coverageHouseholds',
          'failingGrids',
          'grids',
          'households',
          'hoursToClose',
          'incidentsMonth',
          'incidentsToday',
          'overdue',
          'overdueDispatches',
          'overdueToAcknowledge',
          'satisfaction',
          'solvedOnSpot',
          'workers',
        ].sort(),
      );
      expect(before.figures.grids.value).toBe((await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level = 'grid'`)).rows[0]!.n);
      // 在岗网格员: people, not staffed grids — one worker serving two grids is one
      const {
        rows: [staff],
      } = await ctx.db.query<{ people: number; staffed: number }>(
        `SELECT count(DISTINCT worker_id)::int AS people, count(worker_id)::int AS staffed FROM region WHERE level = 'grid'`,
      );
      expect(before.figures.workers.value).toBe(staff!.people);
      // a worker given a second grid is still one person
      const {
        rows: [two],
      } = await ctx.db.query<{ id: number; version: number; was: number; worker: number }>(
        `SELECT g.id, g.version, g.worker_id AS was,
                (SELECT worker_id FROM region WHERE level = 'grid' AND worker_id IS NOT NULL AND id <> g.id ORDER BY id LIMIT 1) AS worker
         FROM region g WHERE g.level = 'grid' AND g.worker_id IS NOT NULL ORDER BY g.id DESC LIMIT 1`,
      );
      const moved = await ctx.request('PATCH', `/api/regions/${two!.id}`, { version: two!.version, workerId: two!.worker });
      expect(moved.status, JSON.stringify(moved.body)).toBe(200);
      const shared = await get();
      expect(shared.figures.workers.value).toBe(staff!.people - 1);
      expect(shared.figures.grids.value).toBe(before.figures.grids.value);
      const now = (await ctx.db.query<{ version: number }>('SELECT version FROM region WHERE id = $1', [two!.id])).rows[0]!.version;
      const back = await ctx.request('PATCH', `/api/regions/${two!.id}`, { version: now, workerId: two!.was });
      expect(back.status).toBe(200);
      expect(before.figures.coverageHouseholds.value).toBeGreaterThan(0.5);
      expect(before.figures.coverageHouseholds.value).toBeLessThanOrEqual(1);
      expect(before.figures.closureRate.previous).not.toBeNull();
      await ctx.request('POST', '/api/incidents', { lon: grid.label[0], lat: grid.label[1], category: 'other', severity: 1 });
      const after = await get();
      expect(after.figures.incidentsToday.value).toBe(before.figures.incidentsToday.value + 1);
      expect((await ctx.request('GET', '/api/stats/overview?region=999999')).status).toBe(404);
    });

    it('compares the plan figures with the daily record of a month ago, recorded by the same rules as the live ones', async () => {
      const figures = async (region: number) => (await ctx.request('GET', `/api/stats/overview?region=${region}`)).body.figures;
      const now = await figures(district);
      // The seed recorded a month ago: the same grids and households, a few workers recruited since.
      expect(now.grids.previous).toBe(now.grids.value);
      expect(now.households.previous).toBe(now.households.value);
      expect(now.workers.previous).toBeLessThan(now.workers.value);
      expect(now.failingGrids.previous).toBeGreaterThan(now.failingGrids.value);
      expect(now.coverageHouseholds.previous).toBeLessThan(now.coverageHouseholds.value);
      // A township has its own record.
      const township = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' ORDER BY code LIMIT 1`)).rows[0]!.id;
      expect((await figures(township)).grids.previous).toBe((await figures(township)).grids.value);

      // Today's record (a day far ahead, so it is the only one) equals the live figures, for every level.
      const n = await recordPlanFigures(ctx.db, '2099-01-01');
      expect(n).toBe((await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level <> 'grid'`)).rows[0]!.n);
      expect(await recordPlanFigures(ctx.db, '2099-01-01')).toBe(0);
      const village = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'village' ORDER BY code LIMIT 1`)).rows[0]!.id;
      for (const id of [district, township, village]) {
        const live = await figures(id);
        const {
          rows: [rec],
        } = await ctx.db.query<any>(`SELECT * FROM plan_figure WHERE region_id = $1 AND day = '2099-01-01'`, [id]);
        expect([rec.grids, rec.staffed, rec.households, rec.grids - rec.passing]).toEqual([
          live.grids.value,
          live.workers.value,
          live.households.value,
          live.failingGrids.value,
        ]);
        expect(Math.round((1000 * rec.passing_households) / rec.households) / 1000).toBe(live.coverageHouseholds.value);
      }
      await ctx.db.query(`DELETE FROM plan_figure WHERE day = '2099-01-01'`);
    });

    it('streams new reports to listeners as server-sent events', async () => {
      const res = await ctx.app.request('/api/events', { headers: await ctx.cookie({ username: 'leader', role: 'leader' }) });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const listen = (r: Response) => {
        const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
        const heard = { text: '', reader };
        return Object.assign(heard, {
          until: async (needle: string) => {
            while (!heard.text.includes(needle)) heard.text += (await reader.read()).value ?? '';
          },
        });
      };
      const leader = listen(res);
      // a centre scoped to another township hears that something happened, not what or where
      const { rows } = await ctx.db.query<{ id: number }>(
        `SELECT id FROM region WHERE level = 'township' AND id NOT IN (SELECT id FROM gp_ancestors(ARRAY[$1::int])) ORDER BY id LIMIT 1`,
        [grid.id],
      );
      const elsewhere = listen(
        await ctx.app.request('/api/events', { headers: await ctx.cookie({ username: 'stream-town-centre', role: 'center', regionId: rows[0]!.id }) }),
      );
      await leader.until('event: hello');
      await elsewhere.until('event: hello');
      await ctx.request('POST', '/api/incidents', { lon: grid.label[0], lat: grid.label[1], category: 'traffic', severity: 2, description: '实时事件' });
      await leader.until('实时事件');
      expect(leader.text).toMatch(/event: incident\ndata: \{"type":"incident","action":"report"/);
      await elsewhere.until('"action":"report"');
      expect(elsewhere.text).toMatch(/data: \{"type":"incident","action":"report"\}\n/);
      expect(elsewhere.text).not.toContain('实时事件');
      await leader.reader.cancel();
      await elsewhere.reader.cancel();
    });

    it('re-files incidents when their grid is split', async () => {
      const { rows } = await ctx.db.query<{ id: number; version: number; x0: number; x1: number; y: number }>(
        `SELECT g.id, g.version, ST_XMin(g.geom) - 0.01 AS x0, ST_XMax(g.geom) + 0.01 AS x1, ST_Y(ST_Centroid(g.geom)) AS y
         FROM region g WHERE g.level = 'grid' AND (SELECT count(*) FROM incident WHERE grid_id = g.id) > 5 ORDER BY g.id LIMIT 1`,
      );
      const g = rows[0]!;
      const before = await count('grid_id = $1', [g.id]);
      const res = await ctx.request('POST', `/api/regions/${g.id}/split`, {
        version: g.version,
        line: {
          type: 'LineString',
          coordinates: [
            [g.x0, g.y],
            [g.x1, g.y],
          ],
        },
      });
      expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
      const parts = res.body.regions.features.map((f: any) => f.id);
      expect(parts.length).toBe(2);
      // Every incident of the old grid is now filed under the part containing it.
      expect(await count('grid_id = ANY($1::int[])', [parts])).toBe(before);
      expect(
        await count(`grid_id = ANY($1::int[]) AND NOT EXISTS (SELECT 1 FROM region r WHERE r.id = i.grid_id AND ST_Intersects(r.geom, i.geom))`, [parts]),
      ).toBe(0);
    });

    it('re-files incidents when their grid is merged away', async () => {
      const { rows } = await ctx.db.query<{ a: number; b: number; va: number; vb: number }>(
        `SELECT x.id AS a, y.id AS b, x.version AS va, y.version AS vb FROM region x JOIN region y ON x.parent_id = y.parent_id AND x.id < y.id
         WHERE x.level = 'grid' AND ST_Length(ST_Intersection(ST_Boundary(x.geom), ST_Boundary(y.geom), gp_grid())) > 0.001
           AND EXISTS (SELECT 1 FROM incident WHERE grid_id = y.id) ORDER BY x.id LIMIT 1`,
      );
      const { a, b, va, vb } = rows[0]!;
      const moved = await count('grid_id = $1', [b]);
      const kept = await count('grid_id = $1', [a]);
      const res = await ctx.request('POST', '/api/regions/merge', { ids: [a, b], versions: [va, vb] });
      expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
      expect(await count('grid_id = $1', [a])).toBe(kept + moved);
      expect(await count('grid_id IS NULL')).toBe(0);
    });
  });
}

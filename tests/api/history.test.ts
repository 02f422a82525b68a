import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** The plan on a date (issue: plan versions §4) and the comparison of a date with today's plan (§2). */
for (const driver of DRIVERS) {
  describe(`the plan as it stood on a date (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db, { cache: false });
      // The test plan was made today (its seed's own steps leave empty rows): say it has stood as it is since New Year.
      await ctx.db.query('DELETE FROM region_history WHERE valid_to IS NOT NULL');
      await ctx.db.query(`UPDATE region_history SET valid_from = '2026-01-01T00:00:00+08:00'`);
    });
    afterAll(() => dispose());

    const one = async <T>(sql: string, params: unknown[] = []) => (await ctx.db.query<T>(sql, params)).rows[0]!;

    it('keeps every state of a region: a row opens when what the plan says changes, not when counts do', async () => {
      const open = await one<{ n: number; regions: number }>(
        `SELECT (SELECT count(*)::int FROM region_history WHERE valid_to IS NULL) AS n, (SELECT count(*)::int FROM region) AS regions`,
      );
      expect(open.n).toBe(open.regions);
      const grid = await one<{ id: number; version: number; name: string }>(`SELECT id, version, name FROM region WHERE level = 'grid' ORDER BY id LIMIT 1`);
      await ctx.db.query('UPDATE region SET household_count = household_count + 1, version = version + 1 WHERE id = $1', [grid.id]);
      expect((await one<{ n: number }>('SELECT count(*)::int AS n FROM region_history WHERE id = $1', [grid.id])).n).toBe(1);
      const renamed = await ctx.request('PATCH', `/api/regions/${grid.id}`, { version: grid.version + 1, name: `${grid.name}（更名）` });
      expect(renamed.status).toBe(200);
      const { rows } = await ctx.db.query<{ name: string; open: boolean }>(
        'SELECT name, valid_to IS NULL AS open FROM region_history WHERE id = $1 ORDER BY valid_from, hid',
        [grid.id],
      );
      expect(rows).toEqual([
        { name: grid.name, open: false },
        { name: `${grid.name}（更名）`, open: true },
      ]);
    });

    it('lists operations by region, person and kind, and says which one undo takes back next', async () => {
      const grid = await one<{ id: number; parent_id: number; version: number; name: string }>(
        `SELECT id, parent_id, version, name FROM region WHERE level = 'grid' ORDER BY id OFFSET 2 LIMIT 1`,
      );
      const done = await ctx.request('PATCH', `/api/regions/${grid.id}`, { version: grid.version, name: '记录测试网格' });
      expect(done.status).toBe(200);
      const list = await ctx.request('GET', `/api/operations?region=${grid.parent_id}`);
      expect(list.status).toBe(200);
      const mine = list.body.operations[0];
      expect(mine).toMatchObject({
        op: done.body.op,
        action: 'update',
        entity: 'region',
        regions: 1,
        names: ['记录测试网格'],
        regionId: grid.id,
        undone: false,
      });
      // an account without a name of its own is said by its user name
      expect(mine.actorName).toBe(mine.actor);
      expect(list.body.nextUndo).toBe(done.body.op);
      expect((await ctx.request('GET', `/api/operations?region=${grid.parent_id}&actor=nobody`)).body.operations).toEqual([]);
      expect((await ctx.request('GET', `/api/operations?region=${grid.parent_id}&action=split`)).body.operations).toEqual([]);
      // another village's list does not show it
      const other = await one<{ id: number }>(`SELECT id FROM region WHERE level = 'village' AND id <> $1 ORDER BY id LIMIT 1`, [grid.parent_id]);
      expect((await ctx.request('GET', `/api/operations?region=${other.id}`)).body.operations.map((o: { op: number }) => o.op)).not.toContain(done.body.op);
      expect((await ctx.request('POST', '/api/changes/undo')).status).toBe(200);
      const after = await ctx.request('GET', `/api/operations?region=${grid.parent_id}`);
      expect(after.body.operations.find((o: { op: number }) => o.op === done.body.op).undone).toBe(true);
      expect(after.body.operations[0]).toMatchObject({ action: 'undo', reverts: done.body.op, revertsAction: 'update' });
      expect((await ctx.request('GET', '/api/operations?action=teleport')).status).toBe(400);
    });

    it('shows each reader only the part of the log they may see: an area its own, cases and sign-ins their readers', async () => {
      // two townships, a grid renamed in each; an incident import; a sign-in
      const towns = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' ORDER BY id LIMIT 2`)).rows;
      const [mine, theirs] = towns as [{ id: number }, { id: number }];
      const gridIn = (town: number) =>
        one<{ id: number; version: number; label: [number, number] }>(
          `SELECT g.id, g.version, ARRAY[ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))] AS label
           FROM region g JOIN region v ON v.id = g.parent_id WHERE g.level = 'grid' AND v.parent_id = $1 ORDER BY g.id LIMIT 1`,
          [town],
        );
      const [a, b] = [await gridIn(mine.id), await gridIn(theirs.id)];
      const opA = (await ctx.request('PATCH', `/api/regions/${a.id}`, { version: a.version, name: '本乡镇改名网格' })).body.op;
      const opB = (await ctx.request('PATCH', `/api/regions/${b.id}`, { version: b.version, name: '别的乡镇改名网格' })).body.op;
      const csv = `lon,lat,category,severity,description,reported_at\n${a.label[0]},${a.label[1]},sanitation,1,日志可见性,2026-02-01T09:00:00+08:00\n`;
      const opI = (await ctx.request('POST', '/api/incidents/import', csv, { 'content-type': 'text/csv' })).body.op;
      await ctx.db.query(`INSERT INTO change (actor, action, entity, entity_id, before, after) VALUES ('someone', 'login', 'user', 1, NULL, '{}')`);
      const as = async (spec: { role: 'admin' | 'planner' | 'leader'; regionId?: number }) => ({
        cookie: (await ctx.cookie({ username: `log-${spec.role}-${spec.regionId ?? 'all'}`, ...spec })).cookie,
      });
      const [admin, planner, leader, town] = [
        await as({ role: 'admin' }),
        await as({ role: 'planner' }),
        await as({ role: 'leader' }),
        await as({ role: 'planner', regionId: mine.id }),
      ];
      const log = async (who: { cookie: string }) =>
        (await ctx.request('GET', '/api/changes?limit=500', undefined, who)).body as { entity: string; entityId: number | null; op: number | null }[];
      const entities = (rows: { entity: string }[]) => new Set(rows.map((r) => r.entity));
      expect([...entities(await log(admin))]).toEqual(expect.arrayContaining(['user', 'incident', 'region']));
      for (const who of [planner, leader]) expect([...entities(await log(who))].filter((e) => !['region', 'household', 'barrier'].includes(e))).toEqual([]);
      const townLog = await log(town);
      expect(townLog.map((r) => r.op)).toContain(opA);
      expect(townLog.map((r) => r.op)).not.toContain(opB);
      expect([...entities(townLog)]).toEqual(['region']);
      // by operation: an area's own by default and within a region above it, nothing beside it; cases' imports to their readers
      const ops = async (who: { cookie: string }, query = '') =>
        ((await ctx.request('GET', `/api/operations?limit=200${query}`, undefined, who)).body.operations as { op: number }[]).map((o) => o.op);
      const district = await one<{ id: number }>(`SELECT id FROM region WHERE level = 'district'`);
      for (const query of ['', `&region=${district.id}`, `&region=${mine.id}`]) {
        const seen = await ops(town, query);
        expect(seen, query).toContain(opA);
        expect(seen, query).not.toContain(opB);
        expect(seen, query).not.toContain(opI);
      }
      expect(await ops(town, `&region=${theirs.id}`)).toEqual([]);
      expect(await ops(planner)).not.toContain(opI);
      expect(await ops(leader)).toEqual(expect.arrayContaining([opA, opB, opI]));
    });

    it('reads a region, its children and descendants as they stood at the end of a day; not found before it existed', async () => {
      const grid = await one<{ id: number; parent_id: number; version: number; name: string }>(
        `SELECT id, parent_id, version, name FROM region WHERE level = 'grid' ORDER BY id DESC LIMIT 1`,
      );
      expect((await ctx.request('PATCH', `/api/regions/${grid.id}`, { version: grid.version, name: '新名网格' })).status).toBe(200);
      // the rename took effect on June 1st
      await ctx.db.query(`UPDATE region_history SET valid_to = '2026-06-01T00:00:00+08:00' WHERE id = $1 AND valid_to IS NOT NULL`, [grid.id]);
      await ctx.db.query(`UPDATE region_history SET valid_from = '2026-06-01T00:00:00+08:00' WHERE id = $1 AND valid_to IS NULL`, [grid.id]);

      const on = (date?: string) => ctx.request('GET', `/api/regions/${grid.id}${date ? `?asOf=${date}` : ''}`);
      expect((await on('2026-03-01')).body.properties).toMatchObject({ name: grid.name, parentId: grid.parent_id, staff: [] });
      expect((await on('2026-05-31')).body.properties.name).toBe(grid.name);
      expect((await on('2026-06-01')).body.properties.name).toBe('新名网格');
      expect((await on()).body.properties.name).toBe('新名网格');
      // a day before the history began is said as such (it read "region 19 did not exist")
      const before = await on('2025-12-31');
      expect([before.status, before.body.error.code, before.body.error.path, before.body.error.details]).toEqual([
        422,
        'before_history',
        'asOf',
        { since: '2026-01-01' },
      ]);
      for (const bad of ['2026-02-30', '26-03-01', '1899-12-31']) {
        const res = await on(bad);
        expect(res.status, bad).toBe(400);
      }
      const children = await ctx.request('GET', `/api/regions/${grid.parent_id}/children?asOf=2026-03-01`);
      const mine = children.body.features.find((f: { id: number }) => f.id === grid.id);
      expect(mine.properties.name).toBe(grid.name);
      // households are counted as they lie today within the grid as it was: the shape did not change
      const now = await ctx.request('GET', `/api/regions/${grid.parent_id}/children`);
      expect(mine.properties.households).toBe(now.body.features.find((f: { id: number }) => f.id === grid.id).properties.households);
      const district = await one<{ id: number }>(`SELECT id FROM region WHERE level = 'district'`);
      const grids = await ctx.request('GET', `/api/regions/${district.id}/descendants?level=grid&asOf=2026-03-01`);
      expect(grids.body.features.length).toBe(Number((await one<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level = 'grid'`)).n));
    });

    it('compares a date with the plan now: a grid cut in two is changed and added, with the households that moved', async () => {
      const grid = await one<{ id: number; parent_id: number; code: string; households: number }>(
        `SELECT id, parent_id, code, household_count AS households FROM region WHERE level = 'grid' AND household_count >= 10 ORDER BY id OFFSET 5 LIMIT 1`,
      );
      // Cut it along the north–south line through its centre: the west half keeps the grid, the east half is a new grid.
      await ctx.db.query(
        `WITH c AS (SELECT geom, ST_X(ST_Centroid(geom)) AS x, ST_YMin(geom) - 1 AS y0, ST_YMax(geom) + 1 AS y1, ST_XMax(geom) + 1 AS x1
                    FROM region WHERE id = $1)
         INSERT INTO region (parent_id, level, code, name, grid_type, geom)
         SELECT $2, 'grid', $3 || '-E', '东半网格', 'rural', ST_Multi(ST_CollectionExtract(ST_Intersection(geom, ST_MakeEnvelope(x, y0, x1, y1, 4326)), 3)) FROM c`,
        [grid.id, grid.parent_id, grid.code],
      );
      await ctx.db.query(
        `UPDATE region SET geom = ST_Multi(ST_CollectionExtract(ST_Intersection(geom,
           ST_MakeEnvelope(ST_XMin(geom) - 1, ST_YMin(geom) - 1, ST_X(ST_Centroid(geom)), ST_YMax(geom) + 1, 4326)), 3)) WHERE id = $1`,
        [grid.id],
      );
      // (as an edit does: the households of the cut grid filed under the half they lie in)
      await ctx.db.query(
        `UPDATE household h SET region_id = (SELECT g.id FROM region g WHERE g.level = 'grid' AND ST_Intersects(g.geom, h.geom) ORDER BY g.id LIMIT 1)
         WHERE h.region_id = $1`,
        [grid.id],
      );
      const east = await one<{ id: number; n: number }>(
        `SELECT r.id, (SELECT count(*)::int FROM household h WHERE ST_Intersects(r.geom, h.geom)) AS n FROM region r WHERE code = $1`,
        [`${grid.code}-E`],
      );
      // An incident reported in the east half before the cut: filed under the old grid, lying in the new one now.
      const { rows: filed } = await ctx.db.query<{ id: number }>(
        `INSERT INTO incident (geom, category, severity, reported_at, grid_id)
         SELECT ST_PointOnSurface(geom), 'hazard', 2, '2026-05-01T10:00:00+08:00', $2 FROM region WHERE id = $1 RETURNING id`,
        [east.id, grid.id],
      );
      await ctx.db.query('UPDATE incident SET grid_id = $2 WHERE id = $1', [filed[0]!.id, east.id]); // as re-filing after an edit does
      const listed = await ctx.request('GET', `/api/incidents?region=${grid.parent_id}&from=2026-04-01T00:00:00Z&to=2026-06-01T00:00:00Z`);
      const incident = (listed.body.items ?? listed.body).find((i: { id: number }) => i.id === filed[0]!.id);
      expect(incident).toMatchObject({ gridId: east.id, filedGridId: grid.id, filedGridName: expect.any(String) });
      const range = 'from=2026-04-01T00:00:00Z&to=2026-06-01T00:00:00Z';
      const totals = async (grids: string) => {
        const rows = (await ctx.request('GET', `/api/regions/${grid.parent_id}/incident-stats?${range}&grids=${grids}`)).body as {
          id: number;
          total: number;
        }[];
        return { old: rows.find((r) => r.id === grid.id)!.total, east: rows.find((r) => r.id === east.id)!.total };
      };
      const [now, then] = [await totals('current'), await totals('filed')];
      expect(now.east).toBe(1);
      expect(then).toEqual({ old: now.old + 1, east: 0 });

      const res = await ctx.request('GET', `/api/compare?region=${grid.parent_id}&a=date:2026-03-01&b=live`);
      expect(res.status).toBe(200);
      const body = res.body;
      expect(body.added.map((f: { id: number }) => f.id)).toEqual([east.id]);
      expect(body.removed).toEqual([]);
      expect(body.changed.find((c: { id: number }) => c.id === grid.id).changes).toEqual(['shape']);
      expect(body.b.grids).toBe(body.a.grids + 1);
      expect(body.moves).toContainEqual({ from: expect.objectContaining({ id: grid.id }), to: expect.objectContaining({ id: east.id }), households: east.n });
      expect(body.movedHouseholds).toBe(east.n);
      // The same as a workbook GDAL reads: a sheet each for the figures, grids added, gone and changed, and moves.
      const xlsx = await ctx.app.request(`/api/compare/export?region=${grid.parent_id}&a=date:2026-03-01`, {
        headers: { cookie: (await ctx.cookie({ username: 'tester', role: 'admin' })).cookie },
      });
      expect(xlsx.status).toBe(200);
      expect(xlsx.headers.get('content-disposition')).toContain(encodeURIComponent('规划对比'));
      const dir = await mkdtemp(join(tmpdir(), 'gridplan-compare-'));
      try {
        await writeFile(join(dir, 'compare.xlsx'), new Uint8Array(await xlsx.arrayBuffer()));
        const info = execFileSync('ogrinfo', ['-so', '-al', join(dir, 'compare.xlsx')], { encoding: 'utf8' });
        const counts = Object.fromEntries([...info.matchAll(/Layer name: (\S+)[\s\S]*?Feature Count: (\d+)/g)].map((m) => [m[1], Number(m[2])]));
        expect(counts).toMatchObject({ 概况: 5, 新增网格: 1, 调整网格: 1, 住户变动: 1 });
        // the figures are numbers, not text with float noise
        expect(execFileSync('ogrinfo', ['-so', join(dir, 'compare.xlsx'), '概况'], { encoding: 'utf8' })).toMatch(/今天: (Real|Integer)/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      // The other way round, and a plan against itself.
      const back = await ctx.request('GET', `/api/compare?region=${grid.parent_id}&a=live&b=date:2026-03-01`);
      expect(back.body.removed.map((f: { id: number }) => f.id)).toEqual([east.id]);
      const same = await ctx.request('GET', `/api/compare?region=${grid.parent_id}&a=live&b=live`);
      expect([same.body.added, same.body.removed, same.body.changed, same.body.moves]).toEqual([[], [], [], []]);
      for (const bad of ['a=draft:x', 'a=version:0', 'a=date:2026-13-01', 'a=']) {
        expect((await ctx.request('GET', `/api/compare?region=${grid.parent_id}&${bad}`)).status, bad).toBe(400);
      }
      expect((await ctx.request('GET', '/api/compare?region=0&a=live')).status).toBe(400);
      // A day before the plan's history is refused (nothing is known of it; an empty plan costs the most to compare);
      // a day not over yet is today's plan.
      const early = await ctx.request('GET', `/api/compare?region=${grid.parent_id}&a=date:2001-02-01`);
      expect([early.status, early.body.error.code, early.body.error.path]).toEqual([422, 'before_history', 'a']);
      expect(early.body.error.message).toContain('2026-01-01');
      const ahead = await ctx.request('GET', `/api/compare?region=${grid.parent_id}&a=live&b=date:2199-01-01`);
      expect([ahead.body.added, ahead.body.removed, ahead.body.changed]).toEqual([[], [], []]);
      expect((await ctx.request('GET', `/api/compare?region=999999&a=live`)).status).toBe(404);
    });

    it('matches a grid made anew in place of an old one to it: one grid changed, or none, not one gone and one come', async () => {
      // Two grids of one village (not the one the test above cut), each replaced by a new grid under a new id, as a
      // split or an auto-split does: G by its exact copy under its old code, its households following it; H by a copy
      // a little smaller under a new code, its households filed elsewhere (so they cannot tell H's continuation).
      const { rows } = await ctx.db.query<{ id: number; parent_id: number; code: string }>(
        `SELECT id, parent_id, code FROM region WHERE level = 'grid' AND household_count > 0
           AND parent_id = (SELECT parent_id FROM region WHERE level = 'grid' AND household_count > 0
                            GROUP BY parent_id HAVING count(*) >= 3 ORDER BY parent_id DESC LIMIT 1)
         ORDER BY id LIMIT 3`,
      );
      const [g, h, n] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
      const copy = async (old: number, code: string, geom: string) =>
        (
          await one<{ id: number }>(
            `INSERT INTO region (parent_id, level, code, name, grid_type, worker_id, geom)
             SELECT parent_id, level, $2, name, grid_type, worker_id, ${geom} FROM region WHERE id = $1 RETURNING id`,
            [old, code],
          )
        ).id;
      await ctx.db.query(`UPDATE region SET code = code || '-old' WHERE id = $1`, [g.id]);
      const g2 = await copy(g.id, g.code, 'geom');
      const h2 = await copy(h.id, `${h.code}-new`, 'ST_Multi(ST_Buffer(geom, -0.00002))');
      await ctx.db.query('UPDATE household SET region_id = $2 WHERE region_id = $1', [g.id, g2]);
      const hMoved = (await one<{ n: number }>('SELECT count(*)::int AS n FROM household WHERE region_id = $1', [h.id])).n;
      await ctx.db.query('UPDATE household SET region_id = $2 WHERE region_id = $1', [h.id, n.id]);
      await ctx.db.query('DELETE FROM region WHERE id = ANY($1::int[])', [[g.id, h.id]]);

      const res = await ctx.request('GET', `/api/compare?region=${g.parent_id}&a=date:2026-03-01&b=live`);
      expect(res.status).toBe(200);
      expect([res.body.added, res.body.removed]).toEqual([[], []]);
      type Changed = { id: number; changes: string[]; before: { id: number; code: string }; after: { id: number } };
      const byId = new Map((res.body.changed as Changed[]).map((c) => [c.id, c]));
      // G's copy is G: nothing changed but its id (households stay)
      expect(byId.has(g2)).toBe(false);
      expect(res.body.moves.filter((m: { from: { id: number } | null }) => m.from?.id === g.id)).toEqual([]);
      // H's smaller copy holds most of H: H reshaped and recoded, its households gone to N
      expect(byId.get(h2)).toMatchObject({ changes: ['shape', 'code'], before: { id: h.id, code: h.code }, after: { id: h2 } });
      expect(res.body.moves).toContainEqual({ from: expect.objectContaining({ id: h.id }), to: expect.objectContaining({ id: n.id }), households: hMoved });
      expect(res.body.b.grids).toBe(res.body.a.grids);
    });
  });
}

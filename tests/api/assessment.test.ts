import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';
import { ogrinfo, ogrValues } from '../support/ogr.ts';
import { reckoning } from '../../server/http/heavy.ts';

/** Metres along a meridian per degree of latitude at `lat` (the WGS 84 ellipsoid's series). */
const meridianMetres = (lat: number) => {
  const r = (lat * Math.PI) / 180;
  return 111132.954 - 559.822 * Math.cos(2 * r) + 1.175 * Math.cos(4 * r);
};

/** The command centre issue §6b and §7: patrols, and the month's assessment against a fixture computed by hand. */
for (const driver of DRIVERS) {
  describe(`patrols and assessment (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let dir: string;
    const now = new Date('2031-04-05T04:00:00Z');
    let g: {
      id: number;
      worker: number;
      x: number;
      y: number;
      households: number;
      h: number[];
      far: number;
      other: number;
      otherWorker: number;
      foreign: number;
    };
    let phone: { cookie: string };

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      dir = await mkdtemp(join(tmpdir(), 'gridplan-assessment-'));
      ctx = await apiContext(t.db, { clock: () => now, cache: false });
      g = (
        await ctx.db.query<any>(
          // a small (town) grid; the walk starts at a household and passes the next ones
          `SELECT g.id, g.worker_id AS worker, ST_X(h0.geom) AS x, ST_Y(h0.geom) AS y, g.household_count AS households,
             ARRAY(SELECT h.id FROM household h WHERE h.region_id = g.id ORDER BY h.geom <-> h0.geom, h.id LIMIT 3) AS h,
             (SELECT o.id FROM region o WHERE o.level = 'grid' AND o.worker_id IS NOT NULL AND o.worker_id <> g.worker_id ORDER BY o.code LIMIT 1) AS other,
             (SELECT o.worker_id FROM region o WHERE o.level = 'grid' AND o.worker_id IS NOT NULL AND o.worker_id <> g.worker_id ORDER BY o.code LIMIT 1)
               AS "otherWorker",
             (SELECT h.id FROM household h WHERE h.region_id <> g.id AND h.region_id IS NOT NULL LIMIT 1) AS foreign
           FROM region g, LATERAL (SELECT h.geom FROM household h WHERE h.region_id = g.id ORDER BY h.id LIMIT 1) h0
           WHERE g.level = 'grid' AND g.worker_id IS NOT NULL AND g.household_count >= 3
             AND (SELECT count(*) FROM region o WHERE o.worker_id = g.worker_id) = 1
           ORDER BY gp_area_m2(g.geom), g.code LIMIT 1`,
        )
      ).rows[0];
      phone = await ctx.cookie({ username: 'patrol-worker', role: 'worker', workerId: g.worker });
      // a household filed under the grid half a kilometre east of the walk (a visit there from the walk is not believed)
      g.far = (
        await ctx.db.query<{ id: number }>(
          `INSERT INTO household (geom, size, address, region_id) VALUES (ST_SetSRID(ST_MakePoint($1, $2), 4326), 2, '远处一户', $3) RETURNING id`,
          [g.x + 0.005, g.y, g.id],
        )
      ).rows[0]!.id;
      // The month's cases of the grid (March 2031, China time), by hand:
      //   A: reported by the worker, solved on the spot within its deadline, closed satisfied
      //   B: reported by the worker, answered by a department after its deadline, closed unsatisfied
      //   C: reported by a resident (no reporter), still open, its deadline passed in March
      //   D: reported by the worker on 28 February (China), solved on the spot on 1 March (China) in time
      //   E: reported by the worker in March and marked invalid: it does not count
      const ins = (sql: string, params: unknown[]) => ctx.db.query(sql, params);
      const base = `INSERT INTO incident (geom, category, severity, description, grid_id, reporter_id, reported_at, status, dispatched_at, resolved_at,
                      solved_level, closed_at, satisfaction, feedback, void_kind, void_reason, voided_at)
                    VALUES (ST_SetSRID(ST_MakePoint($1, $2), 4326), 'hazard', 2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;
      const H = 3_600_000;
      const at = (iso: string, plusHours = 0) => new Date(Date.parse(iso) + plusHours * H).toISOString();
      // hazard: 72 hours to resolve
      await ins(base, [
        g.x,
        g.y,
        'A',
        g.id,
        g.worker,
        at('2031-03-02T02:00:00Z'),
        'closed',
        null,
        at('2031-03-02T02:00:00Z', 1),
        'grid',
        at('2031-03-02T02:00:00Z', 2),
        'satisfied',
        '已处理',
        null,
        null,
        null,
      ]);
      await ins(base, [
        g.x,
        g.y,
        'B',
        g.id,
        g.worker,
        at('2031-03-05T02:00:00Z'),
        'closed',
        at('2031-03-05T02:00:00Z', 1),
        at('2031-03-05T02:00:00Z', 77),
        'department',
        at('2031-03-05T02:00:00Z', 80),
        'unsatisfied',
        '仍未修好',
        null,
        null,
        null,
      ]);
      await ins(base, [g.x, g.y, 'C', g.id, null, at('2031-03-20T02:00:00Z'), 'reported', null, null, null, null, null, null, null, null, null]);
      await ins(base, [
        g.x,
        g.y,
        'D',
        g.id,
        g.worker,
        '2031-02-28T15:00:00Z',
        'resolved',
        null,
        '2031-02-28T17:00:00Z',
        'grid',
        null,
        null,
        null,
        null,
        null,
        null,
      ]);
      await ins(base, [
        g.x,
        g.y,
        'E',
        g.id,
        g.worker,
        at('2031-03-21T02:00:00Z'),
        'reported',
        null,
        null,
        null,
        null,
        null,
        null,
        'invalid',
        '误报',
        at('2031-03-21T02:00:00Z', 1),
      ]);
    });
    afterAll(async () => {
      await dispose();
      await rm(dir, { recursive: true, force: true });
    });

    const track = () => [
      [g.x, g.y],
      [g.x, g.y + 0.002],
      [g.x, g.y + 0.004],
    ];
    const patrol = (body: Record<string, unknown>, who = phone) => ctx.request('POST', '/api/patrols', body, who);

    it('records a patrol of its own grid once, with the households visited; refuses what is not its own', async () => {
      const first = {
        key: 'patrol-2031-03-10-a',
        gridId: g.id,
        startedAt: '2031-03-10T01:00:00Z',
        endedAt: '2031-03-10T02:00:00Z',
        track: track(),
        visits: [
          { householdId: g.h[0], at: '2031-03-10T01:20:00Z', note: '独居老人，身体尚可' },
          { householdId: g.h[1], at: '2031-03-10T01:40:00Z' },
        ],
      };
      const made = await patrol(first);
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      expect(made.body.distanceM).toBeCloseTo(0.004 * meridianMetres(g.y + 0.002), -1);
      expect(made.body).toMatchObject({ visits: 2, points: 3, gridId: g.id, workerId: g.worker });
      // the phone sends it again after a lost answer: the same patrol
      const again = await patrol(first);
      expect([again.status, again.body.id]).toEqual([200, made.body.id]);
      // a second walk visits one household again (it counts once) and a third in April does not count for March
      expect(
        (
          await patrol({
            ...first,
            key: 'patrol-2031-03-11-a',
            startedAt: '2031-03-11T01:00:00Z',
            endedAt: '2031-03-11T02:00:00Z',
            visits: [{ householdId: g.h[0], at: '2031-03-11T01:30:00Z' }],
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await patrol({
            ...first,
            key: 'patrol-2031-04-01-a',
            startedAt: '2031-04-01T01:00:00Z',
            endedAt: '2031-04-01T02:00:00Z',
            visits: [{ householdId: g.h[2], at: '2031-04-01T01:30:00Z' }],
          })
        ).status,
      ).toBe(201);
      const other = {
        ...first,
        startedAt: '2031-03-12T01:00:00Z',
        endedAt: '2031-03-12T02:00:00Z',
        visits: [{ householdId: g.h[0], at: '2031-03-12T01:20:00Z' }],
      };
      // refused, nothing written: faked walks — the same hour twice, far from the grid, too fast, a visit far from the track, a month late
      const refused = async (body: Record<string, unknown>) => (await patrol(body)).body.error;
      expect(await refused({ ...first, key: 'patrol-y-1' })).toMatchObject({ code: 'overlapping_patrol' });
      expect(
        await refused({
          ...other,
          key: 'patrol-y-2',
          track: [
            [g.x, g.y],
            [g.x + 1, g.y + 1],
          ],
        }),
      ).toMatchObject({ code: 'outside_grid', path: 'track[1]' });
      expect(await refused({ ...other, key: 'patrol-y-3', endedAt: '2031-03-12T01:00:10Z', visits: [] })).toMatchObject({ code: 'too_fast' });
      expect(
        await refused({
          ...other,
          key: 'patrol-y-4',
          track: [
            [g.x, g.y],
            [g.x, g.y + 0.0001],
          ],
          visits: [{ householdId: g.far, at: '2031-03-12T01:20:00Z' }],
        }),
      ).toMatchObject({
        code: 'visit_far',
      });
      expect(await refused({ ...other, key: 'patrol-y-5', startedAt: '2031-01-01T01:00:00Z', endedAt: '2031-01-01T02:00:00Z', visits: [] })).toMatchObject({
        code: 'invalid_time',
        path: 'startedAt',
      });
      expect(await refused({ ...other, key: 'patrol-y-6', track: [[g.x, g.y, 1e300]] })).toMatchObject({ path: 'track[0][2]' });
      // refused, nothing written: another grid, a household elsewhere, a visit twice, out of time, the future, a bad point
      const before = (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM patrol')).rows[0]!.n;
      expect((await patrol({ ...other, key: 'patrol-x-1', gridId: g.other })).body.error.code).toBe('outside_scope');
      expect((await patrol({ ...other, key: 'patrol-x-2', visits: [{ householdId: g.foreign, at: other.startedAt }] })).body.error).toMatchObject({
        code: 'not_in_grid',
        path: 'visits[0].householdId',
      });
      expect((await patrol({ ...other, key: 'patrol-x-3', visits: [other.visits[0], other.visits[0]] })).body.error.code).toBe('duplicate_visit');
      expect((await patrol({ ...other, key: 'patrol-x-4', visits: [{ householdId: g.h[0], at: '2031-03-12T05:00:00Z' }] })).body.error.path).toBe(
        'visits[0].at',
      );
      expect((await patrol({ ...other, key: 'patrol-x-5', endedAt: '2031-05-01T00:00:00Z' })).body.error.code).toBe('invalid_time');
      expect(
        (
          await patrol({
            ...first,
            key: 'patrol-x-6',
            track: [
              [200, 25],
              [103, 25],
            ],
          })
        ).body.error.path,
      ).toBe('track[0]');
      expect((await patrol({ ...other, key: 'patrol-x-7' }, await ctx.cookie({ username: 'patrol-analyst', role: 'analyst' }))).status).toBe(403);
      expect((await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM patrol')).rows[0]!.n).toBe(before);
    });

    it("sums a month per grid and per worker as computed by hand, by the county's rules; ranks; exports a workbook GDAL reads", async () => {
      const res = await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      // the worker sees their own grid and themself only
      expect(res.body.grids.map((x: { gridId: number }) => x.gridId)).toEqual([g.id]);
      expect(res.body.workers.map((w: { workerId: number }) => w.workerId)).toEqual([g.worker]);
      const km = (2 * 0.004 * meridianMetres(g.y + 0.002)) / 1000;
      const share = 2 / (g.households + 1);
      const expected = {
        reports: 2, // A, B (D was reported in February; E is invalid; C has no reporter)
        onSpot: 2, // A, D
        resolved: 3, // A, B, D
        onTime: 2, // A, D
        satisfied: 1,
        unsatisfied: 1,
        overdue: 2, // B (answered after its deadline), C (still open)
        patrols: 2,
        visited: 2,
        // (the grid's households, counted: 远处一户, filed here by hand above, too)
        households: g.households + 1,
      };
      const grid = res.body.grids[0];
      expect(grid).toMatchObject(expected);
      expect(grid.onTimeRate).toBeCloseTo(2 / 3, 4);
      expect(grid.satisfaction).toBe(0.5);
      expect(grid.visitShare).toBeCloseTo(share, 4);
      expect(grid.distanceM / 1000).toBeCloseTo(km, 2);
      // points: report 1, on the spot 2, on time 1, satisfied 1, unsatisfied −2, overdue −1, per km 0.5, visits 10 × share
      const points = 1 * 2 + 2 * 2 + 1 * 2 + 1 * 1 - 2 * 1 - 1 * 2 + 0.5 * km + 10 * share;
      expect(grid.points).toBeCloseTo(Math.round(points * 10) / 10, 5);
      expect(res.body.workers[0]).toMatchObject({ ...expected, rank: 1, grids: 1, points: grid.points });
      // where each works: two workers of one name are told apart by their village
      const village = (await ctx.db.query<{ name: string }>('SELECT v.name FROM region g JOIN region v ON v.id = g.parent_id WHERE g.id = $1', [g.id])).rows[0]!
        .name;
      expect(grid.village).toBe(village);
      expect(res.body.workers[0].villages).toEqual([village]);
      // and, of one grid, its name: two 王明 of one village had been told apart by nothing
      expect(res.body.workers[0].grid).toBe(grid.name);

      // the county changes its rules: the points follow
      const versionOf = async (measure: string) =>
        (await ctx.db.query<{ v: number }>('SELECT version AS v FROM assessment_rule WHERE measure = $1', [measure])).rows[0]!.v;
      // the version read is required: a save without it would overwrite whatever someone saved meanwhile
      expect((await ctx.request('PUT', '/api/assessment/rules', { rules: [{ measure: 'unsatisfied', points: -5 }] })).status).toBe(400);
      const rules = await ctx.request('PUT', '/api/assessment/rules', {
        rules: [{ measure: 'unsatisfied', points: -5, version: await versionOf('unsatisfied') }],
      });
      expect(rules.status, JSON.stringify(rules.body)).toBe(200);
      expect(
        (await ctx.request('PUT', '/api/assessment/rules', { rules: [{ measure: 'unsatisfied', points: -5, version: await versionOf('unsatisfied') }] }, phone))
          .status,
      ).toBe(403);
      expect((await ctx.request('PUT', '/api/assessment/rules', { rules: [{ measure: 'overdue', points: 1, version: 99 }] })).status).toBe(409);
      const changed = (await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body.grids[0];
      expect(changed.points).toBeCloseTo(Math.round((points - 3) * 10) / 10, 5);
      // a settings change like any: in 设置 › 修改记录, by measure, and undone there
      const history = (await ctx.request('GET', '/api/settings/changes?limit=5')).body;
      const entry = history.find((h: { entity: string }) => h.entity === 'assessment_rule');
      expect(entry.changed).toEqual([expect.objectContaining({ item: 'unsatisfied', field: 'points', after: '-5', itemZh: expect.any(String) })]);
      const undone = await ctx.request('POST', `/api/settings/changes/${entry.id}/undo`);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      expect((await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body.grids[0].points).toBeCloseTo(Math.round(points * 10) / 10, 5);
      expect((await ctx.request('POST', `/api/settings/changes/${entry.id}/undo`)).status).toBe(422);
      expect(
        (await ctx.request('PUT', '/api/assessment/rules', { rules: [{ measure: 'unsatisfied', points: -5, version: await versionOf('unsatisfied') }] }))
          .status,
      ).toBe(200);

      // the district's leader sees the ranking of every worker; another worker never sees this one
      const leader = await ctx.cookie({ username: 'assess-leader', role: 'leader' });
      const all = await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, leader);
      expect(all.body.workers.length).toBeGreaterThan(10);
      expect(all.body.workers[0].rank).toBe(1);
      expect(all.body.workers.find((w: { workerId: number }) => w.workerId === g.worker).points).toBe(changed.points);
      // the first rows only (a city ranks tens of thousands), the same as the whole answer's first, with how many there are
      const first = await ctx.request('GET', `/api/assessment?month=2031-03&limit=5`, undefined, leader);
      expect(first.body.workers).toEqual(all.body.workers.slice(0, 5));
      expect(first.body.grids).toEqual(all.body.grids.slice(0, 5));
      expect([first.body.workersTotal, first.body.gridsTotal]).toEqual([all.body.workers.length, all.body.grids.length]);
      expect((await ctx.request('GET', `/api/assessment?month=2031-03&limit=0`, undefined, leader)).body.error.path).toBe('query.limit');
      const other = await ctx.cookie({ username: 'assess-other', role: 'worker', workerId: g.otherWorker });
      expect((await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, other)).body.workers.map((w: any) => w.workerId)).not.toContain(g.worker);
      expect((await ctx.request('GET', `/api/assessment?month=2031-13`, undefined, leader)).body.error.code).toBe('invalid_month');
      // a worker asking of a region that is not there is told so, as anyone is (their figures are their own grids' whatever region)
      const nowhere = await ctx.request('GET', `/api/assessment?month=2031-03&region=999999`, undefined, other);
      expect([nowhere.status, nowhere.body.error.code]).toEqual([404, 'not_found']);
      // one account asking month after month at once: two are worked out, the third is told to wait (429), nothing held behind them
      // (the leader's two places are held here until the third has been answered: three requests fired at once could each
      // finish before the next reached the gate on a fast database, as one CI run saw)
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      const asLeader = { get: () => ({ username: 'assess-leader' }) } as unknown as Parameters<typeof reckoning>[0];
      const holding = [reckoning(asLeader, () => held), reckoning(asLeader, () => held)];
      const third = await ctx.request('GET', `/api/assessment?month=2031-01&limit=1`, undefined, leader);
      expect([third.status, third.body.error?.code]).toEqual([429, 'too_many_assessments']);
      // another account is not held behind them
      expect((await ctx.request('GET', `/api/assessment?month=2031-01&limit=1`, undefined, other)).status).toBe(200);
      release();
      await Promise.all(holding);
      expect((await ctx.request('GET', `/api/assessment?month=2031-01&limit=1`, undefined, leader)).status).toBe(200);

      // the patrols of the month, with tracks for the township's map
      const patrols = await ctx.request('GET', `/api/patrols?month=2031-03`, undefined, phone);
      expect(patrols.body.grids[0]).toMatchObject({ gridId: g.id, patrols: 2, visited: 2 });
      expect(patrols.body.tracks.features).toHaveLength(2);
      // a busy month: its map thins the tracks evenly over the month, and says how many there are in all
      await ctx.db.query(
        `INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, track, points, distance_m, reported_by, client_key)
         SELECT $1, $2, s.t, s.t + interval '30 minutes', ST_MakeLine(p.pt, ST_Translate(p.pt, 0.001, 0)), 2, 100, 'bulk', 'bulk-' || n
         FROM generate_series(1, 2500) n, LATERAL (SELECT '2031-04-01T00:00:00+08:00'::timestamptz + n * interval '17 minutes' AS t) s,
              (SELECT ST_PointOnSurface(geom) AS pt FROM region WHERE id = $2) p`,
        [g.worker, g.id],
      );
      const busy = await ctx.request('GET', `/api/patrols?month=2031-04`, undefined, phone);
      const total = busy.body.tracksTotal as number;
      expect(total).toBeGreaterThanOrEqual(2500);
      expect(busy.body.tracks.features).toHaveLength(Math.ceil(total / Math.ceil(total / 2000)));
      const starts = busy.body.tracks.features.map((f: { properties: { startedAt: string } }) => Date.parse(f.properties.startedAt));
      expect(Math.max(...starts)).toBeGreaterThan(Date.parse('2031-04-28T00:00:00+08:00'));

      // the workbook, read by GDAL
      const file = await ctx.app.request('/api/assessment/export?month=2031-03', { headers: leader });
      expect(file.status).toBe(200);
      expect(file.headers.get('content-disposition')).toContain(encodeURIComponent('沾益区-网格考核-2031-03'));
      const path = join(dir, 'assessment.xlsx');
      await writeFile(path, new Uint8Array(await file.arrayBuffer()));
      const info = ogrinfo(path);
      expect(Object.keys(info.layers)).toEqual(['网格员排名', '网格', '积分规则']);
      expect(info.layers['网格员排名']!.count).toBe(all.body.workers.length);
      const row = ogrValues(path, '网格', `"网格编码" = '${res.body.grids[0].code}'`);
      expect(Number(row['上报事件'])).toBe(2);
      expect(row['所在村社区']).toBe(res.body.grids[0].village);
      expect(Number(row['积分'])).toBeCloseTo(changed.points, 5);
      // shares are numbers a spreadsheet sums (a month without a case leaves the cell empty, not the column text)
      const fields = execFileSync('ogrinfo', ['-so', path, '网格员排名'], { encoding: 'utf8' });
      expect(fields).toMatch(/按时办结率%: Real/);
    });

    it('scores a district by its own points: set per measure, logged, stale refused, undone, shown in the workbook', async () => {
      const district = (await ctx.db.query<{ id: number; name: string }>('SELECT d.id, d.name FROM region d WHERE d.id = gp_district_of($1)', [g.id])).rows[0]!;
      const read = await ctx.request('GET', `/api/regions/${g.id}/assessment-rules`);
      expect(read.status, JSON.stringify(read.body)).toBe(200);
      expect(read.body).toMatchObject({ districtId: district.id, district: district.name, version: 0 });
      expect(read.body.rules.every((r: { own: boolean; points: number; defaultPoints: number }) => !r.own && r.points === r.defaultPoints)).toBe(true);
      const before = (await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body;
      expect(before.district).toEqual({ id: district.id, name: district.name });
      expect(before.ownDistricts).toEqual([]);

      // on the spot counts 5 here (the plan's 2): the grid solved two on the spot in March
      const put = (body: unknown, who?: { cookie: string }) => ctx.request('PUT', `/api/regions/${district.id}/assessment-rules`, body, who);
      expect((await put({ rules: [{ measure: 'on_spot', points: 5 }], version: 0 }, phone)).status).toBe(403);
      expect((await put({ rules: [{ measure: 'on_spot', points: 500 }], version: 0 })).body.error.path).toBe('json.rules.0.points');
      expect(
        (
          await put({
            rules: [
              { measure: 'on_spot', points: 5 },
              { measure: 'on_spot', points: 4 },
            ],
            version: 0,
          })
        ).body.error.code,
      ).toBe('duplicate_measure');
      expect((await ctx.request('PUT', '/api/regions/999999/assessment-rules', { rules: [{ measure: 'on_spot', points: 5 }], version: 0 })).status).toBe(404);
      const set = await put({ rules: [{ measure: 'on_spot', points: 5 }], version: 0 });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      expect(set.body.rules.find((r: { measure: string }) => r.measure === 'on_spot')).toMatchObject({ points: 5, own: true, defaultPoints: 2 });
      expect(set.body.version).toBeGreaterThan(0);
      // stale: refused, nothing written
      const stale = await put({ rules: [{ measure: 'report', points: 3 }], version: 0 });
      expect([stale.status, stale.body.error.code]).toEqual([409, 'version_conflict']);
      // the same again is no change: not logged, the version stays
      expect((await put({ rules: [{ measure: 'on_spot', points: 5 }], version: set.body.version })).body.version).toBe(set.body.version);

      const after = (await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body;
      expect(after.grids[0].points).toBeCloseTo(before.grids[0].points + 3 * 2, 5);
      expect(after.workers[0].points).toBeCloseTo(before.workers[0].points + 3 * 2, 5);
      expect(after.rules.find((r: { measure: string }) => r.measure === 'on_spot')).toMatchObject({ points: 5, own: true });
      // the plan's points are untouched
      expect((await ctx.db.query('SELECT points::float8 AS p FROM assessment_rule WHERE measure = $1', ['on_spot'])).rows[0]).toEqual({ p: 2 });

      // the workbook's rules say whose they are
      const leader = await ctx.cookie({ username: 'assess-leader-2', role: 'leader' });
      const file = await ctx.app.request('/api/assessment/export?month=2031-03', { headers: leader });
      const path = join(dir, 'assessment-own.xlsx');
      await writeFile(path, new Uint8Array(await file.arrayBuffer()));
      const onSpot = ogrValues(path, '积分规则', `"分值" = 5`);
      expect(onSpot['适用于']).toBe(district.name);

      // in 设置 › 修改记录, by measure, and undone there
      const entry = (await ctx.request('GET', '/api/settings/changes?limit=5')).body.find((h: { entity: string }) => h.entity === 'district_assessment_rule');
      expect(entry.subject).toBe(district.name);
      expect(entry.changed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ item: 'on_spot', field: 'points', before: '2', after: '5' }),
          expect.objectContaining({ item: 'on_spot', field: 'districtOwn', before: 'no', after: 'yes' }),
        ]),
      );
      const undone = await ctx.request('POST', `/api/settings/changes/${entry.id}/undo`);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      expect((await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body.grids[0].points).toBeCloseTo(before.grids[0].points, 5);
      expect((await ctx.request('GET', `/api/regions/${district.id}/assessment-rules`)).body.rules.some((r: { own: boolean }) => r.own)).toBe(false);

      // the district's own time to close a hazard (a year, the plan's 72 hours): B answered late is on time there, C not yet overdue
      const deadlines = (await ctx.request('GET', `/api/regions/${district.id}/deadlines`)).body;
      const hazard = deadlines.categories.find((c: { code: string }) => c.code === 'hazard');
      const own = await ctx.request('PUT', `/api/regions/${district.id}/deadlines`, {
        categories: [{ code: 'hazard', deadlines: hazard.defaults, closeHours: 8760 }],
        version: deadlines.version,
      });
      expect(own.status, JSON.stringify(own.body)).toBe(200);
      expect((await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body.grids[0]).toMatchObject({ onTime: 3, overdue: 0 });
      const back = await ctx.request('PUT', `/api/regions/${district.id}/deadlines`, {
        categories: [{ code: 'hazard', deadlines: null }],
        version: own.body.version,
      });
      expect(back.status).toBe(200);
      expect((await ctx.request('GET', `/api/assessment?month=2031-03`, undefined, phone)).body.grids[0]).toMatchObject({ onTime: 2, overdue: 2 });
    });
  });
}

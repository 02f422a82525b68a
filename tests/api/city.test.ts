import pg from 'pg';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/db/accounts.ts';
import { openDb, type Db } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';
import { seedCity, type CitySummary } from '../../server/seed/seed-city.ts';
import { apiContext, DRIVERS, type ApiContext, type Driver } from '../support/db.ts';
import { withDatabase } from '../support/template.ts';

/** A fresh, empty database of the driver (the test template holds the demo district, whose code a city would repeat). */
async function emptyDb(driver: Driver): Promise<{ db: Db; dispose: () => Promise<void> }> {
  if (driver === 'pglite') {
    const db = await openDb({ dataDir: 'memory://' });
    return { db, dispose: () => db.close() };
  }
  const url = process.env.DATABASE_URL!;
  const name = `gridplan_city_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const db = await openDb({ databaseUrl: withDatabase(url, name) });
  return {
    db,
    dispose: async () => {
      await db.close();
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name}`);
      await a.end();
    },
  };
}

describe.each(DRIVERS)('a city above its counties (%s)', (driver) => {
  let ctx: ApiContext;
  let dispose: () => Promise<void>;
  let city: CitySummary;

  beforeAll(async () => {
    const t = await emptyDb(driver);
    dispose = t.dispose;
    await migrate(t.db);
    // 曲靖's nine real county outlines at a small scale: about 350 grids.
    city = await seedCity(t.db, { city: 'qujing', seed: 7, scale: 0.02, rule: { min: 10, max: 25, target: 18 }, now: new Date('2026-11-30T04:00:00Z') });
    ctx = await apiContext(t.db);
  }, 300_000);
  afterAll(() => dispose());

  it('seeds the nine counties of 曲靖 as districts under the city, coded as the state codes them', async () => {
    expect(city.districts.map((d) => d.grids).every((n) => n > 0)).toBe(true);
    const top = await ctx.request('GET', '/api/regions');
    expect(top.body.features.map((f: any) => [f.properties.level, f.properties.code, f.properties.name])).toEqual([['city', '530300', '曲靖市']]);
    const counties = await ctx.request('GET', `/api/regions/${city.cityId}/children`);
    expect(counties.body.features.map((f: any) => f.properties.code).sort()).toEqual(
      ['530302', '530303', '530321', '530322', '530323', '530324', '530325', '530326', '530381'].sort(),
    );
    expect(counties.body.features.every((f: any) => f.properties.level === 'district' && f.properties.parentId === city.cityId)).toBe(true);
    // the city's count is its counties'
    const me = await ctx.request('GET', `/api/regions/${city.cityId}`);
    expect(me.body.properties.households).toBe(counties.body.features.reduce((a: number, f: any) => a + f.properties.households, 0));
    expect(me.body.properties.households).toBe(city.households);
    // a grid's breadcrumb runs from the city
    const { rows } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'grid' ORDER BY id LIMIT 1`);
    const grid = await ctx.request('GET', `/api/regions/${rows[0]!.id}`);
    expect(grid.body.properties.ancestors.map((a: any) => a.level)).toEqual(['city', 'district', 'township', 'village']);
    // every grid keeps the rule
    const { rows: out } = await ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM region WHERE level = 'grid' AND household_count NOT BETWEEN 10 AND 25`,
    );
    expect(out[0]!.n).toBe(0);
  });

  it('rolls the figures up to the city, and checks its coverage', async () => {
    const overview = await ctx.request('GET', `/api/stats/overview?region=${city.cityId}`);
    expect(overview.status).toBe(200);
    expect(overview.body.figures.grids.value).toBe(city.grids);
    expect(overview.body.figures.households.value).toBe(city.households);
    const coverage = await ctx.request('GET', `/api/regions/${city.cityId}/coverage?depth=1`);
    expect(coverage.status, JSON.stringify(coverage.body).slice(0, 300)).toBe(200);
    // the counties keep the state's codes under their city: no code is reported as wrong, at any depth
    expect(coverage.body.summary.counts.code_mismatch).toBe(0);
    // a month ago too, the city was the sum of its counties (each had grids without a worker then)
    const { rows: ago } = await ctx.db.query<{ city: number; counties: number; cityStaffed: number; countiesStaffed: number }>(
      `SELECT c.grids AS city, c.staffed AS "cityStaffed", sum(d.grids)::int AS counties, sum(d.staffed)::int AS "countiesStaffed"
       FROM plan_figure c JOIN region r ON r.parent_id = c.region_id JOIN plan_figure d ON d.region_id = r.id AND d.day = c.day
       WHERE c.region_id = $1 GROUP BY c.day, c.grids, c.staffed ORDER BY c.day LIMIT 1`,
      [city.cityId],
    );
    expect([ago[0]!.city, ago[0]!.cityStaffed]).toEqual([ago[0]!.counties, ago[0]!.countiesStaffed]);
    // the assessment, asked for no region, is the whole city's (not its first county's)
    const assessment = await ctx.request('GET', '/api/assessment?month=2026-11');
    expect([assessment.status, assessment.body.regionId]).toEqual([200, city.cityId]);
    // across counties each village is said with its county (two counties may each have a 凤场村)
    const counties = (await ctx.db.query<{ name: string }>(`SELECT name FROM region WHERE level = 'district'`)).rows.map((r) => r.name);
    const said = [...assessment.body.grids, ...assessment.body.workers.flatMap((w: { villages: string[] }) => w.villages.map((village) => ({ village })))];
    expect(said.length).toBeGreaterThan(0);
    expect(said.every((g: { village: string }) => counties.some((n) => g.village.startsWith(n)))).toBe(true);
    const all = await ctx.request('GET', `/api/regions/${city.cityId}/coverage?depth=all`);
    expect(all.body.summary.counts).toMatchObject({ code_mismatch: 0, gap: 0, overlap: 0, outside_parent: 0, invalid_geometry: 0 });
  });

  it("analyses the whole city as the sum of its counties (the city, the plan's root, is not walked down)", async () => {
    const { cookie } = await ctx.cookie({ username: 'city-analyst', role: 'admin' });
    const get = async (path: string) => {
      const res = await ctx.app.request(path, { headers: { cookie } });
      expect(res.status, path).toBe(200);
      return res.json() as Promise<any>;
    };
    const window = 'from=2025-12-01T00:00:00%2B08:00&to=2026-12-01T00:00:00%2B08:00';
    const perCounty = await get(`/api/regions/${city.cityId}/incident-stats?${window}`);
    expect(perCounty).toHaveLength(9);
    const total = perCounty.reduce((a: number, r: any) => a + r.total, 0);
    expect(total).toBeGreaterThan(0);
    const spots = await get(`/api/hotspots?region=${city.cityId}&${window}`);
    expect(spots).toHaveLength(city.grids);
    // under a city, a grid's place names its county too
    expect(spots.every((h: any) => / · /.test(h.place))).toBe(true);
    expect(spots.reduce((a: number, h: any) => a + h.count, 0)).toBe(total);
    // only=hot (the wall's few rows): the significantly hot ones, as they are in the whole answer
    const hot = await get(`/api/hotspots?region=${city.cityId}&${window}&only=hot`);
    expect(hot).toEqual(spots.filter((h: any) => h.significance.startsWith('hot')));
    expect(hot.length).toBeGreaterThan(0);
    expect(hot.length).toBeLessThan(spots.length);
    expect((await ctx.app.request(`/api/hotspots?region=${city.cityId}&${window}&only=cold`, { headers: { cookie } })).status).toBe(400);
    const series = await get(`/api/incidents/timeseries?region=${city.cityId}&${window}&bucket=month`);
    const inSeries = series.series.reduce((a: number, b: any) => a + Object.values(b.counts as Record<string, number>).reduce((x, y) => x + y, 0), 0);
    expect(inSeries).toBe(total);
    // one county alone, walked down: the same as its row in the city's statistics
    const first = perCounty[0];
    const own = await get(`/api/hotspots?region=${first.id}&${window}`);
    expect(own.reduce((a: number, h: any) => a + h.count, 0)).toBe(first.total);
  });

  it("judges and divides the city by each county's own rules", async () => {
    const counties = (await ctx.request('GET', `/api/regions/${city.cityId}/children`)).body.features.map((f: any) => f.id as number);
    // All nine hold to 10–25: so does the city, whose rules are theirs, not the defaults (小区型 60–200).
    const rules = await ctx.request('GET', `/api/regions/${city.cityId}/rules`);
    expect(rules.status).toBe(200);
    expect(rules.body.rules.map((r: any) => [r.gridType, r.min, r.max])).toEqual(
      ['scattered', 'residential', 'unit', 'commercial', 'rural'].map((t) => [t, 10, 25]).filter(([t]) => rules.body.rules.some((r: any) => r.gridType === t)),
    );
    expect(rules.body.mixed).toEqual([]);
    // One county sets 农村型 apart: the city says the counties differ there, and spans them.
    const own = await ctx.request('GET', `/api/regions/${counties[0]}/rules`);
    const set = await ctx.request('PUT', `/api/regions/${counties[0]}/rules`, {
      rules: [{ gridType: 'rural', min: 12, max: 40, target: 30 }],
      version: own.body.version,
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const mixed = await ctx.request('GET', `/api/regions/${city.cityId}/rules`);
    expect(mixed.body.mixed).toEqual(['rural']);
    expect(mixed.body.rules.find((r: any) => r.gridType === 'rural')).toMatchObject({ min: 10, max: 40 });
    const refused = await ctx.request('PUT', `/api/regions/${city.cityId}/rules`, {
      rules: [{ gridType: 'rural', min: 5, max: 9, target: 7 }],
      version: mixed.body.version,
    });
    expect([refused.status, refused.body.error?.code]).toEqual([422, 'city_rules']);
    // The comparison judges the city's grids, each by its county's rule.
    const cmp = await ctx.request('GET', `/api/compare?region=${city.cityId}&a=live&b=live`);
    expect(cmp.status, JSON.stringify(cmp.body).slice(0, 300)).toBe(200);
    expect(cmp.body.a.inRange).not.toBeNull();
    // Auto-split of the whole city proposes each village's grids to its own county's range.
    const split = await ctx.request('POST', `/api/regions/${city.cityId}/autosplit`, {});
    expect(split.status, JSON.stringify(split.body).slice(0, 300)).toBe(200);
    const { rows } = await ctx.db.query<{ village: number; county: number }>(
      `SELECT v.id AS village, t.parent_id AS county FROM region v JOIN region t ON t.id = v.parent_id WHERE v.level = 'village'`,
    );
    const countyOf = new Map(rows.map((r) => [r.village, r.county]));
    const ranges = new Set(
      split.body.proposal.features.map(
        (f: any) =>
          `${countyOf.get(f.properties.villageId) === counties[0] ? 'own' : 'other'}:${f.properties.gridType}:${f.properties.min}-${f.properties.max}`,
      ),
    );
    for (const r of ranges) {
      const [whose, type, range] = (r as string).split(':');
      expect(r).toBe(`${whose}:${type}:${whose === 'own' && type === 'rural' ? '12-40' : '10-25'}`);
      expect(range).not.toBe('60-200');
    }
    // (back to the county's rule for the tests after)
    const back = await ctx.request('GET', `/api/regions/${counties[0]}/rules`);
    await ctx.request('PUT', `/api/regions/${counties[0]}/rules`, { rules: [{ gridType: 'rural', min: 10, max: 25, target: 18 }], version: back.body.version });
  });

  it("keeps each county's people, places and versions its own: staffing, the roster, hotline places, versions, drafts", async () => {
    const [a, b] = (await ctx.request('GET', `/api/regions/${city.cityId}/children`)).body.features.map((f: any) => f.id as number) as number[];
    const gridIn = async (county: number) =>
      (
        await ctx.db.query<{ id: number; version: number; worker_id: number | null }>(
          `SELECT r.id, r.version, r.worker_id FROM gp_subtree($1) s JOIN region r ON r.id = s.id
           WHERE r.level = 'grid' AND r.worker_id IS NOT NULL ORDER BY r.id LIMIT 1`,
          [county],
        )
      ).rows[0]!;
    const [mine, theirs] = [await gridIn(a!), await gridIn(b!)];
    const planner = await ctx.cookie({ username: 'county-a-planner', role: 'planner', regionId: a! });
    // B's worker on A's grid: refused (it would widen what B's worker reaches); a person serving no grid yet is anyone's
    const cross = await ctx.request('PATCH', `/api/regions/${mine.id}`, { version: mine.version, workerId: theirs.worker_id }, planner);
    expect([cross.status, cross.body.error?.code, cross.body.error?.path]).toEqual([403, 'outside_scope', 'workerId']);
    const staff = await ctx.request(
      'PATCH',
      `/api/regions/${mine.id}`,
      { version: mine.version, staff: [{ workerId: theirs.worker_id, role: 'police' }] },
      planner,
    );
    expect([staff.status, staff.body.error?.path]).toEqual([403, 'staff[0].workerId']);
    const fresh = (await ctx.db.query<{ id: number }>(`INSERT INTO worker (name, phone, role) VALUES ('新来的', '', 'full_time') RETURNING id`)).rows[0]!.id;
    const ok = await ctx.request('PATCH', `/api/regions/${mine.id}`, { version: mine.version, workerId: fresh }, planner);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    // the roster a county's planner picks from: its own people and those serving nowhere
    const roster = (await ctx.request('GET', '/api/workers', undefined, planner)).body as { id: number }[];
    const inA = new Set(
      (
        await ctx.db.query<{ id: number }>(
          `SELECT w.id FROM worker w
           WHERE NOT EXISTS (SELECT 1 FROM region r WHERE r.worker_id = w.id) AND NOT EXISTS (SELECT 1 FROM grid_staff g WHERE g.worker_id = w.id)
              OR EXISTS (SELECT 1 FROM gp_subtree($1) s JOIN region r ON r.id = s.id WHERE r.worker_id = w.id)
              OR EXISTS (SELECT 1 FROM gp_subtree($1) s JOIN grid_staff g ON g.grid_id = s.id WHERE g.worker_id = w.id)`,
          [a],
        )
      ).rows.map((r) => r.id),
    );
    expect(roster.length).toBeGreaterThan(0);
    expect(roster.every((w) => inA.has(w.id))).toBe(true);
    expect(roster.some((w) => w.id === theirs.worker_id)).toBe(false);
    expect((await ctx.request('GET', '/api/workers')).body.some((w: { id: number }) => w.id === theirs.worker_id)).toBe(true);

    // A village name two counties share: the address's county and township tell them apart, else the order is asked about
    const villageIn = async (county: number) =>
      (
        await ctx.db.query<{ id: number; township: string; county: string }>(
          `SELECT v.id, t.name AS township, d.name AS county FROM gp_subtree($1) s JOIN region v ON v.id = s.id
           JOIN region t ON t.id = v.parent_id JOIN region d ON d.id = t.parent_id WHERE v.level = 'village' ORDER BY v.id LIMIT 1`,
          [county],
        )
      ).rows[0]!;
    const [va, vb] = [await villageIn(a!), await villageIn(b!)];
    await ctx.db.query(`UPDATE region SET name = '东河村' WHERE id = ANY($1::int[])`, [[va.id, vb.id]]);
    const key = (await createApiKey(ctx.db, '12345', 'hotline')).key;
    const send = (orderNo: string, address: string) =>
      ctx.request(
        'POST',
        '/api/intake/hotline',
        { orderNo, receivedAt: '2026-11-30T08:00:00+08:00', category: '环境卫生', content: '路边垃圾堆放', address },
        { cookie: '', 'x-api-key': key },
      );
    const placed = await send('DH-1', `${vb.county}${vb.township}东河村路边`);
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    const filed = (
      await ctx.db.query<{ inside: boolean }>(`SELECT grid_id IN (SELECT id FROM gp_subtree($2)) AS inside FROM incident WHERE id = $1`, [
        placed.body.incident.id,
        vb.id,
      ])
    ).rows[0]!;
    expect(filed.inside).toBe(true);
    const asked = await send('DH-2', '东河村路边');
    expect([asked.status, asked.body.error?.code, asked.body.error?.path]).toEqual([422, 'ambiguous_place', 'address']);
    expect(asked.body.error.message).toContain(`${vb.county}${vb.township}东河村`);

    // B's published version and B's draft: not A's to see
    await ctx.db.query(`INSERT INTO plan_version (region_id, name, published_by) VALUES ($1, 'B 的版本', 'someone')`, [b]);
    const versions = (await ctx.request('GET', '/api/versions', undefined, planner)).body as { regionId: number }[];
    expect(versions.some((v) => v.regionId === b)).toBe(false);
    expect((await ctx.request('GET', '/api/versions')).body.some((v: { regionId: number }) => v.regionId === b)).toBe(true);
    const bPlanner = await ctx.cookie({ username: 'county-b-planner', role: 'planner', regionId: b! });
    const draft = await ctx.request('POST', '/api/drafts', { regionId: b, name: 'B 的草稿' }, bPlanner);
    expect(draft.status, JSON.stringify(draft.body)).toBe(201);
    for (const act of ['submit', 'rebase']) {
      const res = await ctx.request('POST', `/api/drafts/${draft.body.id}/${act}`, {}, planner);
      expect([act, res.status, res.body.error?.code]).toEqual([act, 404, 'not_found']);
    }
  });

  it('draws the city and its counties as tiles', async () => {
    const { cookie } = await ctx.cookie({ username: 'tester', role: 'admin' });
    // zoom 6 over 曲靖 (all of it in one tile)
    for (const layer of ['city', 'district']) {
      const res = await ctx.app.request(`/api/tiles/${layer}/6/50/27.mvt`, { headers: { cookie } });
      expect(res.status).toBe(200);
      const tile = new VectorTile(new PbfReader(new Uint8Array(await res.arrayBuffer())));
      expect(tile.layers[layer]!.length).toBe(layer === 'city' ? 1 : 9);
    }
  });

  it("gives each county its own bureaus, which take that county's cases and no other's", async () => {
    const counties = (await ctx.request('GET', `/api/regions/${city.cityId}/children`)).body.features;
    const [a, b] = counties as { id: number; properties: { code: string; name: string } }[];
    const departments = (await ctx.request('GET', '/api/settings/departments')).body;
    const own = (county: typeof a, code: string) => departments.find((d: any) => d.code === `${code}_${county!.properties.code}`);
    expect(own(a, 'police')).toMatchObject({ zh: `${a!.properties.name}公安局`, regionId: a!.id, region: { level: 'district' } });
    expect(own(b, 'mediation')).toMatchObject({ zh: `${b!.properties.name}司法局`, regionId: b!.id });
    // the plan's departments are the city's, named so: 市公安局 beside 麒麟区公安局
    expect(departments.find((d: any) => d.code === 'police')).toMatchObject({ zh: '市公安局', regionId: city.cityId });
    // the seeded history: every case sent to a county's own bureau lies in that county, and there are such cases
    const { rows } = await ctx.db.query<{ own: number; astray: number }>(
      `SELECT count(*)::int AS own, count(*) FILTER (WHERE dep.region_id IS DISTINCT FROM gp_district_of(i.grid_id))::int AS astray
       FROM dispatch d JOIN department dep ON dep.id = d.department_id JOIN region r ON r.id = dep.region_id AND r.level = 'district'
         JOIN incident i ON i.id = d.incident_id`,
    );
    expect(rows[0]!.own).toBeGreaterThan(0);
    expect(rows[0]!.astray).toBe(0);
    // a 12345 order of a neighbours' quarrel in the first county goes to its own 司法局 alone (the city's 司法调解 routes none now)
    const { rows: spot } = await ctx.db.query<{ x: number; y: number }>(
      `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' AND code LIKE $1 ORDER BY id LIMIT 1`,
      [`${a!.properties.code}-%`],
    );
    const key = (await createApiKey(ctx.db, '曲靖12345', 'hotline')).key;
    const order = await ctx.request(
      'POST',
      '/api/intake/hotline',
      { orderNo: 'QJ-1', receivedAt: new Date().toISOString(), lon: spot[0]!.x, lat: spot[0]!.y, category: '邻里纠纷', content: '邻居争吵' },
      { cookie: '', 'x-api-key': key },
    );
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect(order.body.dispatches.map((d: any) => d.department.code)).toEqual([`mediation_${a!.properties.code}`]);
    // the centre is offered the county's own and the city's, not the neighbour's
    const offered = (await ctx.request('GET', `/api/departments?incident=${order.body.incident.id}`)).body.map((d: any) => d.code);
    expect(offered).toEqual(expect.arrayContaining([`police_${a!.properties.code}`, 'police', 'fire']));
    expect(offered).not.toContain(`police_${b!.properties.code}`);
  });

  it("names each case's township and county (village names repeat across a city's counties)", async () => {
    const { body } = await ctx.request('GET', '/api/incidents?limit=50');
    const filed = body.items.filter((i: { gridId: number | null }) => i.gridId !== null);
    expect(filed.length).toBeGreaterThan(0);
    for (const i of filed) {
      const { rows } = await ctx.db.query<{ township: string; county: string }>(
        `SELECT t.name AS township, d.name AS county FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id
         JOIN region d ON d.id = t.parent_id WHERE g.id = $1`,
        [i.gridId],
      );
      expect(i.area).toEqual(rows[0]);
    }
  });

  it('scores each county by its own 考核 points; the city shows which counties set theirs', async () => {
    const [a, b] = (await ctx.request('GET', `/api/regions/${city.cityId}/children`)).body.features as { id: number; properties: { name: string } }[];
    const month = '2026-11';
    const byGrid = async (region: number) =>
      new Map(
        ((await ctx.request('GET', `/api/assessment?month=${month}&region=${region}`)).body.grids as { gridId: number; reports: number; points: number }[]).map(
          (g) => [g.gridId, g],
        ),
      );
    const [beforeA, beforeB] = [await byGrid(a!.id), await byGrid(b!.id)];
    expect([...beforeA.values()].some((g) => g.reports > 0)).toBe(true);
    // a city has no points of its own
    const cityRules = await ctx.request('PUT', `/api/regions/${city.cityId}/assessment-rules`, { rules: [{ measure: 'report', points: 4 }], version: 0 });
    expect([cityRules.status, cityRules.body.error?.code]).toEqual([422, 'city_rules']);
    // county A gives 4 points a report (the plan's 1)
    const set = await ctx.request('PUT', `/api/regions/${a!.id}/assessment-rules`, { rules: [{ measure: 'report', points: 4 }], version: 0 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const [afterA, afterB] = [await byGrid(a!.id), await byGrid(b!.id)];
    for (const [id, g] of afterA) expect(g.points).toBeCloseTo(beforeA.get(id)!.points + 3 * g.reports, 5);
    for (const [id, g] of afterB) expect(g.points).toBe(beforeB.get(id)!.points);
    // the whole city scores each grid by its county's points
    const whole = (await ctx.request('GET', `/api/assessment?month=${month}&region=${city.cityId}`)).body;
    expect(whole.district).toBeNull();
    expect(whole.ownDistricts).toEqual([{ id: a!.id, name: a!.properties.name }]);
    for (const g of whole.grids as { gridId: number; points: number }[]) expect(g.points).toBe((afterA.get(g.gridId) ?? afterB.get(g.gridId) ?? g).points);
    // a worker of county A is shown the points their grids are scored by, whatever area they ask for
    const { rows } = await ctx.db.query<{ w: number }>(
      `SELECT r.worker_id AS w FROM gp_subtree($1) s JOIN region r ON r.id = s.id WHERE r.level = 'grid' AND r.worker_id IS NOT NULL ORDER BY r.id LIMIT 1`,
      [a!.id],
    );
    const worker = await ctx.cookie({ username: 'county-a-worker', role: 'worker', workerId: rows[0]!.w });
    for (const region of [a!.id, b!.id]) {
      const mine = (await ctx.request('GET', `/api/assessment?month=${month}&region=${region}`, undefined, worker)).body;
      expect(mine.district).toEqual({ id: a!.id, name: a!.properties.name });
      expect(mine.rules.find((r: { measure: string }) => r.measure === 'report')).toMatchObject({ points: 4, own: true });
    }
  });
});

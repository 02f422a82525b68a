import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadCache } from '../../server/http/cache.ts';
import { EventBus } from '../../server/http/events.ts';
import { apiContext, cloneTestDb, type ApiContext } from '../support/db.ts';

describe('read cache', () => {
  let ctx: ApiContext;
  let dispose: () => Promise<void>;
  let grid: { id: number; x: number; y: number; district: number };

  beforeAll(async () => {
    const t = await cloneTestDb('pglite');
    dispose = t.dispose;
    ctx = await apiContext(t.db);
    const { rows } = await ctx.db.query<any>(
      `SELECT g.id, ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y, (SELECT id FROM region WHERE level = 'district') AS district
       FROM region g WHERE g.level = 'grid' ORDER BY g.id LIMIT 1`,
    );
    grid = rows[0];
  });
  afterAll(() => dispose());

  const get = (path: string, headers?: Record<string, string>) => ctx.request('GET', path, undefined, headers);

  it('answers a repeated read from the cache until a write changes what it read', async () => {
    const first = await get(`/api/regions/${grid.id}`);
    const again = await get(`/api/regions/${grid.id}`);
    expect([first.headers.get('x-cache'), again.headers.get('x-cache')]).toEqual(['miss', 'hit']);
    expect(again.body).toEqual(first.body);

    const heat = `/api/heatmap?from=2000-01-01&cell=2000`;
    const h1 = await get(heat);
    expect((await get(heat)).headers.get('x-cache')).toBe('hit');

    // A plan edit retires the region's answer but not the district-wide heatmap.
    const renamed = await ctx.request('PATCH', `/api/regions/${grid.id}`, { version: first.body.properties.version, name: '缓存测试网格' });
    expect(renamed.status).toBe(200);
    const after = await get(`/api/regions/${grid.id}`);
    expect(after.headers.get('x-cache')).toBe('miss');
    expect(after.body.properties.name).toBe('缓存测试网格');
    expect((await get(heat)).headers.get('x-cache')).toBe('hit');

    // A new incident retires the heatmap: its count includes the new one.
    expect((await ctx.request('POST', '/api/incidents', { lon: grid.x, lat: grid.y, category: 'fire', severity: 2 })).status).toBe(201);
    const h2 = await get(heat);
    expect(h2.headers.get('x-cache')).toBe('miss');
    expect(h2.body.total).toBe(h1.body.total + 1);
  });

  it('keeps the heatmap through escalations, which move only dispatches, and retires it on any other incident event', async () => {
    const events = new EventBus();
    const own = await apiContext(ctx.db, { events });
    const heat = `/api/heatmap?from=2000-01-01&cell=3000`;
    const served = async () => (await own.request('GET', heat)).headers.get('x-cache');
    expect(await served()).toBe('miss');
    events.publish({ type: 'incident', action: 'escalate', count: 40 });
    expect(await own.request('POST', '/api/dispatches/escalate').then((r) => r.status)).toBe(200);
    expect(await served()).toBe('hit');
    events.publish({ type: 'incident', action: 'dispatch' });
    expect(await served()).toBe('miss');
  });

  it('retires only the regions an edit touched, and their ancestors when more than a name changed', async () => {
    const { rows } = await ctx.db.query<{ a: number; av: number; t: number; other: number }>(
      `SELECT g.id AS a, g.parent_id AS av, v.parent_id AS t,
              (SELECT o.id FROM region o JOIN region ov ON ov.id = o.parent_id WHERE o.level = 'grid' AND ov.parent_id <> v.parent_id
                ORDER BY o.id LIMIT 1) AS other
       FROM region g JOIN region v ON v.id = g.parent_id WHERE g.level = 'grid' ORDER BY g.id DESC LIMIT 1`,
    );
    const { a, av, t, other } = rows[0]!;
    const paths = [`/api/regions/${a}`, `/api/regions/${av}/children`, `/api/regions/${t}`, `/api/regions/${other}`, `/api/regions/${grid.district}/children`];
    for (const p of paths) await get(p);
    // the township's coverage report names the grids of its problems: a rename below retires it
    const coverage = `/api/regions/${t}/coverage?depth=all`;
    await get(coverage);
    expect((await get(coverage)).headers.get('x-cache')).toBe('hit');
    const version = (await get(`/api/regions/${a}`)).body.properties.version;
    expect((await ctx.request('PATCH', `/api/regions/${a}`, { version, name: '只改名字' })).status).toBe(200);
    expect((await get(coverage)).headers.get('x-cache')).toBe('miss');
    const states = [];
    for (const p of paths) states.push((await get(p)).headers.get('x-cache'));
    // A rename retires the grid and its village's list; its township, the district and a grid elsewhere stay.
    expect(states).toEqual(['miss', 'miss', 'hit', 'hit', 'hit']);
    expect((await get(`/api/regions/${av}/children`)).body.features.find((f: any) => f.id === a).properties.name).toBe('只改名字');
    // Any other change retires the ancestors too (shape, type and worker feed their counts and figures).
    const grown = await ctx.request('PATCH', `/api/regions/${a}`, { version: version + 1, gridType: 'unit' });
    expect(grown.status).toBe(200);
    const after = [];
    for (const p of paths) after.push((await get(p)).headers.get('x-cache'));
    expect(after).toEqual(['miss', 'miss', 'miss', 'hit', 'miss']);

    // A deleted grid leaves its village's list at once.
    await get(`/api/regions/${av}/children`);
    const removed = await ctx.request('DELETE', `/api/regions/${a}?version=${version + 2}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const list = await get(`/api/regions/${av}/children`);
    expect(list.headers.get('x-cache')).toBe('miss');
    expect(list.body.features.map((f: any) => f.id)).not.toContain(a);
  });

  it('checks the caller before answering from the cache', async () => {
    const path = `/api/stats/overview?region=${grid.district}`;
    await get(path);
    expect((await get(path)).headers.get('x-cache')).toBe('hit');
    const planner = await ctx.cookie({ username: 'cache-planner', role: 'planner' });
    expect((await get(path, planner)).status).toBe(403);
    expect((await get(path, { cookie: '' })).status).toBe(401);
  });

  it("never serves an answer filtered to one caller's scope to another, in either order", async () => {
    const township = (
      await ctx.db.query<{ id: number }>(`SELECT v.parent_id AS id FROM region g JOIN region v ON v.id = g.parent_id WHERE g.id = $1`, [grid.id])
    ).rows[0]!.id;
    const analyst = await ctx.cookie({ username: 'cache-analyst', role: 'analyst' });
    const centre = await ctx.cookie({ username: 'cache-town-centre', role: 'center', regionId: township });
    const total = async (path: string, who: { cookie: string }) => {
      const res = await get(path, who);
      expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
      return res.body.total as number;
    };
    for (const [first, second] of [
      [analyst, centre],
      [centre, analyst],
    ] as const) {
      const heat = `/api/heatmap?from=${first === analyst ? '2000-01-01' : '2001-01-01'}&cell=2000`;
      const a = await total(heat, first);
      const b = await total(heat, second);
      const [wide, town] = first === analyst ? [a, b] : [b, a];
      expect(town).toBe(await total(`${heat}&region=${township}`, analyst));
      expect(wide).toBeGreaterThan(town);
    }
  });

  it('asks the database once for concurrent requests, and refreshes an expired answer while serving it', async () => {
    // The cache's clock, turned by hand: answers expire when it says, not when a timer does.
    let t = Date.now();
    const short = await apiContext(ctx.db, { cache: new ReadCache({ ttlMs: 300, now: () => t }) });
    const path = `/api/stats/overview?region=${grid.district}`;
    const burst = async () => {
      const answers = await Promise.all(Array.from({ length: 5 }, () => short.request('GET', path)));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      return { how: answers.map((a) => a.headers.get('x-cache')).sort(), bodies: new Set(answers.map((a) => JSON.stringify(a.body))) };
    };
    const first = await burst();
    expect(first.how).toEqual(['miss', 'shared', 'shared', 'shared', 'shared']);
    expect(first.bodies.size).toBe(1);
    expect((await short.request('GET', path)).headers.get('x-cache')).toBe('hit');

    t += 400;
    const expired = await burst();
    expect(expired.how).toEqual(['refresh', 'stale', 'stale', 'stale', 'stale']);
    expect((await short.request('GET', path)).headers.get('x-cache')).toBe('hit');

    // A write retires the answer: nobody gets the old one, they share the new one.
    const before = first.bodies.values().next().value as string;
    expect(
      (await short.request('POST', '/api/incidents', { lon: grid.x, lat: grid.y, category: 'fire', severity: 2, reportedAt: new Date().toISOString() })).status,
    ).toBe(201);
    const retired = await burst();
    expect(retired.how).toEqual(['miss', 'shared', 'shared', 'shared', 'shared']);
    const today = (b: string) => JSON.parse(b).figures.incidentsToday.value;
    expect(today([...retired.bodies][0]!)).toBe(today(before) + 1);
  });

  it('lets only answers that depend on the clock expire when no other process writes', async () => {
    let t = Date.now();
    const sole = await apiContext(ctx.db, { cache: new ReadCache({ ttlMs: 300, soleWriter: true, now: () => t }) });
    const shared = await apiContext(ctx.db, { cache: new ReadCache({ ttlMs: 300, soleWriter: false, now: () => t }) });
    const past = `/api/heatmap?from=2000-01-01&to=2001-01-01&cell=2000`;
    const paths = [`/api/regions/${grid.id}`, past, `/api/heatmap?from=2000-01-01&cell=2000`, `/api/stats/overview?region=${grid.district}`];
    for (const c of [sole, shared]) for (const p of paths) await c.request('GET', p);
    t += 400;
    const how = async (c: ApiContext) => {
      const out = [];
      for (const p of paths) out.push((await c.request('GET', p)).headers.get('x-cache'));
      return out;
    };
    // A region and a window wholly in the past change only when data does; a window to now and today's figures move with the clock.
    expect(await how(sole)).toEqual(['hit', 'hit', 'refresh', 'refresh']);
    // Another process may have written to a shared database: everything is refreshed.
    expect(await how(shared)).toEqual(['refresh', 'refresh', 'refresh', 'refresh']);
  });

  it('does not keep refusals', async () => {
    expect((await get('/api/regions/999999')).status).toBe(404);
    const second = await get('/api/regions/999999');
    expect([second.status, second.headers.get('x-cache')]).toEqual([404, 'miss']);
  });
});

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScreenToken } from '../../server/db/accounts.ts';
import { duplicateKeyPath, jsonDepthExceeds } from '../../server/http/body.ts';
import { inTurn, turns } from '../../server/http/heavy.ts';
import { sessionCookie, TEST_PASSWORD } from '../support/auth.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** `{"pad": [[[[…]]]]}` nested `depth` levels deep, and as many bytes as that takes. */
const deep = (depth: number, extra: Record<string, unknown> = {}) => {
  const head = JSON.stringify(extra).slice(0, -1);
  return `${head}${head.length > 1 ? ',' : ''}"pad":${'['.repeat(depth)}${']'.repeat(depth)}}`;
};

describe('JSON nesting is measured on the bytes', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  it('counts arrays and objects, and not brackets inside strings', () => {
    expect(jsonDepthExceeds(bytes('{"a":[{"b":[1]}]}'), 4)).toBe(false);
    expect(jsonDepthExceeds(bytes('{"a":[{"b":[[1]]}]}'), 4)).toBe(true);
    expect(jsonDepthExceeds(bytes('{"a":"[[[[[[[[[[\\"[[[[[["}'), 2)).toBe(false);
    expect(jsonDepthExceeds(bytes(deep(1_000_000)), 16)).toBe(true);
  });
});

describe('a key given twice in one object is found on the text', () => {
  it('finds it however it is written, where it is, and never where JSON.parse sees none', () => {
    expect(duplicateKeyPath('{"role":"worker","role":"admin"}')).toBe('body.role');
    expect(duplicateKeyPath('{"a":1,"\\u0061":2}')).toBe('body.a');
    expect(duplicateKeyPath('{"x":[{"k":1},{"k":2,"q":{"z":1,"z":2}}]}')).toBe('body.x[1].q.z');
    // the same key in two objects, in values, in strings: no duplicate
    expect(duplicateKeyPath('{"a":{"b":1},"c":{"b":"\\"b\\":1, \\"b\\""},"b":["a","a"]}')).toBeNull();
    // a property: JSON.stringify never writes a key twice; an object with one key added again always has one
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(duplicateKeyPath(JSON.stringify(v))).toBeNull();
      }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), (o) => {
        const [k] = Object.keys(o);
        const text = JSON.stringify(o);
        expect(duplicateKeyPath(`${text.slice(0, -1)},${JSON.stringify(k)}:0}`)).toBe(`body.${k}`);
      }),
    );
  });
});

describe('reads asked of the database are taken in turn per person', () => {
  const as = (username: string) => ({ get: () => ({ username }) }) as unknown as Parameters<typeof turns>[0];
  it('runs a few of one person’s at a time, lines up the rest in order, refuses past the line, and never holds another person', async () => {
    const turn = inTurn(2, 2);
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const ask = (who: string, name: string) =>
      turn(as(who), () => {
        started.push(name);
        return new Promise<string>((r) => releases.set(name, () => r(name)));
      });
    const running = [ask('a', 'a1'), ask('a', 'a2'), ask('a', 'a3'), ask('a', 'a4')];
    await expect(ask('a', 'a5')).rejects.toMatchObject({ code: 'too_many_requests' });
    const other = ask('b', 'b1');
    await Promise.resolve();
    expect(started).toEqual(['a1', 'a2', 'b1']);
    releases.get('b1')!();
    expect(await other).toBe('b1');
    releases.get('a2')!();
    await running[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    for (const name of ['a1', 'a3']) releases.get(name)!();
    await new Promise((r) => setImmediate(r));
    releases.get('a4')!();
    expect(await Promise.all(running)).toEqual(['a1', 'a2', 'a3', 'a4']);
    // a request without an account is not lined up
    expect(await turn({ get: () => null } as unknown as Parameters<typeof turns>[0], async () => 'anon')).toBe('anon');
  });
});

for (const driver of DRIVERS) {
  describe(`hardening (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let place: { district: number; township: number; village: number; grid: number; farGrid: number; farTownship: number };

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db, { limits: { drawnVertices: 1_000 }, streamLimits: { perSession: 2, perAccount: 3, total: 4, checkEveryMs: 60_000 } });
      const { rows } = await ctx.db.query<any>(
        `WITH t AS (SELECT id FROM region WHERE level = 'township' ORDER BY code LIMIT 2),
              v AS (SELECT v.id, v.parent_id FROM region v WHERE v.parent_id = (SELECT min(id) FROM t)
                      AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) >= 2 ORDER BY v.code LIMIT 1),
              far AS (SELECT g.id, fv.parent_id FROM region g JOIN region fv ON fv.id = g.parent_id WHERE fv.parent_id = (SELECT max(id) FROM t)
                AND g.household_count > 0 ORDER BY g.code LIMIT 1)
         SELECT (SELECT id FROM region WHERE level = 'district') AS district, (SELECT parent_id FROM v) AS township, (SELECT id FROM v) AS village,
                (SELECT min(g.id) FROM region g, v WHERE g.parent_id = v.id) AS grid, (SELECT id FROM far) AS "farGrid", (SELECT parent_id
                  FROM far) AS "farTownship"`,
      );
      place = rows[0];
    });
    afterAll(() => dispose());

    const raw = (path: string, init: RequestInit) => ctx.app.request(path, init);
    const version = async (id: number) => (await ctx.request('GET', `/api/regions/${id}`)).body.properties.version;

    it('refuses a body that gives one key twice, writing nothing', async () => {
      const before = await ctx.snapshot();
      const res = await raw(`/api/regions/${place.grid}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', cookie: (await ctx.cookie({ username: 'dup-admin', role: 'admin' })).cookie },
        body: `{"name":"甲","name":"乙","version":${await version(place.grid)}}`,
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'duplicate_key', path: 'body.name' });
      expect(await ctx.snapshot()).toEqual(before);
      // the same for GeoJSON sent to the household and incident imports, which read their own bodies; and half characters and
      // direction controls there as everywhere
      const admin = (await ctx.cookie({ username: 'dup-admin', role: 'admin' })).cookie;
      const [lon, lat] = (
        await ctx.db.query<{ x: number; y: number }>(
          'SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE id = $1',
          [place.grid],
        )
      ).rows.map((r) => [r.x, r.y])[0]!;
      const point = `{"type":"Point","coordinates":[${lon},${lat}]}`;
      for (const [path, properties, code, at] of [
        ['/api/households/import', '{"size":2,"size":9,"address":"甲"}', 'duplicate_key', 'body.features[0].properties.size'],
        ['/api/households/import', '{"size":2,"address":"\\u202e甲"}', 'invalid_text', 'body.features.0.properties.address'],
        ['/api/households/import', '{"size":2,"address":"x\\ud800y"}', 'invalid_text', 'body.features.0.properties.address'],
        ['/api/incidents/import', '{"category":"hazard","category":"fire","severity":1}', 'duplicate_key', 'body.features[0].properties.category'],
      ] as const) {
        const sent = await raw(path, {
          method: 'POST',
          headers: { 'content-type': 'application/geo+json', cookie: admin },
          body: `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":${point},"properties":${properties}}]}`,
        });
        expect([sent.status, ((await sent.json()) as any).error]).toEqual([400, expect.objectContaining({ code, path: at })]);
      }
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('refuses ids past the database’s integers and ids written other than as digits, in words (a photo id past them was a 500)', async () => {
      const admin = (await ctx.cookie({ username: 'id-admin', role: 'admin' })).cookie;
      const {
        rows: [incident],
      } = await ctx.db.query<{ id: number }>('SELECT id FROM incident ORDER BY id LIMIT 1');
      for (const [method, path, at] of [
        ['GET', `/api/incidents/${incident!.id}/photos/99999999999`, 'photo'],
        ['GET', `/api/incidents/${incident!.id}/photos/0x2`, 'photo'],
        ['POST', '/api/changes/undo?op=99999999999', 'query.op'],
        ['POST', '/api/changes/undo?op=1e3', 'query.op'],
      ] as const) {
        const res = await raw(path, { method, headers: { cookie: admin } });
        const body = (await res.json()) as any;
        expect([path, res.status, body.error.code]).toEqual([path, 400, 'invalid_request']);
        expect(body.error.path).toContain(at);
      }
    });

    it('refuses control characters in text, and a second department of one name, writing nothing', async () => {
      const before = await ctx.snapshot();
      const admin = (await ctx.cookie({ username: 'ctl-admin', role: 'admin' })).cookie;
      const post = (body: string) => raw('/api/settings/departments', { method: 'POST', headers: { 'content-type': 'application/json', cookie: admin }, body });
      const bell = await post('{"code":"ctlx","zh":"a\\u0007b","en":"x"}');
      expect([bell.status, ((await bell.json()) as any).error]).toEqual([400, expect.objectContaining({ code: 'invalid_text', path: 'body.zh' })]);
      const nul = await post('{"code":"ctly","zh":"甲","en":"x\\u0000"}');
      expect([nul.status, ((await nul.json()) as any).error]).toEqual([400, expect.objectContaining({ code: 'invalid_text', path: 'body.en' })]);
      // a name picked from a list is one line of what it shows: no zero-width space (公\u200b安 would look like 公安), line break or C1 control
      for (const [zh, en] of [
        ['公\\u200b安', 'x'],
        ['甲\\n乙', 'x'],
        ['甲', 'x\\u0085'],
        ['甲\\ufeff乙', 'x'],
      ]) {
        const res = await post(`{"code":"ctlw","zh":"${zh}","en":"${en}"}`);
        const error = ((await res.json()) as any).error;
        expect([zh, res.status, error.path]).toEqual([zh, 400, zh === '甲' ? 'json.en' : 'json.zh']);
        expect(error.message).toContain('one line');
      }
      // and every other name a person reads in a list: a region's, a draft's, an account's, a token's or key's label
      const grid = (await ctx.db.query<{ id: number; version: number }>(`SELECT id, version FROM region WHERE level = 'grid' ORDER BY id LIMIT 1`)).rows[0]!;
      const json = { 'content-type': 'application/json', cookie: admin };
      for (const [method, path, body] of [
        ['PATCH', `/api/regions/${grid.id}`, `{"version":${grid.version},"name":"银湾村\\u200b第1网格"}`],
        ['POST', '/api/drafts', `{"regionId":${grid.id},"name":"草稿\\r\\n第二行"}`],
        ['POST', '/api/screen-tokens', '{"label":"大屏\\u200f"}'],
        ['POST', '/api/hotline-keys', '{"label":"12345\\u0085"}'],
      ] as const) {
        const res = await raw(path, { method, headers: json, body });
        expect([path, res.status, ((await res.json()) as any).error?.message], path).toEqual([path, 400, expect.stringContaining('one line')]);
      }
      // bytes that are no UTF-8 (GBK, or a character cut off) are refused with their place, not stored as U+FFFD
      const gbk = Buffer.concat([Buffer.from('{"code":"ctlz","zh":"'), Buffer.from([0xb9, 0xab, 0xb0, 0xb2]), Buffer.from('","en":"x"}')]);
      const notUtf8 = await raw('/api/settings/departments', { method: 'POST', headers: { 'content-type': 'application/json', cookie: admin }, body: gbk });
      expect([notUtf8.status, ((await notUtf8.json()) as any).error]).toEqual([400, expect.objectContaining({ code: 'invalid_text', path: 'body.zh' })]);
      const geo = Buffer.concat([
        Buffer.from('{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{"size":2,"address":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}]}'),
      ]);
      const imported = await raw('/api/households/import', { method: 'POST', headers: { 'content-type': 'application/geo+json', cookie: admin }, body: geo });
      expect([imported.status, ((await imported.json()) as any).error]).toEqual([
        400,
        expect.objectContaining({ code: 'invalid_text', path: 'body.features.0.properties.address' }),
      ]);
      const { rows } = await ctx.db.query<{ zh: string }>('SELECT zh FROM department ORDER BY id LIMIT 1');
      const twin = await post(JSON.stringify({ code: 'twin', zh: rows[0]!.zh, en: 'Twin' }));
      expect([twin.status, ((await twin.json()) as any).error]).toEqual([409, expect.objectContaining({ code: 'duplicate_name', path: 'zh' })]);
      expect(await ctx.snapshot()).toEqual(before);
      // a line break in a case's words is text
      const { rows: g } = await ctx.db.query<{ x: number; y: number }>(
        'SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE id = $1',
        [place.grid],
      );
      const lines = await raw('/api/incidents', {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: admin },
        body: JSON.stringify({ lon: g[0]!.x, lat: g[0]!.y, category: 'hazard', severity: 1, description: '第一行\n第二行\t完' }),
      });
      expect(lines.status).toBe(201);
    });

    it('reads at most a few KB of a sign-in, and refuses deep nesting before parsing anything', async () => {
      const big = await raw('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: deep(3_000_000, { username: 'x', password: 'x' }),
      });
      expect(big.status).toBe(413);
      expect((await big.json()).error).toMatchObject({ code: 'payload_too_large', path: 'body' });
      const nested = await raw('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: deep(100, { username: 'x', password: 'x' }),
      });
      expect(nested.status).toBe(400);
      expect((await nested.json()).error.code).toBe('too_deep');
      // Signed in, bodies may be larger, but never deeper than any request of ours needs.
      const cookie = (await ctx.cookie({ username: 'tester', role: 'admin' })).cookie;
      const signedIn = await raw('/api/regions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: deep(40, { parentId: place.village }),
      });
      expect((await signedIn.json()).error.code).toBe('too_deep');
      const tooBig = await raw('/api/workers', {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ name: 'x'.repeat(300_000), role: 'full_time' }),
      });
      expect(tooBig.status).toBe(413);
    });

    it('answers a name that is locked out with 429 before reading more than a few KB', async () => {
      const login = (body: string) => raw('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await sessionCookie(ctx.db, { username: 'locked', role: 'analyst' });
      for (let i = 0; i < 10; i++) expect((await login(JSON.stringify({ username: 'locked', password: `guess-${i}` }))).status).toBe(401);
      expect((await login(JSON.stringify({ username: 'locked', password: TEST_PASSWORD }))).status).toBe(429);
      expect((await login(deep(3_000_000, { username: 'locked', password: 'x' }))).status).toBe(413);
    });

    it('refuses a cross-site state change whatever its content type, or without one', async () => {
      const cookie = (await ctx.cookie({ username: 'csrf-planner', role: 'planner' })).cookie;
      const before = await ctx.snapshot();
      const attempts: Record<string, string>[] = [
        { origin: 'http://evil.example' },
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site', origin: 'http://sub.localhost' },
        { origin: 'null', 'content-type': 'text/plain' },
        // this site, but a page of it served over plain HTTP writing to it over HTTPS
        { origin: 'http://localhost', 'x-forwarded-proto': 'https' },
      ];
      for (const headers of attempts) {
        const res = await raw('/api/changes/undo', { method: 'POST', headers: { cookie, ...headers } });
        expect(res.status, JSON.stringify(headers)).toBe(403);
        expect((await res.json()).error.code).toBe('cross_site_request');
      }
      expect(await ctx.snapshot()).toEqual(before);
      // The app itself (same origin) still may.
      const own = await raw('/api/changes/undo', { method: 'POST', headers: { cookie, origin: 'http://localhost', 'sec-fetch-site': 'same-origin' } });
      expect(own.status).toBe(409); // nothing to undo: it was let through
      const overTls = await raw('/api/changes/undo', { method: 'POST', headers: { cookie, origin: 'https://localhost', 'x-forwarded-proto': 'https' } });
      expect(overTls.status).toBe(409);
    });

    it('lets a township planner import only inside the village, like drawing: refused, or clipped with clip: true', async () => {
      const town = await ctx.cookie({ username: 'import-town', role: 'planner', regionId: place.township });
      const { rows } = await ctx.db.query<{ g: any; households: number }>(
        `SELECT ST_AsGeoJSON(geom)::json AS g, household_count AS households FROM region WHERE id = $1`,
        [place.farGrid],
      );
      const foreign = {
        type: 'FeatureCollection',
        features: [{ type: 'Feature', id: '530303-999-999-9999', properties: { name: '越界网格' }, geometry: rows[0]!.g }],
      };
      const before = await ctx.snapshot();
      const refused = await ctx.request('POST', '/api/regions/import', { parentId: place.village, level: 'grid', features: foreign }, town);
      expect(refused.status).toBe(422);
      expect(refused.body.error.details[0]).toMatchObject({ code: 'outside_parent', index: 0 });
      expect(await ctx.snapshot()).toEqual(before);
      // An admin is held to the same rules.
      const admin = await ctx.request('POST', '/api/regions/import', { parentId: place.village, level: 'grid', features: foreign });
      expect(admin.body.error.details[0].code).toBe('outside_parent');
      // Clipped to the village, nothing is left of it.
      const clipped = await ctx.request('POST', '/api/regions/import', { parentId: place.village, level: 'grid', features: foreign, clip: true }, town);
      expect(clipped.body.error.details[0].code).toBe('empty_after_clip');
      expect(await ctx.snapshot()).toEqual(before);
      const { rows: kept } = await ctx.db.query<{ n: number }>('SELECT household_count AS n FROM region WHERE id = $1', [place.farGrid]);
      expect(kept[0]!.n).toBe(rows[0]!.households);
    });

    it('leaves cached answers alone on HEAD and on refused writes', async () => {
      const path = `/api/regions/${place.district}/coverage`;
      await ctx.request('GET', path);
      expect((await ctx.request('GET', path)).headers.get('x-cache')).toBe('hit');
      expect((await raw('/api/health', { method: 'HEAD' })).status).toBe(200);
      expect((await ctx.request('HEAD', path)).status).toBe(200);
      expect((await ctx.request('POST', '/api/regions/import', { parentId: null, level: 'district', features: {} }, { cookie: '' })).status).toBe(401);
      expect((await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: 999_999, name: 'x' })).status).toBe(409);
      expect((await ctx.request('GET', path)).headers.get('x-cache')).toBe('hit');
    });

    it('takes one account’s uncomputed reads in turn: a flood of coverage checks is refused past its line, and holds nobody else', async () => {
      // (the attacker's pass: thirty checks at once, each tolerance a new answer, held every account's requests for 24 s)
      const flood = await ctx.cookie({ username: 'flood-leader', role: 'leader' });
      const calm = await ctx.cookie({ username: 'calm-analyst', role: 'analyst' });
      const kept = `/api/regions/${place.township}/coverage?tolerance=2`;
      expect((await ctx.request('GET', kept, undefined, flood)).status).toBe(200);
      // the account's lanes and line are held here, as a flood would hold them
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      const asFlood = { get: () => ({ username: 'flood-leader' }) } as unknown as Parameters<typeof turns>[0];
      const holding = Array.from({ length: turns.lanes + turns.waiting }, () => turns(asFlood, () => held));
      const refused = await ctx.request('GET', `/api/regions/${place.township}/coverage?tolerance=3.25`, undefined, flood);
      expect([refused.status, refused.body.error.code]).toEqual([429, 'too_many_requests']);
      expect(refused.body.error.message).toMatch(/wait for them/);
      // the same account's kept answers are still served, and another account's new question is answered
      const hit = await ctx.request('GET', kept, undefined, flood);
      expect([hit.status, hit.headers.get('x-cache')]).toEqual([200, 'hit']);
      expect((await ctx.request('GET', `/api/regions/${place.township}/coverage?tolerance=3.25`, undefined, calm)).status).toBe(200);
      // uncached reads wait their turn too: the household points, the month's patrols, the departments' figures
      for (const path of [`/api/regions/${place.village}/households`, '/api/patrols?month=2026-01', '/api/stats/departments'])
        expect((await ctx.request('GET', path, undefined, flood)).body.error?.code, path).toBe('too_many_requests');
      release();
      await Promise.all(holding);
      expect((await ctx.request('GET', `/api/regions/${place.township}/coverage?tolerance=3.25`, undefined, flood)).status).toBe(200);
    });

    it('keys cached answers by the parameters as the route reads them', async () => {
      const padded = `/api/regions/0${place.grid}`;
      expect((await ctx.request('GET', padded)).status).toBe(200);
      expect((await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: await version(place.grid), name: '改名之后' })).status).toBe(200);
      expect((await ctx.request('GET', padded)).body.properties.name).toBe('改名之后');
      // A parameter the route does not take makes no new answer.
      await ctx.request('GET', `/api/regions/${place.grid}`);
      expect((await ctx.request('GET', `/api/regions/${place.grid}?junk=1`)).headers.get('x-cache')).toBe('hit');
    });

    it('gives roles without household access, and those given another area, counts, not household locations, in coverage', async () => {
      const households = await ctx.db.query<{ id: number }>(
        `SELECT id FROM household WHERE region_id IN (SELECT id FROM region WHERE parent_id = $1) ORDER BY id LIMIT 3`,
        [place.village],
      );
      await ctx.db.query('UPDATE household SET region_id = $2 WHERE id = ANY($1::int[])', [households.rows.map((r) => r.id), place.village]);
      const path = `/api/regions/${place.village}/coverage`;
      const orphans = (body: any) => body.issues.features.filter((f: any) => f.properties.kind === 'orphan_household');
      const planner = await ctx.request('GET', path, undefined, await ctx.cookie({ username: 'cov-planner', role: 'planner' }));
      expect(orphans(planner.body).length).toBe(3);
      expect(orphans(planner.body).every((f: any) => f.geometry?.type === 'Point')).toBe(true);
      for (const role of ['analyst', 'department'] as const) {
        const res = await ctx.request('GET', path, undefined, await ctx.cookie({ username: `cov-${role}`, role }));
        expect(res.status).toBe(200);
        expect(res.body.summary.counts.orphan_household).toBe(3);
        expect(orphans(res.body)).toEqual([
          expect.objectContaining({ geometry: null, properties: expect.objectContaining({ count: 3, regionIds: [place.village] }) }),
        ]);
        expect(JSON.stringify(res.body)).not.toMatch(/"Point"/);
      }
      // A planner given another township counts them; given this one, sees where they are (as their households list would)
      const {
        rows: [other],
      } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' AND id <> $1 ORDER BY id LIMIT 1`, [place.township]);
      const elsewhere = await ctx.request('GET', path, undefined, await ctx.cookie({ username: 'cov-next-door', role: 'planner', regionId: other!.id }));
      expect(orphans(elsewhere.body)).toEqual([expect.objectContaining({ geometry: null, properties: expect.objectContaining({ count: 3 }) })]);
      expect(JSON.stringify(elsewhere.body)).not.toMatch(/"Point"/);
      const own = await ctx.request('GET', path, undefined, await ctx.cookie({ username: 'cov-own', role: 'planner', regionId: place.township }));
      expect(orphans(own.body).filter((f: any) => f.geometry?.type === 'Point')).toHaveLength(3);
      await ctx.db.query('UPDATE household SET region_id = NULL WHERE id = ANY($1::int[])', [households.rows.map((r) => r.id)]);
    });

    it('refuses a number past what the database holds in any query of a read (400, never 500), in words of ours', async () => {
      // every GET route's integer query parameters, as the API's own description lists them
      const doc = (await ctx.request('GET', '/api/openapi.json')).body as {
        paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema?: { type?: string } }[] }>>;
      };
      const probes = Object.entries(doc.paths).flatMap(([path, ops]) =>
        (ops.get?.parameters ?? [])
          .filter((p) => p.in === 'query' && p.schema?.type === 'integer')
          .map((p) => `${path.replace(/\{[a-z]+\}/gi, String(place.grid))}?${p.name}=2147483648`),
      );
      expect(probes.length).toBeGreaterThan(10);
      for (const probe of probes) {
        if (probe.startsWith('/api/events') || probe.includes('.mvt')) continue;
        const res = await ctx.request('GET', probe);
        expect(res.status, `${probe}: ${JSON.stringify(res.body).slice(0, 200)}`).toBeLessThan(500);
        if (res.status === 400) expect(res.body.error.message, probe).not.toMatch(/Too big|Invalid|expected/);
      }
    });

    it('refuses text with half a character (a lone surrogate) or a direction override in any write, and takes whole ones', async () => {
      const half = await ctx.request('POST', '/api/drafts', { regionId: place.village, name: `草稿\ud800` });
      expect([half.status, half.body.error?.code, half.body.error?.path]).toEqual([400, 'invalid_text', 'body.name']);
      const key = await ctx.request('PUT', `/api/settings/escalation-contacts/${place.township}`, { usernames: [], [`\udc00`]: 1 });
      expect([key.status, key.body.error?.code]).toEqual([400, 'invalid_text']);
      // Nor the invisible controls that turn text around ("草稿" + RLO + "gpj.exe" reads "草稿exe.jpg").
      const before = await ctx.snapshot();
      const turned = await ctx.request('POST', '/api/drafts', { regionId: place.village, name: '草稿\u202egpj.exe' });
      expect([turned.status, turned.body.error?.code, turned.body.error?.path]).toEqual([400, 'invalid_text', 'body.name']);
      expect(await ctx.snapshot()).toEqual(before);
      const whole = await ctx.request('POST', '/api/drafts', { regionId: place.village, name: '草稿😀' });
      expect(whole.status, JSON.stringify(whole.body)).toBe(201);
      expect(whole.body.name).toBe('草稿😀');
    });

    it('says which code is taken in its own words, not the database’s', async () => {
      const { rows } = await ctx.db.query<{ code: string; other: number; g: any }>(
        `SELECT g.code, o.id AS other, ST_AsGeoJSON(o.geom)::json AS g FROM region g, region o WHERE g.id = $1 AND o.parent_id = g.parent_id
          AND o.id <> g.id ORDER BY o.id LIMIT 1`,
        [place.grid],
      );
      // Free a place in the village, then draw there with a code that is taken.
      expect((await ctx.request('DELETE', `/api/regions/${rows[0]!.other}?version=${await version(rows[0]!.other)}`)).status).toBe(200);
      const before = await ctx.snapshot();
      const res = await ctx.request('POST', '/api/regions', { parentId: place.village, code: rows[0]!.code, geometry: rows[0]!.g });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'duplicate_code', message: `a region with code ${rows[0]!.code} already exists` });
      expect(JSON.stringify(res.body)).not.toMatch(/constraint|violates|duplicate key/);
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('refuses a drawn shape over the vertex limit before any work', async () => {
      const ring = Array.from({ length: 1_200 }, (_, i) => [
        104 + 0.001 * Math.cos((2 * Math.PI * i) / 1_200),
        25.6 + 0.001 * Math.sin((2 * Math.PI * i) / 1_200),
      ]);
      ring.push(ring[0]!);
      const res = await ctx.request('POST', '/api/regions', { parentId: place.village, geometry: { type: 'Polygon', coordinates: [ring] } });
      expect(res.status).toBe(413);
      expect(res.body.error).toMatchObject({ code: 'geometry_too_large', path: 'geometry' });
    });

    it('caps live streams per session, per account and in all, and closes a session’s streams when it ends', async () => {
      const signIn = async (username: string) => {
        await sessionCookie(ctx.db, { username, role: 'leader' });
        const res = await ctx.request('POST', '/api/auth/login', { username, password: TEST_PASSWORD }, { cookie: '' });
        return res.headers.get('set-cookie')!.split(';')[0]!;
      };
      const open = async (cookie: string) => {
        const res = await raw('/api/events', { headers: { cookie } });
        if (res.status !== 200) return { status: res.status, ended: Promise.resolve(true), cancel: async () => {} };
        const reader = res.body!.getReader();
        await reader.read(); // hello
        const ended = (async () => {
          for (;;) if ((await reader.read()).done) return true;
        })();
        return { status: 200, ended, cancel: () => reader.cancel() };
      };
      const a = await signIn('stream-a');
      const first = await open(a);
      const second = await open(a);
      expect([first.status, second.status]).toEqual([200, 200]);
      expect((await open(a)).status).toBe(429);
      // The same account signed in again holds no more than its own share: one account signing in a
      // hundred times would otherwise take every stream the server serves, the centre's console refused
      const again = await signIn('stream-a');
      const fourth = await open(again);
      expect(fourth.status).toBe(200);
      const refused = await raw('/api/events', { headers: { cookie: again } });
      expect([refused.status, ((await refused.json()) as any).error.code]).toEqual([429, 'too_many_streams']);
      const b = await signIn('stream-b');
      const third = await open(b);
      expect(third.status).toBe(200);
      expect((await open(b)).status).toBe(429); // all four of the server's streams are taken

      // Signing out closes both of a's streams at once.
      expect((await raw('/api/auth/logout', { method: 'POST', headers: { cookie: a } })).status).toBe(200);
      expect(await Promise.all([first.ended, second.ended])).toEqual([true, true]);
      // A revoked screen token's display stops hearing anything.
      const { id, token } = await createScreenToken(ctx.db, '指挥大屏', null);
      const screen = (await ctx.request('POST', '/api/auth/screen', { token }, { cookie: '' })).headers.get('set-cookie')!.split(';')[0]!;
      const wall = await open(screen);
      expect(wall.status).toBe(200);
      expect((await ctx.request('DELETE', `/api/screen-tokens/${id}`)).status).toBe(200);
      expect(await wall.ended).toBe(true);
      // Disabling an account closes its streams too.
      const { rows } = await ctx.db.query<{ id: number }>(`SELECT id FROM app_user WHERE username = 'stream-b'`);
      expect((await ctx.request('PATCH', `/api/users/${rows[0]!.id}`, { disabled: true })).status).toBe(200);
      expect(await third.ended).toBe(true);
    });

    it('has an index under every foreign key of a table that grows, so a delete never reads a whole table per row', async () => {
      // Deleting a row makes the database look for rows that refer to it; without an index under the
      // referring column it reads the whole referring table, once per row deleted (deleting the demo's
      // grids took 5½ minutes that way, looking through 200,000 incidents per grid). Tables left out
      // here stay small by nature: lists an admin keeps, accounts, a district's rules.
      const small = new Set([
        'grid_staff.role', // a few staff roles
        'worker.role',
        'category_department.department_id',
        'grid_type_rule.district_id',
        'session.screen_token_id',
        'screen_token.region_id', // a wall's few tokens
        'app_user.worker_id',
        'app_user.department_id',
        'app_user.region_id',
        'escalation_contact.user_id',
        'plan_version.draft_id',
      ]);
      const { rows } = await ctx.db.query<{ fk: string }>(
        `SELECT c.conrelid::regclass::text || '.' || a.attname AS fk
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
         ORDER BY 1`,
      );
      expect(rows.map((r) => r.fk).filter((fk) => !small.has(fk))).toEqual([]);
    });
  });
}

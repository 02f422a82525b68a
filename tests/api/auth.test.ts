import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createScreenToken, SESSION_COOKIE, updateUser } from '../../server/db/accounts.ts';
import { canAny, ROLES, type PrincipalRole } from '../../server/domain/roles.ts';
import { POLICY } from '../../server/http/auth.ts';
import { ReadCache } from '../../server/http/cache.ts';
import { sessionCookie, TEST_PASSWORD } from '../support/auth.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

for (const driver of DRIVERS) {
  describe(`accounts, roles and scope (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    // Two townships; in the first, a village with two grids, the first staffed.
    let place: {
      township: number;
      otherTownship: number;
      village: number;
      grid: number;
      otherGrid: number;
      farGrid: number;
      worker: number;
      gx: number;
      gy: number;
      fx: number;
      fy: number;
    };

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      const { rows } = await ctx.db.query<any>(
        `WITH t AS (SELECT id FROM region WHERE level = 'township' ORDER BY code LIMIT 2),
              v AS (SELECT v.id, v.parent_id FROM region v WHERE v.parent_id = (SELECT min(id) FROM t)
                      AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id AND g.worker_id IS NOT NULL) >= 2 ORDER BY v.code LIMIT 1),
              g AS (SELECT g.id, g.worker_id, ST_PointOnSurface(g.geom) AS p FROM region g, v WHERE g.parent_id = v.id AND g.worker_id IS NOT NULL
                ORDER BY g.code LIMIT 2),
              far AS (SELECT g.id, ST_PointOnSurface(g.geom) AS p FROM region g JOIN region fv ON fv.id = g.parent_id
                WHERE fv.parent_id = (SELECT max(id) FROM t) ORDER BY g.code LIMIT 1)
         SELECT (SELECT parent_id FROM v) AS township, (SELECT max(id) FROM t) AS "otherTownship", (SELECT id FROM v) AS village,
                (SELECT min(id) FROM g) AS grid, (SELECT max(id) FROM g) AS "otherGrid", (SELECT id FROM far) AS "farGrid",
                (SELECT worker_id FROM g ORDER BY id LIMIT 1) AS worker,
                (SELECT ST_X(p) FROM g ORDER BY id LIMIT 1) AS gx, (SELECT ST_Y(p) FROM g ORDER BY id LIMIT 1) AS gy,
                (SELECT ST_X(p) FROM far) AS fx, (SELECT ST_Y(p) FROM far) AS fy`,
      );
      place = rows[0];
      expect(place.township).not.toBe(place.otherTownship);
      expect(place.grid).not.toBe(place.otherGrid);
    });
    afterAll(() => dispose());

    const as = (cookie: string) => ({ cookie });
    const roleCookie = async (role: PrincipalRole, name = `matrix-${role}`): Promise<string> => {
      if (role === 'screen') {
        const { token } = await createScreenToken(ctx.db, 'matrix', null);
        const res = await ctx.request('POST', '/api/auth/screen', { token }, { cookie: '' });
        expect(res.status).toBe(200);
        return res.headers.get('set-cookie')!.split(';')[0]!;
      }
      return sessionCookie(ctx.db, { username: name, role, workerId: role === 'worker' ? place.worker : null });
    };

    it('has a policy for every route the API serves, and none for routes it does not', async () => {
      const doc = (await ctx.request('GET', '/api/openapi.json')).body;
      const served = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      );
      served.push('GET /api/events', 'GET /api/openapi.json');
      expect(new Set(served)).toEqual(new Set(Object.keys(POLICY)));
    });

    it('answers every route with 401 without a session and 403 for each role that may not call it', async () => {
      const roles: (PrincipalRole | null)[] = [null, ...ROLES, 'screen'];
      const cookies = new Map<PrincipalRole, string>();
      for (const r of roles) if (r) cookies.set(r, await roleCookie(r));
      const wrong: string[] = [];
      let checked = 0;
      for (const [key, policy] of Object.entries(POLICY)) {
        const [method, pattern] = key.split(' ') as [string, string];
        // A region id that does not exist, and a body every schema refuses: an allowed role gets a
        // 4xx from validation or lookup (never 401/403) and nothing is changed.
        const path = pattern.replace(/:id/g, '999999');
        for (const role of roles) {
          if (key === 'POST /api/auth/logout') continue; // would end the shared session; covered below
          const headers: Record<string, string> = { cookie: role ? cookies.get(role)! : '' };
          if (!['GET', 'DELETE'].includes(method)) headers['content-type'] = 'application/json';
          const res = await ctx.app.request(path, { method, headers, ...(headers['content-type'] ? { body: '[]' } : {}) });
          const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
          await res.body?.cancel().catch(() => {}); // the event stream never ends by itself
          // Hotline intake takes an API key, never a session.
          const expected = policy === 'public' ? 'pass' : policy === 'hotline' || role === null ? 401 : canAny(role, policy) ? 'pass' : 403;
          const got = res.status === 401 || res.status === 403 ? res.status : 'pass';
          checked++;
          if (got !== expected) wrong.push(`${key} as ${role ?? 'nobody'}: ${res.status} ${JSON.stringify(body)}`);
          else if (got !== 'pass') expect(body.error.code).toBe(got === 403 ? 'forbidden' : policy === 'hotline' ? 'invalid_api_key' : 'unauthenticated');
        }
      }
      expect(wrong).toEqual([]);
      // The table itself, read as the issue states it (a wrong table would pass the loop above).
      const must: [PrincipalRole, string, boolean][] = [
        ['planner', 'PATCH /api/regions/:id', true],
        ['planner', 'GET /api/heatmap', false],
        ['planner', 'POST /api/users', false],
        ['analyst', 'GET /api/heatmap', true],
        ['analyst', 'PATCH /api/regions/:id', false],
        ['analyst', 'GET /api/regions/:id/households', false],
        ['leader', 'GET /api/stats/overview', true],
        ['leader', 'GET /api/regions/:id/households', true],
        ['leader', 'POST /api/changes/undo', false],
        ['leader', 'PATCH /api/incidents/:id', false],
        ['worker', 'POST /api/incidents', true],
        ['worker', 'PATCH /api/incidents/:id', true],
        ['worker', 'GET /api/heatmap', false],
        ['worker', 'POST /api/regions', false],
        ['screen', 'GET /api/events', true],
        ['screen', 'POST /api/incidents', false],
        ['screen', 'GET /api/changes', false],
        ['admin', 'POST /api/users', true],
        ['admin', 'POST /api/incidents/import', true],
        ['worker', 'POST /api/incidents/:id/dispatch', true],
        ['worker', 'PATCH /api/dispatches/:id', false],
        ['department', 'PATCH /api/dispatches/:id', true],
        ['department', 'GET /api/dispatches', true],
        ['department', 'GET /api/heatmap', false],
        ['department', 'PATCH /api/incidents/:id', false],
        // the staff list (names, phones) is for those who staff grids
        ['planner', 'GET /api/workers', true],
        ['department', 'GET /api/workers', false],
        ['worker', 'GET /api/workers', false],
        ['analyst', 'GET /api/workers', false],
        ['leader', 'GET /api/stats/departments', true],
        ['leader', 'PATCH /api/dispatches/:id', false],
      ];
      for (const [role, key, allowed] of must) expect([role, key, canAny(role, POLICY[key] as never)]).toEqual([role, key, allowed]);
      expect(checked).toBe((Object.keys(POLICY).length - 1) * roles.length);
    });

    it('signs in with a password into an HTTP-only cookie, and signs out', async () => {
      await sessionCookie(ctx.db, { username: 'li.lei', role: 'leader' });
      const anon = { cookie: '' };
      for (const [username, password] of [
        ['li.lei', 'wrong password'],
        ['nobody-here', TEST_PASSWORD],
      ]) {
        const res = await ctx.request('POST', '/api/auth/login', { username, password }, anon);
        expect(res.status).toBe(401);
        expect(res.body.error).toMatchObject({ code: 'invalid_credentials', path: 'password' });
        expect(res.headers.get('set-cookie')).toBeNull();
      }
      const res = await ctx.request('POST', '/api/auth/login', { username: 'LI.LEI', password: TEST_PASSWORD }, anon);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ kind: 'user', username: 'li.lei', role: 'leader' });
      const setCookie = res.headers.get('set-cookie')!;
      expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[\\w-]{40,};`));
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Lax/);
      expect(setCookie).toMatch(/Path=\//);
      const cookie = setCookie.split(';')[0]!;
      expect((await ctx.request('GET', '/api/auth/me', undefined, as(cookie))).body.username).toBe('li.lei');
      // Only a digest of the token is stored.
      const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM session WHERE token_hash = $1', [cookie.split('=')[1]]);
      expect(rows[0]!.n).toBe(0);
      expect((await ctx.request('POST', '/api/auth/logout', undefined, as(cookie))).status).toBe(200);
      expect((await ctx.request('GET', '/api/auth/me', undefined, as(cookie))).status).toBe(401);
      const { rows: hashes } = await ctx.db.query<{ password_hash: string }>(`SELECT password_hash FROM app_user WHERE username = 'li.lei'`);
      expect(hashes[0]!.password_hash).toMatch(/^\$argon2id\$/);
    });

    it('ends a session when it expires, or when its account is disabled or its role changes', async () => {
      const cookie = await sessionCookie(ctx.db, { username: 'zhao', role: 'analyst' });
      await ctx.db.query(`UPDATE session SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM app_user WHERE username = 'zhao')`);
      expect((await ctx.request('GET', '/api/auth/me', undefined, as(cookie))).body.error.code).toBe('unauthenticated');

      const again = await sessionCookie(ctx.db, { username: 'zhao', role: 'analyst' });
      const { rows } = await ctx.db.query<{ id: number }>(`SELECT id FROM app_user WHERE username = 'zhao'`);
      expect((await ctx.request('PATCH', `/api/users/${rows[0]!.id}`, { role: 'leader' })).status).toBe(200);
      expect((await ctx.request('GET', '/api/auth/me', undefined, as(again))).status).toBe(401);
      expect((await ctx.request('PATCH', `/api/users/${rows[0]!.id}`, { disabled: true })).body.disabled).toBe(true);
      // Signing in again: with the right password it is told the account is disabled (to ask an admin,
      // not to retype); with a wrong one, as anyone, that the password is wrong.
      const right = await ctx.request('POST', '/api/auth/login', { username: 'zhao', password: TEST_PASSWORD }, { cookie: '' });
      expect([right.status, right.body.error?.code, right.headers.get('set-cookie')]).toEqual([403, 'account_disabled', null]);
      const wrong = await ctx.request('POST', '/api/auth/login', { username: 'zhao', password: 'not the password' }, { cookie: '' });
      expect([wrong.status, wrong.body.error?.code]).toEqual([401, 'invalid_credentials']);
    });

    it('stops guessing after ten failed sign-ins for one name, and counts no successful ones', async () => {
      await sessionCookie(ctx.db, { username: 'wang', role: 'planner' });
      const login = (password: string, username = 'wang') => ctx.request('POST', '/api/auth/login', { username, password }, { cookie: '' });
      for (let i = 0; i < 3; i++) expect((await login(TEST_PASSWORD)).status).toBe(200);
      const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        for (let i = 0; i < 10; i++) expect((await login(`guess-${i}`)).status).toBe(401);
        // the lockout is logged once, when it starts, naming the account
        expect(warned.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"wang"'))).toEqual([
          expect.stringMatching(/sign-in locked for 15 min: "wang"/),
        ]);
      } finally {
        warned.mockRestore();
      }
      const blocked = await login(TEST_PASSWORD);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('too_many_attempts');
      // Another account from the same address is not locked out by these.
      await sessionCookie(ctx.db, { username: 'chen', role: 'planner' });
      expect((await login(TEST_PASSWORD, 'chen')).status).toBe(200);
    });

    it('lets a township planner change only what lies inside the township', async () => {
      const town = as(await sessionCookie(ctx.db, { username: 'planner-town', role: 'planner', regionId: place.township }));
      const version = async (id: number) => (await ctx.request('GET', `/api/regions/${id}`)).body.properties.version;
      const before = await ctx.snapshot();
      const outside = await ctx.request('PATCH', `/api/regions/${place.farGrid}`, { version: await version(place.farGrid), name: '越权修改' }, town);
      expect(outside.status).toBe(403);
      expect(outside.body.error).toMatchObject({ code: 'outside_scope', path: 'id' });
      // The township itself borders others: changing it is for the district's planners.
      expect((await ctx.request('PATCH', `/api/regions/${place.township}`, { version: await version(place.township), name: '改乡镇' }, town)).status).toBe(403);
      expect((await ctx.request('POST', `/api/regions/${place.otherTownship}/autosplit`, {}, town)).status).toBe(403);
      expect((await ctx.request('POST', '/api/households/import', { type: 'FeatureCollection', features: [] }, town)).body.error.code).toBe('outside_scope');
      expect(
        (await ctx.request('POST', '/api/regions/import', { parentId: null, level: 'district', features: { type: 'FeatureCollection', features: [] } }, town))
          .status,
      ).toBe(403);
      expect(await ctx.snapshot()).toEqual(before);

      const inside = await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: await version(place.grid), name: '本乡网格' }, town);
      expect(inside.status).toBe(200);
      const { rows } = await ctx.db.query<{ actor: string }>(`SELECT actor FROM change WHERE entity = 'region' AND entity_id = $1 ORDER BY id DESC LIMIT 1`, [
        place.grid,
      ]);
      expect(rows[0]!.actor).toBe('planner-town');
      expect((await ctx.request('POST', '/api/changes/undo', undefined, town)).status).toBe(200);
    });

    it('lets a planner moved to another township neither undo nor redo their edits in the old one', async () => {
      const name = 'moved-planner';
      const mine = as(await sessionCookie(ctx.db, { username: name, role: 'planner', regionId: place.township }));
      const version = async (id: number) => (await ctx.request('GET', `/api/regions/${id}`)).body.properties.version;
      expect((await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: await version(place.grid), name: '调走前改名' }, mine)).status).toBe(200);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, mine)).status).toBe(200);
      // Moved: the old township's grid is no longer theirs, by any door.
      const moved = as(await sessionCookie(ctx.db, { username: name, role: 'planner', regionId: place.otherTownship }));
      const before = await ctx.snapshot();
      const redo = await ctx.request('POST', '/api/changes/redo', undefined, moved);
      expect([redo.status, redo.body.error?.code]).toEqual([403, 'outside_scope']);
      expect(await ctx.snapshot()).toEqual(before);
      // Back in the township, the redo and its undo are theirs again.
      const back = as(await sessionCookie(ctx.db, { username: name, role: 'planner', regionId: place.township }));
      expect((await ctx.request('POST', '/api/changes/redo', undefined, back)).status).toBe(200);
      const away = as(await sessionCookie(ctx.db, { username: name, role: 'planner', regionId: place.otherTownship }));
      const undo = await ctx.request('POST', '/api/changes/undo', undefined, away);
      expect([undo.status, undo.body.error?.code]).toEqual([403, 'outside_scope']);
      expect((await ctx.request('GET', `/api/regions/${place.grid}`)).body.properties.name).toBe('调走前改名');
      expect((await ctx.request('POST', '/api/changes/undo', undefined, back)).status).toBe(200);
    });

    it('lets a grid worker report and follow up only in the grids they staff', async () => {
      const worker = as(await sessionCookie(ctx.db, { username: 'wg-1', role: 'worker', workerId: place.worker }));
      expect((await ctx.request('GET', '/api/auth/me', undefined, worker)).body.gridIds).toEqual([place.grid]);
      const countIncidents = async () => (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM incident')).rows[0]!.n;
      const before = await countIncidents();
      const far = await ctx.request('POST', '/api/incidents', { lon: place.fx, lat: place.fy, category: 'hazard', severity: 2 }, worker);
      expect(far.status).toBe(403);
      expect(far.body.error).toMatchObject({ code: 'outside_scope', path: 'lon' });
      expect(await countIncidents()).toBe(before);

      // Reporting as someone else is not possible: the reporter is the signed-in worker.
      const own = await ctx.request(
        'POST',
        '/api/incidents',
        { lon: place.gx, lat: place.gy, category: 'hazard', severity: 2, description: '井盖缺失', reporterId: 1 },
        worker,
      );
      expect(own.status, JSON.stringify(own.body)).toBe(201);
      expect(own.body).toMatchObject({ gridId: place.grid, reporterId: place.worker });
      const listed = await ctx.request('GET', '/api/incidents?limit=5000&from=2000-01-01', undefined, worker);
      expect(listed.body.items.length).toBeGreaterThan(0);
      expect(new Set(listed.body.items.map((i: any) => i.gridId))).toEqual(new Set([place.grid]));

      const { rows } = await ctx.db.query<{ id: number; version: number }>(
        `SELECT id, version FROM incident WHERE grid_id = $1 AND status = 'reported' LIMIT 1`,
        [place.farGrid],
      );
      if (rows[0]) {
        const foreign = await ctx.request(
          'PATCH',
          `/api/incidents/${rows[0].id}`,
          { status: 'dispatched', department: '公安', version: rows[0].version },
          worker,
        );
        expect(foreign.status).toBe(403);
      }
      const step = await ctx.request('PATCH', `/api/incidents/${own.body.id}`, { status: 'dispatched', department: '住建局', version: 1 }, worker);
      expect(step.status).toBe(200);
      expect((await ctx.request('GET', '/api/heatmap', undefined, worker)).status).toBe(403);
    });

    it('gives a grid worker their new grids as soon as the plan changes, wherever it was changed', async () => {
      const cache = new ReadCache();
      const own = await apiContext(ctx.db, { cache });
      const worker = as(await sessionCookie(ctx.db, { username: 'wg-moved', role: 'worker', workerId: place.worker }));
      const grids = async () => (await own.request('GET', '/api/auth/me', undefined, worker)).body.gridIds;
      expect(await grids()).toEqual([place.grid]); // the session is now kept for a few seconds
      // Another process (or the scheduled publish of a draft) gives them a second grid: this one hears of it
      // only through the read cache's retirement of the plan.
      const was = (await ctx.db.query<{ w: number | null }>('SELECT worker_id AS w FROM region WHERE id = $1', [place.otherGrid])).rows[0]!.w;
      await ctx.db.query('UPDATE region SET worker_id = $1 WHERE id = $2', [place.worker, place.otherGrid]);
      try {
        cache.bump(['plan', 'layout'], true);
        expect((await grids()).sort((a: number, b: number) => a - b)).toEqual([place.grid, place.otherGrid].sort((a, b) => a - b));
      } finally {
        await ctx.db.query('UPDATE region SET worker_id = $1 WHERE id = $2', [was, place.otherGrid]);
      }
    });

    it('keeps the last enabled admin an admin: neither disabled nor demoted, until another admin exists', async () => {
      // The other admins disabled inside a transaction that is rolled back: the rest of the file keeps them.
      const undone = new Error('rolled back');
      expect((await ctx.request('GET', '/api/auth/me')).body.username).toBe('tester');
      await ctx.db
        .transaction(async (tx) => {
          const me = (await tx.query<{ id: number }>(`SELECT id FROM app_user WHERE username = 'tester'`)).rows[0]!.id;
          await tx.query(`UPDATE app_user SET disabled = true WHERE role = 'admin' AND id <> $1`, [me]);
          await expect(updateUser(tx, me, { disabled: true })).rejects.toMatchObject({ code: 'last_admin', path: 'disabled' });
          await expect(updateUser(tx, me, { role: 'analyst' })).rejects.toMatchObject({ code: 'last_admin', path: 'role' });
          // A password change, a name, are still the admin's own.
          await expect(updateUser(tx, me, { displayName: '管理员' })).resolves.toMatchObject({ after: { role: 'admin', disabled: false } });
          // With another admin, either may step down.
          await tx.query(`INSERT INTO app_user (username, password_hash, role) VALUES ('second-admin', 'x', 'admin')`);
          await expect(updateUser(tx, me, { role: 'analyst' })).resolves.toMatchObject({ after: { role: 'analyst' } });
          throw undone;
        })
        .catch((err: unknown) => {
          if (err !== undone) throw err;
        });
      expect((await ctx.request('GET', '/api/auth/me')).body.role).toBe('admin');
    });

    it('keeps an admin unlimited: an area given to an admin is refused, and a planner made admin loses its area', async () => {
      const region = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' ORDER BY id LIMIT 1`)).rows[0]!.id;
      const refused = await ctx.request('POST', '/api/users', { username: 'county-admin', password: 'pass-12345678', role: 'admin', regionId: region });
      expect(refused.status).toBe(422);
      expect(refused.body.error).toMatchObject({ code: 'admin_everywhere', path: 'regionId' });
      expect((await ctx.db.query(`SELECT 1 FROM app_user WHERE username = 'county-admin'`)).rows).toHaveLength(0);
      const made = await ctx.request('POST', '/api/users', { username: 'town-lead', password: 'pass-12345678', role: 'planner', regionId: region });
      expect(made.status).toBe(201);
      const promoted = await ctx.request('PATCH', `/api/users/${made.body.id}`, { role: 'admin' });
      expect(promoted.status).toBe(200);
      expect(promoted.body).toMatchObject({ role: 'admin', regionId: null });
      expect((await ctx.request('PATCH', `/api/users/${made.body.id}`, { regionId: region })).body.error.code).toBe('admin_everywhere');
      await ctx.request('PATCH', `/api/users/${made.body.id}`, { role: 'analyst' });
    });

    it('gives a wall display read-only access through its token until the token is revoked', async () => {
      const created = await ctx.request('POST', '/api/screen-tokens', { label: '县指挥中心' });
      expect(created.status).toBe(201);
      expect(created.body.token).toMatch(/^[\w-]{40,}$/);
      expect(JSON.stringify((await ctx.request('GET', '/api/screen-tokens')).body)).not.toContain(created.body.token);
      const bad = await ctx.request('POST', '/api/auth/screen', { token: 'x'.repeat(43) }, { cookie: '' });
      expect(bad.status).toBe(401);
      expect(bad.body.error.code).toBe('invalid_token');
      const signed = await ctx.request('POST', '/api/auth/screen', { token: created.body.token }, { cookie: '' });
      expect(signed.body).toMatchObject({ kind: 'screen', role: 'screen', username: 'screen:县指挥中心' });
      const screen = as(signed.headers.get('set-cookie')!.split(';')[0]!);
      expect((await ctx.request('GET', `/api/stats/overview?region=${place.township}`, undefined, screen)).status).toBe(200);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, screen)).status).toBe(403);
      expect((await ctx.request('GET', `/api/regions/${place.village}/households`, undefined, screen)).status).toBe(403);
      expect((await ctx.request('DELETE', `/api/screen-tokens/${created.body.id}`)).body.revoked).toBe(true);
      expect((await ctx.request('GET', `/api/stats/overview?region=${place.township}`, undefined, screen)).status).toBe(401);
    });

    it('manages accounts: refuses bad ones with located errors, logs changes without passwords', async () => {
      const cases: [object, number, string, string][] = [
        [{ username: 'a b', password: 'long enough', role: 'analyst' }, 400, 'invalid_request', 'json.username'],
        [{ username: 'shorty', password: 'short', role: 'analyst' }, 400, 'invalid_request', 'json.password'],
        [{ username: 'ghost', password: 'long enough', role: 'boss' }, 400, 'invalid_request', 'json.role'],
        [{ username: 'ww', password: 'long enough', role: 'worker' }, 422, 'worker_required', 'workerId'],
        [{ username: 'pp', password: 'long enough', role: 'planner', regionId: 999999 }, 404, 'not_found', 'regionId'],
        [{ username: 'tester', password: 'long enough', role: 'analyst' }, 409, 'username_taken', 'username'],
      ];
      const before = await ctx.snapshot();
      for (const [body, status, code, path] of cases) {
        const res = await ctx.request('POST', '/api/users', body);
        expect([res.status, res.body.error?.code, res.body.error?.path], JSON.stringify(body)).toEqual([status, code, path]);
      }
      expect(await ctx.snapshot()).toEqual(before);
      const made = await ctx.request('POST', '/api/users', {
        username: 'sun.planner',
        password: 'a good password',
        role: 'planner',
        regionId: place.township,
        displayName: '孙规划',
      });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({ username: 'sun.planner', role: 'planner', regionId: place.township, disabled: false });
      await ctx.request('PATCH', `/api/users/${made.body.id}`, { password: 'another good one' });
      const login = await ctx.request('POST', '/api/auth/login', { username: 'sun.planner', password: 'another good one' }, { cookie: '' });
      expect(login.status).toBe(200);
      const { rows } = await ctx.db.query<{ actor: string; action: string; log: string }>(
        `SELECT actor, action, before::text || after::text AS log FROM change WHERE entity = 'user' AND entity_id = $1 ORDER BY id`,
        [made.body.id],
      );
      expect(rows.map((r) => [r.actor, r.action])).toEqual([
        ['tester', 'create'],
        ['tester', 'update'],
        ['sun.planner', 'login'],
      ]);
      expect(rows.map((r) => r.log).join()).not.toMatch(/argon2|another good one/);
    });

    it('sends secure headers and no stack traces', async () => {
      const res = await ctx.app.request('/api/health');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      // HTTPS for this host, not the county domain's other sites
      expect(res.headers.get('strict-transport-security')).toBe('max-age=15552000');
      const form = await ctx.app.request('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
        body: 'username=a&password=b',
      });
      expect(form.status).toBe(403);
      expect((await form.json()).error.code).toBe('cross_site_request');
    });
  });
}

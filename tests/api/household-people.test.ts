import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/**
 * 户主 and 联系电话: what a household register brings and a grid worker goes to the door with.
 * Personal data: the grid's worker, planners and admins read it; a leader's or analyst's view never does.
 */
for (const driver of DRIVERS) {
  describe(`households' heads and phones (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let dir: string;
    let place: { grid: number; other: number; worker: number; district: number };
    let worker: Record<string, string>;
    let otherWorker: Record<string, string>;
    let planner: Record<string, string>;
    let leader: Record<string, string>;
    let analyst: Record<string, string>;
    type Row = { id: number; address: string; head: string; phone: string; size: number; version: number };
    const householdsOf = async (grid: number, who: Record<string, string>) => ctx.request('GET', `/api/field/households?grid=${grid}`, undefined, who);
    const row = async (id: number) =>
      (await ctx.db.query<Row>('SELECT id, address, head_name AS head, phone, size, version FROM household WHERE id = $1', [id])).rows[0]!;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      dir = await mkdtemp(join(tmpdir(), 'gridplan-people-'));
      ctx = await apiContext(t.db, { importDir: dir, cache: false });
      const { rows } = await ctx.db.query<any>(
        `SELECT g.id AS grid, g.worker_id AS worker,
                (SELECT o.id FROM region o WHERE o.level = 'grid' AND o.worker_id IS NOT NULL AND o.worker_id <> g.worker_id ORDER BY o.code LIMIT 1) AS other,
                (SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1) AS district
         FROM region g WHERE g.level = 'grid' AND g.worker_id IS NOT NULL AND EXISTS (SELECT 1 FROM household h WHERE h.region_id = g.id AND h.address <> '')
         ORDER BY g.code LIMIT 1`,
      );
      place = rows[0];
      const { rows: o } = await ctx.db.query<{ w: number }>('SELECT worker_id AS w FROM region WHERE id = $1', [place.other]);
      worker = await ctx.cookie({ username: 'hh-worker', role: 'worker', workerId: place.worker });
      otherWorker = await ctx.cookie({ username: 'hh-other', role: 'worker', workerId: o[0]!.w });
      planner = await ctx.cookie({ username: 'hh-planner', role: 'planner' });
      leader = await ctx.cookie({ username: 'hh-leader', role: 'leader' });
      analyst = await ctx.cookie({ username: 'hh-analyst', role: 'analyst' });
    });
    afterAll(async () => {
      await dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it("lists each household's head and phone to the grid's worker, and lets them correct one at the door, refusing a stale form", async () => {
      const list = await householdsOf(place.grid, worker);
      expect(list.status).toBe(200);
      const h = list.body[0] as Row;
      // the demo's households have heads, and no real person's number (they begin 100)
      expect(h.head).toMatch(/^\p{Script=Han}{2,4}$/u);
      expect(list.body.every((x: Row) => x.phone === '' || /^100\d{8}$/.test(x.phone))).toBe(true);
      // another grid's worker: not theirs to read or change
      expect((await householdsOf(place.grid, otherWorker)).status).toBe(403);
      const before = await ctx.snapshot();
      const theirs = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '13900001111' }, otherWorker);
      expect(theirs.status).toBe(403);
      expect(theirs.body.error).toMatchObject({ code: 'outside_scope', path: 'id' });
      // (without saying which grid it is in: counting through ids mapped every household to its grid; from the attacker)
      expect(theirs.body.error.message).toBe(`household ${h.id} is not among the households you may change`);
      // those who read households but not who lives there: no edit
      expect((await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '13900001111' }, leader)).status).toBe(403);
      // refused in words, nothing written: a masked number, a short one, a too-long name, no version, an unknown household
      const masked = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '139****1111' }, worker);
      expect(masked.status).toBe(422);
      expect(masked.body.error).toMatchObject({ code: 'invalid_phone', path: 'phone' });
      expect(masked.body.error.message).toMatch(/masked/);
      expect((await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '12345' }, worker)).body.error.code).toBe('invalid_phone');
      expect((await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, head: '张'.repeat(51) }, worker)).body.error).toMatchObject({
        code: 'invalid_head',
        path: 'head',
      });
      expect((await ctx.request('PATCH', `/api/households/${h.id}`, { phone: '13900001111' }, worker)).status).toBe(400);
      expect((await ctx.request('PATCH', '/api/households/2147483647', { version: 1, phone: '13900001111' }, worker)).status).toBe(404);
      expect(await ctx.snapshot()).toEqual(before);

      // written as a phone is dialled: spaces, dashes and +86 taken off
      const saved = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, head: ' 李 桂芳 ', phone: '+86 139-0000-1111' }, worker);
      expect(saved.status, JSON.stringify(saved.body)).toBe(200);
      expect(saved.body).toMatchObject({ id: h.id, head: '李 桂芳', phone: '13900001111', size: h.size, version: h.version + 1 });
      expect(saved.body.op).toBeGreaterThan(0);
      expect((await householdsOf(place.grid, worker)).body.find((x: Row) => x.id === h.id)).toMatchObject({ head: '李 桂芳', phone: '13900001111' });
      // the same form sent again is stale
      const stale = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '13900002222' }, worker);
      expect(stale.status).toBe(409);
      expect(stale.body.error).toMatchObject({ code: 'version_conflict', details: { currentVersion: h.version + 1 } });
      // logged under the worker's name
      const { rows: log } = await ctx.db.query<{ actor: string; action: string }>('SELECT actor, action FROM change WHERE op = $1', [saved.body.op]);
      expect(log).toEqual([{ actor: 'hh-worker', action: 'update' }]);
      // the change log names the household corrected, by its address, as it names one added or taken out
      const listed = await ctx.request('GET', `/api/operations?region=${place.grid}&limit=5`, undefined, planner);
      expect(listed.body.operations.find((o: { op: number }) => o.op === saved.body.op)).toMatchObject({
        action: 'update',
        entity: 'household',
        names: [h.address],
      });
      // filed under 住户, not among the plan's own 修改
      const kinds = async (action: string) =>
        ((await ctx.request('GET', `/api/operations?region=${place.grid}&action=${action}`, undefined, planner)).body.operations as { op: number }[]).map(
          (o) => o.op,
        );
      expect(await kinds('household')).toContain(saved.body.op);
      expect(await kinds('update')).not.toContain(saved.body.op);
      // nothing to change: nothing logged, no new version
      const same = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version + 1, phone: '13900001111' }, worker);
      expect(same.body).toMatchObject({ op: null, version: h.version + 1 });
      // an empty phone clears it
      const cleared = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version + 1, phone: '' }, worker);
      expect(cleared.body).toMatchObject({ phone: '', version: h.version + 2 });
    });

    it("takes back a planner's correction with undo, the size counted in its grid again", async () => {
      const h = (await householdsOf(place.grid, worker)).body[1] as Row;
      const count = async () => (await ctx.db.query<{ n: number }>('SELECT household_count AS n FROM region WHERE id = $1', [place.grid])).rows[0]!.n;
      const people = async () => (await ctx.db.query<{ n: number }>('SELECT sum(size)::int AS n FROM household WHERE region_id = $1', [place.grid])).rows[0]!.n;
      const [households, sizes] = [await count(), await people()];
      const saved = await ctx.request(
        'PATCH',
        `/api/households/${h.id}`,
        { version: h.version, head: '赵德明', phone: '0874-3123456', size: h.size + 1 },
        planner,
      );
      expect(saved.status, JSON.stringify(saved.body)).toBe(200);
      expect(saved.body).toMatchObject({ head: '赵德明', phone: '08743123456', size: h.size + 1 });
      expect([await count(), await people()]).toEqual([households, sizes + 1]);
      const undone = await ctx.request('POST', '/api/changes/undo', undefined, planner);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      expect(await row(h.id)).toMatchObject({ head: h.head, phone: h.phone, size: h.size });
      expect(await people()).toBe(sizes);
      // and redo gives it back; a worker's change since refuses the next undo
      expect((await ctx.request('POST', '/api/changes/redo', undefined, planner)).status).toBe(200);
      expect(await row(h.id)).toMatchObject({ head: '赵德明', phone: '08743123456' });
      const now = await row(h.id);
      expect((await ctx.request('PATCH', `/api/households/${h.id}`, { version: now.version, head: '赵德民' }, worker)).status).toBe(200);
      const refused = await ctx.request('POST', '/api/changes/undo', undefined, planner);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'version_conflict', details: { reason: 'households' } });
      expect((await row(h.id)).head).toBe('赵德民');
    });

    it('reads heads and phones from a household register, updates the households its addresses find, and undoes them', async () => {
      const { rows: known } = await ctx.db.query<Row>(
        `SELECT id, address, head_name AS head, phone, size, version FROM household WHERE region_id = $1 AND address <> '' ORDER BY id DESC LIMIT 3`,
        [place.grid],
      );
      const csv =
        '户主姓名,家庭住址,家庭人口,联系电话\n' +
        `王建华,${known[0]!.address},,13812340001\n` +
        // (a register that leaves the township out: 银湾村23号 for 西平街道银湾村23号)
        `刘秀兰,${known[1]!.address.replace(/^.+?(街道|乡|镇)/, '')},4,\n` +
        `陈国强,${known[2]!.address},,138****0003\n`;
      const up = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { ...planner, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent('户籍登记表.csv') },
        body: new TextEncoder().encode(csv),
      });
      const upload = (await up.json()) as any;
      expect(up.status).toBe(201);
      expect(upload.layers[0].kind).toBe('household');
      const spec = { layer: upload.layers[0].name, kind: 'household', parentId: place.district };
      const checked = await ctx.request('POST', `/api/imports/${upload.id}/plan`, spec, planner);
      expect(checked.status, JSON.stringify(checked.body).slice(0, 400)).toBe(200);
      // the wizard's guess: the head and the phone
      expect(checked.body.fields).toMatchObject({ head: '户主姓名', phone: '联系电话', address: '家庭住址', size: '家庭人口' });
      // a masked number is the clerk's to fix: that row is left out, said so in words
      expect(checked.body.outcome.problemCounts).toEqual({ invalid_phone: 1 });
      expect(checked.body.outcome.problems[0]).toMatchObject({ index: 2, code: 'invalid_phone', path: 'rows[2].phone' });
      const done = await ctx.request('POST', `/api/imports/${upload.id}/commit`, { ...spec, fields: checked.body.fields, partial: true }, planner);
      expect(done.status, JSON.stringify(done.body).slice(0, 400)).toBe(201);
      expect(done.body.households).toMatchObject({ added: 0, updated: 2 });
      // what a cell gives is set; an empty cell leaves the household's own
      expect(await row(known[0]!.id)).toMatchObject({ head: '王建华', phone: '13812340001', size: known[0]!.size });
      expect(await row(known[1]!.id)).toMatchObject({ head: '刘秀兰', phone: known[1]!.phone, size: 4 });
      expect(await row(known[2]!.id)).toMatchObject({ head: known[2]!.head, phone: known[2]!.phone });
      const undone = await ctx.request('POST', `/api/changes/undo?op=${done.body.op}`, undefined, planner);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      for (const k of known) expect(await row(k.id)).toMatchObject({ head: k.head, phone: k.phone, size: k.size });
    });

    it("keeps a grid worker's correction at the door over an older register unless the clerk says so; counts only real changes", async () => {
      const uploadCsv = async (name: string, text: string) => {
        const res = await ctx.app.request('/api/imports', {
          method: 'POST',
          headers: { ...planner, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(name) },
          body: new TextEncoder().encode(text),
        });
        return (await res.json()) as any;
      };
      const { rows: two } = await ctx.db.query<Row>(
        `SELECT id, address, head_name AS head, phone, size, version FROM household WHERE region_id = $1 AND address <> '' ORDER BY id LIMIT 2`,
        [place.grid],
      );
      const [door, other] = [two[0]!, two[1]!];
      const fixed = await ctx.request('PATCH', `/api/households/${door.id}`, { version: door.version, phone: '13912345678' }, worker);
      expect(fixed.status).toBe(200);
      const register =
        '户主姓名,家庭住址,家庭人口,联系电话\n' +
        `${door.head},${door.address},${door.size},13800000051\n${other.head},${other.address},${other.size},${other.phone}\n`;
      const job = await uploadCsv('旧名册.csv', register);
      const spec = { layer: job.layers[0].name, kind: 'household', parentId: place.district };
      const checked = await ctx.request('POST', `/api/imports/${job.id}/plan`, spec, planner);
      // the register's number differs from the worker's correction: kept, and said; the other row is as it is
      expect(checked.body.outcome.households).toMatchObject({
        added: 0,
        updated: 0,
        unchanged: 2,
        kept: { count: 1, overwritten: false, rows: [{ address: door.address, phone: '13912345678', listPhone: '13800000051', by: 'hh-worker' }] },
      });
      const versions = async () =>
        (await ctx.db.query<{ v: number }>('SELECT version AS v FROM household WHERE id = ANY($1::int[]) ORDER BY id', [[door.id, other.id]])).rows.map(
          (r) => r.v,
        );
      const before = await versions();
      const done = await ctx.request('POST', `/api/imports/${job.id}/commit`, spec, planner);
      expect(done.status, JSON.stringify(done.body).slice(0, 300)).toBe(201);
      expect((await row(door.id)).phone).toBe('13912345678');
      // nothing changed: no version moved (a form open on either stays current)
      expect(await versions()).toEqual(before);
      // the clerk says the register is right
      const over = await ctx.request('POST', `/api/imports/${job.id}/plan`, { ...spec, overwriteCorrected: true }, planner);
      expect(over.body.outcome.households).toMatchObject({ updated: 1, unchanged: 1, kept: { count: 1, overwritten: true } });
      expect((await ctx.request('POST', `/api/imports/${job.id}/commit`, { ...spec, overwriteCorrected: true }, planner)).status).toBe(201);
      expect((await row(door.id)).phone).toBe('13800000051');
      // GridPlan's own household export, brought back to fill in numbers, is taken for households (it was guessed a staff roster)
      const exported = await ctx.app.request(`/api/regions/${place.grid}/households/export?format=xlsx`, { headers: planner });
      const back = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { ...planner, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent('银湾村-户.xlsx') },
        body: new Uint8Array(await exported.arrayBuffer()),
      });
      expect(((await back.json()) as any).layers[0].kind).toBe('household');
    });

    it('refuses a head with control characters, a direction override or not text sent as JSON; reads a file’s as it shows (attacker)', async () => {
      const { rows } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE id = $1`,
        [place.grid],
      );
      const [x, y] = [rows[0]!.x.toFixed(6), rows[0]!.y.toFixed(6)];
      const before = await ctx.snapshot();
      const csv = await ctx.app.request('/api/households/import', {
        method: 'POST',
        headers: { ...planner, 'content-type': 'text/csv' },
        body: `lon,lat,size,address,head,phone\n${x},${y},2,测试,a\u202eX\u0007\u001b[31m,13800004444\n`,
      });
      expect(csv.status).toBe(422);
      const refused = ((await csv.json()) as any).error;
      expect(refused).toMatchObject({ code: 'invalid_rows', path: 'line 2, column head' });
      expect(JSON.stringify(refused.details)).toContain('invalid_head');
      for (const head of [{ a: 1 }, ['张', '三']]) {
        const geo = await ctx.request(
          'POST',
          '/api/households/import',
          {
            type: 'FeatureCollection',
            features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: [Number(x), Number(y)] }, properties: { size: 2, head } }],
          },
          { ...planner, 'content-type': 'application/geo+json' },
        );
        expect(geo.body.error).toMatchObject({ path: 'features[0].properties.head' });
        expect(JSON.stringify(geo.body.error)).toContain('invalid_head');
      }
      const up = await ctx.app.request('/api/imports', {
        method: 'POST',
        headers: { ...planner, 'content-type': 'application/octet-stream', 'x-file-name': 'register.csv' },
        body: new TextEncoder().encode(`户主姓名,经度,纬度,家庭人口\nb\u202eY\u0007,${x},${y},2\n`),
      });
      const job = (await up.json()) as any;
      // a register holds names and numbers: its folder and files are the server's alone
      expect((await stat(join(dir, job.id))).mode & 0o777).toBe(0o700);
      for (const f of await readdir(join(dir, job.id))) expect((await stat(join(dir, job.id, f))).mode & 0o777).toBe(0o600);
      const checked = await ctx.request(
        'POST',
        `/api/imports/${job.id}/plan`,
        { layer: job.layers[0].name, kind: 'household', parentId: place.district },
        planner,
      );
      // a file's cells lose their control characters and turns of direction as they are read: the head is the bY it shows
      expect(checked.body.outcome.problemCounts).toEqual({});
      expect(checked.body.sample[0]['户主姓名']).toBe('bY');
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('gives heads and phones in exports to planners and admins only, never to a leader, an analyst, or the map', async () => {
      const exported = async (who: Record<string, string>) => {
        const res = await ctx.app.request(`/api/regions/${place.grid}/households/export?format=geojson`, { headers: who });
        return { status: res.status, body: res.status === 200 ? ((await res.json()) as any) : null };
      };
      const byPlanner = await exported(planner);
      expect(byPlanner.status).toBe(200);
      expect(Object.keys(byPlanner.body.features[0].properties)).toEqual(expect.arrayContaining(['head', 'phone', 'address', 'size']));
      expect(byPlanner.body.features.some((f: any) => f.properties.head !== '')).toBe(true);
      const byLeader = await exported(leader);
      expect(byLeader.status).toBe(200);
      expect(Object.keys(byLeader.body.features[0].properties)).not.toContain('head');
      expect(JSON.stringify(byLeader.body)).not.toMatch(/"phone"/);
      expect((await exported(analyst)).status).toBe(403);
      // the map's points: size and grid, no one's name
      const points = await ctx.request('GET', `/api/regions/${place.grid}/households`, undefined, leader);
      expect(points.status).toBe(200);
      expect(Object.keys(points.body.features[0].properties).sort()).toEqual(['regionId', 'size']);
    });

    it("adds a household found at the door in the worker's own grid only, never twice, and the worker's 撤销 takes it back", async () => {
      const count = async () => (await ctx.db.query<{ n: number }>('SELECT household_count AS n FROM region WHERE id = $1', [place.grid])).rows[0]!.n;
      const inside = async (grid: number) =>
        (
          await ctx.db.query<{ lon: number; lat: number }>(
            'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM region WHERE id = $1) x',
            [grid],
          )
        ).rows[0]!;
      const here = await inside(place.grid);
      const there = await inside(place.other);
      const n = await count();
      const before = await ctx.snapshot();
      const add = (body: unknown, who = worker) => ctx.request('POST', '/api/households', body, who);
      // refused in words, nothing written: another worker's grid, outside every district, a control character, the same door twice, no size
      expect((await add({ ...there, address: '银湾村999号', size: 3 })).body.error).toMatchObject({ code: 'outside_grid', path: 'lon' });
      expect((await add({ lon: 0, lat: 0, address: '银湾村999号', size: 3 })).body.error).toMatchObject({ code: 'outside', path: 'lon' });
      expect((await add({ ...here, address: '银湾村\u202e999号', size: 3 })).body.error).toMatchObject({ code: 'invalid_text', path: 'body.address' });
      expect((await add({ ...here, address: '  ', size: 3 })).body.error).toMatchObject({ code: 'invalid_address', path: 'address' });
      const { rows: known } = await ctx.db.query<{ id: number; address: string }>(
        `SELECT id, address FROM household WHERE region_id = $1 AND address ~ '[0-9]+号$' ORDER BY id LIMIT 1`,
        [place.grid],
      );
      // (written with full-width digits and a space, as a phone keyboard may)
      const twice = await add({
        ...here,
        address: known[0]!.address.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d))).replace('号', ' 号'),
        size: 2,
      });
      expect(twice.status).toBe(422);
      expect(twice.body.error).toMatchObject({ code: 'duplicate_address', details: { id: known[0]!.id } });
      // the same door with characters that show nothing in it (a mark of direction, a soft hyphen, a variation selector), or an address
      // of nothing but a blank-looking filler (from the attacker)
      for (const hidden of ['\u200f', '\u00ad', '\ufe0f', '\u{e0041}']) {
        const sneaked = await add({ ...here, address: known[0]!.address.replace('号', `${hidden}号`), size: 2 });
        expect(sneaked.body.error, JSON.stringify(hidden)).toMatchObject({ code: 'duplicate_address', details: { id: known[0]!.id } });
      }
      expect((await add({ ...here, address: '\u3164', size: 2 })).body.error).toMatchObject({ code: 'invalid_address', path: 'address' });
      expect((await add({ ...here, address: '银湾村999号' })).status).toBe(400);
      expect((await add({ ...here, address: '银湾村999号', size: 3 }, leader)).status).toBe(403);
      expect((await add({ ...here, address: '银湾村999号', size: 3, phone: '139****0000' })).body.error.code).toBe('invalid_phone');
      expect(await ctx.snapshot()).toEqual(before);

      const added = await add({ ...here, address: ' 银湾村999号 ', size: 3, head: '李春华', phone: '139 0874 0001' });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      expect(added.body).toMatchObject({ regionId: place.grid, address: '银湾村999号', size: 3, head: '李春华', phone: '13908740001', version: 1 });
      expect(await count()).toBe(n + 1);
      expect((await householdsOf(place.grid, worker)).body.some((h: Row) => h.id === added.body.id)).toBe(true);
      // a register later keeps what the worker wrote at the door
      const { rows: marked } = await ctx.db.query('SELECT corrected_by FROM household WHERE id = $1', [added.body.id]);
      expect(marked[0]).toEqual({ corrected_by: 'hh-worker' });
      // the change log names it; only its maker takes it back, once
      const ops = await ctx.request('GET', `/api/operations?region=${place.grid}&limit=5`, undefined, planner);
      expect(ops.body.operations[0]).toMatchObject({ op: added.body.op, action: 'create', entity: 'household', names: ['银湾村999号'], actor: 'hh-worker' });
      // (said as the person: the grid worker's name, not the account's)
      const { rows: named } = await ctx.db.query<{ name: string }>('SELECT name FROM worker WHERE id = $1', [place.worker]);
      expect(ops.body.operations[0].actorName).toBe(named[0]!.name);
      expect((await ctx.request('POST', '/api/households/undo', { op: added.body.op }, otherWorker)).body.error.code).toBe('not_household');
      const undone = await ctx.request('POST', '/api/households/undo', { op: added.body.op }, worker);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      expect(await count()).toBe(n);
      expect((await householdsOf(place.grid, worker)).body.some((h: Row) => h.id === added.body.id)).toBe(false);
      expect((await ctx.request('POST', '/api/households/undo', { op: added.body.op }, worker)).body.error.code).toBe('not_household');
      // a region operation is not a household one: the worker's undo never reaches it
      const { rows: regionOp } = await ctx.db.query<{ op: number }>(
        `SELECT op FROM change WHERE entity = 'region' AND op IS NOT NULL ORDER BY op DESC LIMIT 1`,
      );
      if (regionOp[0]) expect((await ctx.request('POST', '/api/households/undo', { op: regionOp[0].op }, worker)).body.error.code).toBe('not_household');
    });

    it('takes out a household that moved away, keeping its visits; a stale form or another grid is refused; undo gives it back as it was', async () => {
      const count = async () => (await ctx.db.query<{ n: number }>('SELECT household_count AS n FROM region WHERE id = $1', [place.grid])).rows[0]!.n;
      const list = (await householdsOf(place.grid, worker)).body as Row[];
      const h = list[list.length - 1]!;
      const was = { id: h.id, address: h.address, head: h.head, phone: h.phone, size: h.size, version: h.version };
      // a visit to it, as a patrol records one
      const { rows: pat } = await ctx.db.query<{ id: number }>(
        `INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, points, distance_m, reported_by, client_key)
         VALUES ($1, $2, now() - interval '1 hour', now(), 0, 0, 'hh-worker', 'hh-remove') RETURNING id`,
        [place.worker, place.grid],
      );
      await ctx.db.query('INSERT INTO patrol_visit (patrol_id, household_id, at) VALUES ($1, $2, now())', [pat[0]!.id, h.id]);
      const visits = async () => (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM patrol_visit WHERE household_id = $1', [h.id])).rows[0]!.n;
      const visited = await visits();
      const n = await count();
      const before = await ctx.snapshot();
      const remove = (body: unknown, who = worker, id = h.id) => ctx.request('POST', `/api/households/${id}/remove`, body, who);
      expect((await remove({ version: h.version + 1, reason: 'moved' })).status).toBe(409);
      expect((await remove({ version: h.version, reason: 'moved' }, otherWorker)).body.error.code).toBe('outside_scope');
      expect((await remove({ version: h.version, reason: 'moved' }, leader)).status).toBe(403);
      expect((await remove({ version: h.version, reason: 'gone' })).status).toBe(400);
      expect((await remove({ version: h.version, reason: 'other', note: 'a\u0007b' })).body.error.code).toBe('invalid_text');
      expect((await remove({ version: 1, reason: 'moved' }, worker, 2147483647)).status).toBe(404);
      expect(await ctx.snapshot()).toEqual(before);

      const out = await remove({ version: h.version, reason: 'moved', note: '迁往曲靖市区' });
      expect(out.status, JSON.stringify(out.body)).toBe(200);
      expect(await count()).toBe(n - 1);
      expect((await householdsOf(place.grid, worker)).body.some((x: Row) => x.id === h.id)).toBe(false);
      // a form read before it was taken out: stale (409), as a change made meanwhile is; to another grid's worker, not theirs
      const late = await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '13900002222' }, worker);
      expect(late.status).toBe(409);
      expect(late.body.error).toMatchObject({ code: 'version_conflict', details: { reason: 'removed' } });
      expect((await ctx.request('PATCH', `/api/households/${h.id}`, { version: h.version, phone: '13900002222' }, otherWorker)).status).toBe(403);
      expect((await ctx.db.query('SELECT household_id FROM patrol_visit WHERE patrol_id = $1', [pat[0]!.id])).rows).toEqual([{ household_id: h.id }]);
      const ops = await ctx.request('GET', `/api/operations?region=${place.grid}&limit=5`, undefined, planner);
      expect(ops.body.operations[0]).toMatchObject({
        op: out.body.op,
        action: 'delete',
        entity: 'household',
        names: [h.address],
        counts: { removed: 1 },
        reason: 'moved',
        note: '迁往曲靖市区',
      });

      const back = await ctx.request('POST', '/api/households/undo', { op: out.body.op }, worker);
      expect(back.status, JSON.stringify(back.body)).toBe(200);
      expect(await count()).toBe(n);
      expect(await row(h.id)).toEqual(was);
      expect(await visits()).toEqual(visited);

      // a planner takes one out, undoes and redoes it with the plan's undo
      const again = await remove({ version: h.version, reason: 'duplicate' }, planner);
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      expect(await row(h.id)).toEqual(was);
      expect((await ctx.request('POST', '/api/changes/redo', undefined, planner)).status).toBe(200);
      expect(await count()).toBe(n - 1);
      expect((await ctx.db.query('SELECT 1 FROM household WHERE id = $1', [h.id])).rows).toEqual([]);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      expect(await count()).toBe(n);
    });

    it('holds under many at once: counts stay exact, one address once, one undo of one change (from the attacker)', async () => {
      const here = (
        await ctx.db.query<{ lon: number; lat: number }>(
          'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM region WHERE id = $1) x',
          [place.grid],
        )
      ).rows[0]!;
      // every region's count is what lies in it and below it
      const drift = async () =>
        (
          await ctx.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM region r WHERE household_count <> (SELECT count(*) FROM household h WHERE h.region_id = r.id)
               + coalesce((SELECT sum(c.household_count) FROM region c WHERE c.parent_id = r.id), 0)`,
          )
        ).rows[0]!.n;
      expect(await drift()).toBe(0);
      const added = await Promise.all(
        Array.from({ length: 6 }, (_, i) => ctx.request('POST', '/api/households', { ...here, address: `并发路${i + 1}号`, size: 2 }, worker)),
      );
      expect(added.map((r) => r.status)).toEqual(Array(6).fill(201));
      expect(await drift()).toBe(0);
      const same = await Promise.all(
        Array.from({ length: 4 }, () => ctx.request('POST', '/api/households', { ...here, address: '竞态路9号', size: 2 }, worker)),
      );
      expect(same.map((r) => r.status).sort()).toEqual([201, 422, 422, 422]);
      // an addition kept offline, sent again after a lost answer (and twice at once): added once, the same household answered
      const keyed = await Promise.all(
        Array.from({ length: 3 }, () => ctx.request('POST', '/api/households', { ...here, address: '离线路1号', size: 3, key: 'phone-key-0001' }, worker)),
      );
      expect(keyed.map((r) => r.status).sort()).toEqual([200, 200, 201]);
      expect(new Set(keyed.map((r) => r.body.id)).size).toBe(1);
      expect((await ctx.db.query(`SELECT count(*)::int AS n FROM household WHERE address = '离线路1号'`)).rows[0]).toEqual({ n: 1 });
      // (another account's key is its own)
      expect((await ctx.request('POST', '/api/households', { ...here, address: '离线路1号', size: 3, key: 'phone-key-0001' }, planner)).status).toBe(422);
      expect((await ctx.request('POST', '/api/households', { ...here, address: '离线路2号', size: 3, key: 'bad key!' }, worker)).status).toBe(400);
      const removed = await Promise.all(added.map((r) => ctx.request('POST', `/api/households/${r.body.id}/remove`, { version: 1, reason: 'other' }, worker)));
      expect(removed.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect(await drift()).toBe(0);
      // taken back once however often it is asked at once: an addition, then a removal
      const one = await ctx.request('POST', '/api/households', { ...here, address: '并发路99号', size: 2 }, worker);
      expect(one.status).toBe(201);
      for (const op of [one.body.op as number, removed.map((r) => r.body.op as number).sort((a, b) => b - a)[0]!]) {
        const undos = await Promise.all(Array.from({ length: 4 }, () => ctx.request('POST', '/api/households/undo', { op }, worker)));
        expect(undos.filter((r) => r.status === 200)).toHaveLength(1);
        expect(undos.filter((r) => r.status !== 200).every((r) => r.status === 409 || r.body.error.code === 'not_household')).toBe(true);
        expect((await ctx.db.query('SELECT count(*)::int AS n FROM change WHERE reverts = $1', [op])).rows[0]).toEqual({ n: 1 });
      }
      expect(await drift()).toBe(0);
    });

    it('refuses an undo that would take back nothing, or where the worker no longer works (from the attacker)', async () => {
      const here = (
        await ctx.db.query<{ lon: number; lat: number }>(
          'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM region WHERE id = $1) x',
          [place.grid],
        )
      ).rows[0]!;
      // added by the worker, taken out by a planner: the worker's undo of the addition must not "succeed" with nothing
      const added = await ctx.request('POST', '/api/households', { ...here, address: '撤销路1号', size: 2 }, worker);
      expect(added.status).toBe(201);
      const out = await ctx.request('POST', `/api/households/${added.body.id}/remove`, { version: 1, reason: 'duplicate' }, planner);
      expect(out.status).toBe(200);
      // (the change log of the grid still lists the addition, its household now taken out)
      const log = await ctx.request('GET', `/api/operations?region=${place.grid}&limit=10`, undefined, planner);
      expect(log.body.operations.map((o: { op: number }) => o.op)).toEqual(expect.arrayContaining([added.body.op, out.body.op]));
      const refused = await ctx.request('POST', '/api/households/undo', { op: added.body.op }, worker);
      expect(refused.status).toBe(409);
      expect(refused.body.error.details).toMatchObject({ reason: 'householdsRemoved', n: 1 });
      // the planner gives it back; then the worker's undo takes the addition back
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      expect((await ctx.request('POST', '/api/households/undo', { op: added.body.op }, worker)).status).toBe(200);
      expect((await ctx.db.query('SELECT 1 FROM household WHERE id = $1', [added.body.id])).rows).toEqual([]);

      // the same door written with the county and township in front, or with a zero-width space, is the same door
      const { rows: known } = await ctx.db.query<{ id: number; address: string }>(
        `SELECT id, address FROM household WHERE region_id = $1 AND address ~ '^西平街道.+[0-9]+号$' ORDER BY id LIMIT 1`,
        [place.grid],
      );
      if (known[0]) {
        const village = known[0].address.replace(/^西平街道/, '');
        for (const address of [village, `沾益区${known[0].address}`, known[0].address.replace(/(\d)/, '\u200b$1')]) {
          const r = await ctx.request('POST', '/api/households', { ...here, address, size: 2 }, worker);
          expect(r.body.error, address).toMatchObject({ code: 'duplicate_address', details: { id: known[0].id } });
        }
      }
      expect((await ctx.request('POST', '/api/households', { ...here, address: '\u200b\u200b', size: 2 }, worker)).body.error.code).toBe('invalid_address');

      // a grid given to another worker is theirs: the first worker's undo there is refused
      const again = await ctx.request('POST', '/api/households', { ...here, address: '撤销路2号', size: 2, key: 'phone-key-0002' }, worker);
      expect(again.status).toBe(201);
      const { rows: o } = await ctx.db.query<{ w: number; version: number }>(
        'SELECT (SELECT worker_id FROM region WHERE id = $2) AS w, version FROM region WHERE id = $1',
        [place.grid, place.other],
      );
      const given = await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: o[0]!.version, workerId: o[0]!.w, staff: [] }, planner);
      expect(given.status, JSON.stringify(given.body)).toBe(200);
      const theirs = await ctx.request('POST', '/api/households/undo', { op: again.body.op }, worker);
      expect(theirs.status).toBe(403);
      expect((await ctx.db.query('SELECT 1 FROM household WHERE id = $1', [again.body.id])).rows).toHaveLength(1);
      // the addition sent again with its key from a grid the worker has now: not the household as it is in a grid no longer theirs
      // (from the attacker)
      const { rows: ov } = await ctx.db.query<{ version: number; lon: number; lat: number }>(
        'SELECT version, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM region WHERE id = $1',
        [place.other],
      );
      const swapped = await ctx.request('PATCH', `/api/regions/${place.other}`, { version: ov[0]!.version, workerId: place.worker, staff: [] }, planner);
      expect(swapped.status, JSON.stringify(swapped.body)).toBe(200);
      const replay = await ctx.request(
        'POST',
        '/api/households',
        { lon: ov[0]!.lon, lat: ov[0]!.lat, address: '撤销路2号', size: 2, key: 'phone-key-0002' },
        worker,
      );
      expect(replay.status, JSON.stringify(replay.body)).toBe(403);
      expect(replay.body).not.toHaveProperty('id');
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      // given back (the planner's undo), the worker may
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      expect((await ctx.request('POST', '/api/households/undo', { op: again.body.op }, worker)).status).toBe(200);
    });

    it("keeps a month's visit share when a household not visited is taken out (from the attacker)", async () => {
      const month = new Date().toISOString().slice(0, 7);
      const share = async () => {
        const a = await ctx.request('GET', `/api/assessment?region=${place.grid}&month=${month}`, undefined, leader);
        expect(a.status, JSON.stringify(a.body)).toBe(200);
        return a.body.grids.find((g: { gridId: number }) => g.gridId === place.grid) as { households: number; visited: number; removed: number };
      };
      const before = await share();
      const { rows } = await ctx.db.query<{ id: number; version: number }>(
        `SELECT h.id, h.version FROM household h WHERE h.region_id = $1
           AND NOT EXISTS (SELECT 1 FROM patrol_visit v WHERE v.household_id = h.id) ORDER BY h.id LIMIT 2`,
        [place.grid],
      );
      const ops: number[] = [];
      for (const h of rows) ops.push((await ctx.request('POST', `/api/households/${h.id}/remove`, { version: h.version, reason: 'other' }, worker)).body.op);
      // the same share, the two said to be among the month's households (含本月注销 2 户)
      expect(await share()).toEqual({ ...before, removed: before.removed + 2 });
      for (const op of ops.reverse()) expect((await ctx.request('POST', '/api/households/undo', { op }, worker)).status).toBe(200);
      expect(await share()).toEqual(before);
    });

    it('lists the households taken out of a grid, and gives one back later, whoever took it out (from the newcomer)', async () => {
      const count = async () => (await ctx.db.query<{ n: number }>('SELECT household_count AS n FROM region WHERE id = $1', [place.grid])).rows[0]!.n;
      const h = ((await householdsOf(place.grid, worker)).body as Row[])[2]!;
      const n = await count();
      const out = await ctx.request('POST', `/api/households/${h.id}/remove`, { version: h.version, reason: 'moved', note: '迁往曲靖市区' }, worker);
      expect(out.status).toBe(200);
      // the worker makes another change since: their own undo of the removal is no longer the latest
      const other = ((await householdsOf(place.grid, worker)).body as Row[])[0]!;
      expect((await ctx.request('PATCH', `/api/households/${other.id}`, { version: other.version, size: other.size + 1 }, worker)).status).toBe(200);
      expect((await ctx.request('POST', '/api/households/undo', { op: out.body.op }, worker)).body.error.code).toBe('not_latest');
      // the grid's worker and a planner see it, with why, when and by whom; another worker and a leader do not
      const listed = await ctx.request('GET', `/api/households/removed?grid=${place.grid}`, undefined, planner);
      expect(listed.status).toBe(200);
      // (by the person, as the change log names them: the grid worker's name)
      const { rows: person } = await ctx.db.query<{ name: string }>('SELECT name FROM worker WHERE id = $1', [place.worker]);
      expect(listed.body[0]).toMatchObject({ id: h.id, address: h.address, reason: 'moved', note: '迁往曲靖市区', by: person[0]!.name, op: out.body.op });
      expect((await ctx.request('GET', `/api/households/removed?grid=${place.grid}`, undefined, worker)).body[0].id).toBe(h.id);
      expect((await ctx.request('GET', `/api/households/removed?grid=${place.grid}`, undefined, otherWorker)).status).toBe(403);
      expect((await ctx.request('GET', `/api/households/removed?grid=${place.grid}`, undefined, leader)).status).toBe(403);
      expect((await ctx.request('POST', '/api/households/restore', { op: out.body.op }, otherWorker)).status).toBe(403);
      expect((await ctx.request('POST', '/api/households/restore', { op: out.body.op }, leader)).status).toBe(403);
      // a planner gives it back, as it was; twice at once, once
      const back = await Promise.all([1, 2].map(() => ctx.request('POST', '/api/households/restore', { op: out.body.op }, planner)));
      expect(back.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(await row(h.id)).toMatchObject({ address: h.address, head: h.head, version: h.version });
      expect(await count()).toBe(n);
      expect((await ctx.request('GET', `/api/households/removed?grid=${place.grid}`, undefined, planner)).body.some((r: Row) => r.id === h.id)).toBe(false);
      const ops = await ctx.request('GET', `/api/operations?region=${place.grid}&limit=5`, undefined, planner);
      expect(ops.body.operations[0]).toMatchObject({ action: 'restore', entity: 'household', names: [h.address] });
      expect(ops.body.operations.find((o: { op: number }) => o.op === out.body.op)).toMatchObject({ undone: true });
      // the planner's undo takes the restore back (removed again), redo gives it back
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      expect(await count()).toBe(n - 1);
      expect((await ctx.request('POST', '/api/changes/redo', undefined, planner)).status).toBe(200);
      expect(await count()).toBe(n);
      // (an operation that took nothing out)
      expect((await ctx.request('POST', '/api/households/restore', { op: 2147483647 }, planner)).status).toBe(404);
    });

    it('gives a household back where it lies now, refuses a door added again since, and leaves no undo stuck (from the attacker)', async () => {
      const drift = async () =>
        (
          await ctx.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM region r WHERE household_count <> (SELECT count(*) FROM household h WHERE h.region_id = r.id)
               + coalesce((SELECT sum(c.household_count) FROM region c WHERE c.parent_id = r.id), 0)`,
          )
        ).rows[0]!.n;
      const hs = (await householdsOf(place.grid, worker)).body as Row[];
      // taken out, the same door added again by the worker: giving the first back is refused, nothing changes
      const a = hs[4]!;
      const out = await ctx.request('POST', `/api/households/${a.id}/remove`, { version: a.version, reason: 'moved' }, worker);
      const here = (await ctx.db.query<{ lon: number; lat: number }>('SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM household_undone WHERE id = $1', [a.id]))
        .rows[0]!;
      const again = await ctx.request('POST', '/api/households', { ...here, address: a.address, size: 2 }, worker);
      expect(again.status, JSON.stringify(again.body)).toBe(201);
      const before = await ctx.snapshot();
      const twice = await ctx.request('POST', '/api/households/restore', { op: out.body.op }, planner);
      expect(twice.status).toBe(422);
      expect(twice.body.error).toMatchObject({ code: 'duplicate_address', details: { id: again.body.id } });
      expect(await ctx.snapshot()).toEqual(before);

      // a planner's removal, undone and redone, then given back by the worker: the planner's undo is not left stuck on it
      const b = hs[5]!;
      const gone = await ctx.request('POST', `/api/households/${b.id}/remove`, { version: b.version, reason: 'other' }, planner);
      expect(gone.status).toBe(200);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, planner)).status).toBe(200);
      expect((await ctx.request('POST', '/api/changes/redo', undefined, planner)).status).toBe(200);
      expect((await ctx.request('POST', '/api/households/restore', { op: gone.body.op }, worker)).status).toBe(200);
      const next = await ctx.request('POST', '/api/changes/undo', undefined, planner);
      expect(next.status === 200 || next.body.error.code === 'nothing_to_undo', JSON.stringify(next.body)).toBe(true);
      if (next.status === 200) expect((await ctx.request('POST', '/api/changes/redo', undefined, planner)).status).toBe(200);

      // its grid deleted since: it comes back where its point lies now (the village), counted there
      const c = ((await householdsOf(place.other, otherWorker)).body as Row[])[0]!;
      const removed = await ctx.request('POST', `/api/households/${c.id}/remove`, { version: c.version, reason: 'moved' }, planner);
      expect(removed.status).toBe(200);
      const { rows: g } = await ctx.db.query<{ version: number; parent: number }>('SELECT version, parent_id AS parent FROM region WHERE id = $1', [
        place.other,
      ]);
      const deleted = await ctx.request('DELETE', `/api/regions/${place.other}?version=${g[0]!.version}`, undefined, planner);
      expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
      const back = await ctx.request('POST', '/api/households/restore', { op: removed.body.op }, planner);
      expect(back.status, JSON.stringify(back.body)).toBe(200);
      expect((await ctx.db.query('SELECT region_id FROM household WHERE id = $1', [c.id])).rows).toEqual([{ region_id: g[0]!.parent }]);
      expect(await drift()).toBe(0);
    });
  });
}

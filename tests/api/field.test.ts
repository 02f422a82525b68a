import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpegJs from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** Bytes that start like a JPEG (the server checks the signature, not the picture). */
const jpeg = (n: number, fill = 7) => {
  const b = new Uint8Array(n).fill(fill);
  b.set([0xff, 0xd8, 0xff, 0xe0]);
  return b;
};

for (const driver of DRIVERS) {
  describe(`the field loop: photos, a grid's open incidents, staffing (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let place: { grid: number; other: number; village: number; worker: number; x: number; y: number };
    let worker: Record<string, string>;
    let police: Record<string, string>;
    let fire: Record<string, string>;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db, { cache: false });
      const { rows } = await ctx.db.query<any>(
        `SELECT g.id AS grid, g.parent_id AS village, g.worker_id AS worker, ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y,
                (SELECT o.id FROM region o WHERE o.level = 'grid' AND o.id <> g.id AND o.worker_id IS NOT NULL AND o.worker_id <> g.worker_id
                  ORDER BY o.code LIMIT 1) AS other
         FROM region g WHERE g.level = 'grid' AND g.worker_id IS NOT NULL ORDER BY g.code LIMIT 1`,
      );
      place = rows[0];
      worker = await ctx.cookie({ username: 'field-worker', role: 'worker', workerId: place.worker });
      police = await ctx.cookie({ username: 'field-police', role: 'department', department: 'police' });
      fire = await ctx.cookie({ username: 'field-fire', role: 'department', department: 'fire' });
    });
    afterAll(() => dispose());

    const upload = async (incident: number, bytes: Uint8Array, type = 'image/jpeg', headers: Record<string, string> = worker) => {
      const res = await ctx.app.request(`/api/incidents/${incident}/photos`, {
        method: 'POST',
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': type, ...headers },
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const photos = async () => (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM incident_photo')).rows[0]!.n;

    it('stores up to three photos per report, checks their type and size, and takes a resent photo once', async () => {
      const report = await ctx.request(
        'POST',
        '/api/incidents',
        { lon: place.x, lat: place.y, category: 'hazard', severity: 2, description: '围墙开裂' },
        worker,
      );
      expect(report.status).toBe(201);
      const id = report.body.id;
      const first = await upload(id, jpeg(5_000));
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect(first.body).toMatchObject({ incidentId: id, mime: 'image/jpeg', size: 5_000, url: `/api/incidents/${id}/photos/${first.body.id}` });
      // A retry of the same photo: the one stored, not a second.
      const again = await upload(id, jpeg(5_000));
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      const png = new Uint8Array(64);
      png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect((await upload(id, png, 'image/png')).body.mime).toBe('image/png');
      const webp = new TextEncoder().encode('RIFF\u0000\u0000\u0000\u0000WEBPVP8 ');
      expect((await upload(id, webp, 'image/webp')).status).toBe(201);
      const stored = await photos();

      // Refused, and nothing written: a fourth, not an image, not an image type, too big, empty, another grid's worker.
      expect((await upload(id, jpeg(100, 9))).body.error).toMatchObject({ code: 'too_many_photos', path: 'body' });
      const other = await ctx.request('POST', '/api/incidents', { lon: place.x, lat: place.y, category: 'hazard', severity: 1 }, worker);
      expect((await upload(other.body.id, new TextEncoder().encode('<svg onload=alert(1)>'), 'image/png')).body.error).toMatchObject({ code: 'not_an_image' });
      expect((await upload(other.body.id, jpeg(100), 'application/octet-stream')).body.error).toMatchObject({
        code: 'unsupported_media_type',
        path: 'content-type',
      });
      expect((await upload(other.body.id, jpeg(5 * 1024 * 1024))).body.error).toMatchObject({ code: 'payload_too_large' });
      expect((await upload(other.body.id, new Uint8Array(0))).status).toBe(400);
      expect((await upload(999_999, jpeg(100))).status).toBe(404);
      const stranger = await ctx.cookie({
        username: 'field-stranger',
        role: 'worker',
        workerId: (await ctx.db.query<any>('SELECT worker_id FROM region WHERE id = $1', [place.other])).rows[0].worker_id,
      });
      expect((await upload(other.body.id, jpeg(100), 'image/jpeg', stranger)).body.error.code).toBe('outside_scope');
      expect(await photos()).toBe(stored);

      // The photo comes back byte for byte, to the reporter; a department sees it once the case is sent to it.
      const got = await ctx.app.request(first.body.url, { headers: worker });
      expect(got.headers.get('content-type')).toBe('image/jpeg');
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(jpeg(5_000));
      expect((await ctx.app.request(first.body.url, { headers: stranger })).status).toBe(403);
      expect((await ctx.app.request(first.body.url, { headers: police })).status).toBe(403);
      await ctx.request('POST', `/api/incidents/${id}/dispatch`, { departments: ['police'] }, worker);
      expect((await ctx.app.request(first.body.url, { headers: police })).status).toBe(200);
      expect((await ctx.app.request(`/api/incidents/${other.body.id}/photos/${first.body.id}`, { headers: worker })).status).toBe(404);
    });

    it('gives a JPEG photo a thumbnail of at most 320 px for the lists of cases, made once, for those who may see the photo', async () => {
      // a phone's photo as the browser sends it: 1,600 × 1,200, red across, green down, blue even
      const [w, h] = [1_600, 1_200];
      const data = new Uint8Array(w * h * 4);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) data.set([Math.round((x * 255) / (w - 1)), Math.round((y * 255) / (h - 1)), 64, 255], (y * w + x) * 4);
      const photo = new Uint8Array(jpegJs.encode({ width: w, height: h, data }, 80).data);
      const report = await ctx.request(
        'POST',
        '/api/incidents',
        { lon: place.x, lat: place.y, category: 'hazard', severity: 1, description: '路灯不亮' },
        worker,
      );
      const sent = await upload(report.body.id, photo);
      expect(sent.status).toBe(201);
      const thumb = await ctx.app.request(`${sent.body.url}?size=thumb`, { headers: worker });
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get('content-type')).toBe('image/jpeg');
      const small = new Uint8Array(await thumb.arrayBuffer());
      expect(small.length).toBeLessThan(photo.length / 10);
      // read by GDAL, not by us: 320 × 240, and the same picture (each band's mean as the photo's, within JPEG's loss)
      const dir = mkdtempSync(join(tmpdir(), 'gridplan-thumb-'));
      writeFileSync(join(dir, 'thumb.jpg'), small);
      const info = JSON.parse(execFileSync('gdalinfo', ['-json', '-stats', join(dir, 'thumb.jpg')], { encoding: 'utf8' })) as {
        size: number[];
        bands: { mean: number }[];
      };
      expect(info.size).toEqual([320, 240]);
      expect(info.bands.map((b) => Math.round(b.mean / 4))).toEqual([32, 32, 16]);
      // made once and kept: the same bytes again; the photo itself unchanged
      expect((await ctx.db.query<{ n: number }>('SELECT length(thumb) AS n FROM incident_photo WHERE id = $1', [sent.body.id])).rows[0]!.n).toBe(small.length);
      expect(new Uint8Array(await (await ctx.app.request(`${sent.body.url}?size=thumb`, { headers: worker })).arrayBuffer())).toEqual(small);
      expect(new Uint8Array(await (await ctx.app.request(sent.body.url, { headers: worker })).arrayBuffer())).toEqual(photo);
      // no one else's, thumbnail or not; a size it does not know is refused in words
      expect((await ctx.app.request(`${sent.body.url}?size=thumb`, { headers: police })).status).toBe(403);
      const odd = await ctx.app.request(`${sent.body.url}?size=huge`, { headers: worker });
      expect(odd.status).toBe(400);
      expect(((await odd.json()) as any).error.path).toBe('query.size');
      // What it cannot make smaller (bytes that only start like a JPEG) it gives as they are.
      const fake = await upload(report.body.id, jpeg(3_000, 5));
      expect(new Uint8Array(await (await ctx.app.request(`${fake.body.url}?size=thumb`, { headers: worker })).arrayBuffer())).toEqual(jpeg(3_000, 5));
    });

    // (the thread is the server's, not the database's: one driver shows it)
    it.runIf(driver === DRIVERS[0])(
      'gives up within a time limit on a JPEG built to decode for minutes, made once however often asked, and other photos still get theirs',
      async () => {
        const sent = await ctx.request('POST', '/api/incidents', { lon: place.x, lat: place.y, category: 'hazard', severity: 1, description: '慢图' }, worker);
        // 6,000 × 4,000 grey, progressive, 40,000 scans that each end every block at once: valid, and minutes of decoding
        const bomb = slowJpeg(6_000, 4_000, 40_000);
        const slow = await upload(sent.body.id, bomb);
        expect(slow.status).toBe(201);
        const [w, h] = [1_600, 1_200];
        const normal = new Uint8Array(jpegJs.encode({ width: w, height: h, data: new Uint8Array(w * h * 4).fill(128) }, 80).data);
        const fine = await upload(sent.body.id, normal);
        const thumbOf = async (url: string) => new Uint8Array(await (await ctx.app.request(`${url}?size=thumb`, { headers: worker })).arrayBuffer());
        const [a, b, c, small] = await Promise.all([thumbOf(slow.body.url), thumbOf(slow.body.url), thumbOf(slow.body.url), thumbOf(fine.body.url)]);
        // the slow one: the photo itself, to each of the three, and none kept, so that it is never decoded again
        for (const got of [a, b, c]) expect(Buffer.from(got).equals(bomb)).toBe(true);
        expect((await ctx.db.query<{ n: number }>('SELECT length(thumb) AS n FROM incident_photo WHERE id = $1', [slow.body.id])).rows[0]!.n).toBe(0);
        // the other photo, waiting behind it, has its thumbnail
        expect(small.length).toBeGreaterThan(0);
        expect(small.length).toBeLessThan(normal.length / 5);
      },
    );

    it("lists the worker's grid's open incidents with each department's answer and the photos; closed ones leave the list", async () => {
      const report = await ctx.request(
        'POST',
        '/api/incidents',
        { lon: place.x, lat: place.y, category: 'fire', severity: 3, description: '电动车楼道充电', address: '  3 栋 2 单元楼道  ' },
        worker,
      );
      const id = report.body.id;
      // the place in words the worker gave (位置描述) goes with it, for the department to go by
      expect(report.body.address).toBe('3 栋 2 单元楼道');
      const long = await ctx.request('POST', '/api/incidents', { lon: place.x, lat: place.y, category: 'fire', severity: 1, address: 'x'.repeat(201) }, worker);
      expect([long.status, long.body.error.path]).toEqual([400, 'json.address']);
      await upload(id, jpeg(2_000, 3));
      const sent = await ctx.request('POST', `/api/incidents/${id}/dispatch`, { departments: ['police', 'fire'] }, worker);
      const byDept = Object.fromEntries(sent.body.dispatches.map((d: any) => [d.department.code, d]));
      await ctx.request('PATCH', `/api/dispatches/${byDept.fire.id}`, { action: 'acknowledge' }, fire);
      // 报到 with evidence: the department's photos of what it did, its own three; another department may not add to them
      const answerPhoto = async (dispatch: number, bytes: Uint8Array, headers: Record<string, string>) => {
        const res = await ctx.app.request(`/api/dispatches/${dispatch}/photos`, {
          method: 'POST',
          body: bytes as Uint8Array<ArrayBuffer>,
          headers: { 'content-type': 'image/jpeg', ...headers },
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const after = await answerPhoto(byDept.fire.id, jpeg(3_000, 11), fire);
      expect(after.status).toBe(201);
      expect(after.body).toMatchObject({ incidentId: id, size: 3_000 });
      expect((await answerPhoto(byDept.fire.id, jpeg(3_000, 11), fire)).status).toBe(200);
      expect((await answerPhoto(byDept.fire.id, jpeg(1_000, 12), police)).body.error.code).toBe('outside_scope');
      expect((await answerPhoto(byDept.fire.id, new TextEncoder().encode('not a photo'), fire)).body.error.code).toBe('not_an_image');
      expect((await answerPhoto(byDept.fire.id, jpeg(1_000, 13), worker)).status).toBe(403);
      await ctx.request('PATCH', `/api/dispatches/${byDept.fire.id}`, { action: 'resolve', answer: '已清理，张贴告示' }, fire);
      // resolved: its photos went with its answer
      expect((await answerPhoto(byDept.fire.id, jpeg(1_000, 14), fire)).body.error.code).toBe('dispatch_closed');
      // the worker sees it with the answer, and may open it; the report's own photos are the worker's one
      const seen = await ctx.app.request(after.body.url, { headers: worker });
      expect([seen.status, seen.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
      const { body: dispatches } = await ctx.request('GET', '/api/dispatches?state=all', undefined, fire);
      const fireItem = dispatches.items.find((d: any) => d.id === byDept.fire.id);
      expect(fireItem.answerPhotos).toEqual([after.body.url]);
      expect(fireItem.photos).toHaveLength(1);
      expect(fireItem.incident.photoUrls).toHaveLength(1);

      const list = await ctx.request('GET', '/api/field/incidents', undefined, worker);
      expect(list.status).toBe(200);
      expect(list.body.grids).toContain(place.grid);
      const mine = list.body.items.find((i: any) => i.id === id);
      expect(mine).toMatchObject({ status: 'dispatched', category: 'fire', photos: [{ mime: 'image/jpeg', size: 2_000 }] });
      expect(mine.dispatches.map((d: any) => [d.department.code, d.answer, d.resolvedAt !== null, d.acknowledgedAt !== null, d.answerPhotos])).toEqual([
        ['police', null, false, false, []],
        ['fire', '已清理，张贴告示', true, true, [after.body.url]],
      ]);
      expect(list.body.items.every((i: any) => i.gridId === place.grid && i.status !== 'closed')).toBe(true);

      await ctx.request('PATCH', `/api/dispatches/${byDept.police.id}`, { action: 'acknowledge' }, police);
      await ctx.request('PATCH', `/api/dispatches/${byDept.police.id}`, { action: 'resolve', answer: '已约谈住户' }, police);
      // a worker's close records the resident's verdict: without one it is refused, nothing written
      const unrated = await ctx.request('PATCH', `/api/incidents/${id}`, { status: 'closed', feedback: '住户满意' }, worker);
      expect([unrated.status, unrated.body.error.code, unrated.body.error.path]).toEqual([422, 'satisfaction_required', 'satisfaction']);
      const closed = await ctx.request('PATCH', `/api/incidents/${id}`, { status: 'closed', feedback: '住户满意', satisfaction: 'satisfied' }, worker);
      expect(closed.body.status).toBe('closed');
      expect((await ctx.request('GET', '/api/field/incidents', undefined, worker)).body.items.map((i: any) => i.id)).not.toContain(id);

      // 我的上报: what the worker reported stays in their own list, closed or marked invalid, with how it ended
      const junk = await ctx.request('POST', '/api/incidents', { lon: place.x, lat: place.y, category: 'other', severity: 1, description: '误点' }, worker);
      // (the centre's intake names who reported it, with the phone, to call back)
      const reporter = (await ctx.db.query<{ name: string; phone: string }>('SELECT name, phone FROM worker WHERE id = $1', [place.worker])).rows[0];
      const intake = (await ctx.request('GET', '/api/incidents?intake=true&limit=500')).body.items.find((i: any) => i.id === junk.body.id);
      expect(intake.history.reporter).toEqual(reporter);
      expect((await ctx.request('POST', `/api/incidents/${junk.body.id}/invalid`, { reason: '误报' })).status).toBe(200);
      const other = await ctx.request('POST', '/api/incidents', { lon: place.x, lat: place.y, category: 'other', severity: 1, description: '别人报的' });
      const own = await ctx.request('GET', '/api/field/incidents?mine=true', undefined, worker);
      expect(own.status).toBe(200);
      const ids = own.body.items.map((i: any) => i.id);
      expect(ids.slice(0, 2)).toEqual([junk.body.id, id]);
      expect(ids).not.toContain(other.body.id);
      expect(own.body.items[0]).toMatchObject({ void: { kind: 'invalid', reason: '误报' } });
      expect(own.body.items[1]).toMatchObject({ status: 'closed', satisfaction: 'satisfied', feedback: '住户满意' });
      expect((await ctx.request('GET', '/api/field/incidents', undefined, worker)).body.items.map((i: any) => i.id)).not.toContain(junk.body.id);
      // (only a grid worker has reports of their own)
      expect((await ctx.request('GET', '/api/field/incidents?mine=true')).status).toBe(403);

      // Another grid is not the worker's; everyone else names a grid.
      expect((await ctx.request('GET', `/api/field/incidents?grid=${place.other}`, undefined, worker)).status).toBe(403);
      expect((await ctx.request('GET', '/api/field/incidents')).body.error).toMatchObject({ code: 'grid_required', path: 'query.grid' });
      expect((await ctx.request('GET', `/api/field/incidents?grid=${place.village}`)).status).toBe(404);
      expect((await ctx.request('GET', `/api/field/incidents?grid=${place.grid}`)).body.grids).toEqual([place.grid]);

      // the card lists the departments on the case now: not one the centre took it from (改派), nor one that sent it back
      // (the worker read 消防救援 待受理 on a case closed long since; from the newcomer's pass)
      const moved = await ctx.request(
        'POST',
        '/api/incidents',
        { lon: place.x, lat: place.y, category: 'fire', severity: 2, description: '消防通道堵塞' },
        worker,
      );
      const both = await ctx.request('POST', `/api/incidents/${moved.body.id}/dispatch`, { departments: ['police', 'fire'] });
      const byCode = Object.fromEntries(both.body.dispatches.map((d: any) => [d.department.code, d]));
      expect((await ctx.request('PATCH', `/api/dispatches/${byCode.fire.id}`, { action: 'reassign', department: 'housing', reason: '改由住建' })).status).toBe(
        200,
      );
      expect((await ctx.request('PATCH', `/api/dispatches/${byCode.police.id}`, { action: 'return', reason: '不归公安' }, police)).status).toBe(200);
      const card = (await ctx.request('GET', '/api/field/incidents', undefined, worker)).body.items.find((i: any) => i.id === moved.body.id);
      expect(card.dispatches.map((d: any) => d.department.code)).toEqual(['housing']);
    });

    it("keeps each grid's 1+3+M+X staff, flags grids missing a required role, and undoes a staffing change", async () => {
      const roles = await ctx.request('GET', '/api/staff-roles');
      expect(roles.body.map((r: any) => [r.code, r.minPerGrid])).toEqual([
        ['grid_leader', 1],
        ['full_time', 1],
        ['police', 1],
        ['instructor', 1],
        ['part_time', 0],
        ['volunteer', 0],
      ]);
      const grid = (await ctx.request('GET', `/api/regions/${place.grid}`)).body;
      expect(grid.properties.staff.map((s: any) => s.role)).toEqual(expect.arrayContaining(['grid_leader', 'instructor']));

      // The grid loses its police officer: the coverage check of its village says so.
      const rest = grid.properties.staff.filter((s: any) => s.role !== 'police').map((s: any) => ({ workerId: s.workerId, role: s.role }));
      const patched = await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: grid.properties.version, staff: rest });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      const missing = async () =>
        (await ctx.request('GET', `/api/regions/${place.village}/coverage`)).body.issues.features.filter(
          (f: any) => f.properties.kind === 'grid_missing_role' && f.properties.regionIds[0] === place.grid,
        );
      expect((await missing()).map((f: any) => [f.properties.role, f.properties.count, f.properties.message.zh])).toEqual([
        ['police', 0, '缺网格警员（需 1 人，现 0 人）'],
      ]);

      // A new officer joins; a worker who is staff of a grid (not its full-time worker) may report there.
      const officer = await ctx.request('POST', '/api/workers', { name: '李警官', phone: '139****0001', role: 'police' });
      expect(officer.status).toBe(201);
      const v2 = (await ctx.request('GET', `/api/regions/${place.grid}`)).body.properties.version;
      const added = await ctx.request('PATCH', `/api/regions/${place.grid}`, { version: v2, staff: [...rest, { workerId: officer.body.id, role: 'police' }] });
      expect(added.status).toBe(200);
      expect(await missing()).toEqual([]);
      const me = await ctx.request(
        'GET',
        '/api/auth/me',
        undefined,
        await ctx.cookie({ username: 'field-officer', role: 'worker', workerId: officer.body.id }),
      );
      expect(me.body.gridIds).toEqual([place.grid]);
      // the staff list says so beside the role, for the admin's account picker (the full-time grid is someone else's)
      const listed = (await ctx.request('GET', '/api/workers')).body.find((w: { id: number }) => w.id === officer.body.id);
      expect(listed).toMatchObject({ roleZh: '网格警员', gridName: null, staffGrids: 1, staffGridName: expect.any(String) });

      // Undo puts the grid back without its officer.
      const undo = await ctx.request('POST', '/api/changes/undo');
      expect(undo.status, JSON.stringify(undo.body)).toBe(200);
      expect((await ctx.request('GET', `/api/regions/${place.grid}`)).body.properties.staff.some((s: any) => s.role === 'police')).toBe(false);

      // Bad staffing is refused and writes nothing.
      const v3 = (await ctx.request('GET', `/api/regions/${place.grid}`)).body.properties.version;
      const before = await ctx.snapshot();
      const bad = (staff: unknown, id = place.grid, version = v3) => ctx.request('PATCH', `/api/regions/${id}`, { version, staff });
      expect((await bad([{ workerId: officer.body.id, role: 'chief' }])).body.error).toMatchObject({ code: 'unknown_role', path: 'staff[0].role' });
      expect((await bad([{ workerId: officer.body.id, role: 'full_time' }])).body.error.code).toBe('full_time_is_worker');
      expect((await bad([{ workerId: 9_999_999, role: 'police' }])).body.error).toMatchObject({ code: 'not_found', path: 'staff[0].workerId' });
      expect(
        (
          await bad([
            { workerId: officer.body.id, role: 'police' },
            { workerId: officer.body.id, role: 'police' },
          ])
        ).body.error.code,
      ).toBe('duplicate_staff');
      const village = (await ctx.request('GET', `/api/regions/${place.village}`)).body.properties.version;
      expect((await bad([{ workerId: officer.body.id, role: 'police' }], place.village, village)).body.error.code).toBe('not_a_grid');
      expect((await bad([{ workerId: officer.body.id, role: 'police' }], place.grid, v3 - 1)).status).toBe(409);
      expect((await bad('all of them')).status).toBe(400);
      expect(await ctx.snapshot()).toEqual(before);

      // A county on 1+N+X needs no officer or instructor: the flag goes.
      const model = roles.body.map((r: any) => ({ ...r, minPerGrid: r.code === 'police' || r.code === 'instructor' ? 0 : r.minPerGrid }));
      const any = { 'if-match': '*' };
      const put = await ctx.request('PUT', '/api/staff-roles', { roles: model }, any);
      expect(put.body.find((r: any) => r.code === 'police').minPerGrid).toBe(0);
      expect(await missing()).toEqual([]);
      expect((await ctx.request('PUT', '/api/staff-roles', { roles: [{ code: 'full_time', zh: '专职', en: 'FT', minPerGrid: 0 }] }, any)).body.error.code).toBe(
        'full_time_required',
      );
      expect((await ctx.request('PUT', '/api/staff-roles', { roles: model }, { ...worker, ...any })).status).toBe(403);
      await ctx.request('PUT', '/api/staff-roles', { roles: roles.body }, any);
    });

    it("judges a grid by its district's own staffing model: 1+N+X there while the plan keeps 1+3+M+X, undone from the settings log", async () => {
      // (the grid is still without its officer, as the test before left it)
      const missing = async () =>
        (await ctx.request('GET', `/api/regions/${place.village}/coverage`)).body.issues.features
          .filter((f: any) => f.properties.kind === 'grid_missing_role' && f.properties.regionIds[0] === place.grid)
          .map((f: any) => f.properties.role);
      expect(await missing()).toEqual(['police']);
      const model = await ctx.request('GET', `/api/regions/${place.grid}/staffing`);
      expect(model.status, JSON.stringify(model.body)).toBe(200);
      const district = model.body.districtId as number;
      expect((await ctx.request('GET', `/api/regions/${district}`)).body.properties.level).toBe('district');
      expect(model.body.roles.find((r: any) => r.code === 'police')).toMatchObject({ minPerGrid: 1, own: false, defaultPerGrid: 1 });

      // the district on 1+N+X: no officer, no instructor per grid — the flag goes; the plan's model is as it was
      const put = (roles: unknown, version = model.body.version, headers?: Record<string, string>) =>
        ctx.request('PUT', `/api/regions/${district}/staffing`, { roles, version }, headers);
      const set = await put([
        { code: 'police', minPerGrid: 0 },
        { code: 'instructor', minPerGrid: 0 },
      ]);
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      expect(set.body.roles.filter((r: any) => r.own).map((r: any) => [r.code, r.minPerGrid])).toEqual([
        ['police', 0],
        ['instructor', 0],
      ]);
      expect(await missing()).toEqual([]);
      expect((await ctx.request('GET', '/api/staff-roles')).body.find((r: any) => r.code === 'police').minPerGrid).toBe(1);
      // the same again changes nothing: not logged, the version stays (nobody editing at it is refused for it)
      const again = await put([{ code: 'police', minPerGrid: 0 }], set.body.version);
      expect([again.status, again.body.version]).toEqual([200, set.body.version]);
      expect((await put([{ code: 'part_time', minPerGrid: null }], set.body.version)).body.version).toBe(set.body.version);

      // stale, unknown, the full-time worker, a city or a non-admin: refused, nothing written
      const before = await ctx.snapshot();
      expect((await put([{ code: 'police', minPerGrid: 2 }])).status).toBe(409);
      const v = set.body.version;
      expect((await put([{ code: 'chief', minPerGrid: 1 }], v)).body.error).toMatchObject({ code: 'unknown_role', path: 'roles[0].code' });
      expect((await put([{ code: 'full_time', minPerGrid: 2 }], v)).body.error.code).toBe('full_time_required');
      expect((await put([{ code: 'police', minPerGrid: 21 }], v)).status).toBe(400);
      expect((await put([{ code: 'police', minPerGrid: 1 }], v, worker)).status).toBe(403);
      expect(await ctx.snapshot()).toEqual(before);

      // undone from the settings log: the district follows the plan's model again, and the officer is missing again
      const log = (await ctx.request('GET', '/api/settings/changes?limit=5')).body;
      const entry = log.find((c: any) => c.entity === 'staff_requirement');
      expect(entry).toMatchObject({ subject: model.body.district, undone: false });
      expect(entry.changed).toEqual(expect.arrayContaining([expect.objectContaining({ item: 'police', field: 'minPerGrid', before: '1', after: '0' })]));
      expect((await ctx.request('POST', `/api/settings/changes/${entry.id}/undo`)).status).toBe(200);
      expect(await missing()).toEqual(['police']);
      expect((await ctx.request('GET', `/api/regions/${district}/staffing`)).body.roles.some((r: any) => r.own)).toBe(false);
    });
  });
}

/**
 * A valid progressive JPEG that decodes for minutes: one grey component, a DC scan, then `scans` AC scans whose every
 * block ends at once (an end-of-band run over the whole image), which a decoder still walks block by block.
 */
function slowJpeg(width: number, height: number, scans: number): Uint8Array {
  const segment = (marker: number, payload: number[]) => [0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload];
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const head = [
    0xff,
    0xd8,
    ...segment(0xdb, [0, ...new Array(64).fill(1)]),
    ...segment(0xc2, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]),
    // a DC table with one code (0) and an AC table with one code (an end-of-band run of 2^14)
    ...segment(0xc4, [0x00, 1, ...new Array(15).fill(0), 0x00, 0x10, 1, ...new Array(15).fill(0), 0xe0]),
    ...segment(0xda, [1, 1, 0, 0, 0, 0]),
    ...new Array(Math.ceil(blocks / 8) + 1).fill(0),
  ];
  const runs = Math.ceil(blocks / 16_384);
  const scan = [...segment(0xda, [1, 1, 0, 1, 0x3f, 0]), ...new Array(Math.ceil((runs * 15) / 8) + 1).fill(0)];
  const out = new Uint8Array(head.length + scan.length * scans + 2);
  out.set(head, 0);
  for (let i = 0; i < scans; i++) out.set(scan, head.length + i * scan.length);
  out.set([0xff, 0xd9], out.length - 2);
  return out;
}

import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import jpegJs from 'jpeg-js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../../server/db/db.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { sessionCookie } from '../support/auth.ts';
import { cloneTestDb } from '../support/db.ts';
import { launchBrowser, newPage, describeInBrowser, REDUCED_MOTION, DESKTOP } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'field');
// a 1×1 PNG
const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

/**
 * A phone's photo held sideways (200 × 100 pixels, EXIF orientation 6: shown turned a quarter, 100 × 200), as a
 * small JPEG a phone would once have sent as it was, so that its thumbnail, which reads no EXIF, lay on its side.
 */
const SIDEWAYS_JPEG = (() => {
  const [w, h] = [200, 100];
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set(i % w < w / 2 ? [200, 40, 40, 255] : [40, 40, 200, 255], i * 4);
  const exif = [0x45, 0x78, 0x69, 0x66, 0, 0, 0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
  return Buffer.from(jpegJs.encode({ width: w, height: h, data, exifBuffer: Buffer.from(exif) } as never, 90).data);
})();

describeInBrowser("a grid worker's phone and a department's queue in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let db: Db;
  let dispose: () => Promise<void>;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  let place: { grid: number; name: string; worker: number; x: number; y: number };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    ({ db, dispose } = await cloneTestDb('pglite'));
    server = await startServer({ db, port: 0 });
    browser = await launchBrowser();
    const { rows } = await db.query<typeof place>(
      `SELECT g.id AS grid, g.name, g.worker_id AS worker, ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y
       FROM region g WHERE g.level = 'grid' AND g.worker_id IS NOT NULL AND gp_area_m2(g.geom) > 20000 ORDER BY g.code LIMIT 1`,
    );
    place = rows[0]!;
    const cookie = await sessionCookie(db, { username: 'phone-worker', role: 'worker', workerId: place.worker });
    // A phone: 360×640, touch, located inside the worker's grid.
    context = await browser.newContext({
      viewport: { width: 360, height: 640 },
      deviceScaleFactor: 2,
      hasTouch: true,
      geolocation: { longitude: place.x, latitude: place.y },
      permissions: ['geolocation'],
      reducedMotion: REDUCED_MOTION,
    });
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: server.url }]);
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // Requests refused while offline are the point of the test, not errors.
      if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_RESET|Failed to fetch/.test(m.text()))
        errors.push(m.text());
    });
  });
  afterAll(async () => {
    expect(errors).toEqual([]);
    await browser?.close();
    await server?.close();
    await dispose?.();
  });

  const incidentsWith = async (description: string) =>
    (
      await db.query<{ id: number; photos: number; category: string; grid_id: number; lon: number; lat: number }>(
        'SELECT i.id, i.category, i.grid_id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, ' +
          '(SELECT count(*)::int FROM incident_photo p WHERE p.incident_id = i.id) AS photos FROM incident i WHERE ' +
          'description = $1',
        [description],
      )
    ).rows;
  const mapReady = () => page.waitForSelector('[data-testid="field-map"][data-idle="true"] canvas', { timeout: 60_000 });

  it('lands a worker on /report, and sends a located report with a photo', async () => {
    await page.goto(server.url + '/');
    await page.waitForURL(/\/report$/);
    await mapReady();
    await expect.poll(() => page.locator('[data-testid="report-grid"]').textContent()).toBe(place.name);
    await expect.poll(() => page.locator('[data-testid="category-fire"]').count()).toBe(1);
    expect(await page.locator('[data-testid="submit"]').isDisabled()).toBe(true);
    // Touch targets are large enough for a thumb.
    const box = (await page.locator('[data-testid="category-fire"]').boundingBox())!;
    expect(box.height).toBeGreaterThanOrEqual(44);
    // Nothing runs off the side of a 360-pixel screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);

    // where the phone stands, in words: outside the grid, how far (not its coordinates); inside, the nearest door
    await context.setGeolocation({ longitude: place.x, latitude: place.y + 0.03 });
    await page.locator('[data-testid="locate"]').click();
    await expect.poll(() => page.locator('[data-testid="where"]').textContent()).toMatch(/已定位：\s*在本网格外约 [\d.]+\s(米|公里)/); // (past a kilometre, in 公里)
    expect(await page.locator('[data-testid="outside"]').count()).toBe(1);
    await context.setGeolocation({ longitude: place.x, latitude: place.y });
    await page.locator('[data-testid="locate"]').click();
    await expect.poll(() => page.locator('[data-testid="where"]').textContent()).toMatch(/已定位：\s*距 \S+ 约 \d+ 米/);
    expect(await page.locator('[data-testid="outside"]').count()).toBe(0);
    await page.waitForSelector('[data-testid="field-map"][data-idle="true"]');
    await page.screenshot({ path: join(ARTIFACTS, '0-report-located.png') });
    await page.locator('[data-testid="category-fire"]').click();
    await page.locator('[data-testid="severity-3"]').click();
    await page.locator('[data-testid="description"]').fill('楼道电动车充电，有起火隐患');
    await page.locator('[data-testid="report-address"]').fill('5 栋 1 单元楼道');
    // A photo made in the page (a real PNG), which the page shrinks to JPEG before sending.
    const png = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 640;
      c.height = 480;
      const g = c.getContext('2d')!;
      g.fillStyle = '#c0392b';
      g.fillRect(0, 0, 640, 480);
      g.fillStyle = '#fff';
      g.fillRect(200, 150, 240, 180);
      return c.toDataURL('image/png').split(',')[1]!;
    });
    await page.locator('[data-testid="photo-input"]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    // the photo is shrunk on the phone before its thumbnail shows: slow on a busy machine
    await expect.poll(() => page.locator('.thumb img').count(), { timeout: 30_000 }).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '1-report-form.png'), fullPage: false });
    await page.locator('[data-testid="submit"]').click();
    // (with the number it got, to find it again)
    await expect.poll(() => page.locator('[data-testid="notice"]').textContent()).toMatch(/^已上报（编号 #\d+），感谢！/);
    const sent = await incidentsWith('楼道电动车充电，有起火隐患');
    expect(sent).toEqual([{ id: expect.any(Number), category: 'fire', grid_id: place.grid, photos: 1, lon: expect.any(Number), lat: expect.any(Number) }]);
    const {
      rows: [photo],
    } = await db.query<{ mime: string; size: number }>('SELECT mime, size FROM incident_photo WHERE incident_id = $1', [sent[0]!.id]);
    expect(photo!.mime).toBe('image/jpeg');
    // (the place in words went with it, and the form is empty again)
    expect((await db.query<{ address: string }>('SELECT address FROM incident WHERE id = $1', [sent[0]!.id])).rows[0]!.address).toBe('5 栋 1 单元楼道');
    expect(await page.locator('[data-testid="report-address"]').inputValue()).toBe('');
    await page.screenshot({ path: join(ARTIFACTS, '2-report-sent.png') });
  });

  it('keeps a report made offline on the phone, through a lost answer and a reload, and sends it once', async () => {
    await context.setOffline(true);
    await expect.poll(() => page.locator('[data-testid="network"]').textContent()).toBe('离线');
    // Placed from the keyboard (no GPS fix, no touch): the arrow keys move the map under its centre cross, Enter puts the report there.
    await page.locator('[data-testid="field-map"]').scrollIntoViewIfNeeded();
    const canvas = page.locator('[data-testid="field-map"] canvas.maplibregl-canvas');
    expect(await canvas.getAttribute('aria-label')).toContain('回车');
    await canvas.focus();
    // each press a whole step, however quick (MapLibre's eased steps lost presses made during the easing)
    const px = () =>
      page.locator('[data-testid="field-map"]').evaluate((el) => {
        const m = (el as HTMLElement & { gridplanMap: { project(p: [number, number]): { x: number; y: number }; getCenter(): { lng: number; lat: number } } })
          .gridplanMap;
        return m.getCenter();
      });
    const from = await px();
    for (const key of ['ArrowRight', 'ArrowRight', 'ArrowRight', 'ArrowUp']) await page.keyboard.press(key);
    const moved = await page.locator('[data-testid="field-map"]').evaluate((el, c) => {
      const m = (el as HTMLElement & { gridplanMap: { project(p: [number, number]): { x: number; y: number } } }).gridplanMap;
      const [a, b] = [m.project([c.lng, c.lat]), { x: el.clientWidth / 2, y: el.clientHeight / 2 }];
      return [Math.round(b.x - a.x), Math.round(b.y - a.y)];
    }, from);
    expect(moved).toEqual([240, -80]);
    for (const key of ['ArrowLeft', 'ArrowLeft', 'ArrowLeft', 'ArrowDown']) await page.keyboard.press(key);
    await expect.poll(() => page.locator('[data-testid="field-map-keys"]').isVisible()).toBe(true);
    await mapReady();
    const centre = await page.locator('[data-testid="field-map"]').evaluate((el) => {
      const c = (el as HTMLElement & { gridplanMap: { getCenter(): { lng: number; lat: number } } }).gridplanMap.getCenter();
      return [Number(c.lng.toFixed(7)), Number(c.lat.toFixed(7))];
    });
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-testid="where"]').textContent()).toContain('已选点');
    await page.screenshot({ path: join(ARTIFACTS, '3-placed-by-keys.png') });
    await page.locator('[data-testid="category-dispute"]').click();
    await page.locator('[data-testid="description"]').fill('两户因排水沟起纠纷');
    await page.locator('[data-testid="submit"]').click();
    await expect.poll(() => page.locator('[data-testid="notice"]').textContent()).toContain('联网后自动发送');
    expect(await page.locator('[data-testid="outbox"] .pending').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '3-offline-queued.png') });
    expect(await incidentsWith('两户因排水沟起纠纷')).toEqual([]);

    // Back online, but the server's answer is lost on the way: the server has it, the phone does not know.
    let lost = 0;
    await page.route('**/api/incidents', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await route.fetch();
      lost++;
      await route.abort('connectionreset');
    });
    await context.setOffline(false);
    await expect.poll(() => lost, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    expect(await incidentsWith('两户因排水沟起纠纷')).toHaveLength(1);
    // Still waiting on the phone, and still there after a reload (kept in IndexedDB).
    await page.unroute('**/api/incidents');
    await page.route('**/api/incidents', (route) => (route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.continue()));
    await page.reload();
    await mapReady();
    await expect.poll(() => page.locator('[data-testid="outbox"] .pending').count()).toBe(1);
    // The connection is really back: the resend with the same key finds the incident already made.
    await page.unroute('**/api/incidents');
    await page.evaluate(() => dispatchEvent(new Event('online')));
    await expect.poll(() => page.locator('[data-testid="outbox"]').count(), { timeout: 30_000 }).toBe(0);
    expect(await incidentsWith('两户因排水沟起纠纷')).toHaveLength(1);
    // where the cross was
    const { rows: at } = await db.query<{ lon: number; lat: number }>('SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incident WHERE description = $1', [
      '两户因排水沟起纠纷',
    ]);
    expect(Math.abs(at[0]!.lon - centre[0]!)).toBeLessThan(1e-6);
    expect(Math.abs(at[0]!.lat - centre[1]!)).toBeLessThan(1e-6);
  });

  it('keeps the reports of two pages of the app made offline at once (a QR link opened beside the app), and says when a photo is refused', async () => {
    const report = async (p: Page, text: string) => {
      await p.locator('[data-testid="locate"]').click();
      await expect.poll(() => p.locator('[data-testid="where"]').textContent()).toContain('已定位');
      await p.locator('[data-testid="category-dispute"]').click();
      await p.locator('[data-testid="description"]').fill(text);
      await p.locator('[data-testid="submit"]').click();
    };
    const second = await context.newPage();
    await second.goto(server.url + `/report?grid=${place.grid}`);
    await second.waitForSelector('[data-testid="field-map"][data-idle="true"] canvas', { timeout: 60_000 });
    await page.goto(server.url + '/report');
    await mapReady();
    await context.setOffline(true);
    await report(page, '两个页面之一：路灯不亮');
    await expect.poll(() => page.locator('[data-testid="notice"]').textContent()).toContain('联网后自动发送');
    await report(second, '两个页面之二：井盖松动');
    await expect.poll(() => second.locator('[data-testid="notice"]').textContent()).toContain('联网后自动发送');
    // one page closes (the phone discards it); the other sends what both kept once the signal returns
    await page.close();
    await context.setOffline(false);
    await second.evaluate(() => dispatchEvent(new Event('online')));
    await expect.poll(async () => (await incidentsWith('两个页面之一：路灯不亮')).length, { timeout: 60_000 }).toBe(1);
    await expect.poll(async () => (await incidentsWith('两个页面之二：井盖松动')).length, { timeout: 60_000 }).toBe(1);
    await expect.poll(() => second.locator('[data-testid="outbox"]').count(), { timeout: 30_000 }).toBe(0);

    // a photo a gateway refuses for good (413): the report goes in, and the worker is told, not "sent"
    let release!: () => void;
    const held = new Promise<void>((done) => (release = done));
    await second.route('**/api/incidents/*/photos', async (route) => {
      await held;
      await route.fulfill({ status: 413, body: '' });
    });
    await second.locator('[data-testid="photo-input"]').setInputFiles({ name: 'p.png', mimeType: 'image/png', buffer: TINY_PNG });
    await expect.poll(() => second.locator('.thumb img').count(), { timeout: 30_000 }).toBe(1);
    await report(second, '照片被网关拒收的一条');
    // while its photo is on its way, the phone says the report is in and which photo goes
    await expect.poll(() => second.locator('[data-testid="outbox-state"]').textContent(), { timeout: 30_000 }).toBe('报告已送达，正在发送照片 1/1…');
    await second.screenshot({ path: join(ARTIFACTS, '3a-photo-sending.png') });
    release();
    await expect
      .poll(() => second.locator('[data-testid="notice"]').textContent(), { timeout: 30_000 })
      .toMatch(/已上报（编号 \d+），但有 1 张照片服务器没有收下/);
    expect(await incidentsWith('照片被网关拒收的一条')).toEqual([expect.objectContaining({ photos: 0 })]);
    await expect.poll(() => second.locator('[data-testid="outbox"] .pending.failed').count()).toBe(1);
    await second.screenshot({ path: join(ARTIFACTS, '3b-photo-refused.png') });
    await second.locator('[data-testid="outbox"] button').click();
    await expect.poll(() => second.locator('[data-testid="outbox"]').count()).toBe(0);
    await second.close();
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });

  it('opens offline after one online visit, records a patrol with no signal at 360×640, and sends it when the signal returns', async () => {
    await context.setOffline(false);
    // 考核 opened by a worker: their own month, under 巡查 (the ranking is for those who lead them), not "no access"
    await page.goto(server.url + '/assessment');
    await expect.poll(() => page.url(), { timeout: 30_000 }).toBe(server.url + '/report?tab=patrol');
    await expect.poll(() => page.locator('[data-testid="patrol-month"]').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.locator('[data-testid="denied"]').count()).toBe(0);
    await page.goto(server.url + '/report');
    // the one online visit: the service worker takes the page over and keeps the shell
    await page.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: 60_000 });
    // (a visit under its control keeps the worker's answers too: the session, the grid, its households, the month)
    await page.reload();
    await page.locator('[data-testid="tab-patrol"]').click();
    await expect.poll(() => page.locator('[data-testid="patrol-households"]').textContent(), { timeout: 30_000 }).toMatch(/（[1-9]\d* 户）/);
    await expect.poll(() => page.locator('[data-testid="patrol-month"]').textContent(), { timeout: 30_000 }).toMatch(/积分|本月还没有数据/);

    await context.setOffline(true);
    await page.reload();
    await page.locator('[data-testid="tab-patrol"]').click();
    await expect.poll(() => page.locator('[data-testid="network"]').textContent(), { timeout: 30_000 }).toBe('离线');
    await expect.poll(() => page.locator('[data-testid="patrol-households"]').textContent(), { timeout: 30_000 }).toMatch(/（[1-9]\d* 户）/);
    await page.screenshot({ path: join(ARTIFACTS, '10-patrol-opened-offline.png') });
    // 我的位置 with no walk under way: the phone asked on a tap, its place shown on the households' map
    await page.locator('[data-testid="household-map-toggle"]').click();
    await context.setGeolocation({ longitude: place.x, latitude: place.y });
    await page.locator('[data-testid="household-map-locate"]').click();
    await expect.poll(() => page.locator('[data-testid="household-map-locate"]').count()).toBe(0);
    expect(await page.locator('[data-testid="household-map-legend"]').textContent()).toContain('我的位置');
    await page.screenshot({ path: join(ARTIFACTS, '10a-household-map-located.png') });
    await page.locator('[data-testid="household-map-toggle"]').click();
    await page.locator('[data-testid="patrol-start"]').click();
    await expect.poll(() => page.locator('[data-testid^="visit-"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    // walking north, 40 m a step
    for (let step = 0; step <= 3; step++) {
      await context.setGeolocation({ longitude: place.x, latitude: place.y + step * 0.00036 });
      // the first fix is the walk's start: until it is kept (the watch begins after the walk is saved), moving on would start it further north
      if (step === 0) await expect.poll(() => page.locator('[data-testid="patrol-waiting"]').count(), { timeout: 30_000 }).toBe(0);
      await expect.poll(() => page.locator('[data-testid="patrol-km"]').textContent(), { timeout: 30_000 }).toBe(String(Number((step * 0.04).toFixed(2))));
    }
    const household = page.locator('[data-testid^="visit-"]').first();
    const householdId = Number((await household.getAttribute('data-testid'))!.replace('visit-', ''));
    await household.click();
    await expect.poll(() => page.locator('[data-testid="patrol-visits"]').textContent()).toBe('1');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(ARTIFACTS, '11-patrol-offline.png') });
    // 地图: the grid's households as dots, the one just visited green among those not yet visited this month, where the worker stands;
    // a tap on a dot opens that household in the list
    await page.locator('[data-testid="household-map-toggle"]').click();
    const fieldMap = page.locator('[data-testid="household-map"] [data-testid="field-map"]');
    await fieldMap.locator('canvas').waitFor();
    await expect.poll(() => fieldMap.getAttribute('data-idle'), { timeout: 30_000 }).toBe('true');
    const dot = (id: number) =>
      fieldMap.evaluate((el, id) => {
        const m = (el as any).gridplanMap;
        const f = m.querySourceFeatures('households').find((x: any) => x.properties.id === id);
        if (!f) return null;
        const at = m.project(f.geometry.coordinates);
        return { visited: f.properties.visited as string, x: at.x, y: at.y };
      }, id);
    await expect.poll(async () => (await dot(householdId))?.visited).toBe('yes');
    expect(await page.locator('[data-testid="household-map-legend"]').textContent()).toMatch(/本月已走访 [1-9]\d* 户.*未走访 \d+ 户.*我的位置/);
    await page.screenshot({ path: join(ARTIFACTS, '11a-household-map.png') });
    // (one whose dot stands apart from the others', well inside the map)
    const { other, x, y } = await fieldMap.evaluate((el, visited) => {
      const m = (el as any).gridplanMap;
      const { width, height } = m.getCanvas().getBoundingClientRect();
      const dots = [...new Map(m.querySourceFeatures('households').map((f: any) => [f.properties.id, m.project(f.geometry.coordinates)])).entries()] as [
        number,
        { x: number; y: number },
      ][];
      const apart = dots.find(
        ([id, a]) =>
          id !== visited &&
          a.x > 30 &&
          a.x < width - 30 &&
          a.y > 30 &&
          a.y < height - 30 &&
          dots.every(([other, b]) => other === id || Math.hypot(a.x - b.x, a.y - b.y) > 30),
      )!;
      return { other: apart[0], x: apart[1].x, y: apart[1].y };
    }, householdId);
    await fieldMap.scrollIntoViewIfNeeded();
    const box = (await fieldMap.boundingBox())!;
    await page.mouse.click(box.x + x, box.y + y);
    await expect.poll(() => page.locator('[data-testid="household-list"] li.picked').getAttribute('data-testid')).toBe(`household-${other}`);
    expect(await page.locator('[data-testid="household-list"] li[data-testid^="household-"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '11c-household-map-picked.png') });
    // said so, with the way back to every household
    await page.locator('[data-testid="household-show-all"]').click();
    await expect.poll(() => page.locator('[data-testid="household-list"] li[data-testid^="household-"]').count()).toBeGreaterThan(1);
    expect(await page.locator('[data-testid="household-picked-note"]').count()).toBe(0);
    await page.locator('[data-testid="household-map-toggle"]').click();
    await expect.poll(() => page.locator('[data-testid="household-map"]').count()).toBe(0);
    // it asks first: a tap meant for the list below does not end the walk
    await page.locator('[data-testid="patrol-stop"]').click();
    expect(await page.locator('[data-testid="patrol-stop-confirm"]').textContent()).toMatch(/结束这次巡查？已走 [\d.]+ 公里，走访 \d+ 户/);
    await page.screenshot({ path: join(ARTIFACTS, '11b-patrol-end-asked.png') });
    await page.locator('[data-testid="patrol-continue"]').click();
    await expect.poll(() => page.locator('[data-testid="patrol-stop"]').count()).toBe(1);
    expect(await page.locator('[data-testid="patrol-live"]').count()).toBe(1);
    await page.locator('[data-testid="patrol-stop"]').click();
    await page.locator('[data-testid="patrol-stop-yes"]').click();
    await expect.poll(() => page.locator('[data-testid="patrol-queue"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '12-patrol-waiting.png') });
    const patrols = () =>
      db.query<{ points: number; distance_m: number; visits: number[] }>(
        `SELECT p.points, p.distance_m, ARRAY(SELECT v.household_id FROM patrol_visit v WHERE v.patrol_id = p.id) AS visits
         FROM patrol p WHERE p.grid_id = $1 AND p.reported_by = 'phone-worker'`,
        [place.grid],
      );
    expect((await patrols()).rows).toEqual([]);

    // the signal returns: the patrol goes up by itself
    await context.setOffline(false);
    await expect.poll(async () => (await patrols()).rows.length, { timeout: 60_000 }).toBe(1);
    const [stored] = (await patrols()).rows;
    expect(stored!.points).toBe(4);
    expect(stored!.distance_m).toBeGreaterThan(110);
    expect(stored!.distance_m).toBeLessThan(130);
    expect(stored!.visits).toEqual([householdId]);
    await expect.poll(() => page.locator('[data-testid="patrol-queue"]').count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => page.locator('[data-testid="patrol-points"]').count(), { timeout: 30_000 }).toBe(1);
    // said so, and the household visited shows today's visit without a reload
    expect(await page.locator('[data-testid="patrol-notice"]').textContent()).toMatch(/已上传 1 次巡查（[\d.]+ 公里，走访 1 户）/);
    const today = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', month: 'numeric', day: 'numeric' }).format(new Date());
    await expect.poll(() => page.locator(`[data-testid="household-${householdId}"]`).textContent()).toContain(`上次走访 ${today} `);
    await page.screenshot({ path: join(ARTIFACTS, '13-patrol-sent.png') });

    // 本网格住户: who heads each household, a number to call, and a correction made at the door (撤销 puts it back)
    const first = page.locator('[data-testid="household-list"] li[data-testid^="household-"]').first();
    const corrected = Number((await first.getAttribute('data-testid'))!.replace('household-', ''));
    const was = (await db.query<{ phone: string }>('SELECT phone FROM household WHERE id = $1', [corrected])).rows[0]!.phone;
    expect(await first.textContent()).toMatch(/户主 \p{Script=Han}{2,4}/u);
    await page.locator(`[data-testid="household-edit-${corrected}"]`).click();
    await page.locator('[data-testid="household-phone"]').fill('139 0874 5566');
    await page.locator('[data-testid="household-save"]').click();
    await expect.poll(() => page.locator(`[data-testid="household-call-${corrected}"]`).getAttribute('href')).toBe('tel:13908745566');
    expect((await db.query<{ phone: string }>('SELECT phone FROM household WHERE id = $1', [corrected])).rows[0]!.phone).toBe('13908745566');
    await page.screenshot({ path: join(ARTIFACTS, '13a-household-corrected.png') });
    await page.locator('[data-testid="household-undo"]').click();
    await expect.poll(async () => (await db.query<{ phone: string }>('SELECT phone FROM household WHERE id = $1', [corrected])).rows[0]!.phone).toBe(was);
    // with no network, a correction waits on the phone and goes up when the signal returns
    await expect.poll(() => page.locator('[data-testid="household-saved"]').count()).toBe(0);
    await context.setOffline(true);
    await page.locator(`[data-testid="household-edit-${corrected}"]`).click();
    await page.locator('[data-testid="household-phone"]').fill('139 0874 7788');
    await page.locator('[data-testid="household-save"]').click();
    await expect.poll(() => page.locator('[data-testid="household-saved"]').textContent()).toContain('联网后自动上传');
    await expect.poll(() => page.locator('[data-testid="household-pending"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '13c-household-offline.png') });
    await context.setOffline(false);
    await page.evaluate(() => dispatchEvent(new Event('online')));
    await expect
      .poll(async () => (await db.query<{ phone: string }>('SELECT phone FROM household WHERE id = $1', [corrected])).rows[0]!.phone, { timeout: 30_000 })
      .toBe('13908747788');
    await expect.poll(() => page.locator('[data-testid="household-pending"]').count(), { timeout: 30_000 }).toBe(0);

    // 新增住户: one found at the door that no list had, where the phone stands; 撤销 takes it back
    const named = (address: string) => db.query<{ id: number; region_id: number }>('SELECT id, region_id FROM household WHERE address = $1', [address]);
    await context.setGeolocation({ longitude: place.x, latitude: place.y });
    await page.locator('[data-testid="household-add"]').click();
    await page.locator('[data-testid="household-add-locate"]').click();
    // (said by the nearest door listed, the coordinates on hover)
    await expect.poll(() => page.locator('[data-testid="household-add-where"]').textContent()).toMatch(/已定位：\s*距 .+ 约 \d+ 米/);
    expect(await page.locator('[data-testid="household-add-where"]').getAttribute('title')).toContain(place.x.toFixed(5));
    await page.locator('[data-testid="household-add-address"]').fill('银湾村901号');
    await page.locator('[data-testid="household-add-size"]').fill('4');
    await page.locator('[data-testid="household-add-head"]').fill('王小明');
    await page.screenshot({ path: join(ARTIFACTS, '13d-household-add.png') });
    await page.locator('[data-testid="household-add-save"]').click();
    await expect.poll(() => page.locator('[data-testid="household-saved"]').textContent()).toContain('已新增「银湾村901号」');
    expect((await named('银湾村901号')).rows).toEqual([{ id: expect.any(Number), region_id: place.grid }]);
    expect(await page.locator('[data-testid="household-list"]').textContent()).toContain('王小明');
    await page.locator('[data-testid="household-undo"]').click();
    await expect.poll(async () => (await named('银湾村901号')).rows.length).toBe(0);
    // 注销: a household that moved away leaves the list; 撤销 gives it back
    await page.locator(`[data-testid="household-edit-${corrected}"]`).click();
    await page.locator('[data-testid="household-remove"]').click();
    await page.locator('[data-testid="household-remove-note"]').fill('迁往曲靖市区');
    expect(await page.locator('[data-testid="household-remove-note"]').evaluate((e) => e.getBoundingClientRect().right)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(ARTIFACTS, '13e-household-remove.png') });
    await page.locator('[data-testid="household-remove-confirm"]').click();
    await expect.poll(() => page.locator('[data-testid="household-saved"]').textContent()).toMatch(/已注销「.+」：\s*已迁出/);
    expect((await db.query('SELECT 1 FROM household WHERE id = $1', [corrected])).rows).toEqual([]);
    expect(await page.locator(`[data-testid="household-${corrected}"]`).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '13f-household-removed.png') });
    await page.locator('[data-testid="household-undo"]').click();
    await expect.poll(() => page.locator(`[data-testid="household-${corrected}"]`).count()).toBe(1);
    expect(await page.locator('[data-testid="household-saved"]').textContent()).toContain('已撤销');
    expect((await db.query('SELECT 1 FROM household WHERE id = $1', [corrected])).rows).toHaveLength(1);
    // taken out again, and given back later from 已注销的住户 (the banner's 撤销 gone)
    await page.locator(`[data-testid="household-edit-${corrected}"]`).click();
    await page.locator('[data-testid="household-remove"]').click();
    await page.locator('[data-testid="household-remove-duplicate"]').check();
    await page.locator('[data-testid="household-remove-confirm"]').click();
    await expect.poll(() => page.locator('[data-testid="household-saved"]').textContent()).toContain('重复登记');
    await page.locator('[data-testid="household-removed"] summary').click();
    await expect.poll(() => page.locator(`[data-testid="removed-${corrected}"]`).textContent()).toContain('重复登记');
    await page.locator(`[data-testid="removed-${corrected}"]`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, '13g-household-removed-list.png') });
    await page.locator(`[data-testid="restore-${corrected}"]`).click();
    await expect.poll(() => page.locator('[data-testid="household-saved"]').textContent()).toContain('已恢复');
    expect((await db.query('SELECT 1 FROM household WHERE id = $1', [corrected])).rows).toHaveLength(1);
    expect(await page.locator(`[data-testid="removed-${corrected}"]`).count()).toBe(0);
    // with no network, a household added waits on the phone and goes up when the signal returns
    await context.setOffline(true);
    await page.locator('[data-testid="household-add"]').click();
    await page.locator('[data-testid="household-add-locate"]').click();
    // (said by the nearest door listed, the coordinates on hover)
    await expect.poll(() => page.locator('[data-testid="household-add-where"]').textContent()).toMatch(/已定位：\s*距 .+ 约 \d+ 米/);
    expect(await page.locator('[data-testid="household-add-where"]').getAttribute('title')).toContain(place.x.toFixed(5));
    await page.locator('[data-testid="household-add-address"]').fill('银湾村902号');
    await page.locator('[data-testid="household-add-size"]').fill('2');
    await page.locator('[data-testid="household-add-save"]').click();
    await expect.poll(() => page.locator('[data-testid="household-saved"]').textContent()).toContain('联网后自动上传');
    await expect.poll(() => page.locator('[data-testid="household-pending-adds"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '13h-household-add-offline.png') });
    await context.setOffline(false);
    await page.evaluate(() => dispatchEvent(new Event('online')));
    await expect.poll(async () => (await named('银湾村902号')).rows.length, { timeout: 30_000 }).toBe(1);
    await expect.poll(() => page.locator('[data-testid="household-pending-adds"]').count(), { timeout: 30_000 }).toBe(0);

    // a patrol whose track cannot have been walked (a bad fix 3 km away): refused, and its visit kept without the track
    await page.locator('[data-testid="patrol-start"]').click();
    await context.setGeolocation({ longitude: place.x, latitude: place.y });
    await expect.poll(() => page.locator('[data-testid="patrol-waiting"]').count(), { timeout: 30_000 }).toBe(0);
    await context.setGeolocation({ longitude: place.x, latitude: place.y + 0.03 });
    await expect.poll(() => page.locator('[data-testid="patrol-km"]').textContent(), { timeout: 30_000 }).not.toBe('0');
    const visited = page.locator('[data-testid^="visit-"]').first();
    const visitedId = Number((await visited.getAttribute('data-testid'))!.replace('visit-', ''));
    await visited.click();
    await expect.poll(() => page.locator('[data-testid="patrol-visits"]').textContent()).toBe('1');
    await page.locator('[data-testid="patrol-stop"]').click();
    await page.locator('[data-testid="patrol-stop-yes"]').click();
    await expect.poll(() => page.locator('[data-testid="patrol-keep-visits"]').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.locator('[data-testid="patrol-queue"]').textContent()).toMatch(/只保存 1 户走访/);
    await page.screenshot({ path: join(ARTIFACTS, '13b-patrol-refused.png') });
    expect((await patrols()).rows).toHaveLength(1);
    await page.locator('[data-testid="patrol-keep-visits"]').click();
    await expect.poll(async () => (await patrols()).rows.length, { timeout: 30_000 }).toBe(2);
    expect((await patrols()).rows).toContainEqual({ points: 0, distance_m: 0, visits: [visitedId] });
    await expect.poll(() => page.locator('[data-testid="patrol-queue"]').count(), { timeout: 30_000 }).toBe(0);
    await page.locator('[data-testid="tab-report"]').click();
  });

  it('sends a report made offline when the signal returns, the app closed (Background Sync)', async () => {
    // a page that is not the app (no outbox runs there), to reach the service worker through DevTools once the app is closed
    const probe = await context.newPage();
    await probe.goto(server.url + '/api/health');
    const cdp = await context.newCDPSession(probe);
    let registrationId: string | undefined;
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL === server.url + '/' && !r.isDeleted);
      if (ours) registrationId = ours.registrationId;
    });
    await cdp.send('ServiceWorker.enable');
    await expect.poll(() => registrationId, { timeout: 30_000 }).toBeDefined();

    // (a phone's Chrome allows Background Sync unless the user turned it off; a test browser's context asks first)
    await context.grantPermissions(['geolocation', 'background-sync'], { origin: server.url });
    await page.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: 60_000 });
    // (back in the grid: the walk before ended 3 km north of it)
    await context.setGeolocation({ longitude: place.x, latitude: place.y });
    await page.reload();
    await mapReady();
    await context.setOffline(true);
    const text = '山里没信号时上报：滑坡堵路';
    await page.locator('[data-testid="photo-input"]').setInputFiles({ name: 'p.png', mimeType: 'image/png', buffer: TINY_PNG });
    await expect.poll(() => page.locator('.thumb img').count(), { timeout: 30_000 }).toBe(1);
    await page.locator('[data-testid="locate"]').click();
    await expect.poll(() => page.locator('[data-testid="where"]').textContent()).toContain('已定位');
    await page.locator('[data-testid="category-hazard"]').click();
    await page.locator('[data-testid="description"]').fill(text);
    await page.locator('[data-testid="submit"]').click();
    await expect.poll(() => page.locator('[data-testid="notice"]').textContent()).toContain('联网后自动发送');
    // the page asked the browser to send it when it can
    await expect
      .poll(() => page.evaluate(async () => ((await navigator.serviceWorker.ready) as unknown as { sync: { getTags(): Promise<string[]> } }).sync.getTags()))
      .toContain('gridplan-send');
    // the worker puts the phone away: the app is closed with the report on it
    await page.close();
    expect(await incidentsWith(text)).toEqual([]);
    // the signal returns; the browser wakes the service worker (here by DevTools, as Chromium would on reconnecting)
    await context.setOffline(false);
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin: server.url, registrationId: registrationId!, tag: 'gridplan-send', lastChance: false });
    await expect.poll(async () => (await incidentsWith(text)).length, { timeout: 60_000 }).toBe(1);
    await expect.poll(async () => (await incidentsWith(text))[0]!.photos, { timeout: 60_000 }).toBe(1);
    // opened again, the app has nothing waiting, and sends nothing twice
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url + '/report');
    await mapReady();
    await expect.poll(() => page.locator('[data-testid="outbox"]').count(), { timeout: 30_000 }).toBe(0);
    expect(await incidentsWith(text)).toHaveLength(1);
    await cdp.detach();
    await probe.close();
  });

  it("sends only the signed-in account's queue in the background: another account's reports on a shared phone wait for it", async () => {
    const probe = await context.newPage();
    await probe.goto(server.url + '/api/health');
    const cdp = await context.newCDPSession(probe);
    let registrationId: string | undefined;
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL === server.url + '/' && !r.isDeleted);
      if (ours) registrationId = ours.registrationId;
    });
    await cdp.send('ServiceWorker.enable');
    await expect.poll(() => registrationId, { timeout: 30_000 }).toBeDefined();
    // Two reports kept on the phone as the app keeps them: one of the account signed in, one of another account
    // whose session ended before the signal returned (its queue, its name).
    const [mine, theirs] = ['共享手机：本人离线上报', '共享手机：他人离线上报'];
    await probe.evaluate(
      async ({ queues, x, y }) => {
        for (const [db, description] of queues) {
          const open = indexedDB.open(db);
          open.onupgradeneeded = () => open.result.createObjectStore('reports');
          const conn = await new Promise<IDBDatabase>((ok, fail) => ((open.onsuccess = () => ok(open.result)), (open.onerror = () => fail(open.error))));
          const key = crypto.randomUUID();
          const body = { lon: x, lat: y, category: 'hazard', severity: 2, description, reportedAt: new Date().toISOString() };
          const record = { key, createdAt: new Date().toISOString(), body, photos: [], incidentId: null, photosSent: 0, error: null };
          await new Promise((ok, fail) => {
            const t = conn.transaction('reports', 'readwrite');
            t.objectStore('reports').put(record, key);
            t.oncomplete = ok;
            t.onerror = fail;
          });
          conn.close();
        }
      },
      {
        queues: [
          ['gridplan-outbox-phone-worker', mine],
          ['gridplan-outbox-worker-before', theirs],
        ] as [string, string][],
        x: place.x,
        y: place.y,
      },
    );
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin: server.url, registrationId: registrationId!, tag: 'gridplan-send', lastChance: false });
    await expect.poll(async () => (await incidentsWith(mine)).length, { timeout: 60_000 }).toBe(1);
    // the other account's report went nowhere, under nobody's name, and still waits on the phone for its owner
    expect(await incidentsWith(theirs)).toEqual([]);
    const left = await probe.evaluate(async () => {
      const open = indexedDB.open('gridplan-outbox-worker-before');
      const conn = await new Promise<IDBDatabase>((ok) => (open.onsuccess = () => ok(open.result)));
      const n = await new Promise<number>((ok) => {
        const r = conn.transaction('reports').objectStore('reports').count();
        r.onsuccess = () => ok(r.result);
      });
      conn.close();
      return n;
    });
    expect(left).toBe(1);
    await cdp.detach();
    await probe.close();
  });

  it("lists the grid's open incidents with the departments' answers, and closes one with feedback", async () => {
    const [incident] = await incidentsWith('楼道电动车充电，有起火隐患');
    const {
      rows: [d],
    } = await db.query<{ id: number }>(
      `INSERT INTO dispatch (incident_id, department_id, dispatched_at, ack_due_at, due_at, acknowledged_at, resolved_at, answer)
       SELECT $1, id, now(), now() + interval '1 hour', now() + interval '6 hours', now(), now(), '已上门检查，责令整改' FROM department
         WHERE code = 'fire' RETURNING id`,
      [incident!.id],
    );
    expect(d).toBeDefined();
    await db.query(`UPDATE incident SET status = 'resolved', dispatched_at = now(), resolved_at = now(), department = '消防救援' WHERE id = $1`, [
      incident!.id,
    ]);
    await page.reload();
    await mapReady();
    await page.locator('[data-testid="tab-list"]').click();
    // the phone's three views are tabs to a screen reader: the one shown is the selected tab
    expect(await page.locator('[data-testid="tab-list"]').getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('[data-testid="tab-report"]').getAttribute('aria-selected')).toBe('false');
    const card = page.locator(`[data-testid="case-${incident!.id}"]`);
    await expect.poll(() => card.locator('[data-testid="answer"]').textContent()).toContain('已上门检查，责令整改');
    expect(await card.locator('img.shot').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '4-grid-list.png') });
    // a photo the list asked for with no signal (never loaded before) loads when the signal returns: it stayed broken
    const shot = card.locator('img.shot');
    await context.setOffline(true);
    await shot.evaluate((img: HTMLImageElement) => (img.src = `${img.src}&first=1`));
    await expect.poll(() => shot.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth === 0), { timeout: 30_000 }).toBe(true);
    await context.setOffline(false);
    await expect.poll(() => shot.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 30_000 }).toBeGreaterThan(0);
    await card.locator(`[data-testid="close-${incident!.id}"]`).click();
    // the verdict is a big button whose radio lies over it, within it: a tap checks it, and the page stays where it is
    // (the radios once escaped the list: a tap on a case lower down scrolled the whole page to blank)
    // unsatisfied asks for the resident's words (the centre reviews it by them) before it can be sent
    await card.locator('[data-testid="verdict-unsatisfied"]').check({ timeout: 30_000 });
    await card.locator('[data-testid="feedback-needed"]').waitFor();
    expect(await card.locator('[data-testid="confirm-close"]').isDisabled()).toBe(true);
    const satisfied = card.locator('[data-testid="verdict-satisfied"]');
    await satisfied.check({ timeout: 30_000 });
    expect(await satisfied.isChecked()).toBe(true);
    expect(await page.evaluate(() => [document.documentElement.scrollHeight <= innerHeight, scrollY])).toEqual([true, 0]);
    await card.locator('textarea').fill('住户已整改，表示满意');
    await page.screenshot({ path: join(ARTIFACTS, '4b-closing-with-verdict.png') });
    await card.locator('[data-testid="confirm-close"]').click();
    await expect.poll(() => card.count()).toBe(0);
    // the case left the list: said where it went
    expect(await page.locator('[data-testid="case-closed-note"]').textContent()).toBe(`#${incident!.id} 已结案（满意）。`);
    const {
      rows: [closed],
    } = await db.query<{ status: string; feedback: string; satisfaction: string }>('SELECT status, feedback, satisfaction FROM incident WHERE id = $1', [
      incident!.id,
    ]);
    expect(closed).toEqual({ status: 'closed', feedback: '住户已整改，表示满意', satisfaction: 'satisfied' });
    // closed, it left 本网格待办; 我的上报 still has it, with how it ended
    await page.locator('[data-testid="list-mine"]').click();
    await expect.poll(() => card.locator('[data-testid="case-status"]').textContent()).toBe('已结案');
    expect(await card.locator('[data-testid="case-closed"]').textContent()).toMatch(/^\s*满意 · 住户已整改，表示满意 · /);
    expect(await card.locator(`[data-testid="close-${incident!.id}"]`).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '4c-my-reports.png') });
    await page.locator('[data-testid="list-open"]').click();
  });

  it('solves a case on the spot from the phone, without a department', async () => {
    const {
      rows: [open],
    } = await db.query<{ id: number }>(
      `INSERT INTO incident (geom, category, severity, description, reported_at, status, grid_id)
       SELECT ST_PointOnSurface(geom), 'sanitation', 1, '路边垃圾堆放', now() - interval '2 hours', 'reported', id FROM region WHERE id = $1 RETURNING id`,
      [place.grid],
    );
    await page.reload();
    await mapReady();
    await page.locator('[data-testid="tab-list"]').click();
    const card = page.locator(`[data-testid="case-${open!.id}"]`);
    await card.locator(`[data-testid="on-spot-${open!.id}"]`).click();
    await card.locator('[data-testid="on-spot-text"]').fill('已联系保洁员清运');
    await card.locator('[data-testid="confirm-on-spot"]').click();
    await expect.poll(() => card.locator('[data-testid="on-spot-note"]').textContent(), { timeout: 30_000 }).toContain('已联系保洁员清运');
    await page.screenshot({ path: join(ARTIFACTS, '4c-solved-on-the-spot.png') });
    const {
      rows: [solved],
    } = await db.query<{ status: string; solved_level: string }>('SELECT status, solved_level FROM incident WHERE id = $1', [open!.id]);
    expect(solved).toEqual({ status: 'resolved', solved_level: 'grid' });
  });

  it('lets a department acknowledge and answer what was sent to it', async () => {
    const [incident] = await incidentsWith('两户因排水沟起纠纷');
    const {
      rows: [sent],
    } = await db.query<{ id: number }>(
      `INSERT INTO dispatch (incident_id, department_id, dispatched_at, ack_due_at, due_at)
       SELECT $1, id, now(), now() + interval '4 hours', now() + interval '48 hours' FROM department WHERE code = 'mediation' RETURNING id`,
      [incident!.id],
    );
    await db.query(`UPDATE incident SET status = 'dispatched', dispatched_at = now(), department = '司法调解' WHERE id = $1`, [incident!.id]);
    const cookie = await sessionCookie(db, { username: 'mediator', role: 'department', department: 'mediation' });
    const desk = await newPage(browser, server.url, cookie, DESKTOP);
    desk.on('pageerror', (e) => errors.push(e.message));
    await desk.goto(server.url + '/');
    await desk.waitForURL(/\/dispatch$/);
    const card = desk.locator(`[data-testid="dispatch-${sent!.id}"]`);
    await expect.poll(() => card.locator('[data-testid="dispatch-state"]').textContent()).toBe('待受理');
    expect(await desk.locator('[data-testid="own-department"]').textContent()).toContain('司法调解');
    // the planning tools are no tab of a department's bar (it reads the plan for its cards' maps)
    expect(await desk.locator('header nav a').allTextContents()).not.toContain('规划');
    // where it is: the card's map draws the case in its grid, and 导航 opens Amap at the place in GCJ-02 (a few hundred metres off WGS 84)
    const nav = new URL((await card.locator('[data-testid="dispatch-nav"]').getAttribute('href'))!);
    expect(nav.host).toBe('uri.amap.com');
    const [navLon, navLat] = nav.searchParams.get('position')!.split(',').map(Number);
    expect(nav.searchParams.get('coordinate')).toBe('gaode');
    expect(Math.abs(navLon! - incident!.lon) + Math.abs(navLat! - incident!.lat)).toBeGreaterThan(0.001);
    expect(Math.abs(navLon! - incident!.lon) + Math.abs(navLat! - incident!.lat)).toBeLessThan(0.02);
    await card.locator('[data-testid="dispatch-map-toggle"]').click();
    await card.locator('[data-testid="dispatch-map"] [data-testid="field-map"][data-idle="true"] canvas').waitFor({ timeout: 60_000 });
    await desk.screenshot({ path: join(ARTIFACTS, '5-department-queue.png') });
    await card.locator('[data-testid="dispatch-map-toggle"]').click();
    await card.locator('[data-testid="dispatch-map"]').waitFor({ state: 'detached' });
    // 受理 over a line that loses the answer: the server has it; the card reads the queue again and shows it taken,
    // rather than waiting for a second tap that would be refused as stale
    await desk.route('**/api/dispatches/*', async (route) => {
      if (route.request().method() !== 'PATCH') return route.continue();
      await route.fetch();
      await route.abort('connectionreset');
    });
    await card.locator('[data-testid="acknowledge"]').click();
    await expect.poll(() => card.locator('[data-testid="dispatch-state"]').textContent()).toBe('已受理，处理中');
    await desk.unroute('**/api/dispatches/*');
    await card.locator('[data-testid="resolve"]').click();
    await card.locator('[data-testid="answer-text"]').fill('已组织双方调解，签订协议');
    // with a photo of the agreement signed (处置后照片)
    await card.locator('[data-testid="answer-photo"]').setInputFiles({ name: 'after.jpg', mimeType: 'image/jpeg', buffer: SIDEWAYS_JPEG });
    await expect.poll(() => card.locator('.shot img').count()).toBe(1);
    await card.screenshot({ path: join(ARTIFACTS, '6a-answer-with-photo.png') });
    await card.locator('[data-testid="send-answer"]').click();
    // Answered, it leaves the open queue, and the queue says so; the incident is resolved.
    await expect.poll(() => card.count()).toBe(0);
    await expect.poll(() => desk.locator('[data-testid="dispatch-notice"]').textContent()).toMatch(/已答复 #\d+，.*办结了/);
    const {
      rows: [after],
    } = await db.query<{ status: string; answer: string }>(
      'SELECT i.status, d.answer FROM incident i JOIN dispatch d ON d.incident_id = i.id WHERE d.id = $1',
      [sent!.id],
    );
    expect(after).toEqual({ status: 'resolved', answer: '已组织双方调解，签订协议' });
    const { rows: stored } = await db.query<{ bytes: Uint8Array }>('SELECT bytes FROM incident_photo WHERE dispatch_id = $1', [sent!.id]);
    expect(stored).toHaveLength(1);
    // upright as the phone showed it: turned by the phone before sending (GDAL reads its size)
    const upright = join(ARTIFACTS, 'answer-photo.jpg');
    await writeFile(upright, stored[0]!.bytes);
    expect((JSON.parse(execFileSync('gdalinfo', ['-json', upright], { encoding: 'utf8' })) as { size: number[] }).size).toEqual([100, 200]);
    await desk.locator('[data-testid="state-all"]').click();
    await expect.poll(() => card.count()).toBe(1);
    // the answer shows with its photo, drawn
    await expect
      .poll(() => card.locator('[data-testid="answer-photos"] img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0))
      .toBe(true);
    // the card draws the photo's thumbnail; a click opens the photo itself
    expect(await card.locator('[data-testid="answer-photos"] img').getAttribute('src')).toMatch(/^\/api\/incidents\/\d+\/photos\/\d+\?size=thumb$/);
    expect(await card.locator('[data-testid="answer-photos"] a').getAttribute('href')).toMatch(/^\/api\/incidents\/\d+\/photos\/\d+$/);
    await card.screenshot({ path: join(ARTIFACTS, '6b-answered-card.png') });
    await desk.screenshot({ path: join(ARTIFACTS, '6-department-answered.png') });
    await desk.close();
  });

  it('a department asks for more time on its phone and the centre approves it; another department sends its part back', async () => {
    const {
      rows: [incident],
    } = await db.query<{ id: number }>(
      `INSERT INTO incident (geom, category, severity, description, reported_at, status, grid_id)
       SELECT ST_PointOnSurface(geom), 'hazard', 2, '挡土墙开裂，雨季有垮塌风险', now() - interval '1 hour', 'reported', id
       FROM region WHERE level = 'grid' ORDER BY code LIMIT 1 RETURNING id`,
    );
    const {
      rows: [lead, assist],
    } = await db.query<{ id: number }>(
      `INSERT INTO dispatch (incident_id, department_id, dispatched_at, ack_due_at, due_at, role)
       SELECT $1, id, now(), now() + interval '4 hours', now() + interval '48 hours', CASE code WHEN 'housing' THEN 'lead' ELSE 'assist' END
       FROM department WHERE code IN ('housing', 'environment') ORDER BY code = 'housing' DESC RETURNING id`,
      [incident!.id],
    );
    await db.query(`UPDATE incident SET status = 'dispatched', dispatched_at = now(), department = '住建、生态环境' WHERE id = $1`, [incident!.id]);
    // the lead, on a phone: more time, with the new deadline and why
    const phone = await newPage(browser, server.url, await sessionCookie(db, { username: 'housing-clerk', role: 'department', department: 'housing' }), {
      width: 360,
      height: 640,
    });
    phone.on('pageerror', (e) => errors.push(e.message));
    await phone.goto(server.url + '/dispatch');
    const card = phone.locator(`[data-testid="dispatch-${lead!.id}"]`);
    expect(await card.locator('[data-testid="dispatch-role"]').textContent()).toBe('主办');
    await card.locator('[data-testid="extend"]').click();
    const later = new Date(Date.now() + 5 * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 16);
    await card.locator('[data-testid="extend-until"]').fill(later);
    await card.locator('[data-testid="step-reason"]').fill('需请专业机构鉴定');
    await card.locator('[data-testid="send-step"]').click();
    await expect.poll(() => card.locator('[data-testid="dispatch-extension"]').textContent(), { timeout: 30_000 }).toContain('待中心审批');
    await phone.screenshot({ path: join(ARTIFACTS, '7-department-asks-more-time-phone.png') });
    await phone.close();
    // the assisting department sends its part back
    const env = await newPage(browser, server.url, await sessionCookie(db, { username: 'env-clerk', role: 'department', department: 'environment' }));
    await env.goto(server.url + '/dispatch');
    const other = env.locator(`[data-testid="dispatch-${assist!.id}"]`);
    await other.locator('[data-testid="return"]').click();
    await other.locator('[data-testid="step-reason"]').fill('不涉及生态环境');
    await other.locator('[data-testid="send-step"]').click();
    await expect.poll(() => other.count(), { timeout: 30_000 }).toBe(0);
    // its 已超时 tab speaks of its own late dispatches and what to do, not of how the wall counts
    await env.locator('[data-testid="state-overdue"]').click();
    await expect.poll(() => env.locator('[data-testid="overdue-hint"]').textContent()).toContain('申请延期');
    expect(await env.locator('[data-testid="overdue-hint"]').textContent()).not.toContain('大屏');
    await env.close();
    // the centre approves: the deadline moves
    const centre = await newPage(browser, server.url, await sessionCookie(db, { username: 'duty-centre', role: 'center', regionId: null }), DESKTOP);
    centre.on('pageerror', (e) => errors.push(e.message));
    await centre.goto(server.url + '/dispatch');
    // what waits for its decision, on a tab of its own
    await expect.poll(() => centre.locator('[data-testid="count-extension"]').textContent(), { timeout: 30_000 }).toBe('1');
    await centre.locator('[data-testid="state-extension"]').click();
    const asked = centre.locator(`[data-testid="dispatch-${lead!.id}"]`);
    await asked.locator('[data-testid="approve-extension"]').waitFor();
    await centre.screenshot({ path: join(ARTIFACTS, '8-centre-more-time-to-decide.png') });
    await asked.locator('[data-testid="approve-extension"]').click();
    // decided, it leaves the tab; the deadline moved to the day asked for
    await expect.poll(() => asked.count(), { timeout: 30_000 }).toBe(0);
    const {
      rows: [decided],
    } = await db.query<{ state: string; moved: boolean }>(`SELECT extension_state AS state, due_at = extension_until AS moved FROM dispatch WHERE id = $1`, [
      lead!.id,
    ]);
    expect(decided).toEqual({ state: 'approved', moved: true });
    await centre.close();
  });

  it("routes a case from the centre's console: a lead and an assisting department, deadlines shown first", async () => {
    const {
      rows: [fresh],
    } = await db.query<{ id: number }>(
      `INSERT INTO incident (geom, category, severity, description, reported_at, status, grid_id)
       SELECT ST_PointOnSurface(geom), 'hazard', 3, '广告牌松动，随时可能坠落', now() - interval '10 minutes', 'reported', id FROM region WHERE id = $1 RETURNING id`,
      [place.grid],
    );
    // with a photo: the intake list draws its thumbnail beside the words, to tell one pothole from another at a glance
    await db.query(
      `INSERT INTO incident_photo (incident_id, mime, bytes, size, sha256, uploaded_by) VALUES ($1, 'image/jpeg', $2, $3, md5($2::bytea::text), 'test')`,
      [fresh!.id, SIDEWAYS_JPEG, SIDEWAYS_JPEG.length],
    );
    // (the housing clerk has an account before the case is sent: the notice goes to the accounts there are)
    const clerkCookie = await sessionCookie(db, { username: 'console-housing', role: 'department', department: 'housing' });
    const desk = await newPage(browser, server.url, await sessionCookie(db, { username: 'console-centre', role: 'center', regionId: null }), DESKTOP);
    desk.on('pageerror', (e) => errors.push(e.message));
    // while the intake loads its count is not shown (it said 0 until the list came)
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await desk.route(/\/api\/incidents\?.*intake=true/, async (route) => {
      await held;
      await route.continue();
    });
    await desk.goto(server.url + '/');
    await desk.waitForURL(/\/center$/);
    await desk.locator('[data-testid="list-intake"]').waitFor();
    expect(await desk.locator('[data-testid="intake-count"]').count()).toBe(0);
    release();
    await expect.poll(() => desk.locator('[data-testid="intake-count"]').textContent(), { timeout: 30_000 }).toMatch(/^[1-9]\d*$/);
    await desk.unrouteAll();
    // the other tab's count beside it too (only the open tab had said how many it holds)
    await expect.poll(() => desk.locator('[data-testid="review-count"]').textContent(), { timeout: 30_000 }).toMatch(/^\d+$/);
    // narrowed to the township where the fresh case happened: it is still there, with no more cases than in all; then all again
    const everywhere = Number(await desk.locator('[data-testid="intake-count"]').textContent());
    const {
      rows: [township],
    } = await db.query<{ id: number }>(
      `SELECT t.id FROM incident i JOIN region g ON g.id = i.grid_id JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id WHERE i.id = $1`,
      [fresh!.id],
    );
    await desk.locator('[data-testid="intake-area"]').selectOption(String(township!.id));
    await expect.poll(() => desk.locator(`[data-testid="intake-${fresh!.id}"]`).count(), { timeout: 30_000 }).toBe(1);
    await expect
      .poll(async () => Number(await desk.locator('[data-testid="intake-count"]').textContent()), { timeout: 30_000 })
      .toBeLessThanOrEqual(everywhere);
    await desk.locator('[data-testid="intake-area"]').selectOption('');
    await expect.poll(async () => Number(await desk.locator('[data-testid="intake-count"]').textContent()), { timeout: 30_000 }).toBe(everywhere);
    // before a case is picked: the queue on a map and what it holds; a report's dot picks it as its card does
    await expect.poll(() => desk.locator('[data-testid="center-summary"]').textContent(), { timeout: 30_000 }).toMatch(/\d+ 件待受理.*严重 \d+/);
    const {
      rows: [spot],
    } = await db.query<{ lon: number; lat: number }>('SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incident WHERE id = $1', [fresh!.id]);
    const queueMap = desk.locator('[data-testid="queue-map"][data-idle="true"]');
    await queueMap.waitFor({ timeout: 30_000 });
    const dot = await queueMap.evaluate(
      (el, p) => (el as HTMLElement & { gridplanMap: { project(p: number[]): { x: number; y: number } } }).gridplanMap.project(p),
      [spot!.lon, spot!.lat],
    );
    await queueMap.click({ position: { x: dot.x, y: dot.y } });
    await desk.locator('[data-testid="center-map"]').waitFor({ timeout: 30_000 });
    expect(await desk.locator('[data-testid="center-overview"]').count()).toBe(0);
    const thumb = desk.locator(`[data-testid="intake-${fresh!.id}"] [data-testid="intake-thumb"]`);
    expect(await thumb.getAttribute('src')).toMatch(/^\/api\/incidents\/\d+\/photos\/\d+\?size=thumb$/);
    await thumb.scrollIntoViewIfNeeded();
    // drawn: the server made the thumbnail and the browser decoded it
    await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 30_000 }).toBeGreaterThan(0);
    await desk.locator(`[data-testid="intake-${fresh!.id}"]`).click();
    await expect.poll(() => desk.locator('[data-testid="route-deadlines"]').textContent(), { timeout: 30_000 }).toMatch(/小时内受理/);
    // the category's own department is ticked and leads; the police assist
    expect(await desk.locator('[data-testid="dept-housing"]').isChecked()).toBe(true);
    await desk.locator('[data-testid="dept-police"]').check();
    // the centre's own deadline, instead of the category's (a picker in the machine's time zone, as the page's)
    const due = new Date(Date.now() + 2 * 86_400_000);
    due.setSeconds(0, 0);
    const p2 = (n: number) => String(n).padStart(2, '0');
    await desk.locator('[data-testid="own-due"]').check();
    await expect.poll(() => desk.locator('[data-testid="route-deadlines"]').count()).toBe(0);
    await desk
      .locator('[data-testid="route-due"]')
      .fill(`${due.getFullYear()}-${p2(due.getMonth() + 1)}-${p2(due.getDate())}T${p2(due.getHours())}:${p2(due.getMinutes())}`);
    await desk.screenshot({ path: join(ARTIFACTS, '9-centre-console.png') });
    await desk.locator('[data-testid="route-send"]').click();
    // it says where the case went and by when
    await expect
      .poll(() => desk.locator('[data-testid="center-notice"]').textContent(), { timeout: 30_000 })
      .toMatch(new RegExp(`#${fresh!.id} 已派至 住建（主办）、公安，.+ 前办结`));
    await expect.poll(() => desk.locator(`[data-testid="intake-${fresh!.id}"]`).count(), { timeout: 30_000 }).toBe(0);
    const { rows } = await db.query<{ code: string; role: string; due: string }>(
      `SELECT dep.code, d.role, d.due_at AS due FROM dispatch d JOIN department dep ON dep.id = d.department_id WHERE d.incident_id = $1
       ORDER BY d.role DESC`,
      [fresh!.id],
    );
    expect(rows.map(({ code, role }) => ({ code, role }))).toEqual([
      { code: 'housing', role: 'lead' },
      { code: 'police', role: 'assist' },
    ]);
    expect(rows.map((r) => new Date(r.due).getTime())).toEqual([due.getTime(), due.getTime()]);
    await desk.close();

    // the housing clerk's bell rings; the notice opens the case in the department's queue
    const clerk = await newPage(browser, server.url, clerkCookie, DESKTOP);
    clerk.on('pageerror', (e) => errors.push(e.message));
    await clerk.goto(server.url + '/plan');
    await expect.poll(() => clerk.locator('[data-testid="bell-count"]').count(), { timeout: 30_000 }).toBe(1);
    await clerk.locator('[data-testid="bell"]').click();
    const notice = clerk.locator('[data-testid="inbox-notice"]', { hasText: `#${fresh!.id}` });
    await expect.poll(() => notice.textContent(), { timeout: 30_000 }).toMatch(/新派单（主办）/);
    await clerk.screenshot({ path: join(ARTIFACTS, '10-department-inbox.png') });
    await notice.click();
    await clerk.waitForURL(/\/dispatch/);
    await expect.poll(() => clerk.locator('article[data-testid^="dispatch-"]').count(), { timeout: 30_000 }).toBe(1);
    expect(await clerk.locator('article[data-testid^="dispatch-"]').first().textContent()).toContain('广告牌松动');
    await clerk.close();

    // 督办: the centre urges the housing clerk on, who hears it, and gives the police's part to the mediators
    const follow = await newPage(browser, server.url, await sessionCookie(db, { username: 'console-centre', role: 'center', regionId: null }), DESKTOP);
    follow.on('pageerror', (e) => errors.push(e.message));
    await follow.goto(server.url + '/dispatch');
    await follow.locator('[data-testid="state-all"]').click();
    await follow.locator('[data-testid="dispatch-search"]').fill(`#${fresh!.id}`);
    await expect.poll(() => follow.locator('article.card').count()).toBe(2);
    // (the assisting card names the lead too: 协办（主办：住建）)
    const lead = follow.locator('article.card', { has: follow.locator('[data-testid="dispatch-role"]', { hasText: /^主办$/ }) });
    const assist = follow.locator('article.card', { hasText: '公安' });
    await lead.locator('[data-testid="urge"]').click();
    await lead.locator('[data-testid="follow-reason"]').fill('群众多次来电，请今天内受理');
    await lead.locator('[data-testid="send-follow-up"]').click();
    await expect.poll(() => lead.locator('[data-testid="urged"]').textContent()).toMatch(/已催办 1 次/);
    // (before it is acknowledged, the card says by when it is to be resolved too: the centre's own deadline)
    expect(await lead.locator('[data-testid="resolve-by"]').textContent()).toMatch(/前办结$/);
    await assist.locator('[data-testid="reassign"]').click();
    await assist.locator('[data-testid="reassign-to"]').selectOption('mediation');
    // a reason first: without one it is not sent
    expect(await assist.locator('[data-testid="send-follow-up"]').isDisabled()).toBe(true);
    await assist.locator('[data-testid="follow-reason"]').fill('属邻里纠纷，改由司法调解');
    await follow.screenshot({ path: join(ARTIFACTS, '10b-centre-follow-up.png') });
    await assist.locator('[data-testid="send-follow-up"]').click();
    await expect.poll(() => assist.locator('[data-testid="reassigned"]').textContent()).toMatch(/^改派至司法调解：属邻里纠纷/);
    await expect
      .poll(() =>
        follow.locator('article.card:not(:has([data-testid="reassigned"]))', { hasText: '司法调解' }).locator('[data-testid="dispatch-role"]').textContent(),
      )
      // (an assisting department is told who leads)
      .toBe('协办（主办：住建）');
    expect(await follow.locator('[data-testid="dispatch-notice"]').textContent()).toContain(`#${fresh!.id}`);
    // the mediators' card says where the case came from
    expect(
      await follow
        .locator('article.card:not(:has([data-testid="reassigned"]))', { hasText: '司法调解' })
        .locator('[data-testid="reassigned-from"]')
        .textContent(),
    ).toMatch(/由公安改派而来：属邻里纠纷，改由司法调解/);
    const heard = await db.query<{ text_zh: string }>(
      `SELECT n.text_zh FROM notification n JOIN app_user u ON u.id = n.user_id WHERE u.username = 'console-housing' AND n.event = 'dispatch.urged'`,
    );
    expect(heard.rows.map((r) => r.text_zh)).toEqual([expect.stringMatching(/^催办（第1次）.*群众多次来电/)]);
    // 办理过程 on the card: the case so far, oldest first, the urge with its words
    await lead.locator('[data-testid="case-timeline"] summary').click();
    const kinds = () => lead.locator('[data-testid="timeline-step"]').evaluateAll((li) => li.map((x) => x.getAttribute('data-kind')));
    await expect.poll(kinds).toEqual(['report', 'dispatch', 'dispatch', 'urge', 'recall', 'dispatch']);
    expect(await lead.locator('[data-testid="timeline-step"][data-kind="urge"]').textContent()).toContain('群众多次来电，请今天内受理');
    // 查案件 from the centre's console: any case by its number, with the same history
    await follow.goto(server.url + '/center');
    // (as a person types or pastes it: 事件 and full-width digits)
    const wide = String(fresh!.id).replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    await follow.locator('[data-testid="case-lookup"]').fill(`事件 ＃${wide}`);
    await follow.locator('[data-testid="case-lookup-go"]').click();
    await expect.poll(() => follow.locator('[data-testid="case-dialog"] [data-testid="timeline-step"]').count()).toBe(6);
    expect(await follow.locator('[data-testid="case-dialog-status"]').textContent()).toBe('已派单');
    await follow.screenshot({ path: join(ARTIFACTS, '10c-centre-case-lookup.png') });
    // 打印: the case alone on paper, its history read back from the PDF by poppler
    await follow.emulateMedia({ media: 'print' });
    const pdf = join(ARTIFACTS, '10d-case-history.pdf');
    await follow.pdf({ path: pdf });
    const printed = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
    expect(printed).toContain(`#${fresh!.id}`);
    expect(printed).toMatch(/中心催办[\s\S]*群众多次来电，请今天内受理[\s\S]*中心改派/);
    expect(printed).not.toContain('跟踪督办');
    await follow.emulateMedia({ media: 'screen' });
    await follow.close();
  });

  it('pages through a long queue and narrows it by words, place and category, with counts that match', async () => {
    const cookie = await sessionCookie(db, { username: 'queue-admin', role: 'admin' });
    const desk = await newPage(browser, server.url, cookie, DESKTOP);
    desk.on('pageerror', (e) => errors.push(e.message));
    await desk.goto(server.url + '/dispatch');
    const {
      rows: [truth],
    } = await db.query<{ all: number; open: number }>(
      `SELECT count(*)::int AS all, count(*) FILTER (WHERE resolved_at IS NULL AND returned_at IS NULL)::int AS open FROM dispatch`,
    );
    await expect.poll(() => desk.locator('[data-testid="count-all"]').textContent()).toBe(String(truth!.all));
    expect(await desk.locator('[data-testid="count-open"]').textContent()).toBe(String(truth!.open));
    await desk.locator('[data-testid="state-all"]').click();
    const cards = desk.locator('article.card');
    await expect.poll(() => cards.count()).toBe(Math.min(30, truth!.all));
    // the end of the list brings the next page
    await desk.locator('[data-testid="dispatch-more"]').scrollIntoViewIfNeeded();
    await expect.poll(() => cards.count()).toBe(Math.min(60, truth!.all));
    await desk.screenshot({ path: join(ARTIFACTS, '7-queue-paged.png') });
    // a place and a category narrow it, and the tabs count what they would show
    const {
      rows: [pick],
    } = await db.query<{ township: number; category: string; n: number }>(
      `SELECT t.id AS township, i.category, count(*)::int AS n FROM dispatch d JOIN incident i ON i.id = d.incident_id
         JOIN region g ON g.id = i.grid_id JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id
       GROUP BY t.id, i.category ORDER BY count(*) DESC LIMIT 1`,
    );
    await desk.locator('[data-testid="dispatch-place"]').selectOption({ value: String(pick!.township) });
    await desk.locator('[data-testid="dispatch-category"]').selectOption({ value: pick!.category });
    await expect.poll(() => desk.locator('[data-testid="count-all"]').textContent()).toBe(String(pick!.n));
    // words: an incident's number finds it
    const {
      rows: [one],
    } = await db.query<{ id: number; dispatch: number }>(
      'SELECT i.id, d.id AS dispatch FROM dispatch d JOIN incident i ON i.id = d.incident_id ORDER BY d.id DESC LIMIT 1',
    );
    await desk.locator('[data-testid="dispatch-place"]').selectOption({ index: 0 });
    await desk.locator('[data-testid="dispatch-category"]').selectOption({ index: 0 });
    await desk.locator('[data-testid="dispatch-search"]').fill(`#${one!.id}`);
    await expect.poll(() => desk.locator(`[data-testid="dispatch-${one!.dispatch}"]`).count()).toBe(1);
    await desk.screenshot({ path: join(ARTIFACTS, '8-queue-search.png') });
    await desk.locator('[data-testid="dispatch-search"]').fill('没有这样的工单内容');
    await expect.poll(() => desk.locator('[data-testid="dispatch-empty"]').textContent()).toBe('没有符合筛选条件的工单。');
    // A case already answered, looked for from 待办: not there, but said where it is and a click away.
    const {
      rows: [done],
    } = await db.query<{ id: number; dispatch: number }>(
      'SELECT d.incident_id AS id, d.id AS dispatch FROM dispatch d WHERE d.resolved_at IS NOT NULL ORDER BY d.id LIMIT 1',
    );
    await desk.locator('[data-testid="state-open"]').click();
    await desk.locator('[data-testid="dispatch-search"]').fill(`#${done!.id}`);
    await expect.poll(() => desk.locator('[data-testid="dispatch-elsewhere"]').textContent()).toMatch(/^「全部」中有 \d+ 条符合，查看$/);
    await desk.screenshot({ path: join(ARTIFACTS, '8b-queue-elsewhere.png') });
    await desk.locator('[data-testid="dispatch-elsewhere"]').click();
    await expect.poll(() => desk.locator(`[data-testid="dispatch-${done!.dispatch}"]`).count()).toBe(1);
    expect(await desk.locator('[data-testid="state-all"]').getAttribute('aria-selected')).toBe('true');
    // an overdue card says by how long (the demo's history has cases overdue for days)
    await desk.locator('[data-testid="dispatch-clear"]').click();
    await desk.locator('[data-testid="state-overdue"]').click();
    await expect.poll(() => desk.locator('article.card [data-testid="overdue-by"]').first().textContent()).toMatch(/^已超时 \d+ (小时|天)$/);
    // the centre is told how this tab's count differs from the wall's
    expect(await desk.locator('[data-testid="overdue-hint"]').textContent()).toContain('大屏');
    // 批量催办 of the cases ticked: only those
    const tick = desk.locator('[data-testid^="pick-"]').first();
    const pickedId = Number((await tick.getAttribute('data-testid'))!.replace('pick-', ''));
    await tick.check();
    expect(await desk.locator('[data-testid="bulk-urge"]').textContent()).toBe('催办所选（1 件）');
    await desk.locator('[data-testid="bulk-urge"]').click();
    const [ticked] = await Promise.all([
      desk.waitForResponse((r) => r.url().endsWith('/api/dispatches/urge')),
      desk.locator('[data-testid="bulk-urge-yes"]').click(),
    ]);
    expect(((await ticked.json()) as { urged: number[] }).urged).toEqual([pickedId]);
    await expect.poll(() => desk.locator(`[data-testid="pick-${pickedId}"]`).count()).toBe(0);
    // 批量催办: every overdue case shown, in one step; each card then says it was urged
    expect(await desk.locator('[data-testid="bulk-urge"]').textContent()).toMatch(/^批量催办本页超时工单（\d+ 件）$/);
    await desk.locator('[data-testid="bulk-urge"]').click();
    const [sent] = await Promise.all([
      desk.waitForResponse((r) => r.url().endsWith('/api/dispatches/urge')),
      desk.locator('[data-testid="bulk-urge-yes"]').click(),
    ]);
    const { urged } = (await sent.json()) as { urged: number[] };
    expect(urged.length).toBeGreaterThan(0);
    expect(urged).not.toContain(pickedId);
    await expect.poll(() => desk.locator('[data-testid="dispatch-notice"]').textContent()).toMatch(new RegExp(`^已催办 ${urged.length} 件`));
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM dispatch WHERE id = ANY($1::int[]) AND urge_count = 1', [urged])).rows[0]!.n).toBe(
      urged.length,
    );
    // (the cards read again say so; more pages may hold cases still to urge, so the bar may stay)
    await expect.poll(() => desk.locator('article.card [data-testid="urged"]').count()).toBeGreaterThan(0);
    await desk.screenshot({ path: join(ARTIFACTS, '8c-queue-urged-in-bulk.png') });
    await desk.close();
  });
});

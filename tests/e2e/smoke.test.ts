import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/server.ts';
import { cloneTestDb } from '../support/db.ts';
import { checkLogin, createScreenToken } from '../../server/db/accounts.ts';
import type { Db } from '../../server/db/db.ts';
import { sessionCookie, TEST_PASSWORD } from '../support/auth.ts';
import { launchBrowser, mapInkShare, newPage, waitForMap, describeInBrowser, DESKTOP } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'e2e');

describeInBrowser('web app in Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let dispose: () => Promise<void>;
  let db: Db;
  let admin: string;
  let screenToken: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const t = await cloneTestDb('pglite');
    dispose = t.dispose;
    db = t.db;
    server = await startServer({ db: t.db, port: 0 });
    admin = await sessionCookie(db, { username: 'admin', role: 'admin' });
    screenToken = (await createScreenToken(db, '指挥中心', null)).token;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await dispose?.();
  });

  // A test that fails before closing its page leaves it drawing (a 4K wall keeps animating): closed here,
  // so one failure does not slow every test after it into a timeout.
  const opened: Page[] = [];
  afterEach(async () => {
    for (const p of opened.splice(0)) await p.close().catch(() => undefined);
  });

  const track = (p: Page) => (opened.push(p), p);

  /** Opens a path signed in as admin; a wall display path signs in with its screen token instead. */
  async function open(path: string, width = DESKTOP.width, height = DESKTOP.height, motion = false): Promise<Page> {
    const screen = path.startsWith('/screen');
    const page = await newPage(browser, server.url, screen ? null : admin, { width, height }, { motion });
    opened.push(page);
    if (screen) path += `${path.includes('?') ? '&' : '?'}token=${screenToken}`;
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    await page.goto(server.url + path);
    await waitForMap(page);
    expect(errors).toEqual([]);
    return page;
  }

  const crumbs = (page: Page) => page.locator('[data-testid="breadcrumb"] > *:not(.sep)').allTextContents();

  it('answers a request whose headers are too large in the shape of every other refusal', async () => {
    const { connect } = await import('node:net');
    const port = new URL(server.url).port;
    const answer = await new Promise<string>((done, fail) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET /api/config HTTP/1.1\r\nHost: localhost\r\nCookie: x=${'a'.repeat(20_000)}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (d) => (text += d.toString('utf8')));
      socket.on('end', () => done(text));
      socket.on('error', fail);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; path: string } };
    expect(body.error).toMatchObject({ code: 'headers_too_large', path: 'headers' });
  });

  it('opens on the demo district, draws it, and navigates by breadcrumb, list and map', async () => {
    const page = await open('/');
    // The map holds grids to the district's own rule (10–25 in every type), which all of the demo's keep:
    // none is outlined as out of range, and the legend gives that range for every type.
    await expect.poll(async () => (await page.locator('[data-testid="legend"] li').allTextContents()).map((t) => t.trim())).toContain('小区型：10–25 户');
    const outlined = await page.evaluate(() => (window as any).gridplanMap.queryRenderedFeatures({ layers: ['grid-out-of-range'] }).length);
    expect(outlined).toBe(0);
    expect(await crumbs(page)).toEqual(['沾益区']);
    // An admin has no grid to report from: no 上报 tab.
    expect(await page.locator('header nav a').allTextContents()).toEqual(['规划', '分析', '大屏', '综治中心', '考核', '部门工单', '导入', '设置']);
    await expect.poll(() => mapInkShare(page), { timeout: 30_000 }).toBeGreaterThan(0.15);
    const townships = await page.locator('[data-testid="children"] li').count();
    expect(townships).toBeGreaterThanOrEqual(8);
    // each township's grids and the share that pass, under their heads (asked after the list, which shows at once)
    await expect.poll(() => page.locator('[data-testid="part-grids"]:not(:empty)').count()).toBe(townships);
    expect(await page.locator('[data-testid="part-passing"]').first().textContent()).toMatch(/^\d+%$/);
    await page.screenshot({ path: join(ARTIFACTS, '1-district.png') });

    // List → township: breadcrumb district › township, its villages listed.
    const first = (await page.locator('[data-testid="children"] li .name').first().textContent())!;
    await page.locator('[data-testid="children"] li button').first().click();
    await expect.poll(() => crumbs(page)).toEqual(['沾益区', first]);
    await waitForMap(page);
    expect(page.url()).toMatch(/\/plan\?region=\d+$/);
    await page.screenshot({ path: join(ARTIFACTS, '2-township.png') });

    // List → village → grid: the full four-level breadcrumb.
    await page.locator('[data-testid="children"] li button').first().click();
    await expect.poll(async () => (await crumbs(page)).length).toBe(3);
    await page.locator('[data-testid="children"] li button').first().click();
    await expect.poll(async () => (await crumbs(page)).length).toBe(4);
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="region-facts"]').textContent()).toMatch(/网格/);
    await page.screenshot({ path: join(ARTIFACTS, '3-grid.png') });

    // Breadcrumb back to the district.
    await page.locator('[data-testid="breadcrumb"] button', { hasText: '沾益区' }).click();
    await expect.poll(() => crumbs(page)).toEqual(['沾益区']);
    await waitForMap(page);

    // A click in the middle of the map selects the township there; the browser's back button goes back.
    const box = (await page.locator('[data-testid="map"] canvas').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(async () => (await crumbs(page)).length).toBe(2);
    await page.goBack();
    await expect.poll(() => crumbs(page)).toEqual(['沾益区']);
    await page.close();
  });

  it('shows incidents as a heatmap, hexagons and per grid, filters them and steps through the months', async () => {
    const page = await open('/analyze');
    const asked: string[] = [];
    page.on('request', (r) => void (/\/api\/(hotspots|heatmap|regions\/\d+\/incident-stats)\?/.test(r.url()) && asked.push(new URL(r.url()).pathname)));
    await page.reload();
    const total = async () => Number(((await page.locator('[data-testid="analyze-total"]').textContent()) ?? '').replace(/[^0-9]/g, ''));
    await expect.poll(total, { timeout: 20_000 }).toBeGreaterThan(1_000);
    const all = await total();
    await waitForMap(page);
    // the first load asks each question once (its own answers had set off a second round)
    expect(asked.filter((p) => p === '/api/hotspots')).toHaveLength(1);
    expect(asked.filter((p) => p.endsWith('/incident-stats'))).toHaveLength(2);
    // and its heatmap once, at the zoom the map stands at over the district (it was asked at the starting view's zoom first)
    expect(asked.filter((p) => p === '/api/heatmap')).toHaveLength(1);
    // deck.gl draws on its own canvas over the map's: it must have ink.
    const deckInk = () =>
      page.evaluate(() => {
        const canvas = [...document.querySelectorAll('canvas')].find((c) => c.id === 'deckgl-overlay' || c.parentElement?.className.includes('deck'));
        if (!canvas) return 0;
        const copy = document.createElement('canvas');
        [copy.width, copy.height] = [200, 120];
        const ctx = copy.getContext('2d')!;
        ctx.drawImage(canvas, 0, 0, 200, 120);
        const { data } = ctx.getImageData(0, 0, 200, 120);
        let ink = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) ink++;
        return ink / (200 * 120);
      });
    await expect.poll(deckInk, { timeout: 10_000 }).toBeGreaterThan(0.01);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-heatmap.png') });
    expect(await page.locator('[data-testid="hotspot-list"] li').count()).toBeGreaterThan(0);
    // Below the ranked grids, what z and the count mean. (Asked here, over the two years: one chosen day of one
    // category later may have no hotspot at all, and then no list and no hint — on 2026-12-01 it had none.)
    await page.locator('[data-testid="hotspot-hint"]').scrollIntoViewIfNeeded();
    expect(await page.locator('[data-testid="hotspot-hint"]').textContent()).toContain('相邻网格');
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-hotspot-hint.png') });
    expect(await page.locator('[data-testid="series-chart"] canvas').count()).toBe(1);
    // A hotspot: the map goes to its grid, outlined, and the breadcrumb down to it; × goes back.
    await page.locator('[data-testid="hotspot-list"] button').first().click();
    await expect.poll(async () => (await crumbs(page)).at(-1) ?? '', { timeout: 30_000 }).toMatch(/网格$/);
    expect((await crumbs(page)).length).toBe(4);
    // the figures are still the district's, and it says so
    expect(await page.getByTestId('focus-note').textContent()).toContain('下面的数字仍是「沾益区」的');
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-hotspot-zoomed.png') });
    await page.getByTestId('unfocus').click();
    await expect.poll(async () => (await crumbs(page)).length, { timeout: 30_000 }).toBe(1);

    await page.click('[data-mode="hexagon"]');
    await expect.poll(deckInk, { timeout: 10_000 }).toBeGreaterThan(0.05);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-hexagons.png') });

    // Cases: the map draws the server's incident tiles itself, as circles per cell sized by count.
    await page.click('[data-mode="points"]');
    const drawnCells = () =>
      page.evaluate(() => {
        const m = (window as unknown as { gridplanMap?: { getLayer(id: string): unknown; queryRenderedFeatures(o: object): unknown[] } }).gridplanMap;
        return m?.getLayer('incident-cells') ? m.queryRenderedFeatures({ layers: ['incident-cells'] }).length : 0;
      });
    await expect.poll(drawnCells, { timeout: 30_000 }).toBeGreaterThan(10);
    await expect
      .poll(async () => Number(((await page.locator('[data-testid="analyze-legend"] .ends span').last().textContent()) ?? '0').replace(/[^\d]/g, '')))
      .toBeGreaterThan(1);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-points.png') });
    // Zoomed to the busiest cell's streets: each case; a click on one says what it is and selects no region.
    await page.evaluate(() => {
      const m = (window as unknown as { gridplanMap: any }).gridplanMap;
      const cells = m.queryRenderedFeatures({ layers: ['incident-cells'] }).sort((a: any, b: any) => b.properties.count - a.properties.count);
      m.jumpTo({ center: cells[0].geometry.coordinates, zoom: 16 });
    });
    // a case drawn well inside the map (rendered features include those in the tiles' margin, off the canvas)
    const onePoint = () =>
      page.evaluate(() => {
        const m = (window as unknown as { gridplanMap: any }).gridplanMap;
        const { clientWidth: w, clientHeight: h } = m.getCanvas();
        const inside = (p: { x: number; y: number }) => p.x > 40 && p.y > 40 && p.x < w - 40 && p.y < h - 40;
        return (
          m
            .queryRenderedFeatures({ layers: ['incident-points'] })
            .map((f: any) => m.project(f.geometry.coordinates))
            .find(inside) ?? null
        );
      });
    await expect.poll(onePoint, { timeout: 30_000 }).not.toBeNull();
    await waitForMap(page);
    const at = (await onePoint())!;
    const canvas = (await page.locator('[data-testid="map"] canvas.maplibregl-canvas').boundingBox())!;
    const crumbsBefore = await crumbs(page);
    await page.mouse.click(canvas.x + at.x, canvas.y + at.y);
    // (a click that landed while the map was still drawing the points finds none: clicked again on one drawn now)
    await expect
      .poll(
        async () => {
          const text = await page
            .locator('.incident-popup')
            .textContent({ timeout: 2_000 })
            .catch(() => null);
          if (text !== null) return text;
          const again = await onePoint();
          if (again) await page.mouse.click(canvas.x + again.x, canvas.y + again.y);
          return null;
        },
        { timeout: 30_000 },
      )
      .toMatch(/事件 #\d+ · .+ · .+ · (一般|较重|严重|紧急)×?$/);
    expect(await page.getByTestId('points-each').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-points-street.png') });
    expect(await crumbs(page)).toEqual(crumbsBefore);
    await page.click('[data-mode="hexagon"]');
    // The chart's numbers as a table, for a screen reader and for anyone who wants the figures
    await page.locator('[data-testid="series-table"] summary').click();
    expect(await page.locator('[data-testid="series-table"] thead th').first().textContent()).toBe('月份');
    expect(await page.locator('[data-testid="series-table"] tbody tr').count()).toBeGreaterThanOrEqual(12);
    expect(await page.locator('[data-testid="series-chart"] > div').getAttribute('aria-hidden')).toBe('true');

    // By keyboard: a category's box takes the focus and Space toggles it; Space on a mode button presses that button
    // (the page's own Space, which plays the months, is for where no control has the focus)
    const other = page.locator('.chip', { hasText: '其他' });
    await other.locator('input').focus();
    await page.keyboard.press('Space');
    await expect.poll(() => other.getAttribute('class')).toMatch(/\boff\b/);
    await page.keyboard.press('Space');
    await expect.poll(() => other.getAttribute('class')).not.toMatch(/\boff\b/);
    await page.locator('[data-mode="grids"]').focus();
    await page.keyboard.press('Space');
    await expect.poll(() => page.locator('[data-mode="grids"]').getAttribute('aria-checked')).toBe('true');
    await page.locator('[data-mode="hexagon"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-mode="hexagon"]').getAttribute('aria-checked')).toBe('true');
    // Only fires (只看 beside its chip, one click): fewer incidents; 全部显示 brings every kind back, and 只看 again
    const every = await total();
    // (the badge shows over its chip on hover, as a pointer comes to it)
    const fire = page.locator('.chip-wrap', { has: page.getByTestId('only-fire') });
    await fire.hover();
    await page.getByTestId('only-fire').click();
    await expect.poll(() => page.getByTestId('categories-count').textContent()).toBe('已选 1/7');
    await expect.poll(total, { timeout: 30_000 }).toBeLessThan(all / 4);
    await page.getByTestId('categories-all').click();
    await expect.poll(() => page.getByTestId('categories-count').textContent()).toBe('全部');
    await expect.poll(total, { timeout: 30_000 }).toBe(every);
    await fire.hover();
    await page.getByTestId('only-fire').click();
    await expect.poll(total, { timeout: 30_000 }).toBeLessThan(all / 4);
    // One month of the two years: the map changes with the slider.
    const drawn = () =>
      page.evaluate(() => {
        const canvas = [...document.querySelectorAll('canvas')].find((c) => c.id === 'deckgl-overlay')!;
        const copy = document.createElement('canvas');
        [copy.width, copy.height] = [120, 80];
        const ctx = copy.getContext('2d')!;
        ctx.drawImage(canvas, 0, 0, 120, 80);
        return Array.from(ctx.getImageData(0, 0, 120, 80).data).join(',');
      });
    const allMonths = await drawn();
    // the scale says its unit: cases in a hexagon of a size
    await expect.poll(() => page.getByTestId('legend-unit').textContent(), { timeout: 30_000 }).toMatch(/^每个宽约 [\d.]+ (米|公里)的蜂窝里的事件数$/);
    // the whole two years end today, not at the end of this month
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(await page.getByTestId('day-to').inputValue()).toBe(today);
    // the month before this one: the current month (in China) may have just begun with nothing in it yet
    await page.locator('[data-testid="month-slider"]').fill('22');
    await expect.poll(() => page.locator('[data-testid="month"]').textContent(), { timeout: 30_000 }).toMatch(/^\d{4}年\d{1,2}月$/);
    await expect.poll(drawn, { timeout: 10_000 }).not.toBe(allMonths);
    // 网格分级: the map colours its own grid tiles (light yellow to dark red; zoomed to a grid here), no longer deck.gl over outlines
    const warm = () =>
      page.evaluate(() => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="map"] canvas')!;
        const copy = document.createElement('canvas');
        [copy.width, copy.height] = [200, 120];
        const ctx = copy.getContext('2d')!;
        ctx.drawImage(canvas, 0, 0, 200, 120);
        const { data } = ctx.getImageData(0, 0, 200, 120);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i]! - data[i + 2]! > 40) n++;
        return n / (200 * 120);
      });
    const warmBefore = await warm();
    await page.click('[data-mode="grids"]');
    await expect.poll(warm, { timeout: 30_000 }).toBeGreaterThan(warmBefore + 0.05);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-grids-fire-month.png') });
    // A month against the month before, per township; the colour scale held while the months step.
    await expect.poll(() => page.getByTestId('previous-total').textContent(), { timeout: 30_000 }).toMatch(/上期 [\d,]+ 件/);
    // every township compared, the falls as well as the rises (a list of more than 12 folds its middle)
    const townships = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level = 'township'`)).rows[0]!.n;
    expect(await page.locator('[data-testid="compare"] tbody tr').count()).toBe(townships <= 12 ? townships : 11);
    await page.getByTestId('fixed-scale').check();
    await expect.poll(() => page.getByTestId('scale-held').count(), { timeout: 30_000 }).toBe(1);
    // Chosen days: one day, the slider steps aside.
    const lastDay = await page.getByTestId('day-to').inputValue();
    await page.getByTestId('day-from').fill(lastDay);
    await expect.poll(() => page.locator('[data-testid="month"]').textContent(), { timeout: 30_000 }).toBe('自选日期');
    await expect.poll(() => page.getByTestId('day-from').inputValue(), { timeout: 30_000 }).toBe(lastDay);
    // days up to today: today is not over, so they are compared with as long of the days before (上期同期), not all of them
    await page.getByTestId('day-to').fill(today);
    await expect.poll(() => page.getByTestId('previous-total').textContent(), { timeout: 30_000 }).toMatch(/上期同期 [\d,]+ 件/);
    await page.close();
  });

  it('cycles the wall through the townships and pauses on Space', async () => {
    // (with motion: the wall flies from township to township, as it does for everyone who has not asked for less)
    const page = await open('/screen?interval=5', 1920, 1080, true);
    try {
      // (the stop, and 轮播暂停 while the tour is held, as the wall shows them: the title's pill and the lit 继续轮播)
      const focus = () =>
        page.evaluate(() => {
          const s = document.querySelector<HTMLElement>('[data-testid="screen"]')!.dataset;
          return `${s.focus}${s.paused === 'true' ? ' · 轮播暂停' : ''}`;
        });
      const first = await focus();
      await expect.poll(focus, { timeout: 15_000 }).not.toBe(first);
      // the first flight timed by its frames: a wall drawing it as a slide show (software WebGL here) jumps from then on
      await expect.poll(() => page.locator('[data-testid="map"]').getAttribute('data-flights'), { timeout: 15_000 }).toMatch(/^(fly|jump)$/);
      // Home: the full-district view.
      await page.keyboard.press('Home');
      await expect.poll(focus, { timeout: 5_000 }).toBe('沾益区');
      await page.keyboard.press('Space');
      await expect.poll(focus, { timeout: 5_000 }).toMatch(/轮播暂停/);
      const paused = await focus();
      // A whole carousel interval passes while paused, and the wall stays where it is.
      const ticks = async () => Number(await page.getByTestId('screen').getAttribute('data-ticks'));
      const before = await ticks();
      await expect.poll(ticks, { timeout: 15_000 }).toBeGreaterThan(before);
      expect(await focus()).toBe(paused);
      await page.keyboard.press('ArrowRight');
      await expect.poll(focus, { timeout: 5_000 }).not.toBe(paused);
      // Away from the district, the title says which township every figure is for.
      const township = (await focus())!.replace(/\s*·.*$/, '');
      await expect.poll(() => page.locator('[data-testid="screen-area"]').textContent()).toBe(`当前：${township}`);
      // named once: the status line had named it again beside the pill
      expect((await page.locator('header').textContent())!.split(township).length - 1).toBe(1);
      // The map holds a township whole, clear of the legend along its foot (龙华街道's southern tip and names ran under it).
      for (let i = 0; i < 12 && !(await focus())!.startsWith('龙华街道'); i++) {
        const was = await focus();
        await page.keyboard.press('ArrowRight');
        await expect.poll(focus, { timeout: 5_000 }).not.toBe(was);
      }
      await waitForMap(page);
      const fit = () =>
        page.evaluate(() => {
          const m = (window as unknown as { gridplanMap: import('maplibre-gl').Map }).gridplanMap;
          const box = m.getContainer().getBoundingClientRect();
          const legend = document.querySelector('[data-testid="wall-legend"]')!.getBoundingClientRect();
          const ys: number[] = [];
          const xs: number[] = [];
          for (const f of m.querySourceFeatures('selected'))
            for (const p of (f.geometry as GeoJSON.MultiPolygon).coordinates.flat(2).concat((f.geometry as GeoJSON.Polygon).coordinates.flat(1) as never)) {
              if (!Array.isArray(p) || typeof p[0] !== 'number') continue;
              const at = m.project(p as [number, number]);
              xs.push(at.x);
              ys.push(at.y);
            }
          // the places' names shown (HTML labels over the heat), none of them under the legend or past the map's foot
          const names = [...document.querySelectorAll<HTMLElement>('[data-testid="map-label"]')].filter((e) => e.style.visibility !== 'hidden');
          const under = names.filter((e) => {
            const r = e.getBoundingClientRect();
            return r.bottom > box.bottom || (r.bottom > legend.top && r.top < legend.bottom && r.right > legend.left && r.left < legend.right);
          });
          return {
            shapes: ys.length > 0,
            top: Math.min(...ys) >= 0,
            left: Math.min(...xs) >= 0,
            right: Math.max(...xs) <= box.width,
            // (by more than the outline's own casing: it had stopped 0.3 px short of the legend, its glow and names beneath)
            clear: Math.max(...ys) <= legend.top - box.top - 8,
            names: names.length > 0,
            under: under.map((e) => e.textContent),
          };
        });
      await expect.poll(fit).toEqual({ shapes: true, top: true, left: true, right: true, clear: true, names: true, under: [] });
      // A visible button does what Space did (still paused, stepped by hand), saying what a press does: 继续轮播 while paused
      const pause = page.locator('[data-testid="wall-pause"]');
      expect(await pause.textContent()).toBe('▶ 继续轮播');
      await pause.click();
      await expect.poll(() => pause.textContent()).toBe('❚❚ 暂停轮播');
      await expect.poll(focus, { timeout: 5_000 }).not.toMatch(/轮播暂停/);
      await pause.click();
      await expect.poll(() => pause.textContent()).toBe('▶ 继续轮播');
      await expect.poll(focus, { timeout: 5_000 }).toMatch(/轮播暂停/);
      // nothing on the wall is a Tab stop without a name (deck.gl's canvas made itself one)
      expect(await page.evaluate(() => [...document.querySelectorAll('canvas')].filter((c) => c.tabIndex >= 0 && !c.getAttribute('aria-label')).length)).toBe(
        0,
      );
    } finally {
      // A carousel left running would keep the shared test server busy.
      await page.close();
    }
  });

  it('shows every English label on the wall whole: figures, categories and departments', async () => {
    const page = track(await newPage(browser, server.url, null, { width: 1920, height: 1080 }));
    await page.addInitScript(() => localStorage.setItem('gridplan.locale', 'en'));
    await page.goto(`${server.url}/screen?interval=600&token=${screenToken}`);
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="figures"] .value').allTextContents()).not.toContain('–');
    await expect.poll(() => page.locator('[data-testid="departments"] .dept:not(.head)').count()).toBeGreaterThan(2);
    // (text that does not fit its box is cut with an ellipsis: none may be — nor a card's second line of parts, which wraps between them)
    const cut = await page.evaluate(() =>
      [...document.querySelectorAll('.screen .figures *, .screen .panel *')]
        .filter((e) => (e.children.length === 0 || e.classList.contains('sub')) && (e as HTMLElement).offsetWidth > 0 && e.scrollWidth > e.clientWidth + 1)
        .map((e) => e.textContent!.trim()),
    );
    expect(cut).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '5-screen-english.png') });
  });

  it('shows the wall on a phone as one column that scrolls, nothing cut (a leader away from the wall)', async () => {
    const page = track(await newPage(browser, server.url, null, { width: 360, height: 640 }));
    await page.goto(`${server.url}/screen?interval=600&token=${screenToken}`);
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="figures"] .value').allTextContents()).not.toContain('–');
    await expect.poll(() => page.locator('[data-testid="departments"] .dept:not(.head)').count()).toBeGreaterThan(2);
    // two figures abreast, each wide enough for its number; the page scrolls past the screen's height
    const widths = await page.locator('[data-testid="figures"] > *').evaluateAll((cards) => cards.map((c) => c.getBoundingClientRect().width));
    expect(Math.min(...widths)).toBeGreaterThan(140);
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeGreaterThan(1_000);
    const cut = await page.evaluate(() =>
      [...document.querySelectorAll('.screen .figures *, .screen .panel *')]
        .filter((e) => e.children.length === 0 && (e as HTMLElement).offsetWidth > 0 && e.scrollWidth > e.clientWidth + 1)
        .map((e) => e.textContent!.trim()),
    );
    expect(cut).toEqual([]);
    // the map's legend inside the map, every entry whole (one row ran off its left edge)
    const [map, items] = await Promise.all([
      page.locator('[data-testid="wall-legend"]').evaluate((l) => l.parentElement!.getBoundingClientRect().toJSON()),
      page.locator('[data-testid="wall-legend"] li').evaluateAll((lis) => lis.map((li) => li.getBoundingClientRect().toJSON())),
    ]);
    expect(items.every((r: DOMRect) => r.left >= map.left && r.right <= map.right && r.bottom <= map.bottom)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, '5-screen-phone.png'), fullPage: true });
    // at a township the title's pill is whole, on a line of its own (it was cut to 当前：龙⋯)
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.locator('[data-testid="screen-area"]').count()).toBe(1);
    const header = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('.screen header, .screen header *')]
        .filter((e) => e.offsetWidth > 0 && (e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > 360))
        .map((e) => e.textContent!.trim()),
    );
    expect(header).toEqual([]);
  });

  it('says so on the wall when the live connection is down', async () => {
    const page = track(await newPage(browser, server.url, admin, { width: 1920, height: 1080 }));
    await page.route('**/api/events', (route) => route.abort());
    await page.goto(server.url + '/screen');
    await expect.poll(() => page.locator('[data-testid="live"]').textContent(), { timeout: 10_000 }).toMatch(/连接中断/);
    await page.close();
  });

  it('says once when the basemap cannot be reached, and stops asking it for tiles', async () => {
    // a basemap server the county's network does not reach (nothing listens on port 9)
    const page = track(await newPage(browser, server.url, admin, DESKTOP));
    const dead = 'http://127.0.0.1:9/tiles/{z}/{x}/{y}.png';
    await page.route('**/api/config', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, json: { ...(await res.json()), basemapUrl: dead } });
    });
    let asked = 0;
    page.on('request', (r) => void (r.url().startsWith('http://127.0.0.1:9/') && asked++));
    await page.goto(server.url + '/plan');
    await expect.poll(() => page.locator('[data-testid="basemap-down"]').textContent(), { timeout: 30_000 }).toMatch(/底图（在线底图）无法加载/);
    await waitForMap(page);
    // given up: moving the map asks for no more of its tiles, and our own data is drawn
    const before = asked;
    await page.evaluate(() => (window as unknown as { gridplanMap: { zoomIn(o: object): void } }).gridplanMap.zoomIn({ animate: false }));
    await waitForMap(page);
    expect(asked).toBe(before);
    await expect.poll(() => mapInkShare(page)).toBeGreaterThan(0.05);
    await page.screenshot({ path: join(ARTIFACTS, 'basemap-down.png') });
    await page.getByRole('button', { name: '关闭提示' }).click();
    await expect.poll(() => page.locator('[data-testid="basemap-down"]').count()).toBe(0);
    await page.close();
  });

  it("holds the wall's first stop until its figures have come (a cold city took 20 s: the carousel had moved on)", async () => {
    const page = track(await newPage(browser, server.url, admin, { width: 1920, height: 1080 }));
    const held: (() => Promise<void>)[] = [];
    let hold = true;
    await page.route(/\/api\/stats\/overview/, (route) => (hold ? void held.push(() => route.continue()) : route.continue()));
    try {
      await page.goto(server.url + '/screen?interval=5');
      // (the stop, and 轮播暂停 while the tour is held, as the wall shows them: the title's pill and the lit 继续轮播)
      const focus = () =>
        page.evaluate(() => {
          const s = document.querySelector<HTMLElement>('[data-testid="screen"]')!.dataset;
          return `${s.focus}${s.paused === 'true' ? ' · 轮播暂停' : ''}`;
        });
      const ticks = async () => Number(await page.getByTestId('screen').getAttribute('data-ticks'));
      await expect.poll(() => held.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
      const first = await focus();
      // an interval passes with the figures still asked for: the district stays
      await expect.poll(ticks, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
      expect(await focus()).toBe(first);
      hold = false;
      for (const go of held) await go();
      await expect.poll(() => page.locator('[data-testid="screen"]').getAttribute('data-loaded'), { timeout: 15_000 }).toBe('true');
      // shown, it moves on in its turn
      await expect.poll(focus, { timeout: 20_000 }).not.toBe(first);
    } finally {
      await page.close();
    }
  });

  it('shows the wall loading until its figures come, keeps stale ones marked with their time, and refits the map to a new window size', async () => {
    const page = track(await newPage(browser, server.url, admin, { width: 1920, height: 1080 }));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The hotspots and departments answer late: their panels say they are loading, not that nothing happened.
    const held: (() => Promise<void>)[] = [];
    let hold = true;
    await page.route(/\/api\/(hotspots|stats\/departments)/, (route) => (hold ? void held.push(() => route.continue()) : route.continue()));
    try {
      await page.goto(server.url + '/screen?interval=600');
      await expect.poll(() => held.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      await expect.poll(() => page.locator('[data-testid="departments"] .muted').textContent()).toBe('加载中…');
      hold = false;
      for (const go of held) await go();
      await expect.poll(() => page.locator('[data-testid="departments"] .muted').count(), { timeout: 15_000 }).toBe(0);
      await waitForMap(page);
      // Paused, the window shrinks to 1366×768: the district is refitted into the smaller map.
      await page.keyboard.press('Space');
      await page.setViewportSize({ width: 1366, height: 768 });
      const first = (await (await page.request.get(`${server.url}/api/regions`)).json()).features[0].id;
      const district = (await (await page.request.get(`${server.url}/api/regions/${first}`)).json()).properties.bbox as [number, number, number, number];
      expect(district).toHaveLength(4);
      const fits = () =>
        page.evaluate((bbox) => {
          const b = (window as any).gridplanMap.getBounds();
          const [w, s, e, n] = bbox;
          return b.getWest() <= w + 1e-6 && b.getSouth() <= s + 1e-6 && b.getEast() >= e - 1e-6 && b.getNorth() >= n - 1e-6;
        }, district);
      await expect.poll(fits, { timeout: 10_000 }).toBe(true);
      // The network goes: the figures stay, said to be as of when they were read. (The next township was
      // fetched ahead while the district showed, so the first step still has its figures; the second has none.)
      await page.route(/\/api\/(stats|hotspots|regions|incidents|heatmap)/, (route) => route.abort());
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.locator('[data-testid="screen"]').getAttribute('data-loaded'), { timeout: 10_000 }).toBe('true');
      expect(await page.locator('[data-testid="stale"]').count()).toBe(0);
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.locator('[data-testid="stale"]').textContent(), { timeout: 10_000 }).toMatch(/^连接失败 · 数据停留在 \d\d:\d\d$/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('asks for a password first, explains a wrong one, and gives an analyst a read-only plan', async () => {
    await sessionCookie(db, { username: 'analyst', role: 'analyst' }); // the account, with TEST_PASSWORD
    const page = track(await newPage(browser, server.url, null));
    // Nothing fails before sign-in (no 401 for the browser to log) or on signing out.
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    await page.goto(server.url + '/plan');
    await page.waitForSelector('[data-testid="login"]');
    expect(await page.locator('[data-testid="map"]').count()).toBe(0);
    await page.fill('input[name="username"]', 'analyst');
    expect(errors).toEqual([]);
    await page.fill('input[name="password"]', 'not the password');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toBe('用户名或密码错误。');
    errors.length = 0; // (the refused sign-in is a 401 the browser logs)
    await page.screenshot({ path: join(ARTIFACTS, 'login-error.png') });
    await page.fill('input[name="password"]', TEST_PASSWORD);
    await page.click('button[type="submit"]');
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="who"]').textContent()).toMatch(/分析员/);
    // An analyst reads the plan but gets no editing tools.
    await page.locator('[data-testid="children"] li button').first().click();
    await page.locator('[data-testid="children"] li button').first().click();
    await expect.poll(() => page.locator('[data-testid="read-only"]').count()).toBe(1);
    expect(await page.locator('[data-testid="open-autosplit"]').count()).toBe(0);
    expect(await page.locator('[data-testid="toolbar"]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'analyst-read-only.png') });
    await page.click('[data-testid="logout"]');
    await page.waitForSelector('[data-testid="login"]');
    expect(errors).toEqual([]);
    // Signed out means signed out: the API refuses the old session too.
    expect((await page.request.get(server.url + '/api/regions')).status()).toBe(401);
    await page.close();
  });

  it('opens a planner limited to a township on it, with tools only where they may edit, help that Esc closes, and no 上报 tab', async () => {
    const { rows } = await db.query<{ id: number; name: string; other: number }>(
      `SELECT t.id, t.name, (SELECT v.id FROM region v JOIN region o ON o.id = v.parent_id
                             WHERE v.level = 'village' AND o.id <> t.id ORDER BY v.id LIMIT 1) AS other
       FROM region t WHERE t.level = 'township' ORDER BY t.code LIMIT 1`,
    );
    const town = rows[0]!;
    const cookie = await sessionCookie(db, { username: 'planner-town', role: 'planner', regionId: town.id });
    const page = track(await newPage(browser, server.url, cookie, DESKTOP));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(server.url + '/plan');
      await waitForMap(page);
      await expect.poll(() => crumbs(page)).toEqual(['沾益区', town.name]);
      expect(await page.locator('header nav a').allTextContents()).toEqual(['规划', '导入']);
      // 设置 is the administrator's: said so in a sentence, with who keeps it and the way back, and no guide to a page it cannot use
      await page.goto(server.url + '/settings');
      await expect.poll(() => page.locator('[data-testid="denied"]').textContent()).toContain('由系统管理员维护');
      expect(await page.locator('[data-testid="first-run-guide"]').count()).toBe(0);
      await page.click('[data-testid="denied-home"]');
      await waitForMap(page);
      await expect.poll(() => crumbs(page)).toEqual(['沾益区', town.name]);
      // Its own township: auto-split offered; up at the district, the panel it opened is gone.
      await page.click('[data-testid="open-autosplit"]');
      await page.waitForSelector('[data-testid="autosplit"]');
      await page.locator('[data-testid="breadcrumb"] a, [data-testid="breadcrumb"] button').first().click();
      await expect.poll(() => crumbs(page)).toEqual(['沾益区']);
      expect(await page.locator('[data-testid="autosplit"]').count()).toBe(0);
      // A village of another township: looked at, not changed.
      await page.goto(`${server.url}/plan?region=${town.other}`);
      await waitForMap(page);
      await expect.poll(() => page.locator('[data-testid="outside-scope"]').textContent()).toBe('这里不在您的管辖范围内，只能查看。');
      expect(await page.locator('[data-testid="toolbar"]').count()).toBe(0);
      expect(await page.locator('[data-testid="open-autosplit"]').count()).toBe(0);
      expect(await page.locator('[data-testid="import-here"]').count()).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, 'planner-outside-scope.png') });
      // The shortcut help lists A and closes with Esc.
      await page.goto(server.url + '/plan');
      await waitForMap(page);
      await page.keyboard.press('?');
      await expect.poll(() => page.locator('[role="dialog"]').textContent()).toContain('自动划分网格');
      // Single letters can be turned off there (speech input, a slip): then ? and A do nothing, and that holds after a reload
      await page.locator('[data-testid="single-keys"]').uncheck();
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('[role="dialog"]').count()).toBe(0);
      await page.reload();
      await waitForMap(page);
      await page.keyboard.press('?');
      await page.keyboard.press('a');
      // (a key's handler runs before the press returns; a round trip lets the page draw what it did)
      await page.evaluate(() => new Promise(requestAnimationFrame));
      expect(await page.locator('[role="dialog"]').count()).toBe(0);
      expect(await page.locator('[data-testid="autosplit"]').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('keeps the coverage check in sight in a village of many grids (the list scrolls in its own box)', async () => {
    // The test district's busiest village, its grids multiplied as a town community's would be (134 in 石田村).
    const { rows } = await db.query<{ id: number }>(
      `SELECT parent_id AS id FROM region WHERE level = 'grid' GROUP BY parent_id ORDER BY count(*) DESC LIMIT 1`,
    );
    const page = await open(`/plan?region=${rows[0]!.id}`);
    try {
      await page.evaluate(() => {
        const list = document.querySelector('[data-testid="children"]')!;
        for (let i = 0; i < 130; i++) list.appendChild(list.firstElementChild!.cloneNode(true));
      });
      const box = (await page.locator('[data-testid="coverage"]').boundingBox())!;
      expect(box.y + 40).toBeLessThan(900);
      await page.screenshot({ path: join(ARTIFACTS, 'village-coverage-in-sight.png') });
    } finally {
      await page.close();
    }
  });

  it('moves the focus to the region chosen from the search or the list, never away from the map after a click on it', async () => {
    const page = await open('/plan');
    const focused = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['testid'] ?? document.activeElement?.tagName);
    const heading = page.locator('[data-testid="region-heading"]');
    const still = () => page.evaluate(() => [scrollX, scrollY, document.querySelector('[data-testid="map"]')!.getBoundingClientRect().top]);
    const before = await still();
    try {
      // A click on the map selects the township there and leaves the focus alone.
      const box = (await page.locator('[data-testid="map"] canvas').boundingBox())!;
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      await expect.poll(async () => (await crumbs(page)).length).toBe(2);
      expect(await focused()).not.toBe('region-heading');
      await page.goBack();
      await expect.poll(() => crumbs(page)).toEqual(['沾益区']);

      // The search, by keyboard only: typed, ↓ to the first answer (its count said aloud), Enter.
      const town = (await page.locator('[data-testid="children"] li .name').first().textContent())!;
      await page.locator('[data-testid="search"]').focus();
      await page.keyboard.type(town);
      await page.waitForSelector('[data-testid="search-results"] button');
      await expect.poll(() => page.locator('[data-testid="search-said"]').textContent()).toMatch(/找到 \d+ 处/);
      await page.keyboard.press('ArrowDown');
      expect(await page.evaluate(() => document.activeElement?.closest('[data-testid="search-results"]') !== null)).toBe(true);
      await page.keyboard.press('Enter');
      await expect.poll(() => crumbs(page)).toEqual(['沾益区', town]);
      await expect.poll(focused).toBe('region-heading');
      expect(await heading.textContent()).toContain(town);

      // A village from the list: Enter on it, the focus on its name.
      const village = (await page.locator('[data-testid="children"] li .name').first().textContent())!;
      await page.locator('[data-testid="children"] li button').first().focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => crumbs(page)).toEqual(['沾益区', town, village]);
      await expect.poll(focused).toBe('region-heading');
      expect(await heading.textContent()).toContain(village);
      // Nothing scrolled but the panel: the page and the map stay where they were.
      expect(await still()).toEqual(before);
      await waitForMap(page);
      await page.screenshot({ path: join(ARTIFACTS, 'plan-focus-after-pick.png') });
    } finally {
      await page.close();
    }
  });

  /** The visible text fields and pickers whose edge is fainter than 3:1 against the background behind them. */
  const faintFields = (page: Page) =>
    page.evaluate(() => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]) =>
        [r!, g!, b!]
          .map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
          .reduce((t, v, i) => t + v * [0.2126, 0.7152, 0.0722][i]!, 0);
      const behind = (e: Element | null): number[] => {
        for (let at = e; at; at = at.parentElement) {
          const c = rgb(getComputedStyle(at).backgroundColor);
          if (c.length === 3 || (c[3] ?? 0) > 0.9) return c;
        }
        return [255, 255, 255];
      };
      return [...document.querySelectorAll('input, select, textarea')].flatMap((e) => {
        const type = (e as HTMLInputElement).type;
        const box = e.getBoundingClientRect();
        if (['checkbox', 'radio', 'range', 'file', 'color', 'hidden'].includes(type) || box.width === 0 || getComputedStyle(e).visibility === 'hidden')
          return [];
        const style = getComputedStyle(e);
        if (parseFloat(style.borderTopWidth) === 0) return [];
        const [a, b] = [lum(rgb(style.borderTopColor)), lum(behind(e.parentElement))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        return ratio < 3 ? [`${e.tagName.toLowerCase()}[${e.getAttribute('aria-label') ?? e.getAttribute('data-testid') ?? type}] ${ratio.toFixed(2)}`] : [];
      });
    });

  it('moves through the tabs of settings, the centre, the assessment and the department queue with the arrow keys', async () => {
    const page = track(await newPage(browser, server.url, admin, DESKTOP));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const tabs = page.locator('[role="tablist"] [role="tab"]');
    /** Which tab is selected, which has the focus, and each one's tabindex. */
    const state = () =>
      tabs.evaluateAll((all) => ({
        selected: all.findIndex((t) => t.getAttribute('aria-selected') === 'true'),
        focused: all.findIndex((t) => t === document.activeElement),
        tabindex: all.map((t) => (t as HTMLElement).tabIndex),
        marked: all.every((t) => ['true', 'false'].includes(t.getAttribute('aria-selected') ?? '')),
      }));
    /** One Tab stop (the selected tab's), and the tab the focus is on selected. */
    const at = (i: number, n: number) => ({ selected: i, focused: i, tabindex: Array.from({ length: n }, (_, k) => (k === i ? 0 : -1)), marked: true });
    for (const [path, first] of [
      ['/settings', 'settings-tab-rules'],
      ['/center', 'list-intake'],
      ['/assessment', 'tab-workers'],
      ['/dispatch', 'state-open'],
    ] as const) {
      await page.goto(server.url + path);
      await page.waitForSelector(`[data-testid="${first}"][aria-selected="true"]`, { timeout: 30_000 });
      const n = await tabs.count();
      expect(n, path).toBeGreaterThanOrEqual(2);
      expect((await state()).tabindex, path).toEqual(at(0, n).tabindex);
      await tabs.first().focus();
      await page.keyboard.press('ArrowRight');
      await expect.poll(state, { message: path }).toEqual(at(1, n));
      await page.keyboard.press('End');
      await expect.poll(state, { message: path }).toEqual(at(n - 1, n));
      // round from the last to the first and back
      await page.keyboard.press('ArrowRight');
      await expect.poll(state, { message: path }).toEqual(at(0, n));
      await page.keyboard.press('ArrowLeft');
      await expect.poll(state, { message: path }).toEqual(at(n - 1, n));
      await page.keyboard.press('Home');
      await expect.poll(state, { message: path }).toEqual(at(0, n));
      await page.screenshot({ path: join(ARTIFACTS, `tabs-keyboard${path.replace('/', '-')}.png`) });
      // the selected tab names the panel it shows, and the panel names its tab back
      const linked = () =>
        tabs.evaluateAll((all) => {
          const tab = all.find((t) => t.getAttribute('aria-selected') === 'true')!;
          const panel = document.getElementById(tab.getAttribute('aria-controls') ?? '');
          return { role: panel?.getAttribute('role'), by: panel?.getAttribute('aria-labelledby') === tab.id && tab.id !== '' };
        });
      await expect.poll(linked, { message: path }).toEqual({ role: 'tabpanel', by: true });
      // every field one types in or picks from has an edge of 3:1 against what is behind it (WCAG 1.4.11)
      expect(await faintFields(page), path).toEqual([]);
      // Tab leaves the list rather than stepping through its tabs
      await page.keyboard.press('Tab');
      expect((await state()).focused, path).toBe(-1);
    }
    // The tab chosen by keys shows its page: settings' accounts (the 7th).
    await page.goto(server.url + '/settings');
    await page.locator('[data-testid="settings-tab-rules"]').focus();
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
    await page.waitForSelector('[data-testid="accounts"]');
    expect(await page.locator('[data-testid="settings-tab-accounts"]').getAttribute('aria-selected')).toBe('true');
    await page.screenshot({ path: join(ARTIFACTS, 'settings-tabs-keyboard.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the assessment’s first rows with how many there are, and more on request', async () => {
    const page = track(await newPage(browser, server.url, admin, DESKTOP));
    // (the test county has fewer than 500 workers: the page's own request, cut to 3 on its way)
    await page.route(/\/api\/assessment\?/, (route) =>
      route.continue({
        url: route
          .request()
          .url()
          .replace(/limit=500/, 'limit=3'),
      }),
    );
    await page.goto(`${server.url}/assessment`);
    const rows = page.locator('[data-testid="assessment-table"] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(3);
    await expect
      .poll(() => page.locator('[data-testid="assessment-more"]').textContent())
      .toMatch(/^显示前 3 名，共 [\d,]+ 人；完整名单可导出 Excel。\s*(全部显示|再显示 1,000 条)$/);
    await page.screenshot({ path: join(ARTIFACTS, 'assessment-first-rows.png') });
    // more rows a click (a city's tens of thousands at once froze the page), all of them when no more than that are left
    const total = Number((/共 ([\d,]+) 人/.exec((await page.locator('[data-testid="assessment-more"]').textContent()) ?? '')?.[1] ?? '0').replace(/,/g, ''));
    await page.click('[data-testid="assessment-all"]');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(Math.min(total, 1_003));
    expect(await page.locator('[data-testid="assessment-more"]').count()).toBe(total <= 1_003 ? 0 : 1);
  });

  it('sets a new password in a dialog of the page: labelled, Esc cancels, a short one refused in words, the focus back on the button', async () => {
    await sessionCookie(db, { username: 'reset-me', role: 'analyst' });
    const page = track(await newPage(browser, server.url, admin, DESKTOP));
    let prompted = false;
    page.on('dialog', (d) => void ((prompted = true), d.dismiss()));
    await page.goto(server.url + '/settings?tab=accounts');
    const row = page.locator('[data-testid="account-row"]', { hasText: 'reset-me' });
    const button = row.locator('[data-testid="account-reset"]');
    const dialog = page.locator('[data-testid="reset-dialog"]');
    const input = page.getByLabel('新密码（至少 8 位）');
    const onButton = () => button.evaluate((b) => b === document.activeElement);
    await button.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
    expect(await dialog.locator('h3').textContent()).toBe('重设 reset-me 的密码');
    expect(await input.evaluate((i) => i === document.activeElement)).toBe(true);
    expect(await input.getAttribute('type')).toBe('password');
    expect(await input.getAttribute('autocomplete')).toBe('new-password');
    // Esc: closed, nothing sent, the focus back where it was
    await page.keyboard.type('abc');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
    expect(await onButton()).toBe(true);
    // Too short: said in words, the dialog stays for another try (and opens empty)
    await page.keyboard.press('Enter');
    await expect.poll(() => input.evaluate((i) => i === document.activeElement)).toBe(true);
    expect(await input.inputValue()).toBe('');
    await page.keyboard.type('short');
    await page.keyboard.press('Enter');
    await expect.poll(() => dialog.locator('[data-testid="reset-error"]').textContent()).toBe('密码至少 8 个字符。');
    expect(await input.getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: join(ARTIFACTS, 'settings-reset-password.png') });
    await input.fill('a-new-password-1');
    await page.keyboard.press('Enter');
    await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
    await expect
      .poll(() => row.locator('xpath=following-sibling::tr[1]').locator('[data-testid="accounts-message"]').textContent())
      .toBe('已为 reset-me 设置新密码。');
    await expect.poll(onButton).toBe(true);
    expect(await checkLogin(db, 'reset-me', 'a-new-password-1')).toMatchObject({ username: 'reset-me' });
    expect(prompted).toBe(false);
    await page.close();
  });

  it("asks before what signs an account or a wall out, says a refusal beside the account's row, and changes a role there", async () => {
    await sessionCookie(db, { username: 'role-me', role: 'analyst' });
    const page = track(await newPage(browser, server.url, admin, { width: 1920, height: 1080 }));
    const asked: string[] = [];
    let answer = false;
    page.on('dialog', (d) => void (asked.push(d.message()), answer ? d.accept() : d.dismiss()));
    await page.goto(server.url + '/settings?tab=accounts');
    const adminRow = page.locator('[data-testid="account-row"]').filter({ has: page.locator('td.code', { hasText: /^admin$/ }) });
    // 停用, dismissed: asked, nothing changed
    await adminRow.getByRole('button', { name: '停用' }).click();
    await expect.poll(() => asked.length).toBe(1);
    expect(asked[0]).toBe('停用 admin？其登录会立即结束，直到再次启用。');
    // accepted, for the only admin: refused, in words, beside its row and in sight (it had been drawn below the fold)
    expect((await db.query(`SELECT 1 FROM app_user WHERE role = 'admin' AND NOT disabled`)).rows).toHaveLength(1);
    answer = true;
    await adminRow.getByRole('button', { name: '停用' }).click();
    const said = adminRow.locator('xpath=following-sibling::tr[1]').locator('[data-testid="accounts-message"]');
    await expect.poll(() => said.textContent()).toMatch(/最后一个启用的管理员/);
    const box = (await said.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(1080);
    // the day an account was made, as in China (a UTC date showed the day before until 08:00)
    const created = (
      await db.query<{ day: string }>(`SELECT to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day FROM app_user WHERE username = 'admin'`)
    ).rows[0]!.day;
    expect(await adminRow.locator('td.small').textContent()).toBe(created);
    // a role changed in the row, asked first
    const row = page.locator('[data-testid="account-row"]', { hasText: 'role-me' });
    await row.locator('[data-testid="account-role"]').selectOption('leader');
    await expect.poll(async () => (await db.query<{ role: string }>(`SELECT role FROM app_user WHERE username = 'role-me'`)).rows[0]!.role).toBe('leader');
    expect(asked.at(-1)).toMatch(/^把 role-me 改为「领导」？/);
    // a wall's token revoked, asked first: the address shown once goes with it
    await page.fill('input[aria-label="用途"]', '临时大屏');
    await page.click('text=生成令牌');
    await expect.poll(() => page.locator('[data-testid="token-shown"]').count()).toBe(1);
    await page.locator('tr', { hasText: '临时大屏' }).locator('[data-testid="token-revoke"]').click();
    await expect.poll(() => page.locator('[data-testid="token-shown"]').count()).toBe(0);
    expect(asked.at(-1)).toMatch(/^作废大屏令牌「临时大屏」？/);
    await page.screenshot({ path: join(ARTIFACTS, 'settings-accounts-refusal.png') });
    await page.close();
  });

  it('greets a first visit with what the page is for and three things to try, until dismissed; the help page is one click away', async () => {
    // (on the settings page, which draws no map: the guide is the same on every page, and a map costs CI's time)
    const page = track(await newPage(browser, server.url, admin));
    await page.goto(server.url + '/settings');
    const guide = page.locator('[data-testid="first-run-guide"]');
    await expect.poll(() => guide.textContent(), { timeout: 30_000 }).toContain('设置：县里自己的规则');
    expect(await guide.locator('li').count()).toBe(3);
    await page.locator('[data-testid="guide-dismiss"]').click();
    await expect.poll(() => guide.count()).toBe(0);
    await page.reload();
    await page.waitForSelector('[data-testid="settings-tab-rules"]', { timeout: 30_000 });
    expect(await guide.count()).toBe(0);
    await page.locator('[data-testid="help-link"]').click();
    await page.waitForURL(/\/help$/);
    await expect.poll(() => page.locator('[data-testid="help"] h3').count()).toBe(9);
    // which basemap this server draws (none here), and how an administrator gives it one
    expect(await page.locator('[data-testid="help-basemap"]').textContent()).toMatch(/现在没有底图[\s\S]*GRIDPLAN_BASEMAP_PMTILES/);
    await page.screenshot({ path: join(ARTIFACTS, 'help.png') });
    // the guides come back when asked
    await page.locator('[data-testid="guides-reset"]').click();
    await page.goBack();
    await expect.poll(() => guide.count(), { timeout: 30_000 }).toBe(1);
    await page.close();
  });

  it('gives a phone the map first on /plan, with the panel a sheet below it that pulls up', async () => {
    const page = await open('/plan', 360, 640);
    // (the first visit's guide keeps to one line on a phone; dismissed, the map has its room)
    await page.locator('[data-testid="guide-dismiss"]').click();
    await waitForMap(page);
    const map = (await page.locator('[data-testid="map"]').boundingBox())!;
    expect(map.width).toBe(360);
    expect(map.height).toBeGreaterThanOrEqual(300);
    const panel = page.locator('[data-testid="plan-panel"]');
    const low = (await panel.boundingBox())!.height;
    await page.locator('[data-testid="sheet-handle"]').click();
    await expect.poll(async () => (await panel.boundingBox())!.height).toBeGreaterThan(low + 100);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(ARTIFACTS, 'plan-phone-sheet.png') });
    // an admin's eight views are a menu of the view shown, not a strip cut off after the third
    const menu = page.locator('[data-testid="views-menu"]');
    expect(await menu.isVisible()).toBe(true);
    expect(await page.locator('header nav').isVisible()).toBe(false);
    expect((await menu.textContent())!.trim()).toMatch(/^规划/);
    // everything in the bar lies within the phone's width
    const right = await page.locator('header > *').evaluateAll((els) => Math.max(...els.map((e) => e.getBoundingClientRect().right)));
    expect(right).toBeLessThanOrEqual(360);
    // an arrow key on the closed menu goes to no other view (a <select>'s first ↓ did)
    await menu.focus();
    await page.keyboard.press('ArrowDown');
    expect(new URL(page.url()).pathname).toBe('/plan');
    await page.keyboard.press('Enter');
    const links = page.locator('[data-testid="views-list"] a');
    expect(await links.allTextContents()).toEqual(['规划', '分析', '大屏', '综治中心', '考核', '部门工单', '导入', '设置']);
    expect(await links.first().getAttribute('aria-current')).toBe('page');
    await page.screenshot({ path: join(ARTIFACTS, 'plan-phone-views.png') });
    // Esc closes it, back on its button
    await page.keyboard.press('Escape');
    expect(await links.count()).toBe(0);
    expect(await menu.evaluate((b) => b === document.activeElement)).toBe(true);
    await menu.click();
    await links.filter({ hasText: '设置' }).click();
    await page.waitForURL(/\/settings$/);
    expect((await menu.textContent())!.trim()).toMatch(/^设置/);
    expect(await links.count()).toBe(0);
    await page.close();
  });

  it('switches to English and remembers it', async () => {
    const page = await open('/plan');
    await page.getByRole('button', { name: 'English' }).click();
    await expect
      .poll(() => page.locator('nav a').allInnerTexts())
      .toEqual(['Plan', 'Analyze', 'Screen', 'Centre', 'Assessment', 'Department queue', 'Import', 'Settings']);
    // an administrator is told once that the map has no basemap, and where the help says how to give it one
    expect(await page.locator('[data-testid="no-basemap-hint"]').textContent()).toContain('The map has no basemap');
    // its link opens the help at the 底图 section, the focus on its heading
    await page.locator('[data-testid="no-basemap-hint"] a').click();
    await page.waitForURL(/\/help#basemap$/);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Basemap');
    await page.goBack();
    await waitForMap(page);
    await page.locator('[data-testid="no-basemap-close"]').click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('CANVAS');
    await page.reload();
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="region-facts"]').textContent()).toMatch(/Households/);
    await page.screenshot({ path: join(ARTIFACTS, '4-english.png') });
    expect(await page.locator('[data-testid="no-basemap-hint"]').count()).toBe(0);
    await page.close();
  });

  /** The wall fills its window, its figures are filled in, nothing spills out of its box, and no label is too small to read across the room. */
  async function wallFits(page: Page, width: number, height: number) {
    const overflow = await page.evaluate(() => ({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight }));
    expect(overflow).toEqual({ w: width, h: height });
    await expect.poll(() => mapInkShare(page), { timeout: 30_000 }).toBeGreaterThan(0.1);
    // Ten key figures, filled in; nothing inside the figures or panels spills out of its box.
    await expect.poll(() => page.locator('[data-testid="figures"] .value').allTextContents()).not.toContain('–');
    expect(await page.locator('[data-testid="figures"] .value').count()).toBe(10);
    // The departments' response times (the demo's history): each row a department with its median hours.
    await expect.poll(() => page.locator('[data-testid="departments"] .dept:not(.head)').count()).toBeGreaterThan(2);
    // (hours as bare numbers: the panel's title gives the unit, so no cell wraps at 1080p)
    expect(await page.locator('[data-testid="departments"] h2').textContent()).toContain('小时');
    expect(await page.locator('[data-testid="departments"] .dept:not(.head) .n').first().textContent()).toMatch(/^\d+(\.\d)?$/);
    const spills = await page.evaluate(() =>
      [...document.querySelectorAll('.figures .card, .panel, header h1')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1)
        .map((e) => e.textContent?.slice(0, 30)),
    );
    expect(spills).toEqual([]);
    // Text stays readable from across the room: no label under 12 CSS px at 1080p (scaled up at 4K).
    const minPx = width >= 3840 ? 24 : 12;
    const tiny = await page.evaluate(
      (min) =>
        [...document.querySelectorAll('.screen *')]
          .filter((e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent!.trim()) && parseFloat(getComputedStyle(e).fontSize) < min)
          .map((e) => `${getComputedStyle(e).fontSize} ${e.className} ${e.textContent!.trim().slice(0, 20)}`),
      minPx,
    );
    expect(tiny).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, `5-screen-${width}.png`) });
  }

  it('fills a 1920×1080 wall without overflow, shows an incident reported through the API at once, and fills 3840×2160 full screen on 4K', async () => {
    // (the carousel stays on the district: its steps have their own test)
    const page = await open('/screen?interval=600', 1920, 1080);
    await wallFits(page, 1920, 1080);
    await expect.poll(() => page.locator('[data-testid="live"]').textContent()).toBe('实时');
    // The token left the address bar once it was exchanged for a session.
    expect(page.url()).not.toContain('token=');
    // A report made now reaches the wall over its live stream.
    const { lon, lat } = await (await fetch(`${server.url}/api/incidents?limit=1`, { headers: { cookie: admin } })).json().then((r: any) => r.items[0]);
    const res = await fetch(`${server.url}/api/incidents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: admin },
      body: JSON.stringify({ lon, lat, category: 'fire', severity: 4, description: '大屏实时测试：山林起火' }),
    });
    expect(res.status).toBe(201);
    await expect.poll(() => page.locator('[data-testid="latest"] .fresh').textContent(), { timeout: 10_000 }).toContain('大屏实时测试：山林起火');
    await page.screenshot({ path: join(ARTIFACTS, '5-screen-live.png') });
    // The townships' names are above the heatmap (deck.gl draws it on a canvas over the map's own labels): what lies at
    // the middle of each name shown is the name
    await expect.poll(() => page.locator('[data-testid="map-label"]').count(), { timeout: 30_000 }).toBeGreaterThan(5);
    // each name with its households, in their unit (a bare 12587 beside the heat's legend read as cases)
    expect(await page.locator('[data-testid="map-label"]').first().textContent()).toMatch(/[\d,]+ 户$/);
    const covered = await page.evaluate(() => {
      // (hit-testing skips what lets clicks through, as the labels and deck.gl's canvas both do: for this look only, all take them)
      const all = [...document.querySelectorAll<HTMLElement>('[data-testid="map"] *')];
      const was = all.map((el) => el.style.pointerEvents);
      all.forEach((el) => (el.style.pointerEvents = 'auto'));
      const hidden = [...document.querySelectorAll<HTMLElement>('[data-testid="map-label"]')]
        .filter((el) => el.style.visibility !== 'hidden')
        .filter((el) => {
          const r = el.getBoundingClientRect();
          const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 4);
          return !(top && el.contains(top));
        })
        .map((el) => el.textContent);
      all.forEach((el, i) => (el.style.pointerEvents = was[i]!));
      return hidden;
    });
    expect(covered).toEqual([]);
    // and what the map's colours mean
    expect(await page.locator('[data-testid="wall-legend"]').textContent()).toMatch(/达标网格.*未达标网格.*近 30 天事件.*最新上报/);
    // Put full screen on a 4K wall (F11, or the window moved to the wall's display): the type, and the map's lines
    // and labels (its map made anew at the new scale), fill 3840×2160 as they do 1080p.
    await page.evaluate(() => ((window as any).wallMapBefore = (window as any).gridplanMap));
    await page.setViewportSize({ width: 3840, height: 2160 });
    await expect.poll(() => page.evaluate(() => (window as any).gridplanMap !== (window as any).wallMapBefore)).toBe(true);
    await waitForMap(page);
    await wallFits(page, 3840, 2160);
    expect(await page.locator('[data-testid="latest"] .fresh').textContent()).toContain('大屏实时测试：山林起火');
    await page.close();
  });

  it('shows the wall’s other panels when one answer fails (a count past the server’s limit), saying so in that panel', async () => {
    const page = await newPage(browser, server.url, null, { width: 1920, height: 1080 });
    opened.push(page);
    // the departments' figures answer as a query past the limit does
    await page.route('**/api/stats/departments?*', (route) =>
      route.fulfill({ status: 422, contentType: 'application/json', body: JSON.stringify({ error: { code: 'too_slow', message: 'slow', path: '' } }) }),
    );
    await page.goto(`${server.url}/screen?interval=600&token=${screenToken}`);
    await expect.poll(() => page.locator('[data-testid="screen"]').getAttribute('data-loaded'), { timeout: 30_000 }).toBe('true');
    await expect.poll(() => page.locator('[data-testid="departments"]').textContent()).toContain('暂时无法读取');
    // the rest is there, and the wall is not said to be down
    expect(await page.locator('[data-testid="figures"]').textContent()).not.toContain('…');
    expect(await page.locator('[data-testid="stale"]').count()).toBe(0);
    await page.close();
  });
});

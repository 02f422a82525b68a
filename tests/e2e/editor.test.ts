import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../../server/db/db.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { cloneTestDb } from '../support/db.ts';
import { sessionCookie } from '../support/auth.ts';
import { launchBrowser, newPage, waitForMap, describeInBrowser } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'editor');

describeInBrowser('planner edits a village in Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let db: Db;
  let dispose: () => Promise<void>;
  let page: Page;
  const consoleErrors: string[] = [];
  let planner: string;
  /** When this test's edits began: the plan before it is "the plan on June 1st" in the last test. */
  let started: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    ({ db, dispose } = await cloneTestDb('pglite'));
    started = (await db.query<{ t: string }>('SELECT now()::text AS t')).rows[0]!.t;
    server = await startServer({ db, port: 0 });
    browser = await launchBrowser();
    planner = await sessionCookie(db, { username: 'planner', role: 'planner' });
    page = await newPage(browser, server.url, planner);
    page.on('dialog', (d) => void d.accept());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
  });
  afterAll(async () => {
    expect(consoleErrors).toEqual([]);
    await browser?.close();
    await server?.close();
    await dispose?.();
  });

  const api = async (path: string) => (await fetch(server.url + path, { headers: { cookie: planner } })).json();
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  /** Screen position of a lon/lat on the page. */
  const pixel = async (lngLat: [number, number]) => {
    const canvas = (await page.locator('[data-testid="map"] canvas').boundingBox())!;
    const p = await page.evaluate((ll) => (window as any).gridplanMap.project(ll), lngLat);
    return { x: canvas.x + p.x, y: canvas.y + p.y };
  };
  const clickAt = async (lngLat: [number, number]) => {
    const { x, y } = await pixel(lngLat);
    await page.mouse.click(x, y);
  };
  const notice = () => page.locator('[data-testid="notice"]').textContent();
  const gridsOf = async (villageId: number) => (await api(`/api/regions/${villageId}/children`)).features as any[];

  it('deletes a grid, draws a new one by clicking, splits it, merges it back and undoes the merge', async () => {
    // A village with several grids, the biggest one to redraw.
    const { rows } = await db.query<{ v: number; g: number }>(
      `SELECT v.id AS v, (SELECT id FROM region WHERE parent_id = v.id ORDER BY gp_area_m2(geom) DESC LIMIT 1) AS g
       FROM region v WHERE v.level = 'village' AND (SELECT count(*) FROM region WHERE parent_id = v.id) >= 3 ORDER BY v.code LIMIT 1`,
    );
    const { v: villageId, g: gridId } = rows[0]!;
    const target = await api(`/api/regions/${gridId}`);
    const [cx, cy] = target.properties.label as [number, number];
    const before = await gridsOf(villageId);

    await page.goto(`${server.url}/plan?region=${gridId}`);
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="toolbar"]').isVisible()).toBe(true);
    // chosen by the link: said so, not "click a grid to choose it"
    await expect
      .poll(() => page.locator('[data-testid="edit-hint"]').textContent())
      .toBe(`已选中「${target.properties.name}」：用上方的工具编辑它，或在地图上点另一个网格。`);
    // the grid's name and its neighbours' stay on the map (a grid has no children of its own to label)
    await expect
      .poll(() => page.evaluate(() => (window as any).gridplanMap.queryRenderedFeatures({ layers: ['labels'] }).map((f: any) => f.properties.name as string)))
      .toContain(target.properties.name);
    await shot('1-grid-selected');

    // Delete: the area becomes a gap.
    await page.keyboard.press('Delete');
    await expect.poll(notice).toMatch(/已删除/);
    await waitForMap(page);
    expect((await gridsOf(villageId)).length).toBe(before.length - 1);
    // The village is re-validated at once: the gap is listed and drawn.
    await expect.poll(() => page.locator('[data-testid="coverage"] .counts').textContent()).toMatch(/空白\s*1/);
    await page.locator('[data-testid="coverage-list"] button', { hasText: '未被任何下级覆盖' }).click();
    await waitForMap(page);
    const drawnIssues = await page.evaluate(() =>
      (window as any).gridplanMap.queryRenderedFeatures({ layers: ['issue-fill'] }).map((f: any) => f.properties.kind),
    );
    expect(drawnIssues).toContain('gap');
    // The deleted grid's households, now in no grid, are one row of the list, not one row each.
    const counted = Number(/住户归属错误\s*(\d+)/.exec((await page.locator('[data-testid="coverage"] .counts').textContent()) ?? '')?.[1]);
    expect(counted).toBeGreaterThan(1);
    expect(await page.locator('[data-testid="coverage-list"] button').allTextContents()).toEqual([
      expect.stringContaining('未被任何下级覆盖'),
      expect.stringContaining(`住户未归属任何网格（${counted} 户）`),
    ]);
    // A count lists only its kind (a county's dozens of unstaffed grids must not bury a gap); again, all.
    const only = page.locator('[data-testid="coverage"] .counts button', { hasText: '住户归属错误' });
    await only.click();
    expect(await only.getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('[data-testid="coverage-list"] button').allTextContents()).toEqual([expect.stringContaining('住户未归属任何网格')]);
    await only.click();
    expect(await only.getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => page.locator('[data-testid="coverage-list"] button').count()).toBe(2);
    await shot('2-deleted');

    // Draw: click a shape well inside the gap (the old grid is convex: pull its vertices toward its label).
    await page.keyboard.press('d');
    // A hexagon of 70 px around the old grid's label point, inside the gap.
    const centre = await pixel([cx, cy]);
    for (let k = 0; k < 6; k++) {
      await page.mouse.click(centre.x + 70 * Math.cos((k * Math.PI) / 3), centre.y + 70 * Math.sin((k * Math.PI) / 3));
    }
    await shot('3-drawing');
    await expect.poll(() => page.locator('[data-testid="live-count"]').count()).toBe(1);
    await page.keyboard.press('Enter');
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已新建网格/);
    const afterDraw = await gridsOf(villageId);
    expect(afterDraw.length).toBe(before.length);
    const drawn = afterDraw.find((f) => !before.some((b) => b.id === f.id))!;
    expect(drawn.properties.name).toMatch(/第\d+网格$/);
    await shot('4-drawn');

    // Select the new grid and split it with a line across it.
    await clickAt(drawn.properties.label);
    await expect.poll(() => page.url()).toMatch(new RegExp(`region=${drawn.id}$`));
    await waitForMap(page); // the selection settles (and the map stops moving) before the line is drawn
    await page.keyboard.press('s');
    const [w, , e] = (await api(`/api/regions/${drawn.id}`)).properties.bbox;
    const y = drawn.properties.label[1];
    // Just outside the grid on both sides: the map is zoomed to it, so further out may be off the map.
    await clickAt([w - (e - w) * 0.03, y]);
    await clickAt([e + (e - w) * 0.03, y]);
    await page.keyboard.press('Enter');
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已拆分网格/);
    const afterSplit = await gridsOf(villageId);
    const parts = afterSplit.filter((f) => f.id === drawn.id || !afterDraw.some((b) => b.id === f.id));
    expect(parts.length).toBe(2);
    expect(parts.reduce((s, f) => s + f.properties.households, 0)).toBe(drawn.properties.households);
    // the notice names each part left outside its type's range (saved all the same), and only those
    const ranges = (await api(`/api/regions/${villageId}/rules`)).rules as { gridType: string; min: number; max: number }[];
    const outside = parts
      .filter((f) => {
        const r = ranges.find((x) => x.gridType === (f.properties.gridType ?? 'rural'))!;
        return f.properties.households < r.min || f.properties.households > r.max;
      })
      .map((f) => f.properties.name as string)
      .sort();
    const warned = (await page.locator('[data-testid="out-of-range"]').allTextContents()).map((t) => /注意：(\S+)现有/.exec(t)?.[1]).sort();
    expect(warned).toEqual(outside);
    await shot('5-split');

    // Merge the two parts back.
    await page.keyboard.press('m');
    for (const p of parts) await clickAt(p.properties.label);
    await expect.poll(() => page.locator('[data-testid="do-merge"]').isEnabled()).toBe(true);
    await shot('6-merge-picked');
    await page.keyboard.press('Enter');
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已合并网格/);
    expect((await gridsOf(villageId)).length).toBe(afterDraw.length);
    await shot('7-merged');

    // Undo the merge: the two parts are back, on screen and through the API.
    await page.keyboard.press('Control+z');
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已撤销/);
    const afterUndo = await gridsOf(villageId);
    expect(afterUndo.map((f) => f.id).sort()).toEqual(afterSplit.map((f) => f.id).sort());
    await page.locator('[data-testid="breadcrumb"] button').last().click();
    await expect.poll(() => page.locator('[data-testid="children"] li').count()).toBe(afterUndo.length);
    await waitForMap(page);
    await shot('8-undone');
  });

  it('auto-splits a village from the panel around a drawn barrier, accepts the proposal and undoes it', async () => {
    const { rows } = await db.query<{ id: number }>(
      `SELECT id FROM region WHERE level = 'village' AND grid_type IN ('rural', 'scattered') ORDER BY household_count DESC, code LIMIT 1`,
    );
    const villageId = rows[0]!.id;
    const village = await api(`/api/regions/${villageId}`);
    const before = await gridsOf(villageId);
    await page.goto(`${server.url}/plan?region=${villageId}`);
    await waitForMap(page);
    await page.keyboard.press('a');
    await expect.poll(() => page.locator('[data-testid="autosplit"]').isVisible()).toBe(true);
    // A range wider than the district's rule is for this run only, and the panel says so.
    const most = page.getByLabel('最多户数');
    await most.fill('40');
    await page.waitForSelector('[data-testid="autosplit-off-rule"]');
    await shot('9a-autosplit-off-rule');
    await most.fill('');
    await page.waitForSelector('[data-testid="autosplit-off-rule"]', { state: 'detached' });

    // A barrier across the village, drawn like a split line.
    const [w, s, e, n] = village.properties.bbox;
    await page.click('[data-testid="draw-barrier"]');
    await clickAt([w + (e - w) * 0.02, (s + n) / 2]);
    await clickAt([e - (e - w) * 0.02, (s + n) / 2]);
    await page.keyboard.press('Enter');
    await shot('9-autosplit-barrier');
    await expect.poll(() => page.locator('[data-testid="autosplit"]').textContent()).toMatch(/1 条/);

    await page.click('[data-testid="run-autosplit"]');
    await expect.poll(() => page.locator('[data-testid="autosplit-summary"]').isVisible(), { timeout: 30_000 }).toBe(true);
    const summary = await page.locator('[data-testid="autosplit-summary"]').textContent();
    expect(summary).toMatch(/户数达标\s*100\.0%/);
    const planned = Number(/网格数\s*(\d+)/.exec(summary!)![1]);
    await waitForMap(page);
    const drawn = await page.evaluate(() => (window as any).gridplanMap.queryRenderedFeatures({ layers: ['proposal-fill'] }).length);
    expect(drawn).toBeGreaterThan(0);
    // every symbol on the map is in the legend: the proposal's colours while it shows; the current grids' labels step back
    expect(await page.locator('[data-testid="legend-proposal"]').count()).toBe(1);
    expect(await page.locator('[data-testid="legend"]').textContent()).toContain('当前选中的区域');
    expect(
      await page.evaluate(
        () => (window as any).gridplanMap.queryRenderedFeatures({ layers: ['labels'] }).filter((f: any) => f.properties.level === 'grid').length,
      ),
    ).toBe(0);
    // each proposed grid's households written once (a grid cut by tile edges had its count once a piece: 18 twice)
    const counted = await page.evaluate(() =>
      (window as any).gridplanMap.queryRenderedFeatures({ layers: ['proposal-count'] }).map((f: any) => JSON.stringify(f.properties)),
    );
    expect(counted.length).toBeGreaterThan(0);
    expect(new Set(counted).size).toBe(counted.length);
    await shot('10-autosplit-proposal');

    await page.click('[data-testid="accept-autosplit"]');
    await expect.poll(notice, { timeout: 30_000 }).toMatch(/已自动划分网格/);
    const after = await gridsOf(villageId);
    expect(after.length).toBe(planned);
    expect(after.every((g) => g.properties.households >= 10 && g.properties.households <= 25)).toBe(true);
    await waitForMap(page);
    await shot('11-autosplit-accepted');

    await page.keyboard.press('Control+z');
    await expect.poll(notice, { timeout: 30_000 }).toMatch(/已撤销/);
    expect((await gridsOf(villageId)).map((g) => g.id).sort()).toEqual(before.map((g) => g.id).sort());
  });

  it('shows the imported roads in the auto-split panel, follows them, and rebalances with minimal change', async () => {
    const { rows } = await db.query<{ id: number; x0: number; x1: number; y0: number; y1: number; cx: number; cy: number }>(
      `SELECT v.id, ST_XMin(v.geom) AS x0, ST_XMax(v.geom) AS x1, ST_YMin(v.geom) AS y0, ST_YMax(v.geom) AS y1, ST_X(c) AS cx, ST_Y(c) AS cy
       FROM region v, LATERAL (SELECT ST_Centroid(ST_Collect(h.geom)) AS c FROM household h WHERE ST_Intersects(v.geom, h.geom)) h
       WHERE v.level = 'village' AND v.grid_type IN ('rural', 'scattered') ORDER BY v.household_count DESC, v.code OFFSET 1 LIMIT 1`,
    );
    const v = rows[0]!;
    // a national road west–east and a lane south–north through the middle of the houses
    await db.query(
      `INSERT INTO barrier (class, name, geom) VALUES
         ('main_road', 'G326', ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint($1, $5), ST_MakePoint($2, $5)), 4326))),
         ('lane', '幸福巷', ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint($6, $3), ST_MakePoint($6, $4)), 4326)))`,
      [v.x0, v.x1, v.y0, v.y1, v.cy, v.cx],
    );
    await page.goto(`${server.url}/plan?region=${v.id}`);
    await waitForMap(page);
    await page.keyboard.press('a');
    await expect.poll(() => page.locator('[data-testid="autosplit-imported"]').isVisible()).toBe(true);
    expect(await page.locator('[data-testid="autosplit"]').textContent()).toMatch(/沿已导入的道路河流划分（2 条）/);
    await waitForMap(page);
    expect(await page.evaluate(() => (window as any).gridplanMap.queryRenderedFeatures({ layers: ['barrier-line'] }).length)).toBeGreaterThan(0);
    await page.click('[data-testid="run-autosplit"]');
    await expect.poll(() => page.locator('[data-testid="autosplit-along"]').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('[data-testid="autosplit-workload-range"]').textContent()).toMatch(/\d+(\.\d+)?–\d+/);
    await waitForMap(page);
    await shot('12-autosplit-roads');
    // minimal change: every grid of the demo meets its rule, so nothing would change
    await page.click('[data-testid="autosplit-rebalance"]');
    await page.click('[data-testid="run-autosplit"]');
    await expect.poll(() => page.locator('[data-testid="autosplit-nothing"]').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('[data-testid="autosplit-nothing"]').textContent()).toMatch(/\d+ 个网格都符合规则/);
    await shot('13-autosplit-rebalance-nothing');
    // a stricter rule: the grids now short of it are divided again with their neighbours, the rest kept
    await page.locator('[data-testid="autosplit"] input[type="number"]').first().fill('16');
    await page.click('[data-testid="run-autosplit"]');
    await expect.poll(() => page.locator('[data-testid="autosplit-kept"]').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(Number(await page.locator('[data-testid="autosplit-moved"]').textContent())).toBeGreaterThan(0);
    await waitForMap(page);
    await shot('13-autosplit-rebalance');
    await page.click('[data-testid="discard-autosplit"]');
    await db.query(`DELETE FROM barrier WHERE name IN ('G326', '幸福巷')`);
  });

  it('finds a village by search and reshapes a grid by dragging a shared vertex; the neighbour follows', async () => {
    // A grid vertex inside the village (not on its outline), shared with a neighbour.
    const { rows } = await db.query<{ village: string; vid: number; gid: number; x: number; y: number }>(
      `SELECT v.name AS village, v.id AS vid, g.id AS gid, ST_X(p.geom) AS x, ST_Y(p.geom) AS y
       FROM region v JOIN region g ON g.parent_id = v.id, LATERAL ST_DumpPoints(g.geom) AS p
       WHERE v.level = 'village' AND NOT ST_DWithin(ST_Boundary(v.geom), p.geom, 1e-6)
         AND EXISTS (SELECT 1 FROM region n WHERE n.parent_id = v.id AND n.id <> g.id AND ST_DWithin(n.geom, p.geom, 1e-9))
       ORDER BY (SELECT count(*) FROM region WHERE parent_id = v.id) DESC, g.code, p.path LIMIT 1`,
    );
    const { village, vid, gid, x, y } = rows[0]!;
    const before = await gridsOf(vid);
    const areaBefore = before.reduce((s, f) => s + f.properties.areaM2, 0);

    await page.goto(`${server.url}/plan`);
    await waitForMap(page);
    await page.locator('[data-testid="search"]').fill(village);
    await page
      .getByRole('button', { name: new RegExp(village) })
      .first()
      .click();
    await expect.poll(() => page.url()).toMatch(new RegExp(`region=${vid}$`));
    await waitForMap(page);

    const grid = before.find((f) => f.id === gid)!;
    // (clicked again, at the label's pixel as the map now stands, while it is not selected: the map may
    // still be settling on the village when the first click lands)
    await expect
      .poll(
        async () => {
          if (!new RegExp(`region=${gid}$`).test(page.url())) await clickAt(grid.properties.label);
          return page.url();
        },
        { interval: 1_500 },
      ) // (a click a while, never two close enough to be a double-click)
      .toMatch(new RegExp(`region=${gid}$`));
    await waitForMap(page);
    await page.keyboard.press('e');
    await page.waitForSelector('[data-tool="edit"].active');
    // Drag the vertex 25 px toward the grid's label: the grid shrinks, its neighbours take the freed area.
    const from = await pixel([x, y]);
    const to = await pixel(grid.properties.label);
    const len = Math.hypot(to.x - from.x, to.y - from.y);
    const target = { x: from.x + ((to.x - from.x) * 25) / len, y: from.y + ((to.y - from.y) * 25) / len };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(target.x, target.y, { steps: 10 });
    await page.mouse.up();
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已修改边界/);
    await shot('9-reshaped');

    const after = await gridsOf(vid);
    const reshaped = after.find((f) => f.id === gid)!;
    expect(reshaped.properties.version).toBeGreaterThan(grid.properties.version);
    expect(reshaped.properties.areaM2).toBeLessThan(grid.properties.areaM2);
    const grown = after.filter((f) => f.id !== gid && f.properties.areaM2 > before.find((b) => b.id === f.id)!.properties.areaM2 + 1);
    expect(grown.length).toBeGreaterThan(0);
    expect(Math.abs(after.reduce((s, f) => s + f.properties.areaM2, 0) - areaBefore)).toBeLessThan(1);
  });
  it('staffs a grid from the properties panel: the missing police officer is added, saved, and undone', async () => {
    // A grid whose police officer has left.
    const { rows } = await db.query<{ id: number }>(
      `DELETE FROM grid_staff WHERE role = 'police' AND grid_id = (SELECT min(grid_id) FROM grid_staff WHERE role = 'police') RETURNING grid_id AS id`,
    );
    const gridId = rows[0]!.id;
    await page.goto(`${server.url}/plan?region=${gridId}`);
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="staff-missing"]').allTextContents()).toEqual([expect.stringContaining('网格警员')]);
    await page.keyboard.press('p');
    // The worker picker: the village's own people listed, anyone else found by a search (a district has thousands).
    const picker = page.locator('[data-testid="worker-select"]');
    const own = await picker.inputValue();
    expect(own).not.toBe('');
    await expect.poll(() => picker.locator('optgroup[label="本村的网格员"] option').count()).toBeGreaterThan(0);
    const other = (
      await db.query<{ id: number; phone: string; village: string; grid: string }>(
        `SELECT w.id, w.phone, v.name AS village, g.name AS grid FROM worker w JOIN region g ON g.worker_id = w.id JOIN region v ON v.id = g.parent_id
         WHERE g.parent_id <> (SELECT parent_id FROM region WHERE id = $1) AND w.phone <> '' ORDER BY w.id LIMIT 1`,
        [gridId],
      )
    ).rows[0]!;
    await page.locator('[data-testid="worker-search"]').fill(other.phone);
    await picker.selectOption(String(other.id));
    await expect.poll(() => page.locator('[data-testid="worker-elsewhere"]').textContent()).toContain(other.grid);
    // the village named once (a grid's name most often begins with it: not 清桥村清桥村第1网格)
    const said = (await page.locator('[data-testid="worker-elsewhere"]').textContent())!;
    expect(said.split(other.village).length - 1).toBe(1);
    await page.locator('[data-testid="worker-search"]').fill('无此人zz');
    await expect.poll(() => page.locator('[data-testid="worker-none"]').count()).toBe(1);
    await page.locator('[data-testid="worker-search"]').fill('');
    await picker.selectOption(own);
    await expect.poll(() => page.locator('[data-testid="worker-elsewhere"]').count()).toBe(0);
    const editor = page.locator('[data-testid="staff-editor"]');
    await editor.locator('select').selectOption('police');
    await editor.locator('input').first().fill('赵警官');
    await editor.locator('input').nth(1).fill('138****6610');
    await editor.locator('[data-testid="add-member"]').click();
    await expect.poll(() => editor.textContent()).toContain('赵警官');
    await shot('10-staff-editor');
    await page.locator('[data-testid="edit-panel"] button[type="submit"]').click();
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已保存属性/);
    await expect.poll(() => page.locator('[data-testid="staff-missing"]').count()).toBe(0);
    const staff = (await api(`/api/regions/${gridId}`)).properties.staff as { name: string; role: string }[];
    expect(staff).toContainEqual(expect.objectContaining({ name: '赵警官', role: 'police', phone: '138****6610' }));
    await shot('11-staffed');
    // Undo takes the officer off the grid again.
    await page.keyboard.press('Control+z');
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已撤销/);
    expect(((await api(`/api/regions/${gridId}`)).properties.staff as { role: string }[]).some((m) => m.role === 'police')).toBe(false);
  });

  it("fits a village's grids to its new outline from the coverage check, and undoes it", async () => {
    // a village given a new outline 40 m inside its drawn one (as an official 村界 imported with 更新 would)
    const { rows } = await db.query<{ id: number }>(
      `SELECT v.id FROM region v WHERE v.level = 'village' AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) >= 4 ORDER BY v.code DESC LIMIT 1`,
    );
    const villageId = rows[0]!.id;
    const before = (await gridsOf(villageId)).map((g) => JSON.stringify(g.geometry));
    await db.query(
      `UPDATE region SET geom = ST_Multi(ST_CollectionExtract(ST_Buffer(geom::geography, -40)::geometry, 3)), version = version + 1 WHERE id = $1`,
      [villageId],
    );
    await page.goto(`${server.url}/plan?region=${villageId}`);
    await waitForMap(page);
    await page.click('[data-testid="check-coverage"]');
    await page.waitForSelector('[data-testid="coverage-fit"]', { timeout: 30_000 });
    expect(await page.locator('[data-testid="coverage"] .counts').textContent()).toContain('越界');
    await shot('11b-fit-before');
    await page.click('[data-testid="coverage-fit"]');
    await expect.poll(notice, { timeout: 30_000 }).toMatch(/^已贴合边界：裁剪 \d+ 个越界的下级/);
    await expect.poll(() => page.locator('[data-testid="coverage-summary"]').textContent(), { timeout: 30_000 }).toMatch(/全覆盖/);
    expect(await page.locator('[data-testid="coverage-fit"]').count()).toBe(0);
    await waitForMap(page);
    await shot('11c-fit-after');
    await page.keyboard.press('Control+z');
    await expect.poll(notice, { timeout: 30_000 }).toMatch(/已撤销/);
    expect((await gridsOf(villageId)).map((g) => JSON.stringify(g.geometry))).toEqual(before);
  });

  it('shows a village as it stood on an earlier day, read-only, and what the edits since changed', async () => {
    // The plan before this test's edits stood all year; the test's own edits were made today.
    await db.query(`DELETE FROM region_history WHERE valid_to < $1::timestamptz`, [started]);
    await db.query(`UPDATE region_history SET valid_from = '2026-01-01T00:00:00+08:00' WHERE valid_from < $1::timestamptz`, [started]);
    // the village of the first test: a grid deleted, others drawn, split and merged since
    const { rows } = await db.query<{ village: number }>(
      `SELECT r.parent_id AS village FROM region r
       WHERE r.level = 'grid' AND (SELECT min(h.valid_from) FROM region_history h WHERE h.id = r.id) >= $1::timestamptz LIMIT 1`,
      [started],
    );
    await page.goto(`${server.url}/plan?region=${rows[0]!.village}`);
    await waitForMap(page);
    expect(await page.locator('[data-testid="toolbar"]').count()).toBe(1);
    await page.fill('[data-testid="plan-date-input"]', '2026-06-01');
    await expect.poll(() => page.locator('[data-testid="plan-date-banner"]').textContent()).toContain('正在查看 2026-06-01 当天结束时的规划（只读）');
    await waitForMap(page);
    // Read-only: no drawing tools, no auto-split, no import or export of today's plan.
    expect(await page.locator('[data-testid="toolbar"]').count()).toBe(0);
    expect(await page.locator('[data-testid="open-autosplit"]').count()).toBe(0);
    await page.click('[data-testid="plan-compare"]');
    await page.waitForSelector('[data-testid="comparison"]');
    const summary = await page.locator('[data-testid="comparison"] .counts').textContent();
    expect(summary).toMatch(/新增 \d+ 个网格/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="comparison-export"]')]);
    expect(download.suggestedFilename()).toMatch(/^规划对比-2026-06-01-今天\.xlsx$/);
    const drawn = () =>
      page.evaluate(() => (window as any).gridplanMap.queryRenderedFeatures({ layers: ['compare-fill', 'compare-line', 'compare-removed'] }).length);
    await expect.poll(drawn, { timeout: 10_000 }).toBeGreaterThan(0);
    await shot('12-plan-on-a-date');
    // Back to today: editable again, the comparison gone from the map.
    await page.click('[data-testid="plan-date-today"]');
    await expect.poll(() => page.locator('[data-testid="toolbar"]').count()).toBe(1);
    expect(await page.locator('[data-testid="plan-date-banner"]').count()).toBe(0);

    // The change log of the village: this test's operations, newest first; the planner's latest one undone from there.
    const grid = (await gridsOf(rows[0]!.village))[0];
    const renamed = await page.request.patch(`${server.url}/api/regions/${grid.id}`, {
      headers: { origin: server.url },
      data: { version: grid.properties.version, name: `${grid.properties.name}（改）` },
    });
    expect(renamed.status()).toBe(200);
    await page.click('[data-testid="change-log"] summary');
    await expect.poll(() => page.locator('[data-testid="change-row"]').count()).toBeGreaterThan(3);
    expect(await page.locator('[data-testid="change-row"] .who').first().textContent()).toBe('我');
    await page.locator('[data-testid="change-log"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, '13-change-log.png') });
    const before = await page.locator('[data-testid="change-row"]').count();
    await page.click('[data-testid="change-undo"]');
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已撤销/);
    await expect.poll(() => page.locator('[data-testid="change-row"]').count()).toBe(before + 1);
    expect(await page.locator('[data-testid="change-row"] .what').first().textContent()).toBe('撤销（修改）');
  });

  it('takes back an import of its own from the change log after later edits, which stay, and says why when one builds on it', async () => {
    const {
      rows: [spot],
    } = await db.query<{ village: number; grid: number; x: number; y: number }>(
      `SELECT g.parent_id AS village, g.id AS grid, ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y
       FROM region g WHERE g.level = 'grid' ORDER BY g.code DESC LIMIT 1`,
    );
    const headers = { origin: server.url };
    const importCsv = async (name: string, csv: string, fields?: object) => {
      const up = await page.request.post(`${server.url}/api/imports`, {
        headers: { ...headers, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(name) },
        data: Buffer.from(csv),
      });
      const { id, layers } = (await up.json()) as { id: string; layers: { name: string }[] };
      const res = await page.request.post(`${server.url}/api/imports/${id}/commit`, {
        headers,
        data: { layer: layers[0]!.name, kind: 'household', parentId: spot!.village, ...(fields ? { fields } : {}) },
      });
      expect(res.status()).toBe(201);
      return ((await res.json()) as { op: number }).op;
    };
    const mine = async (op: number) => (await db.query('SELECT 1 FROM household WHERE import_op = $1', [op])).rows.length;
    const first = await importCsv('甲.csv', `经度,纬度,人数,地址\n${spot!.x},${spot!.y},3,撤销测试路1号\n`);
    const second = await importCsv('乙.csv', `经度,纬度,人数,地址\n${spot!.x},${spot!.y},2,撤销测试路2号\n`);
    // a later list sets the size of the second's household
    await importCsv('丙.csv', '人数,地址\n5,撤销测试路2号\n', { address: '地址', size: '人数' });
    // and a later edit of the plan
    const grid = await api(`/api/regions/${spot!.grid}`);
    const renamed = await page.request.patch(`${server.url}/api/regions/${spot!.grid}`, {
      headers,
      data: { version: grid.properties.version, name: `${grid.properties.name}（又改）` },
    });
    expect(renamed.status()).toBe(200);
    await page.goto(`${server.url}/plan?region=${spot!.village}`);
    await waitForMap(page);
    const log = page.locator('[data-testid="change-log"]');
    if (!(await log.getAttribute('open'))) await page.click('[data-testid="change-log"] summary');
    const rowOf = (text: string) =>
      page.locator('[data-testid="change-row"]', { has: page.locator('[data-testid="change-undo-import"]') }).filter({ hasText: text });
    // three imports of mine, none the latest: each may be taken back by itself
    await expect.poll(() => page.locator('[data-testid="change-undo-import"]').count(), { timeout: 15_000 }).toBe(3);
    expect(await rowOf('').count()).toBe(3);
    // each says what it brought: the first and second one household each, the third one updated
    expect(await page.locator('[data-testid="change-counts"]').allTextContents()).toEqual([
      '新增 0 户，更新 1 户',
      '新增 1 户，更新 0 户',
      '新增 1 户，更新 0 户',
    ]);
    // the second: a later list set its household's size — refused, in words
    await page.locator('[data-testid="change-undo-import"]').nth(1).click();
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/^之后的导入或修改改了这次加入的 1 户，不能单独撤销：请先撤销那次更改。/);
    // (the browser reports the refusal's 409 on its console: expected here)
    consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !/status of 409/.test(e)));
    expect(await mine(second)).toBe(1);
    // the first: taken back; the rename after it stays
    await page.locator('[data-testid="change-undo-import"]').nth(2).click();
    await expect.poll(notice, { timeout: 15_000 }).toMatch(/已撤销/);
    expect(await mine(first)).toBe(0);
    expect((await api(`/api/regions/${spot!.grid}`)).properties.name).toMatch(/（又改）$/);
    await page.locator('[data-testid="change-log"]').scrollIntoViewIfNeeded();
    await shot('14-change-log-undo-import');
  });
});

import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/server.ts';
import type { Db } from '../../server/db/db.ts';
import { cloneTestDb } from '../support/db.ts';
import { sessionCookie } from '../support/auth.ts';
import { describeInBrowser, launchBrowser, mapInkShare, newPage, waitForMap, DESKTOP } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'e2e');
const FILES = join(import.meta.dirname, '..', 'fixtures', 'import', 'files');

describeInBrowser('import wizard in Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let dispose: () => Promise<void>;
  let db: Db;
  let admin: string;
  let dir: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const t = await cloneTestDb('pglite');
    dispose = t.dispose;
    db = t.db;
    dir = await mkdtemp(join(tmpdir(), 'gridplan-e2e-imports-'));
    server = await startServer({ db, port: 0, importDir: dir });
    admin = await sessionCookie(db, { username: 'admin', role: 'admin' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await dispose?.();
    await rm(dir, { recursive: true, force: true });
  });

  /** What the pages asked to confirm, in order (accepted). */
  const dialogs: string[] = [];
  async function openImport(): Promise<Page> {
    const page = await newPage(browser, server.url, admin, DESKTOP);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // 撤销这次导入 asks first, naming how many rows it takes back
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.goto(`${server.url}/import`);
    await page.waitForSelector('[data-testid="import-drop"]');
    await page.waitForSelector('[data-testid="breadcrumb"]');
    expect(errors).toEqual([]);
    return page;
  }

  it('brings in a GBK Shapefile in a Gauss–Krüger zone as a new district: report first, then the import, then its undo', async () => {
    const page = await openImport();
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'import-1-empty.png') });
      await page.setInputFiles('[data-testid="import-file"]', join(FILES, 'jiayuguan-gk-gbk.zip'));
      await expect
        .poll(() => page.locator('[data-testid="import-warning"]').allTextContents(), { timeout: 60_000 })
        .toEqual(['jiayuguan.shp 没有 .cpg，中文按 GBK 读取。']);
      await page.check('[data-testid="import-top"]');
      await page.check('text=自动修复无效多边形');
      await page.click('[data-testid="import-check"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 1 条：1 条可导入，0 条有问题');
      expect(await page.locator('[data-testid="crs-used"]').textContent()).toContain('第 33 带');
      expect(await page.locator('[data-testid="field-name"]').inputValue()).toBe('名称');
      expect(await page.locator('[data-testid="import-sample-caption"]').textContent()).toBe('文件共 1 行');
      await waitForMap(page);
      await expect.poll(() => mapInkShare(page), { timeout: 30_000 }).toBeGreaterThan(0.05);
      await page.screenshot({ path: join(ARTIFACTS, 'import-2-report.png') });
      // nothing is written until the clerk says so
      expect((await db.query(`SELECT 1 FROM region WHERE code = '620201'`)).rows).toEqual([]);
      // A setting changed after the check leaves a report of other settings: 导入 waits for a new check.
      await page.uncheck('text=自动修复无效多边形');
      await page.waitForSelector('[data-testid="import-stale"]');
      expect(await page.locator('[data-testid="import-commit"]').isDisabled()).toBe(true);
      await page.check('text=自动修复无效多边形');
      await page.waitForSelector('[data-testid="import-stale"]', { state: 'detached' });
      await page.click('[data-testid="import-commit"]');
      await page.waitForSelector('[data-testid="import-done"]', { timeout: 60_000 });
      expect((await db.query<{ name: string }>(`SELECT name FROM region WHERE code = '620201'`)).rows).toEqual([{ name: '嘉峪关市' }]);
      // what a county brings in next: the boundaries below a district
      expect(await page.locator('[data-testid="import-next"]').textContent()).toMatch(/^下一步：导入下一级的界线/);
      await page.screenshot({ path: join(ARTIFACTS, 'import-3-done.png') });
      await page.click('[data-testid="import-undo"]');
      await expect.poll(() => page.locator('[data-testid="import-done"] h3').textContent()).toBe('已撤销这次导入');
      expect((await db.query(`SELECT 1 FROM region WHERE code = '620201'`)).rows).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('takes a Shapefile’s parts chosen together (no zip): the browser packs them and the layer reads as the zipped one does', async () => {
    const parts = join(dir, 'parts');
    await mkdir(parts, { recursive: true });
    execFileSync('unzip', ['-o', '-q', join(FILES, 'jiayuguan-gk-gbk.zip'), '-d', parts]);
    const page = await openImport();
    try {
      const names = ['jiayuguan.shp', 'jiayuguan.shx', 'jiayuguan.dbf', 'jiayuguan.prj'];
      await page.setInputFiles(
        '[data-testid="import-file"]',
        names.map((n) => join(parts, n)),
      );
      await expect
        .poll(() => page.locator('[data-testid="import-warning"]').allTextContents(), { timeout: 60_000 })
        .toEqual(['jiayuguan.shp 没有 .cpg，中文按 GBK 读取。']);
      await page.check('[data-testid="import-top"]');
      await page.check('text=自动修复无效多边形');
      await page.click('[data-testid="import-check"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 1 条：1 条可导入，0 条有问题');
      expect(await page.locator('[data-testid="crs-used"]').textContent()).toContain('第 33 带');
      expect(await page.locator('[data-testid="field-name"]').inputValue()).toBe('名称');
    } finally {
      await page.close();
    }
  });

  it('places an Excel household list by address, names the sheet rows it cannot place, and imports the rest when asked', async () => {
    const page = await openImport();
    try {
      await page.setInputFiles('[data-testid="import-file"]', join(FILES, 'households.xlsx'));
      await expect
        .poll(() => page.locator('[data-testid="import-warning"]').allTextContents(), { timeout: 60_000 })
        .toEqual(['表头在第 2 行（上面几行像是合并的标题）。']);
      // before any check, each field says which column it would be read from
      expect(await page.locator('[data-testid="field-address"] option:checked').textContent()).toBe('自动：地址');
      expect(await page.locator('[data-testid="field-phone"] option:checked').textContent()).toBe('自动识别');
      await page.click('[data-testid="import-check"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 14 条：12 条可导入，2 条有问题');
      const rows = await page.locator('[data-testid="import-problems"] tr').allTextContents();
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(/^第 15 行地址未匹配：.*9999号在地图上放置$/);
      expect(rows[1]).toMatch(/^第 16 行人数无效：四十（应为 1–30 的整数）$/);
      await expect
        .poll(() => page.locator('[data-testid="import-matched"]').textContent())
        .toBe(
          // one of them (row 16) has a size of 四十: said, so that 13 found and 12 to import add up
          '13 行按地址找到了已有住户，在地图上以青色显示。其中 1 行另有问题，见下方，修正前不会导入。',
        );
      // placed by address alone: no coordinate system to choose
      expect(await page.locator('[data-testid="import-crs"]').count()).toBe(0);
      await page.waitForSelector('[data-testid="import-legend"]');
      await page.screenshot({ path: join(ARTIFACTS, 'import-4-households.png') });
      // The unmatched row, placed by hand: a click on the map where it is.
      await page.click('[data-testid="import-place"]');
      await page.waitForSelector('[data-testid="placing-banner"]');
      const box = (await page.locator('[data-testid="map"]').boundingBox())!;
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2 - 80);
      // drawn at once; checked when asked (a check per row took 12 s each on a township's list)
      await expect.poll(() => page.locator('[data-testid="import-stale"]').textContent()).toMatch(/^已在地图上放置 1 行，还没检查/);
      expect(await page.locator('[data-testid="placing-banner"]').count()).toBe(0);
      await page.click('[data-testid="import-recheck"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 14 条：13 条可导入，1 条有问题');
      await expect.poll(() => page.locator('[data-testid="import-placed"]').textContent()).toContain('已手动放置 1 行。');
      await page.screenshot({ path: join(ARTIFACTS, 'import-4b-placed.png') });
      await page.click('[data-testid="import-commit"]');
      await page.waitForSelector('[data-testid="import-done"]', { timeout: 60_000 });
      expect(await page.locator('[data-testid="import-next"]').textContent()).toMatch(/^下一步：导入网格员名单/);
      // the row left out stays in view, to fix and bring in again
      expect(await page.locator('[data-testid="import-left-out"]').textContent()).toMatch(/另有 1 条没有导入/);
      expect(await page.locator('[data-testid="import-left-out-rows"] tr').allTextContents()).toEqual([
        expect.stringMatching(/^第 16 行人数无效：四十（应为 1–30 的整数）$/),
      ]);
      // …and comes down as a workbook with its problem and its own columns, read back by GDAL
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="import-left-out-download"]')]);
      expect(download.suggestedFilename()).toBe('households-未导入.xlsx');
      const saved = join(dir, 'left-out.xlsx');
      await download.saveAs(saved);
      const csv = execFileSync('ogr2ogr', ['-f', 'CSV', '-lco', 'STRING_QUOTING=IF_NEEDED', '/vsistdout/', saved], { encoding: 'utf8' }).trim().split('\n');
      expect(csv).toEqual([
        '原行号,问题,problem,序号,户主姓名,地址,家庭人口',
        expect.stringMatching(/^16,人数无效：四十,.*,14,郑淑华,西平街道龙冲村10号,四十$/),
      ]);
      await page.screenshot({ path: join(ARTIFACTS, 'import-5-households-done.png') });
      // 在规划中查看, then the browser's Back: the result and its 撤销 are there still (from a clerk: the page had started over)
      await page.click('[data-testid="import-show-plan"]');
      await page.waitForURL(/\/plan/);
      await page.goBack();
      await page.waitForSelector('[data-testid="import-done"]', { timeout: 30_000 });
      expect(await page.locator('[data-testid="import-undo"]').count()).toBe(1);
      expect(await page.locator('[data-testid="import-left-out"]').textContent()).toMatch(/另有 1 条没有导入/);
      // /import opened anew (规划, then 导入 in the header) starts afresh
      await page.click('header a[href="/plan"]');
      await page.waitForURL(/\/plan/);
      await page.click('header a[href="/import"]');
      await page.waitForSelector('[data-testid="import-drop"]', { timeout: 30_000 });
      expect(await page.locator('[data-testid="import-done"]').count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('places a run of rows click after click, draws each at once, and checks them together', async () => {
    const csv = join(dir, '无地址住户.csv');
    await writeFile(csv, '户主,地址,人数\n甲,无此路1号,2\n乙,无此路2号,3\n丙,无此路3号,4\n');
    const page = await openImport();
    try {
      await page.setInputFiles('[data-testid="import-file"]', csv);
      await page.waitForSelector('[data-testid="import-check"]', { timeout: 60_000 });
      await page.click('[data-testid="import-check"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 3 条：0 条可导入，3 条有问题');
      await page.locator('[data-testid="import-place"]').first().click();
      const box = (await page.locator('[data-testid="map"]').boundingBox())!;
      const banner = page.locator('[data-testid="placing-banner"]');
      // each click places one row and goes on to the next, without a check in between
      for (const [k, row] of ['第 3 行', '第 4 行'].entries()) {
        await page.mouse.click(box.x + box.width / 2 + 30 * k, box.y + box.height / 2 - 80);
        await expect.poll(() => banner.textContent()).toContain(row);
      }
      await page.mouse.click(box.x + box.width / 2 + 60, box.y + box.height / 2 - 80);
      await expect.poll(() => banner.count()).toBe(0);
      await expect.poll(() => page.locator('[data-testid="import-stale"]').textContent()).toMatch(/^已在地图上放置 3 行，还没检查/);
      // drawn green before any check (a source's features come once per tile: counted by row)
      const placedRows = () =>
        page.evaluate(() => {
          const map = (window as unknown as { gridplanImportMap: { querySourceFeatures(s: string): { properties: { how: string; i: number } }[] } })
            .gridplanImportMap;
          return new Set(
            map
              .querySourceFeatures('preview')
              .filter((f) => f.properties.how === 'placed')
              .map((f) => f.properties.i),
          ).size;
        });
      await expect.poll(placedRows).toBe(3);
      // nothing to import until checked
      expect(await page.locator('[data-testid="import-commit"]').count()).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, 'import-4c-placed-run.png') });
      await page.click('[data-testid="import-recheck"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 3 条：3 条可导入，0 条有问题');
      expect(await page.locator('[data-testid="import-stale"]').count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('keeps the view on the district when one row lies far off, and offers to swap the columns only when most rows are swapped', async () => {
    const { rows } = await db.query<{ x: number; y: number }>('SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM household ORDER BY id LIMIT 4');
    const line = (k: number, [x, y]: [number, number]) => `${x},${y},测试路${k}号,3`;
    const one = join(dir, '一行填反.csv');
    // three rows right, one with its longitude and latitude the wrong way round
    await writeFile(one, ['经度,纬度,地址,人数', ...rows.map((r, k) => line(k + 1, k === 3 ? [r.y, r.x] : [r.x, r.y]))].join('\n') + '\n');
    const all = join(dir, '两列对调.csv');
    await writeFile(all, ['经度,纬度,地址,人数', ...rows.map((r, k) => line(k + 11, [r.y, r.x]))].join('\n') + '\n');
    const page = await openImport();
    try {
      await page.setInputFiles('[data-testid="import-file"]', one);
      await page.waitForSelector('[data-testid="import-check"]', { timeout: 60_000 });
      await page.click('[data-testid="import-check"]');
      await expect.poll(() => page.locator('[data-testid="import-swapped"]').textContent(), { timeout: 60_000 }).toContain('其余各行没有');
      expect(await page.locator('[data-testid="import-swap"]').count()).toBe(0);
      // the view is the district and its rows, not the globe the far row would stretch it to
      await waitForMap(page);
      const zoom = () => page.evaluate(() => (window as unknown as { gridplanImportMap: { getZoom(): number } }).gridplanImportMap.getZoom());
      expect(await zoom()).toBeGreaterThan(7);
      await page.screenshot({ path: join(ARTIFACTS, 'import-4d-one-row-swapped.png') });
    } finally {
      await page.close();
    }
    const again = await openImport();
    try {
      await again.setInputFiles('[data-testid="import-file"]', all);
      await again.waitForSelector('[data-testid="import-check"]', { timeout: 60_000 });
      await again.click('[data-testid="import-check"]');
      await expect.poll(() => again.locator('[data-testid="import-swap"]').count(), { timeout: 60_000 }).toBe(1);
      await again.click('[data-testid="import-swap"]');
      await expect.poll(() => again.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 4 条：4 条可导入，0 条有问题');
    } finally {
      await again.close();
    }
  });

  it('opened from 设置 › 部门 for a department list: no region, no map, and a list whose columns say only 名称 taken as one', async () => {
    const page = await newPage(browser, server.url, admin, DESKTOP);
    try {
      await page.goto(`${server.url}/settings?tab=departments`);
      await page.click('[data-testid="departments-import"]');
      await page.waitForSelector('[data-testid="import-drop"]');
      await expect.poll(() => page.locator('[data-testid="import-sheet-hint"]').textContent()).toMatch(/^部门名单不画在地图上.*选一个 Excel 或 CSV 文件/);
      expect(await page.locator('.target').count()).toBe(0);
      expect(await page.locator('[data-testid="map"]').count()).toBe(0);
      const csv = join(dir, '名单.csv');
      await writeFile(csv, '名称,联系人,电话\n县档案馆,刘洋,0874-3123456 转 8001\n');
      await page.setInputFiles('[data-testid="import-file"]', csv);
      await page.waitForSelector('[data-testid="import-check"]', { timeout: 60_000 });
      expect(await page.locator('label.kind.on').textContent()).toContain('部门名单');
      // a file of a few bytes is not "0 KB"
      expect(await page.locator('.import aside').textContent()).toMatch(/名单\.csv\s*\d+ B ·/);
      await page.click('[data-testid="import-check"]');
      await expect
        .poll(() => page.locator('[data-testid="import-departments"]').textContent(), { timeout: 60_000 })
        .toBe('新增 1 个部门，更新 0 个，0 个无变化');
      await page.screenshot({ path: join(ARTIFACTS, 'import-6d-departments-from-settings.png') });
    } finally {
      await page.close();
    }
  });

  it('brings in a department list from Excel: guessed as departments, one change, undone from the wizard', async () => {
    const csv = join(dir, '部门.csv');
    await writeFile(csv, '部门名称,联系人,联系电话\n市应急管理局,李明,0937-3322110\n市自然资源局,赵丽,13909370001\n市水务局,孙强,值班室\n');
    const xlsx = join(dir, '职能部门名单.xlsx');
    execFileSync('ogr2ogr', ['-f', 'XLSX', xlsx, csv]);
    const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM department')).rows[0]!.n);
    const before = await count();
    const page = await openImport();
    try {
      await page.setInputFiles('[data-testid="import-file"]', xlsx);
      await page.waitForSelector('[data-testid="import-check"]', { timeout: 60_000 });
      expect(await page.locator('label.kind.on').textContent()).toContain('部门名单');
      // no coordinate system to choose for a list of departments, no region to import into, no map: the sheet itself
      expect(await page.locator('[data-testid="import-crs"]').count()).toBe(0);
      expect(await page.locator('.target').count()).toBe(0);
      expect(await page.locator('[data-testid="map"]').count()).toBe(0);
      await page.waitForSelector('[data-testid="import-sheet-hint"]');
      await page.click('[data-testid="import-check"]');
      await expect.poll(() => page.locator('.sample tbody tr').count()).toBe(3);
      // the row that will not go in is marked in the sheet, its problem as its title
      await expect.poll(() => page.locator('.sample tbody tr.bad').getAttribute('title')).toBe('电话无效：值班室');
      // on a phone too, where the sheet stands in for the map
      await page.setViewportSize({ width: 360, height: 640 });
      await expect.poll(() => page.locator('.sample').isVisible()).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'import-6c-departments-phone.png') });
      await page.setViewportSize(DESKTOP);
      await expect
        .poll(() => page.locator('[data-testid="import-departments"]').textContent(), { timeout: 60_000 })
        .toBe('新增 2 个部门，更新 0 个，0 个无变化');
      expect(await page.locator('[data-testid="import-problems"] tr').allTextContents()).toEqual([expect.stringMatching(/^第 4 行电话无效：值班室$/)]);
      await page.screenshot({ path: join(ARTIFACTS, 'import-6-departments.png') });
      await page.click('[data-testid="import-commit"]');
      await page.waitForSelector('[data-testid="import-done"]', { timeout: 60_000 });
      expect(await count()).toBe(before + 2);
      expect(await page.locator('[data-testid="import-show-settings"]').getAttribute('href')).toBe('/settings?tab=departments');
      // the settings log has it as one change, each department added said so
      const history = await newPage(browser, server.url, admin, DESKTOP);
      try {
        await history.goto(`${server.url}/settings?tab=history`);
        const entry = history.locator('[data-testid="settings-change"]').first();
        await expect.poll(() => entry.textContent(), { timeout: 30_000 }).toMatch(/导入\s*部门名单\s*「2 个部门」/);
        expect(await entry.locator('[data-testid="settings-changed"] li').allTextContents()).toEqual(
          expect.arrayContaining(['市应急管理局：新增', '市应急管理局 联系人：（空） → 李明']),
        );
        await history.screenshot({ path: join(ARTIFACTS, 'import-6b-departments-history.png') });
      } finally {
        await history.close();
      }
      await page.click('[data-testid="import-undo"]');
      expect(dialogs.at(-1)).toMatch(/^撤销这次导入的全部 [\d,]+ 条？/);
      await expect.poll(() => page.locator('[data-testid="import-done"] h3').textContent()).toBe('已撤销这次导入');
      expect(await count()).toBe(before);
    } finally {
      await page.close();
    }
  });

  it('opened with a grid chosen in the plan, takes the file for the grid’s village', async () => {
    const {
      rows: [grid],
    } = await db.query<{ id: number; parent: number; village: string }>(
      `SELECT g.id, g.parent_id AS parent, v.name AS village FROM region g JOIN region v ON v.id = g.parent_id WHERE g.level = 'grid' ORDER BY g.id LIMIT 1`,
    );
    const page = await newPage(browser, server.url, admin, DESKTOP);
    try {
      await page.goto(`${server.url}/import?region=${grid!.id}`);
      // (no new entry in the history: 返回 goes where the clerk came from)
      await page.waitForURL(new RegExp(`/import\\?region=${grid!.parent}$`));
      await expect.poll(() => page.locator('[data-testid="breadcrumb"]').textContent(), { timeout: 30_000 }).toContain(grid!.village);
      expect(await page.evaluate(() => history.length)).toBe(2);
    } finally {
      await page.close();
    }
  });

  it('shows the whole target on a phone (360×640) above the report', async () => {
    const page = await newPage(browser, server.url, admin, { width: 360, height: 640 });
    try {
      await page.goto(`${server.url}/import`);
      await page.waitForSelector('[data-testid="import-drop"]');
      await page.setInputFiles('[data-testid="import-file"]', join(FILES, 'households.xlsx'));
      await page.waitForSelector('[data-testid="import-check"]', { timeout: 60_000 });
      await page.click('[data-testid="import-check"]');
      await page.waitForSelector('[data-testid="import-summary"]', { timeout: 60_000 });
      await waitForMap(page);
      // the target's outline, as drawn, lies inside the map's box
      const inside = await page.evaluate(() => {
        const map = (window as any).gridplanImportMap;
        const canvas = map.getCanvas().getBoundingClientRect();
        const features = map.querySourceFeatures('parent');
        let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
        const visit = (c: any): void => {
          if (typeof c[0] === 'number') {
            const p = map.project(c);
            [x0, y0, x1, y1] = [Math.min(x0, p.x), Math.min(y0, p.y), Math.max(x1, p.x), Math.max(y1, p.y)];
          } else c.forEach(visit);
        };
        for (const f of features) visit(f.geometry.coordinates);
        return { box: [x0, y0, x1, y1].map(Math.round), width: Math.round(canvas.width), height: Math.round(canvas.height) };
      });
      await page.screenshot({ path: join(ARTIFACTS, 'import-7-phone.png') });
      expect(inside.box[0]).toBeGreaterThanOrEqual(0);
      expect(inside.box[1]).toBeGreaterThanOrEqual(0);
      expect(inside.box[2]).toBeLessThanOrEqual(inside.width);
      expect(inside.box[3]).toBeLessThanOrEqual(inside.height);
    } finally {
      await page.close();
    }
  });

  it('lets an admin set the district’s household range per grid type in the settings', async () => {
    const page = await newPage(browser, server.url, admin, DESKTOP);
    try {
      await page.goto(`${server.url}/settings`);
      await page.waitForSelector('[data-testid="rules"] input');
      expect(await page.locator('[data-testid="rules-save"]').isDisabled()).toBe(true);
      // the demo district's own 10–25: a residential range of its own instead
      // a minimum over the maximum is said beside the row, its two boxes marked, and nothing is saved
      await page.fill('[data-testid="rule-residential-min"]', '40');
      await page.fill('[data-testid="rule-residential-max"]', '30');
      await expect.poll(() => page.locator('[data-testid="rule-why-residential"]').textContent()).toBe('下限不能大于上限。');
      expect(await page.locator('[data-testid="rule-residential-min"]').getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('[data-testid="rule-residential-target"]').getAttribute('aria-invalid')).toBe('false');
      expect(await page.locator('[data-testid="rules-save"]').isDisabled()).toBe(true);
      await page.fill('[data-testid="rule-residential-min"]', '');
      await expect.poll(() => page.locator('[data-testid="rule-why-residential"]').textContent()).toContain('整数');
      await page.fill('[data-testid="rule-residential-min"]', '12');
      await page.fill('[data-testid="rule-residential-target"]', '20');
      expect(await page.getByLabel('小区型 上限').inputValue()).toBe('30');
      await page.click('[data-testid="rules-save"]');
      await expect.poll(() => page.locator('[role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存/);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-rules.png') });
      const { rows } = await db.query<{ lo: number; hi: number }>(
        `SELECT min_households AS lo, max_households AS hi FROM grid_type_rule WHERE district_id IS NOT NULL AND grid_type = 'residential'`,
      );
      expect(rows).toEqual([{ lo: 12, hi: 30 }]);
      // the type given back to the plan-wide range: the row says it follows the default
      await page.click('[data-testid="rule-follow-residential"]');
      await expect.poll(() => page.locator('[data-testid="rule-why-residential"]').textContent()).toBe('沿用默认');
      expect(await page.getByLabel('小区型 上限').inputValue()).toBe('200');
      // the plan-wide ranges, with the counties that follow them
      await page.selectOption('[data-testid="rules-district"]', 'plan');
      await expect.poll(() => page.locator('[data-testid="rules-following"]').textContent()).toMatch(/^沿用这些默认的区县：.*（小区型）/);
      await page.fill('[data-testid="rule-residential-max"]', '190');
      await page.click('[data-testid="rules-save"]');
      await expect.poll(() => page.locator('[role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存/);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-rules-plan.png') });
      const plan = await db.query<{ hi: number }>(`SELECT max_households AS hi FROM grid_type_rule WHERE district_id IS NULL AND grid_type = 'residential'`);
      expect(plan.rows).toEqual([{ hi: 190 }]);
      // (as it was, for the tests after this one)
      await db.query(`UPDATE grid_type_rule SET max_households = 200 WHERE district_id IS NULL AND grid_type = 'residential'`);
      await db.query(
        `INSERT INTO grid_type_rule (district_id, grid_type, min_households, max_households, target_households)
         SELECT id, 'residential', 12, 30, 20 FROM region WHERE level = 'district' ORDER BY id LIMIT 1`,
      );
    } finally {
      await page.close();
    }
  });

  it('lets an admin add a department, set a category’s deadlines and departments, and undo a change from the record', async () => {
    const page = await newPage(browser, server.url, admin, DESKTOP);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${server.url}/settings?tab=staffing`);
      await page.waitForSelector('[data-testid="staffing-row"]');
      await page.fill('input[aria-label="网格警员 每格至少"]', '0');
      await page.click('[data-testid="staffing-save"]');
      await expect.poll(() => page.locator('[data-testid="staffing"] [role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存/);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-staffing.png') });
      // the district's own counts: its instructors not required per grid, while the plan's model keeps them
      const { rows: districts } = await db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1`);
      await page.selectOption('[data-testid="staffing-scope"]', String(districts[0]!.id));
      await page.waitForSelector('[data-testid="staffing-own-row"]');
      await page.check('input[aria-label="网格指导员 本区县自定"]');
      await page.fill('[data-testid="staffing-own-instructor"]', '0');
      await page.click('[data-testid="staffing-own-save"]');
      await expect.poll(() => page.locator('[data-testid="staffing"] [role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存.*网格力量/);
      const { rows: own } = await db.query<{ role: string; n: number }>('SELECT role, min_per_grid AS n FROM staff_requirement WHERE district_id = $1', [
        districts[0]!.id,
      ]);
      expect(own).toEqual([{ role: 'instructor', n: 0 }]);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-staffing-district.png') });

      // the approval steps, sent back at the version read (If-Match)
      await page.click('[data-testid="settings-tab-approval"]');
      await page.waitForSelector('[data-testid="approval-row"]');
      await page.locator('[data-testid="approval-row"]').first().locator('input').first().fill('乡镇初审');
      await page.click('[data-testid="approval-save"]');
      await expect.poll(() => page.locator('[data-testid="approval"] [role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存/);
      expect((await db.query<{ zh: string }>('SELECT zh FROM approval_step ORDER BY step LIMIT 1')).rows[0]!.zh).toBe('乡镇初审');
      // the district's own steps: its drafts go to its leader alone
      await page.selectOption('[data-testid="approval-scope"]', String(districts[0]!.id));
      await page.check('[data-testid="approval-own"]');
      await page.locator('[data-testid="approval-row"]').first().getByRole('button', { name: '删除' }).click();
      await page.click('[data-testid="approval-save"]');
      await expect.poll(() => page.locator('[data-testid="approval"] [role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存.*审批流程/);
      const { rows: ownSteps } = await db.query<{ level: string }>('SELECT level FROM district_approval_step WHERE district_id = $1 ORDER BY step', [
        districts[0]!.id,
      ]);
      expect(ownSteps).toEqual([{ level: 'district' }]);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-approval-district.png') });

      await page.click('[data-testid="settings-tab-departments"]');
      await page.waitForSelector('[data-testid="department-row"]');
      await page.fill('[data-testid="department-code"]', 'water');
      await page.fill('[data-testid="department-zh"]', '水务局');
      await page.fill('[data-testid="department-en"]', 'Water bureau');
      // a township's own: it takes that township's cases only
      const { rows: towns } = await db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' ORDER BY id LIMIT 1`);
      await page.selectOption('[data-testid="department-new-region"]', String(towns[0]!.id));
      await page.click('[data-testid="department-add"]');
      await expect.poll(() => page.locator('[data-testid="departments-message"]').textContent(), { timeout: 10_000 }).toBe('已添加「水务局」。');
      await page.screenshot({ path: join(ARTIFACTS, 'settings-departments.png') });
      expect((await db.query<{ r: number }>(`SELECT region_id AS r FROM department WHERE code = 'water'`)).rows).toEqual([{ r: towns[0]!.id }]);

      await page.click('[data-testid="settings-tab-categories"]');
      // a district's own deadlines for its departments: its fire cases acknowledged within half an hour at 紧急
      await page.selectOption('[data-testid="categories-scope"]', String(districts[0]!.id));
      await page.waitForSelector('[data-testid="district-deadline-row"]');
      await page.check('[data-testid="own-fire"]');
      await page.fill('[data-testid="own-ack-fire-4"]', '0.5');
      await page.fill('[data-testid="own-close-fire"]', '36');
      await page.click('[data-testid="district-deadlines-save"]');
      await expect
        .poll(() => page.locator('[data-testid="district-deadlines"] [role="status"]').textContent(), { timeout: 10_000 })
        .toMatch(/^已保存.*办理时限/);
      const { rows: ownFire } = await db.query<{ s: number; a: number }>(
        `SELECT severity AS s, ack_hours::float8 AS a FROM district_deadline WHERE district_id = $1 AND category = 'fire' ORDER BY severity`,
        [districts[0]!.id],
      );
      expect(ownFire.map((r) => r.s)).toEqual([1, 2, 3, 4]);
      expect(ownFire[3]!.a).toBe(0.5);
      expect((await db.query('SELECT hours FROM district_close_hours WHERE district_id = $1', [districts[0]!.id])).rows).toEqual([{ hours: 36 }]);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-district-deadlines.png') });
      await page.selectOption('[data-testid="categories-scope"]', '');
      const fire = page.locator('[data-testid="category-card"]').filter({ has: page.locator('.code', { hasText: /^fire$/ }) });
      // a severity whose acknowledging takes longer than its resolving is named under the table, its boxes marked, before any save
      const resolve4 = fire.locator('[data-testid="resolve-fire-4"]');
      const was = await resolve4.inputValue();
      await fire.locator('[data-testid="ack-fire-4"]').fill('9');
      await resolve4.fill('1');
      await expect.poll(() => fire.locator('[data-testid="deadline-why"]').textContent()).toContain('紧急：响应时限 9 小时长于办结时限 1 小时');
      expect(await resolve4.getAttribute('aria-invalid')).toBe('true');
      expect(await fire.locator('[data-testid="category-save"]').isDisabled()).toBe(true);
      await resolve4.fill(was);
      await fire.locator('[data-testid="ack-fire-4"]').fill('0.5');
      expect(await fire.locator('[data-testid="deadline-why"]').count()).toBe(0);
      await fire.locator('label', { hasText: '水务局' }).locator('input').check();
      await fire.locator('[data-testid="category-save"]').click();
      // said at the card saved, not below the whole list
      await expect.poll(() => fire.locator('[data-testid="categories-message"]').textContent(), { timeout: 10_000 }).toMatch(/^已保存/);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-categories.png'), fullPage: true });
      const { rows } = await db.query<{ ack: number }>(`SELECT ack_hours::float8 AS ack FROM incident_deadline WHERE category = 'fire' AND severity = 4`);
      expect(rows[0]!.ack).toBe(0.5);

      await page.click('[data-testid="settings-tab-history"]');
      await page.waitForSelector('[data-testid="settings-change"]');
      // the change says what it changed: the deadline, by its severity, from and to
      expect(await page.locator('[data-testid="settings-changed"]').first().textContent()).toMatch(/紧急 响应（小时）：\S+ → 0\.5/);
      await page.locator('[data-testid="settings-undo"]').first().click();
      await expect.poll(() => page.locator('[data-testid="settings-history"] [role="status"]').textContent(), { timeout: 10_000 }).toMatch(/^已撤销/);
      await page.screenshot({ path: join(ARTIFACTS, 'settings-history.png') });
      const after = await db.query<{ ack: number }>(`SELECT ack_hours::float8 AS ack FROM incident_deadline WHERE category = 'fire' AND severity = 4`);
      expect(after.rows[0]!.ack).not.toBe(0.5);

      await page.click('[data-testid="settings-tab-accounts"]');
      await page.waitForSelector('[data-testid="account-row"]');
      await page.fill('input[aria-label="用途"]', '指挥中心大屏');
      await page.click('text=生成令牌');
      await expect.poll(() => page.locator('[data-testid="token-shown"] code').textContent(), { timeout: 10_000 }).toContain('/screen?token=');

      // A grid worker's account is tied to their person, found by name.
      const person = (await db.query<{ id: number; name: string }>(`SELECT id, name FROM worker ORDER BY id LIMIT 1`)).rows[0]!;
      await page.fill('input[aria-label="用户名"]', 'wg.account');
      await page.fill('input[aria-label="密码，至少 8 位"]', 'long enough 1');
      await page.selectOption('select[aria-label="角色"]', 'worker');
      expect(await page.locator('[data-testid="account-add"]').isDisabled()).toBe(true);
      await page.click('[data-testid="new-scope"]');
      await page.fill('[data-testid="find-worker"]', person.name);
      await page.locator('[data-testid="scope-picker"] li button').first().click();
      await page.locator('[data-testid="account-add"]').click();
      await expect.poll(async () => (await db.query(`SELECT worker_id FROM app_user WHERE username = 'wg.account'`)).rows[0], { timeout: 10_000 }).toBeTruthy();
      const tied = (await db.query<{ name: string }>(`SELECT w.name FROM app_user u JOIN worker w ON w.id = u.worker_id WHERE u.username = 'wg.account'`))
        .rows[0]!;
      expect(tied.name).toBe(person.name);

      // A key for the 12345 hotline, shown once: the county's own, its orders placed only there.
      await page.fill('input[aria-label="对接系统"]', '12345 市民热线');
      const county = await page.locator('[data-testid="key-region-pick"] option').nth(1).textContent();
      await page.locator('[data-testid="key-region-pick"]').selectOption({ index: 1 });
      await page.click('text=生成密钥');
      await expect.poll(() => page.locator('[data-testid="key-shown"] code').textContent(), { timeout: 10_000 }).toMatch(/^gpk_/);
      await page.waitForSelector('[data-testid="key-row"]');
      expect(await page.locator('[data-testid="key-row"] [data-testid="key-region"]').last().textContent()).toBe(county);
      await page.waitForSelector('[data-testid="account-add"]:not([disabled]), [data-testid="account-row"] button:not([disabled])');
      await page.screenshot({ path: join(ARTIFACTS, 'settings-accounts.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('offers to put a county-wide village layer into the townships it lies in, and does', async () => {
    // A county of three towns and no villages yet, brought in through the API as the first test did.
    const api = async (path: string, body: object | Uint8Array, name?: string) => {
      const res = await fetch(server.url + path, {
        method: 'POST',
        headers: {
          cookie: admin,
          origin: server.url,
          ...(name ? { 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(name) } : { 'content-type': 'application/json' }),
        },
        body: name ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body),
      });
      expect(res.status).toBeLessThan(300);
      return (await res.json()) as any;
    };
    const bring = async (file: string, layer: string, parentId: number | null) => {
      const job = await api('/api/imports', new Uint8Array(await readFile(join(FILES, file))), file);
      await api(`/api/imports/${job.id}/commit`, { layer, kind: 'boundary', parentId, repair: true });
    };
    await bring('jiayuguan-gk-gbk.zip', 'jiayuguan', null);
    const county = (await db.query<{ id: number }>(`SELECT id FROM region WHERE code = '620201'`)).rows[0]!.id;
    await bring('jiayuguan-towns-gk.zip', 'towns', county);
    const { rows } = await db.query<{ f: string }>(
      `SELECT json_build_object('type', 'Feature', 'properties', json_build_object('村名', t.name || h.side || '村'),
                'geometry', ST_AsGeoJSON(ST_Intersection(t.geom, h.box), 9)::json)::text AS f
       FROM region t, LATERAL (SELECT ST_XMin(t.geom) - 1 AS x0, ST_YMin(t.geom) - 1 AS y0, ST_XMax(t.geom) + 1 AS x1, ST_YMax(t.geom) + 1 AS y1,
                                     ST_X(ST_Centroid(t.geom)) AS cx) b,
            LATERAL (VALUES ('西', ST_MakeEnvelope(b.x0, b.y0, b.cx, b.y1, 4326)), ('东', ST_MakeEnvelope(b.cx, b.y0, b.x1, b.y1, 4326))) AS h(side, box)
       WHERE t.parent_id = $1 ORDER BY h.side, t.code`,
      [county],
    );
    const file = join(dir, '全市村级界线.geojson');
    await writeFile(file, JSON.stringify({ type: 'FeatureCollection', features: rows.map((r) => JSON.parse(r.f)) }));

    const page = await newPage(browser, server.url, admin, DESKTOP);
    try {
      await page.goto(`${server.url}/import?region=${county}`);
      await page.waitForSelector('[data-testid="import-drop"]');
      await page.setInputFiles('[data-testid="import-file"]', file);
      await page.waitForSelector('[data-testid="import-level"]', { timeout: 60_000 });
      await page.click('[data-testid="import-check"]');
      // taken for towns, each overlaps one: the wizard says what they look like and offers the village level
      await page.waitForSelector('[data-testid="import-looks-like-villages"]', { timeout: 60_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'import-7-villages-hint.png') });
      await page.click('[data-testid="import-as-villages"]');
      await expect.poll(() => page.locator('[data-testid="import-summary"]').textContent(), { timeout: 60_000 }).toBe('共 6 条：6 条可导入，0 条有问题');
      expect(await page.locator('[data-testid="import-level"]').inputValue()).toBe('village');
      expect(await page.locator('[data-testid="import-by-parent"]').textContent()).toMatch(/^分别归入 3 个上级：.+镇 2、.+镇 2、.+镇 2$/);
      await expect.poll(() => page.locator('[data-testid="import-looks-like-villages"]').count()).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, 'import-8-villages-report.png') });
      await page.click('[data-testid="import-commit"]');
      await page.waitForSelector('[data-testid="import-done"]', { timeout: 60_000 });
      const { rows: counts } = await db.query<{ n: number }>(
        `SELECT count(v.id)::int AS n FROM region t LEFT JOIN region v ON v.parent_id = t.id WHERE t.parent_id = $1 GROUP BY t.id`,
        [county],
      );
      expect(counts.map((c) => c.n)).toEqual([2, 2, 2]);
      // The next file is for a township, chosen below: the wizard starts afresh for it.
      const town = (await db.query<{ id: number }>('SELECT id FROM region WHERE parent_id = $1 ORDER BY code LIMIT 1', [county])).rows[0]!.id;
      await page.selectOption('select[aria-label="下一级…"]', String(town));
      await page.waitForSelector('[data-testid="import-drop"]');
      expect(await page.locator('[data-testid="import-done"]').count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('says in Chinese what is wrong with a broken file', async () => {
    const page = await openImport();
    try {
      await page.setInputFiles('[data-testid="import-file"]', join(FILES, 'broken', 'no-shx.zip'));
      await expect
        .poll(() => page.locator('[data-testid="import-error"]').textContent())
        .toBe('jiayuguan.shp 缺少 .shx 文件：请把 Shapefile 的所有文件一起选中或拖入（或打进一个 zip）。');
      await page.screenshot({ path: join(ARTIFACTS, 'import-6-broken.png') });
      // A .prj that cannot be read: its numbers say the zone (prefixed eastings) at once, before any check, and the
      // warning says which system the layer will be read in; the check reads it so.
      await page.setInputFiles('[data-testid="import-file"]', join(FILES, 'broken', 'bad-prj.zip'));
      await expect
        .poll(() => page.locator('[data-testid="import-warning"]').allTextContents(), { timeout: 60_000 })
        .toContainEqual(expect.stringMatching(/的 \.prj 读不懂：按 .*第 33 带.* 读取。/));
      expect(await page.locator('[data-testid="import-crs"] option').first().textContent()).toMatch(/^按推断：.*第 33 带/);
      expect(await page.locator('[data-testid="crs-guess"]').textContent()).toMatch(/^文件未声明坐标系；数值看来是 .*第 33 带.*，检查时按它读取。$/);
      await page.check('[data-testid="import-top"]');
      await page.click('[data-testid="import-check"]');
      await expect
        .poll(() => page.locator('[data-testid="import-warning"]').allTextContents(), { timeout: 60_000 })
        .toContainEqual(expect.stringMatching(/的 \.prj 读不懂：按 .*第 \d+ 带.* 读取。/));
    } finally {
      await page.close();
    }
  });
});

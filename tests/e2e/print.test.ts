import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import jsQR from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/server.ts';
import type { Db } from '../../server/db/db.ts';
import { cloneTestDb } from '../support/db.ts';
import { sessionCookie } from '../support/auth.ts';
import { describeInBrowser, launchBrowser, newPage } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'e2e');

/** What poppler's pdfinfo and pdftotext (apt poppler-utils) read of a PDF: pages, page size in points, text. */
function readPdf(file: string): { pages: number; size: [number, number]; text: string } {
  const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
  const size = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(info)!;
  return {
    pages: Number(/Pages:\s+(\d+)/.exec(info)![1]),
    size: [Math.round(Number(size[1])), Math.round(Number(size[2]))],
    text: execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }),
  };
}

describeInBrowser('printed map books and notice boards in Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let dispose: () => Promise<void>;
  let db: Db;
  let admin: string;
  let village: { id: number; name: string; township: number };
  let grids: { id: number; code: string; name: string; households: number; worker: string; phone: string }[];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const t = await cloneTestDb('pglite');
    dispose = t.dispose;
    db = t.db;
    server = await startServer({ db, port: 0 });
    admin = await sessionCookie(db, { username: 'admin', role: 'admin' });
    browser = await launchBrowser();
    village = (
      await db.query<typeof village>(
        `SELECT v.id, v.name, v.parent_id AS township FROM region v JOIN region g ON g.parent_id = v.id
         WHERE v.level = 'village' GROUP BY v.id ORDER BY count(*) DESC, v.id LIMIT 1`,
      )
    ).rows[0]!;
    grids = (
      await db.query<(typeof grids)[number]>(
        `SELECT g.id, g.code, g.name, g.household_count AS households, w.name AS worker, w.phone
         FROM region g JOIN worker w ON w.id = g.worker_id WHERE g.parent_id = $1 ORDER BY g.code`,
        [village.id],
      )
    ).rows;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await dispose?.();
  });

  async function open(path: string, viewport = { width: 1920, height: 1080 }): Promise<Page> {
    const page = await newPage(browser, server.url, admin, viewport);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}${path}`);
    await page.waitForSelector('[data-testid="print-pages"][data-ready="true"]', { timeout: 60_000 });
    expect(errors).toEqual([]);
    return page;
  }

  async function pdf(page: Page, name: string) {
    const file = join(ARTIFACTS, name);
    await writeFile(file, await page.pdf({ preferCSSPageSize: true, printBackground: true }));
    return readPdf(file);
  }

  /** Text that spills out of its box: a table cell, a heading, a label cut short. */
  const overflowing = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('.sheet h1, .sheet .sub, .sheet .meta span, .who span, .legend span')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > e.closest('.sheet')!.getBoundingClientRect().right)
        .map((e) => e.textContent),
    );

  /** Labels of a map that one of its insets covers: an inset goes where it hides none. */
  const underInsets = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="print-map"]')].flatMap((map) => {
        const insets = [...map.querySelectorAll('[data-testid="print-inset"]')].map((e) => e.querySelector(':scope > rect')!.getBoundingClientRect());
        const labels = [...map.querySelectorAll('text.label')].filter((e) => !e.closest('[data-testid="print-inset"]') && !e.classList.contains('inset-key'));
        return labels
          .filter((e) => {
            const a = e.getBoundingClientRect();
            return insets.some((b) => a.right > b.left && a.left < b.right && a.bottom > b.top && a.top < b.bottom);
          })
          .map((e) => e.textContent!.trim());
      }),
    );

  /** Labels in an inset that its frame cuts, or that its scale bar covers. */
  const cutInInsets = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="print-inset"]')].flatMap((inset) => {
        const b = inset.querySelector(':scope > rect')!.getBoundingClientRect();
        const scale = inset.querySelector(':scope > .scale')?.getBoundingClientRect();
        return [...inset.querySelectorAll(':scope > g text.label')]
          .filter((e) => {
            const a = e.getBoundingClientRect();
            const cut = a.left < b.left || a.right > b.right || a.top < b.top || a.bottom > b.bottom;
            const underScale = scale && a.right > scale.left && a.left < scale.right && a.bottom > scale.top && a.top < scale.bottom;
            return cut || underScale;
          })
          .map((e) => e.textContent!.trim());
      }),
    );

  /** Grid numbers drawn over one another, on a map or in one of its insets (a village's centre on A4 was a heap of them). */
  const heapedNumbers = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('svg.print-map')].flatMap((map) => {
        const boxes = [...map.querySelectorAll(':scope > g text.number')].map((e) => [e.textContent!.trim(), e.getBoundingClientRect()] as const);
        return boxes.flatMap(([t, a], i) =>
          boxes
            .slice(i + 1)
            .flatMap(([u, b]) => (a.right > b.left + 0.5 && a.left < b.right - 0.5 && a.bottom > b.top + 0.5 && a.top < b.bottom - 0.5 ? [`${t}×${u}`] : [])),
        );
      }),
    );

  /**
   * Grids a map names or numbers nowhere, neither on it nor in one of its insets, where a grid's number is at all
   * legible: its number left the map for an inset that could not write it (under the inset's scale bar, 平街村第4网格).
   */
  const unnumbered = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="print-map"]')].flatMap((map) => {
        const written = new Set([...map.querySelectorAll('text.label[data-code]')].map((e) => e.getAttribute('data-code')));
        const enlarged = [...map.querySelectorAll('[data-testid="print-inset"]')].length > 0;
        // (without an inset, a grid too small for its number on the map has none, as it always had)
        return enlarged
          ? [...new Set([...map.querySelectorAll(':scope > g path[data-code]')].map((p) => p.getAttribute('data-code')!))].filter((c) => !written.has(c))
          : [];
      }),
    );

  /** An inset's letter on the map written over a name or a number (the top right corner wrote over 平街村第9网格). */
  const keysOnLabels = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="print-map"]')].flatMap((map) => {
        // (a text's box is its font's whole line, ascent to descent: the glyphs fill about its middle half)
        const ink = (e: Element) => {
          const r = e.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top + r.height * 0.25, bottom: r.bottom - r.height * 0.25 };
        };
        const labels = [...map.querySelectorAll(':scope > g text.label')].map((e) => [e.textContent!.trim(), ink(e)] as const);
        return [...map.querySelectorAll(':scope > text.inset-key')].flatMap((k) => {
          const a = ink(k);
          return labels.filter(([, b]) => a.right > b.left && a.left < b.right && a.bottom > b.top && a.top < b.bottom).map(([t]) => `${k.textContent}×${t}`);
        });
      }),
    );

  it('prints a village map book on A4: the map with every grid, the legend, the table, and a PDF a reader finds them in', async () => {
    const page = await open(`/print/village/${village.id}`);
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'print-village-a4.png'), fullPage: true });
      const drawn = await page.$$eval('[data-testid="print-map"] path[data-code]', (ps) => new Set(ps.map((p) => p.getAttribute('data-code'))).size);
      expect(drawn).toBe(grids.length);
      expect(await page.locator('[data-testid="print-table"] tbody tr').count()).toBe(grids.length);
      expect(await overflowing(page)).toEqual([]);
      expect(await underInsets(page)).toEqual([]);
      expect(await cutInInsets(page)).toEqual([]);
      expect(await heapedNumbers(page)).toEqual([]);
      expect(await keysOnLabels(page)).toEqual([]);
      expect(await unnumbered(page)).toEqual([]);
      const out = await pdf(page, 'print-village-a4.pdf');
      expect(out.size).toEqual([595, 842]);
      expect(out.pages).toBe(await page.locator('[data-testid="print-sheet"]').count());
      expect(out.text).toContain(`${village.name} 网格划分图`);
      // the scale bar in the page's language (it said "1 km" in the Chinese print)
      expect(await page.locator('[data-testid="print-map"] .scale text').last().textContent()).toMatch(/^\d+ (公里|米)$/);
      for (const g of grids) {
        expect(out.text).toContain(g.name);
        expect(out.text).toContain(g.code);
        expect(out.text).toContain(g.phone);
      }
    } finally {
      await page.close();
    }
  });

  it('prints a township as a sheet per village on A3 landscape', async () => {
    const page = await open(`/print/township/${village.township}?paper=a3&orient=landscape`);
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'print-township-a3.png') });
      const villages = await db.query<{ name: string }>(`SELECT name FROM region WHERE parent_id = $1 ORDER BY code`, [village.township]);
      const titles = await page.locator('[data-testid="print-sheet"] h1').allTextContents();
      for (const v of villages.rows) expect(titles.some((t) => t.startsWith(`${v.name} 网格划分图`))).toBe(true);
      expect(await overflowing(page)).toEqual([]);
      expect(await page.locator('[data-testid="print-inset"]').count()).toBeGreaterThan(0);
      expect(await underInsets(page)).toEqual([]);
      expect(await cutInInsets(page)).toEqual([]);
      expect(await heapedNumbers(page)).toEqual([]);
      expect(await keysOnLabels(page)).toEqual([]);
      expect(await unnumbered(page)).toEqual([]);
      // a cover first: the township's villages on one map, and the sheet each begins on
      expect(await page.locator('[data-testid="print-contents"] tbody tr').count()).toBe(villages.rows.length);
      const out = await pdf(page, 'print-township-a3.pdf');
      expect(out.size).toEqual([1191, 842]);
      expect(out.pages).toBe(titles.length + 1);
      expect(out.text).toContain('网格划分图册');
    } finally {
      await page.close();
    }
  });

  it('prints a district as one overview sheet: its townships on a map and their figures, as the database counts them', async () => {
    const district = (await db.query<{ id: number; name: string }>(`SELECT id, name FROM region WHERE level = 'district' ORDER BY code LIMIT 1`)).rows[0]!;
    const page = await open(`/print/district/${district.id}`);
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'print-district-overview.png') });
      expect(await page.locator('[data-testid="print-overview"] h1').textContent()).toBe(`${district.name} 网格化管理总图`);
      const { rows: towns } = await db.query<{ name: string; grids: number; passing: number }>(
        `SELECT t.name, count(g.id)::int AS grids, count(g.id) FILTER (WHERE gr.passes)::int AS passing
         FROM region t LEFT JOIN region v ON v.parent_id = t.id LEFT JOIN region g ON g.parent_id = v.id LEFT JOIN grid_range gr ON gr.grid_id = g.id
         WHERE t.parent_id = $1 GROUP BY t.id ORDER BY t.code`,
        [district.id],
      );
      const rows = await page
        .locator('[data-testid="print-overview-table"] tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));
      // 序号, 乡镇, 村数, 网格数, 户数, 有专职网格员, 达标网格
      expect(rows.map((r) => [r[1], Number(r[3]!.replace(/,/g, '')), Number(r[6]!.replace(/,/g, ''))])).toEqual(towns.map((t) => [t.name, t.grids, t.passing]));
      expect(await overflowing(page)).toEqual([]);
      const out = await pdf(page, 'print-district-overview.pdf');
      expect(out.pages).toBe(1);
      expect(out.text).toContain('网格化管理总图');
      expect(out.text).toContain(towns[0]!.name);
    } finally {
      await page.close();
    }
  });

  it('runs a long overview on to more sheets, every part on one and none cut at the foot (肃北: 23 townships, of which 20 fitted)', async () => {
    const district = (await db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY code LIMIT 1`)).rows[0]!;
    const page = await newPage(browser, server.url, admin, { width: 1920, height: 1080 });
    try {
      // the district's townships three times over, each named apart (a county of 30 and more)
      await page.route(new RegExp(`/api/regions/${district.id}/print`), async (route) => {
        const body = await (await route.fetch()).json();
        body.overview = [1, 2, 3].flatMap((k) =>
          body.overview.map((p: { code: string; name: string }) => ({ ...p, code: `${p.code}-${k}`, name: `${p.name}${k}` })),
        );
        await route.fulfill({ json: body });
      });
      await page.goto(`${server.url}/print/district/${district.id}`);
      await page.waitForSelector('[data-testid="print-pages"][data-ready="true"]', { timeout: 60_000 });
      const names = await page.locator('[data-testid="print-overview-table"] tbody tr td:nth-child(2)').allTextContents();
      const sheets = await page.locator('[data-testid="print-overview"]').count();
      expect(sheets).toBeGreaterThan(1);
      expect(new Set(names).size).toBe(names.length);
      const numbers = await page.locator('[data-testid="print-overview-table"] tbody tr td:first-child').allTextContents();
      expect(numbers.map(Number)).toEqual(names.map((_n, i) => i + 1));
      // every row lies within its sheet's bottom margin
      const cut = await page.evaluate(() =>
        [...document.querySelectorAll('[data-testid="print-overview-table"] tbody tr')]
          .filter((tr) => tr.getBoundingClientRect().bottom > tr.closest('.sheet')!.getBoundingClientRect().bottom - 12 * (96 / 25.4) + 1)
          .map((tr) => tr.textContent),
      );
      expect(cut).toEqual([]);
      expect(await page.locator('.sheet .meta span').last().textContent()).toBe(`第 ${sheets} / ${sheets} 页`);
      await page.screenshot({ path: join(ARTIFACTS, 'print-district-overview-long.png'), fullPage: true });
      const out = await pdf(page, 'print-district-overview-long.pdf');
      expect(out.pages).toBe(sheets);
      expect(out.text).toContain(names.at(-1)!);
    } finally {
      await page.close();
    }
  });

  it('prints a grid’s notice board: its staff with phones, the promise, and a QR code that opens the grid’s report page', async () => {
    const grid = grids[0]!;
    const page = await open(`/print/grid/${grid.id}/poster`);
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'print-poster-a3.png'), fullPage: true });
      await expect.poll(() => page.locator('[data-testid="poster-name"]').textContent()).toBe(grid.name);
      const staff = await page.locator('[data-testid="poster-staff"]').textContent();
      expect(staff).toContain(grid.worker);
      expect(staff).toContain(grid.phone);
      expect(await overflowing(page)).toEqual([]);
      // a reader we did not write decodes the QR code from the rendered page
      const shot = PNG.sync.read(await page.locator('[data-testid="poster-qr"] img').screenshot());
      const code = jsQR(new Uint8ClampedArray(shot.data), shot.width, shot.height);
      expect(code?.data).toBe(`${server.url}/report?grid=${grid.id}`);
      const out = await pdf(page, 'print-poster-a3.pdf');
      expect(out.size).toEqual([842, 1191]);
      expect(out.pages).toBe(1);
      expect(out.text).toContain('网格公示牌');
      expect(out.text).toContain(grid.phone);
      expect(out.text).toContain('服务承诺');
    } finally {
      await page.close();
    }
  });

  it('offers the export menu in the plan view, and its download is the file the API writes', async () => {
    const page = await newPage(browser, server.url, admin, { width: 1920, height: 1080 });
    try {
      await page.goto(`${server.url}/plan?region=${village.id}`);
      await page.waitForSelector('[data-testid="export-menu"]');
      await page.click('[data-testid="export-menu"] summary');
      await page.selectOption('[data-testid="export-format"]', 'gpkg');
      // 沾益 (103.8°E) lies in zone 35, within 1° of zone 34, which a county of it may keep: both are offered
      const offered = await page.locator('[data-testid="export-crs"] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
      expect(offered).toEqual(expect.arrayContaining(['EPSG:4544', 'EPSG:4523', 'EPSG:4543', 'EPSG:4522']));
      await page.selectOption('[data-testid="export-crs"]', 'EPSG:4544');
      await page.screenshot({ path: join(ARTIFACTS, 'plan-export-menu.png') });
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-download"]')]);
      const file = join(ARTIFACTS, 'plan-export.gpkg');
      await download.saveAs(file);
      expect(download.suggestedFilename()).toBe(`${village.name}-网格-EPSG4544.gpkg`);
      const info = execFileSync('ogrinfo', ['-so', file, 'grid'], { encoding: 'utf8' });
      expect(info).toContain(`Feature Count: ${grids.length}`);
      expect(info).toMatch(/ID\["EPSG",4544\]\]\s*$/m);
      expect((await readFile(file)).length).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });
});

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDb, type Db } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';
import { seedCity, type CitySummary } from '../../server/seed/seed-city.ts';
import { ensureAccounts } from '../../server/seed/accounts.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { sessionCookie } from '../support/auth.ts';
import { describeInBrowser, launchBrowser, newPage, waitForMap } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'e2e');

/** The city issue (#23 §1) in a browser: a city's plan, its counties compared and clicked on its map. */
describeInBrowser('a city in Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let db: Db;
  let city: CitySummary;
  let admin: string;
  let made: Awaited<ReturnType<typeof ensureAccounts>>;
  const crumbs = (page: Page) => page.locator('[data-testid="breadcrumb"] > *:not(.sep)').allTextContents();

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    db = await openDb({ dataDir: 'memory://' });
    await migrate(db);
    // 曲靖's nine real county outlines at a small scale: a couple of hundred grids
    city = await seedCity(db, { city: 'qujing', seed: 7, scale: 0.01, rule: { min: 10, max: 25, target: 18 }, now: new Date('2026-11-30T04:00:00Z') });
    // the accounts `npm run seed -- --city` makes on a database without any: one of each role, over the city
    made = await ensureAccounts(db, { demo: true, adminPassword: 'admin-pass-1234', demoPassword: 'demo-pass-1234' });
    server = await startServer({ db, port: 0 });
    admin = await sessionCookie(db, { username: 'admin', role: 'admin' });
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await db?.close();
  });

  it("lists the counties with their grids and the share that pass, and a click on a county's land opens that county", async () => {
    const page = await newPage(browser, server.url, admin);
    await page.goto(`${server.url}/plan`);
    await waitForMap(page);
    expect(await crumbs(page)).toEqual(['曲靖市']);
    // each county's grids, as many as the seed made there
    const names = new Map(
      (await db.query<{ id: number; name: string }>(`SELECT id, name FROM region WHERE level = 'district'`)).rows.map((r) => [r.id, r.name]),
    );
    const grids = Object.fromEntries(city.districts.map((d) => [names.get(d.districtId), d.grids]));
    await expect.poll(() => page.locator('[data-testid="part-grids"]:not(:empty)').count()).toBe(9);
    const rows = await page
      .locator('[data-testid="children"] li')
      .evaluateAll((lis) =>
        lis.map((li) => [li.querySelector('.name')!.textContent!, Number(li.querySelector('[data-testid="part-grids"]')!.textContent!.replace(/,/g, ''))]),
      );
    expect(Object.fromEntries(rows)).toEqual(grids);
    await page.screenshot({ path: join(ARTIFACTS, 'city-plan.png') });

    // a click on 会泽县's label point selects 会泽县 (it went one level too deep, to the township under the click)
    const huize = (
      await db.query<{ id: number; x: number; y: number }>(
        `SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE name = '会泽县'`,
      )
    ).rows[0]!;
    const at = await page.evaluate(([x, y]) => (window as any).gridplanMap.project([x, y]) as { x: number; y: number }, [huize.x, huize.y]);
    const box = (await page.locator('[data-testid="map"] canvas').boundingBox())!;
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await expect.poll(() => crumbs(page)).toEqual(['曲靖市', '会泽县']);
    expect(new URL(page.url()).searchParams.get('region')).toBe(String(huize.id));
    await page.context().close();
  });

  it("gives the city's centre its counties in 考核, starting at the first, with the plan's outlines under the tracks", async () => {
    // (a centre over the city was offered the city alone: every worker of nine counties in one ranking, the tracks on a blank map)
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'center', password: 'demo-pass-1234' }),
    });
    const page = await newPage(browser, server.url, login.headers.get('set-cookie')!.split(';')[0]!);
    const outlines: string[] = [];
    page.on('request', (r) => {
      if (/\/api\/tiles\/township\//.test(r.url())) outlines.push(r.url());
    });
    await page.goto(`${server.url}/assessment`);
    const area = page.locator('[data-testid="assessment-area"]');
    const counties = (await db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district'`)).rows.map((r) => String(r.id));
    await expect.poll(() => area.locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(counties.length);
    expect(counties).toContain(await area.inputValue());
    await expect.poll(() => page.locator('[data-testid="tracks-title"]').textContent(), { timeout: 30_000 }).not.toMatch(/加载中/);
    await expect.poll(() => outlines.length, { timeout: 30_000 }).toBeGreaterThan(0);
    await page.locator('[data-testid="track-map"][data-idle="true"]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'city-assessment-centre.png') });
    await page.context().close();
  });

  it("gives a seeded city its demo accounts: the centre and the leader over the city, a township's planner in a township", async () => {
    expect(made.demo?.usernames).toEqual(expect.arrayContaining(['planner', 'planner-town', 'leader', 'center', 'analyst', 'worker', 'police']));
    const { rows } = await db.query<{ username: string; display_name: string; level: string | null }>(
      `SELECT u.username, u.display_name, r.level FROM app_user u LEFT JOIN region r ON r.id = u.region_id
       WHERE u.username IN ('center', 'planner-town', 'leader') ORDER BY u.username`,
    );
    expect(rows.map((r) => [r.username, r.display_name, r.level])).toEqual([
      ['center', '市综治中心', 'city'],
      ['leader', '市领导', null],
      ['planner-town', '乡镇规划员', 'township'],
    ]);
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'leader', password: 'demo-pass-1234' }),
    });
    expect(login.status).toBe(200);
  });
});

/**
 * npm run bench:ui — what a planner and an analyst wait for, in a real browser (Chromium through
 * playwright-core), on `npm start`'s server with the demo district in a fresh embedded database.
 *
 * Each round is a new browser context (an empty browser cache) and runs, timing each from the
 * click (or the address) until the panel shows the answer, and until the map has also settled
 * (flown there, drawn every tile, idle — in software WebGL here, so frames are slow):
 *   - plan view first paint (sign-in done, /plan opened)
 *   - opening a region from the list (a township of the district; a county of a city), then one of its own
 *   - an analyze category filter change (heatmap, totals and hotspots again)
 *   - a wall display's carousel step (the next township: figures, lists and map for it)
 * The first round meets a server that has answered nothing yet (cold); the later ones are warm.
 * Baseline from the same run: what the plan map needed before it drew tiles, the district's
 * townships, villages and grids as GeoJSON, fetched and parsed in the page.
 * Aim (city-scale issue §4): p95 under 300 ms warm and under 1 s cold.
 *   npm run bench:ui -- [--rounds 6] [--city qujing [--data-dir DIR]] [--url http://localhost:8790 --user planner --analyst analyst --leader leader --password …]
 * `--city` seeds a whole city (all its counties, minutes) instead of the demo district, kept in `--data-dir` when given
 * and reused when that holds one; with DATABASE_URL, in the scratch database gridplan_bench_ui_city there (kept and reused).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { startChild, stopChild, type ChildServer } from '../lib/child-server.ts';
import { launchBrowser, waitForMap } from '../../tests/e2e/browser.ts';
import pg from 'pg';
import { createUser } from '../../server/db/accounts.ts';
import { maintain, openDb } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';
import { seedCity } from '../../server/seed/seed-city.ts';
import { DEMO } from '../../server/seed/seed-district.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    url: { type: 'string' },
    user: { type: 'string', default: 'planner' },
    analyst: { type: 'string', default: 'analyst' },
    leader: { type: 'string', default: 'leader' },
    city: { type: 'string' },
    'data-dir': { type: 'string' },
    password: { type: 'string', default: 'bench-ui-2026' },
  },
});
const ROUNDS = Number(values.rounds);

let server: ChildServer | null = null;
let dir: string | null = null;
let base = values.url;
if (!base && values.city) {
  // A whole city: seeded here (or found in --data-dir), with a planner, an analyst and a leader for all of it.
  // With DATABASE_URL: a scratch database on that PostgreSQL, kept (and reused) between runs.
  let url: string | null = null;
  if (process.env.DATABASE_URL) {
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = '/gridplan_bench_ui_city';
    url = u.toString();
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    if ((await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'gridplan_bench_ui_city'`)).rows.length === 0)
      await admin.query('CREATE DATABASE gridplan_bench_ui_city');
    await admin.end();
  }
  const kept = values['data-dir'];
  const where = url ? '' : (kept ?? (dir = await mkdtemp(join(tmpdir(), 'gridplan-ui-'))));
  const db = await openDb(url ? { databaseUrl: url } : { dataDir: where });
  await migrate(db);
  if ((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM region')).rows[0]!.n === 0) {
    const t0 = performance.now();
    await seedCity(db, { city: values.city, seed: DEMO.seed, scale: 1, rule: DEMO.rule! });
    await maintain(db);
    console.log(`${values.city} seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  for (const [username, role] of [
    [values.user!, 'planner'],
    [values.analyst!, 'analyst'],
    [values.leader!, 'leader'],
  ] as const) {
    if ((await db.query('SELECT 1 FROM app_user WHERE username = $1', [username])).rows.length === 0)
      await createUser(db, { username, password: values.password!, role });
  }
  await db.close();
  server = await startChild(url ? { DATABASE_URL: url } : { GRIDPLAN_DATA_DIR: where });
  base = server.url;
} else if (!base) {
  dir = await mkdtemp(join(tmpdir(), 'gridplan-ui-'));
  const t0 = performance.now();
  server = await startChild({
    GRIDPLAN_DATA_DIR: dir,
    GRIDPLAN_SEED_DEMO: '1',
    GRIDPLAN_DEMO_PASSWORD: values.password!,
    GRIDPLAN_ADMIN_PASSWORD: values.password!,
  });
  base = server.url;
  console.log(`demo district seeded and served in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

const times: Record<string, number[]> = {};
const record = (name: string, ms: number) => (times[name] ??= []).push(ms);

/** Waits until the panel names `name` and lists its children. */
async function answered(page: Page, name: string): Promise<void> {
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="region-facts"] h2')?.textContent?.includes(n) && document.querySelector('[data-testid="children"] li'),
    name,
    { timeout: 120_000 },
  );
}

async function round(i: number): Promise<void> {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, serviceWorkers: 'block' });
    const page = await context.newPage();
    const login = await page.request.post(`${base}/api/auth/login`, { data: { username: values.user, password: values.password } });
    if (!login.ok()) throw new Error(`sign-in as ${values.user}: HTTP ${login.status()}`);
    const tag = i === 0 ? 'cold' : 'warm';

    let t0 = performance.now();
    await page.goto(`${base}/plan`);
    await waitForMap(page, 120_000);
    record(`plan first paint (${tag})`, performance.now() - t0);

    // The baseline: the district's layers as the map used to load them.
    const geojson = await page.evaluate(async () => {
      const started = performance.now();
      const district = (await (await fetch('/api/regions')).json()) as { features: { id: number }[] };
      const id = district.features[0]!.id;
      await Promise.all(
        ['township', 'village', 'grid'].map(async (level) => JSON.parse(await (await fetch(`/api/regions/${id}/descendants?level=${level}`)).text())),
      );
      return performance.now() - started;
    });
    record(`baseline: district layers as GeoJSON (${tag})`, geojson);

    for (const level of ['one level down', 'two levels down']) {
      const row = page.locator('[data-testid="children"] li button').nth(i % 3);
      const name = (await row.locator('.name').textContent())!.trim();
      t0 = performance.now();
      await row.click();
      await answered(page, name);
      record(`open a region ${level}: panel (${tag})`, performance.now() - t0);
      // the map flies there (600 ms) and draws its tiles
      await waitForMap(page, 120_000);
      record(`open a region ${level}: map settled (${tag})`, performance.now() - t0);
    }

    // The analyst's own session (a planner does not see incidents).
    await context.clearCookies();
    const analyst = await page.request.post(`${base}/api/auth/login`, { data: { username: values.analyst, password: values.password } });
    if (!analyst.ok()) throw new Error(`sign-in as ${values.analyst}: HTTP ${analyst.status()}`);
    await page.goto(`${base}/analyze`);
    await waitForMap(page, 120_000);
    await page.waitForFunction(() => !document.querySelector('[data-testid="analyze-total"] small:not([data-testid])')?.textContent?.includes('…'), null, {
      timeout: 120_000,
    });
    await page.waitForSelector('[data-testid="hotspot-list"], [data-testid="hotspot-hint"]', { timeout: 120_000 });
    const chip = page
      .locator('.chips')
      .first()
      .locator('label.chip')
      .nth(1 + (i % 4));
    const before = await page.locator('[data-testid="analyze-total"]').textContent();
    const clickedAt = await page.evaluate(() => performance.now());
    t0 = performance.now();
    await chip.click();
    await page.waitForFunction(
      (prev) => {
        const total = document.querySelector('[data-testid="analyze-total"]')?.textContent ?? '';
        return total !== prev && !/加载|Loading/.test(total);
      },
      before,
      { timeout: 120_000 },
    );
    record(`analyze: a category filter, totals (${tag})`, performance.now() - t0);
    // The answers alone (the five requests the change made, until the last came in, from the page's own clock): the
    // rest of the wait for the totals is the page drawing its heatmap, in software WebGL here.
    const answersIn = await page.evaluate(
      (since) =>
        Math.max(
          0,
          ...performance
            .getEntriesByType('resource')
            .filter((e) => e.startTime >= since && /\/api\/(hotspots|heatmap|incidents\/timeseries|regions\/\d+\/incident-stats)/.test(e.name))
            .map((e) => (e as PerformanceResourceTiming).responseEnd - since),
        ),
      clickedAt,
    );
    record(`analyze: a category filter, answers in (${tag})`, answersIn);
    await waitForMap(page, 120_000);
    record(`analyze: a category filter, map settled (${tag})`, performance.now() - t0);

    // The wall display, as a leader signs it in: one step of its carousel (→, as the timer does).
    await context.clearCookies();
    const leader = await page.request.post(`${base}/api/auth/login`, { data: { username: values.leader, password: values.password } });
    if (!leader.ok()) throw new Error(`sign-in as ${values.leader}: HTTP ${leader.status()}`);
    await page.goto(`${base}/screen?interval=600`);
    await page.waitForSelector('[data-testid="screen"][data-loaded="true"]', { timeout: 120_000 });
    await waitForMap(page, 120_000);
    for (let step = 0; step < 2; step++) {
      const from = await page.getByTestId('screen-focus').textContent();
      t0 = performance.now();
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(
        (prev) =>
          document.querySelector('[data-testid="screen-focus"]')?.textContent !== prev &&
          document.querySelector('[data-testid="screen"]')?.getAttribute('data-loaded') === 'true',
        from,
        { timeout: 120_000 },
      );
      record(`wall: a carousel step, figures and lists (${tag})`, performance.now() - t0);
      await waitForMap(page, 120_000);
      record(`wall: a carousel step, map settled (${tag})`, performance.now() - t0);
    }
  } finally {
    await browser.close();
  }
}

try {
  for (let i = 0; i < ROUNDS; i++) {
    await round(i);
    process.stdout.write(`round ${i + 1}/${ROUNDS} done\n`);
  }
} finally {
  if (server) await stopChild(server);
  if (dir) await rm(dir, { recursive: true, force: true });
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
};
console.log(`\n${'action'.padEnd(52)} ${'n'.padStart(3)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}   aim`);
for (const [name, xs] of Object.entries(times)) {
  const aim = name.startsWith('baseline') ? '' : name.endsWith('(cold)') ? '< 1000' : '< 300';
  console.log(`${name.padEnd(52)} ${String(xs.length).padStart(3)} ${pct(xs, 0.5).toFixed(0).padStart(8)} ${pct(xs, 0.95).toFixed(0).padStart(8)}   ${aim}`);
}

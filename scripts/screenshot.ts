/**
 * Screenshots of GridPlan views in headless Chromium, for looking at what we ship.
 *   GRIDPLAN_USER=leader GRIDPLAN_PASSWORD=… npx tsx scripts/screenshot.ts [baseUrl] [outDir]   (server must be running)
 * Signs in with GRIDPLAN_USER (default admin) and GRIDPLAN_PASSWORD first.
 */
import { mkdir } from 'node:fs/promises';
import { launchBrowser, waitForMap } from '../tests/e2e/browser.ts';

const base = process.argv[2] ?? 'http://localhost:8787';
const out = process.argv[3] ?? 'tests/artifacts/screens';
await mkdir(out, { recursive: true });
const browser = await launchBrowser();
const shots: [string, string, number, number][] = [
  ['plan-district', '/plan', 1440, 900],
  ['plan-district-en', '/plan?lang=en', 1440, 900],
  ['analyze', '/analyze', 1440, 900],
  ['screen-1080p', '/screen', 1920, 1080],
  ['screen-4k', '/screen', 3840, 2160],
];
for (const [name, path, width, height] of shots) {
  const page = await browser.newPage({ viewport: { width, height } });
  const login = await page.request.post(`${base}/api/auth/login`, {
    data: { username: process.env.GRIDPLAN_USER ?? 'admin', password: process.env.GRIDPLAN_PASSWORD ?? '' },
  });
  if (!login.ok()) throw new Error(`sign-in failed (${login.status()}): set GRIDPLAN_USER and GRIDPLAN_PASSWORD`);
  if (path.includes('lang=en')) await page.addInitScript(() => localStorage.setItem('gridplan.locale', 'en'));
  await page.goto(base + path.replace('?lang=en', ''));
  await waitForMap(page);
  await page.screenshot({ path: `${out}/${name}.png` });
  console.log(`${out}/${name}.png`);
  await page.close();
}
await browser.close();

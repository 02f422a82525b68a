import { launchBrowser, waitForMap } from '../../tests/e2e/browser.ts';
const base = process.argv[2] ?? 'http://localhost:8791';
const browser = await launchBrowser();
const shots = [
  ['city-analyze-1080', 1920, 1080, '/analyze', 'analyst'],
  ['city-plan-phone', 360, 640, '/plan', 'planner'],
  ['city-wall-4k', 3840, 2160, '/screen?interval=600', 'leader'],
  ['city-wall-1080', 1920, 1080, '/screen?interval=600', 'leader'],
] as const;
for (const [name, w, h, path, user] of shots) {
  const context = await browser.newContext({ viewport: { width: w, height: h }, serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.request.post(`${base}/api/auth/login`, { data: { username: user, password: 'bench-ui-2026' } });
  await page.goto(base + path);
  await waitForMap(page, 120_000);
  if (path.startsWith('/screen')) await page.waitForSelector('[data-testid="screen"][data-loaded="true"]', { timeout: 120_000 });
  if (path === '/analyze') await page.waitForSelector('[data-testid="hotspot-list"], [data-testid="hotspot-hint"]', { timeout: 120_000 });
  console.log(name, await page.evaluate(() => (window as any).gridplanMap?.getZoom()));
  await page.screenshot({ path: `/tmp/shot-${name}.png` });
  await context.close();
}
await browser.close();

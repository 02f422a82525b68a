import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe } from 'vitest';

/** The browser the tests drive: CHROMIUM_PATH, else a system Chromium or Chrome; null when there is none. */
export const CHROMIUM =
  [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].find(
    (p): p is string => !!p && existsSync(p),
  ) ?? null;

/** CI sets GRIDPLAN_REQUIRE_BROWSER=1: a missing browser is then a failure, never a skip. */
export const BROWSER_REQUIRED = process.env.GRIDPLAN_REQUIRE_BROWSER === '1';

/** `describe` for browser tests: skipped (with one line from the global setup saying why) where no browser is found. */
export const describeInBrowser = CHROMIUM || BROWSER_REQUIRED ? describe : describe.skip;

// Software WebGL 2 through SwiftShader; no --disable-gpu, which would turn WebGL off. The page itself is
// composited in software, not through SwiftShader's GL: the same pixels (the maps' ink alike), and the GPU
// process's CPU time to open the 4K wall 20.6 s → 14.4 s, the plan 5.2 s → 2.2 s, an idle 4K wall 9.2 → 3.4 s
// per 10 s — on two cores shared by two test files, two servers and two browsers.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-gpu-compositing',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('no Chromium found: apt-get install chromium, or set CHROMIUM_PATH to a Chromium or Chrome');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Waits until every map on the page has drawn its data and gone idle. */
export async function waitForMap(page: Page, timeout = 60_000): Promise<void> {
  await page.waitForSelector('[data-testid="map"][data-idle="true"] canvas', { timeout });
  await page.waitForFunction(() => !document.querySelector('[data-testid="map"] .loading'), null, { timeout });
  // The last fitBounds animation and tile work settled: still idle after two more frames.
  const settled = () =>
    page.evaluate(
      () =>
        new Promise<boolean>((resolve) =>
          requestAnimationFrame(() =>
            requestAnimationFrame(() => {
              const m = (window as unknown as { gridplanMap?: { isMoving(): boolean; loaded(): boolean } }).gridplanMap;
              resolve(!!document.querySelector('[data-testid="map"][data-idle="true"]') && (!m || (!m.isMoving() && m.loaded())));
            }),
          ),
        ),
    );
  // (A wall display's carousel keeps flying: there the map is as settled as it gets once idle.)
  const until = Date.now() + Math.min(timeout, 10_000);
  for (let i = 0; i < 2 && Date.now() < until;) i = (await settled()) ? i + 1 : 0;
}

/** Share of the map canvas's pixels that differ from its background colour (0…1). */
export function mapInkShare(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="map"] canvas');
    if (!canvas) return 0;
    const copy = document.createElement('canvas');
    copy.width = 200;
    copy.height = Math.max(1, Math.round((200 * canvas.height) / canvas.width));
    const ctx = copy.getContext('2d')!;
    ctx.drawImage(canvas, 0, 0, copy.width, copy.height);
    const { data } = ctx.getImageData(0, 0, copy.width, copy.height);
    const [r0, g0, b0] = [data[0]!, data[1]!, data[2]!];
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i]! - r0) + Math.abs(data[i + 1]! - g0) + Math.abs(data[i + 2]! - b0) > 30) ink++;
    }
    return ink / (data.length / 4);
  });
}

/**
 * What the pages' system asks for: less motion (no camera flights, no fading labels), unless a test is about
 * the motion itself. Each frame of a map drawn in software costs about 150 ms of CPU at 1440×900; opening a
 * district, a township and a village drew 40 frames with motion and 34 without.
 */
export const REDUCED_MOTION = 'reduce' as const;

/**
 * A desk's window where the size itself is not the subject: the common small laptop, the least a desk view
 * must work at. A map drawn in software costs CPU by its pixels (opening the plan: 0.9 s at 720×450, 2.2 s at
 * 1440×900, 6.2 s at 2880×1800), and this is 1.05 megapixels to 1440×900's 1.3 and 1080p's 2.1. The wall keeps
 * its 1920×1080 and 3840×2160, the phone its 360×640.
 */
export const DESKTOP = { width: 1366, height: 768 };

/** A page in a fresh browser context, signed in with a session cookie (`name=value`) when given. */
export async function newPage(
  browser: Browser,
  url: string,
  cookie: string | null,
  viewport = DESKTOP,
  { motion = false }: { motion?: boolean } = {},
): Promise<Page> {
  // No service worker: each page would fetch the whole offline shell (3.4 MB) beside what it tests;
  // the phone's offline test runs its own context with one.
  const context = await browser.newContext({ viewport, serviceWorkers: 'block', reducedMotion: motion ? 'no-preference' : REDUCED_MOTION });
  if (cookie) {
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url }]);
  }
  const page = await context.newPage();
  // The browser may already be closing (afterAll): a context that is gone is closed enough.
  page.on('close', () => void context.close().catch(() => undefined));
  return page;
}

import { ensureWebBuild } from '../server/server.ts';
import { BROWSER_REQUIRED, CHROMIUM } from './e2e/browser.ts';
import { buildPgliteTemplate, buildPgTemplate } from './support/template.ts';

/** Once per run: the web build for browser tests and a seeded template database per driver. */
export default async function setup(): Promise<void> {
  const started = performance.now();
  await Promise.all([
    ensureWebBuild(() => {}),
    buildPgliteTemplate(),
    process.env.DATABASE_URL ? buildPgTemplate(process.env.DATABASE_URL) : Promise.resolve(),
  ]);
  console.log(`test databases ready in ${((performance.now() - started) / 1000).toFixed(1)} s (drivers: pglite${process.env.DATABASE_URL ? ', pg' : ''})`);
  if (!process.env.DATABASE_URL)
    console.log('PostgreSQL tests skipped: set DATABASE_URL to a PostgreSQL + PostGIS server where this user may create databases');
  if (!CHROMIUM && !BROWSER_REQUIRED) console.log('browser tests skipped: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)');
}

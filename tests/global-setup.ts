import { ensureWebBuild } from '../server/server.ts';
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
}

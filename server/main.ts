/**
 * GridPlan: API and web app on one port. The first start with the embedded database creates
 * it and loads the demo district; later starts reuse it.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_FILE, loadConfig } from './config.ts';
import { openDb } from './db/db.ts';
import { migrate } from './db/migrate.ts';
import { describeAccounts, ensureAccounts } from './seed/accounts.ts';
import { DEMO, seedDistrict } from './seed/seed-district.ts';
import { ensureWebBuild, startServer } from './server.ts';
import { openBasemap } from './files/basemap.ts';

const config = loadConfig();
const started = performance.now();
// Several processes behind one port (Node's cluster): only on PostgreSQL, which they share; the
// primary migrates and builds once, then each worker serves (see http/peers.ts for how they agree).
if (config.workers > 1 && !config.databaseUrl) {
  console.error('GRIDPLAN_WORKERS needs DATABASE_URL: the embedded database serves one process');
  process.exit(1);
}
const clustered = config.workers > 1;
if (clustered && cluster.isPrimary) {
  const db = await openDb({ ...config, statementTimeoutMs: 0 });
  await migrate(db);
  for (const line of describeAccounts(await ensureAccounts(db, { demo: false, adminPassword: config.adminPassword, demoPassword: undefined })))
    console.log(line);
  await db.close();
  await ensureWebBuild();
  let stopping = false;
  for (let i = 0; i < config.workers; i++) cluster.fork();
  // A worker that dies is replaced, for as long as the server runs; one that fails at start-up would
  // loop, so more than five deaths within a minute end the whole server (its supervisor restarts it).
  const deaths: number[] = [];
  cluster.on('exit', (worker, code) => {
    if (stopping) return;
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && deaths[0]! < now - 60_000) deaths.shift();
    console.error(`${new Date(now).toISOString()} worker ${worker.process.pid} exited (${code})`);
    if (deaths.length <= 5) cluster.fork();
    else {
      console.error('workers keep failing (six in a minute): stopping');
      process.exit(1);
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill(signal);
      setTimeout(() => process.exit(0), 5000).unref();
      cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
    });
} else {
  await serveHere();
}

async function serveHere(): Promise<void> {
  const db = await openDb({ ...config, thread: config.dbThread, statementTimeoutMs: config.statementTimeoutMs });
  if (!clustered) {
    await migrate(db);
  }
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM region');
  if (rows[0]!.n === 0 && config.seedDemo && !config.databaseUrl) {
    console.log('empty database: loading the demo district 沾益区 (under a minute, once)…');
    const summary = await seedDistrict(db, { ...DEMO, onProgress: (step) => console.log(`  · ${step}`) });
    console.log(`  demo loaded in ${(summary.ms / 1000).toFixed(1)} s: ${summary.grids} grids, ${summary.households} households`);
  } else if (rows[0]!.n === 0) {
    console.log('the database has no regions: run `npm run seed` to load the demo district');
  }
  if (!clustered) {
    const accounts = await ensureAccounts(db, {
      demo: !config.databaseUrl && config.seedDemo,
      adminPassword: config.adminPassword,
      demoPassword: config.demoPassword,
    });
    for (const line of describeAccounts(accounts)) console.log(line);
    await ensureWebBuild();
  }
  const basemap = config.basemapPmtiles
    ? await openBasemap(config.basemapPmtiles).catch((err: unknown) => {
        console.error(`GRIDPLAN_BASEMAP_PMTILES: cannot serve ${config.basemapPmtiles}: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      })
    : undefined;
  if (basemap) console.log(`offline basemap: ${basemap.path} (${basemap.kind}, ${basemap.format}, zoom ${basemap.minZoom}–${basemap.maxZoom})`);
  const controlToken = randomBytes(24).toString('base64url');
  const server = await startServer({
    db,
    port: config.port,
    basemapUrl: config.basemapUrl,
    basemap,
    tiandituToken: config.tiandituToken,
    limits: config.limits,
    backups: { dir: config.backupDir, keep: config.backupKeep },
    controlToken,
    webhookLoopback: config.webhookLoopback,
    ...(config.cache ? {} : { cache: false as const }),
  });
  // `npm run backup` finds the running server (and proves it runs on this machine) through this file.
  const controlFile = config.databaseUrl ? null : join(config.dataDir, CONTROL_FILE);
  if (controlFile) writeFileSync(controlFile, JSON.stringify({ pid: process.pid, port: server.port, token: controlToken }), { mode: 0o600 });
  const where = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
  const one = clustered ? `  ·  worker ${process.pid} of ${config.workers}` : '';
  console.log(`GridPlan on ${server.url}  ·  ${where}${one}  ·  ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (controlFile) rmSync(controlFile, { force: true });
      void server
        .close()
        .then(() => db.close())
        .finally(() => process.exit(0));
    });
  }
}

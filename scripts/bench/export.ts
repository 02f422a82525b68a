/**
 * npm run bench:export — the whole demo district (沾益区: townships, villages and about 4,400
 * grids) written through GET /api/regions/:id/export in every format, beside GDAL's own `ogr2ogr`
 * writing the same regions from PostGIS into the same format and coordinate system (a CGCS2000
 * Gauss–Krüger zone for the GIS formats): the cost of reading and writing alone, without our
 * attributes (staff, rules). Then a village's print page in Chromium, from the address to the page
 * ready to print. The baseline needs PostgreSQL (DATABASE_URL); ours runs on both databases.
 * BENCH_SCALE shrinks the district.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../server/app.ts';
import type { Db } from '../../server/db/db.ts';
import { stopGdal } from '../../server/files/gdal.ts';
import { EXPORT_FORMATS } from '../../server/files/write.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';
import { startServer } from '../../server/server.ts';
import { CHROMIUM, launchBrowser, newPage } from '../../tests/e2e/browser.ts';
import { sessionCookie } from '../../tests/support/auth.ts';
import { benchDatabases, postgisVersion } from './databases.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CRS = 'EPSG:4544';
const work = join(tmpdir(), `gridplan-bench-export-${process.pid}`);
mkdirSync(work, { recursive: true });
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** GDAL's own: the same regions straight from PostGIS into the format, reprojected the same way. */
function baseline(db: Db, format: (typeof EXPORT_FORMATS)[number]): number {
  const u = new URL(db.url!);
  const password = u.password ? ` password=${decodeURIComponent(u.password)}` : '';
  const conn = `PG:host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username)} dbname=${u.pathname.slice(1)}${password}`;
  const driver = { geojson: 'GeoJSON', shp: 'ESRI Shapefile', gpkg: 'GPKG', kml: 'KML', csv: 'CSV', xlsx: 'XLSX' }[format];
  const out = join(work, `baseline.${format === 'shp' ? 'shp.zip' : format}`);
  rmSync(out, { force: true });
  const t = performance.now();
  for (const [i, level] of ['township', 'village', 'grid'].entries()) {
    const sql = `SELECT code, stat_code, name, level, grid_type, household_count AS households, geom FROM region WHERE level = '${level}' ORDER BY code`;
    const reproject = format === 'kml' || format === 'xlsx' ? [] : ['-s_srs', 'EPSG:4490', '-t_srs', CRS];
    const single = format === 'geojson' || format === 'csv' || format === 'kml'; // KML: GDAL's driver cannot add a layer to a file
    if (single && i > 0) continue;
    const query = single ? sql.replace(`WHERE level = '${level}'`, `WHERE level <> 'district'`) : sql;
    execFileSync('ogr2ogr', [
      '-f',
      driver,
      out,
      conn,
      '-sql',
      query,
      '-nln',
      level,
      ...(i > 0 ? ['-update'] : []),
      ...reproject,
      ...(format === 'shp' ? ['-nlt', 'MULTIPOLYGON', '-lco', 'ENCODING=UTF-8'] : []),
      ...(format === 'csv' ? ['-lco', 'GEOMETRY=AS_WKT'] : []),
    ]);
  }
  return performance.now() - t;
}

const dbs = await benchDatabases('gridplan_bench_export');
try {
  for (const db of dbs) {
    console.log(`\n${await postgisVersion(db)}`);
    const summary = await seedDistrict(db, { ...DEMO, scale: SCALE });
    const { rows } = await db.query<{ level: string; n: number }>(
      `SELECT level, count(*)::int AS n FROM region GROUP BY level ORDER BY array_position(ARRAY['district', 'township', 'village', 'grid'], level::text)`,
    );
    console.log(`  ${rows.map((r) => `${r.n} ${r.level}`).join(', ')}`);
    const app = createApp({ db, cache: false });
    const cookie = await sessionCookie(db, { username: 'bench', role: 'admin' });
    for (const format of EXPORT_FORMATS) {
      const runs: number[] = [];
      let size = 0;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const res = await app.request(
          `/api/regions/${summary.districtId}/export?format=${format}${format === 'kml' || format === 'xlsx' ? '' : `&crs=${CRS}`}`,
          {
            headers: { cookie },
          },
        );
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (res.status !== 200) throw new Error(`${format}: ${res.status} ${new TextDecoder().decode(bytes)}`);
        runs.push(performance.now() - t);
        size = bytes.length;
      }
      const ours = median(runs);
      let line = `  ${format.padEnd(8)} ours ${seconds(ours)} (${(size / 1024 / 1024).toFixed(1)} MB)`;
      if (db.driver === 'pg' && db.url) {
        const base = median([baseline(db, format), baseline(db, format), baseline(db, format)]);
        line += `   ogr2ogr from PostGIS ${seconds(base)}   ratio ${(ours / base).toFixed(1)}×`;
      }
      console.log(line);
    }
    if (db.driver !== 'pg') console.log('  (the ogr2ogr baseline needs PostgreSQL: set DATABASE_URL)');

    // a village's print page, from the address to ready (the map drawn, the table filled)
    if (CHROMIUM) {
      const server = await startServer({ db, port: 0 });
      const browser = await launchBrowser();
      try {
        const { rows: villages } = await db.query<{ id: number }>(
          `SELECT v.id FROM region v JOIN region g ON g.parent_id = v.id WHERE v.level = 'village' GROUP BY v.id ORDER BY count(*) DESC LIMIT 5`,
        );
        const times: number[] = [];
        const page = await newPage(browser, server.url, cookie, { width: 1920, height: 1080 });
        for (const [i, v] of [...villages, ...villages].entries()) {
          const t = performance.now();
          await page.goto(`${server.url}/print/village/${v.id}`);
          await page.waitForSelector('[data-testid="print-pages"][data-ready="true"]', { timeout: 60_000 });
          // the second round counts: the app's files cached, as for a clerk printing one village after another
          if (i >= villages.length) times.push(performance.now() - t);
        }
        await page.close();
        console.log(
          `  village print page ready (the 5 largest villages, warm): median ${seconds(median(times))}, max ${seconds(Math.max(...times))} (target < 3 s)`,
        );
      } finally {
        await browser.close();
        await server.close();
      }
    } else console.log('  (the print page needs Chromium: apt install chromium)');
  }
} finally {
  for (const db of dbs) await db.close();
  await stopGdal();
  rmSync(work, { recursive: true, force: true });
}

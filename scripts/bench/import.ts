/**
 * npm run bench:import — the import wizard's path (upload → read with GDAL → check → commit) for a
 * county's worth of files, beside GDAL's own `ogr2ogr` loading the very same files into PostGIS.
 *
 * The demo district as the issue sizes it (沾益区 with 130,000 households on the default rules,
 * about 4,200 grids — the demo itself now runs Zhanyi's 10–25 rule on 78,700) is seeded, its grids written
 * as a Shapefile in a CGCS2000 Gauss–Krüger zone and its households as an Excel list with
 * coordinates, both by ogr2ogr. Then the grids and households are emptied and the files imported
 * through the API: grids into the district (each to the village it lies in), households into the
 * district. The baseline loads the same two files into plain tables with `ogr2ogr -f PostgreSQL`
 * (no validation, no placement): the cost of reading and writing alone. PostgreSQL only for the
 * baseline (ogr2ogr cannot reach PGlite); ours runs on both. BENCH_SCALE shrinks the district.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { createApp } from '../../server/app.ts';
import type { Db } from '../../server/db/db.ts';
import { stopGdal } from '../../server/files/gdal.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';
import { sessionCookie } from '../../tests/support/auth.ts';
import { benchDatabases, postgisVersion } from './databases.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const work = join(tmpdir(), `gridplan-bench-import-${process.pid}`);
mkdirSync(work, { recursive: true });
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

/** The district's grids and households as county files, made by ogr2ogr. */
async function writeFiles(db: Db): Promise<{ grids: string; households: string; gridCount: number; householdCount: number }> {
  const { rows: grids } = await db.query<{ j: string }>(
    `SELECT json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(geom, 9)::json,
       'properties', json_build_object('名称', name, '类型', CASE grid_type WHEN 'rural' THEN '农村' WHEN 'residential' THEN '小区'
         WHEN 'unit' THEN '单位' WHEN 'commercial' THEN '商圈' ELSE '散居' END))::text AS j
     FROM region WHERE level = 'grid' ORDER BY code`,
  );
  writeFileSync(join(work, 'grids.geojson'), `{"type":"FeatureCollection","features":[${grids.map((g) => g.j).join(',')}]}`);
  const shpDir = join(work, 'grids');
  mkdirSync(shpDir, { recursive: true });
  execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', join(shpDir, 'grids.shp'), join(work, 'grids.geojson'), '-t_srs', 'EPSG:4544', '-lco', 'ENCODING=UTF-8']);
  const parts = Object.fromEntries(['shp', 'shx', 'dbf', 'prj', 'cpg'].map((x) => [`grids.${x}`, new Uint8Array(readFileSync(join(shpDir, `grids.${x}`)))]));
  writeFileSync(join(work, 'grids.zip'), zipSync(parts));
  const { rows: hh } = await db.query<{ x: number; y: number; size: number; address: string }>(
    'SELECT ST_X(geom) AS x, ST_Y(geom) AS y, size, address FROM household ORDER BY id',
  );
  const csv = ['经度,纬度,人数,地址', ...hh.map((h) => `${h.x.toFixed(7)},${h.y.toFixed(7)},${h.size},${h.address}`)].join('\n');
  writeFileSync(join(work, 'households.csv'), csv);
  execFileSync('ogr2ogr', ['-f', 'XLSX', join(work, 'households.xlsx'), join(work, 'households.csv'), '-nln', '住户', '-oo', 'AUTODETECT_TYPE=NO']);
  return { grids: join(work, 'grids.zip'), households: join(work, 'households.xlsx'), gridCount: grids.length, householdCount: hh.length };
}

/** Our path, through the HTTP API: upload, check, commit. */
async function ours(db: Db, file: string, body: (layer: string) => object): Promise<{ upload: number; plan: number; commit: number; accepted: number }> {
  const app = createApp({ db, importDir: join(work, 'jobs'), cache: false, maxUploadBytes: 500 * 1024 * 1024 });
  const cookie = await sessionCookie(db, { username: 'bench', role: 'admin' });
  const bytes = readFileSync(file);
  const [job, upload] = await timed(async () => {
    const res = await app.request('/api/imports', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(file.split('/').pop()!) },
      body: new Uint8Array(bytes),
    });
    if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; layers: { name: string }[] };
  });
  const send = async (step: string) => {
    const res = await app.request(`/api/imports/${job.id}/${step}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body(job.layers[0]!.name), partial: true }),
    });
    const out = (await res.json()) as { outcome?: { accepted: number; problemCounts: unknown }; accepted?: number; error?: unknown };
    if (res.status >= 300) throw new Error(`${step}: ${res.status} ${JSON.stringify(out)}`);
    return out;
  };
  const [planned, plan] = await timed(() => send('plan'));
  const [done, commit] = await timed(() => send('commit'));
  if (planned.outcome!.accepted !== done.accepted) throw new Error('the check and the commit disagree');
  return { upload, plan, commit, accepted: done.accepted! };
}

function baseline(db: Db, file: string, table: string, extra: string[] = []): number {
  const t = performance.now();
  // GDAL 3.6 reads a libpq keyword string, not a URL
  const u = new URL(db.url!);
  const password = u.password ? ` password=${decodeURIComponent(u.password)}` : '';
  const conn = `PG:host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username)} dbname=${u.pathname.slice(1)}${password}`;
  execFileSync('ogr2ogr', ['-f', 'PostgreSQL', conn, file, '-nln', table, '-overwrite', '-lco', 'GEOMETRY_NAME=geom', ...extra]);
  return performance.now() - t;
}

const dbs = await benchDatabases('gridplan_bench_import');
try {
  let files: Awaited<ReturnType<typeof writeFiles>> | null = null;
  for (const db of dbs) {
    console.log(`\n${await postgisVersion(db)}`);
    const [summary, seeded] = await timed(() => seedDistrict(db, { ...DEMO, households: 130_000, rule: undefined, scale: SCALE }));
    console.log(`  demo seeded in ${seconds(seeded)}`);
    files ??= await writeFiles(db);
    const districtId = summary.districtId;
    await db.query('UPDATE region SET worker_id = NULL WHERE level = $1', ['grid']);
    await db.query(`DELETE FROM region WHERE level = 'grid'`);
    await db.query('DELETE FROM household');
    // A county onboarding has no incidents yet (re-filing 200,000 of them under new grids is an edit's cost, not an import's).
    await db.query('DELETE FROM incident');
    await db.query('UPDATE region SET household_count = 0');
    const g = await ours(db, files.grids, (layer) => ({ layer, kind: 'grid', parentId: districtId }));
    const h = await ours(db, files.households, (layer) => ({ layer, kind: 'household', parentId: districtId }));
    const total = (x: typeof g) => x.upload + x.plan + x.commit;
    const line = (x: typeof g) => `read ${seconds(x.upload)}, check ${seconds(x.plan)}, commit ${seconds(x.commit)} = ${seconds(total(x))}`;
    console.log(`  grids      ${files.gridCount} in the file, ${g.accepted} imported: ${line(g)}`);
    console.log(`  households ${files.householdCount} in the file, ${h.accepted} imported: ${line(h)}`);
    if (db.driver === 'pg' && db.url) {
      const bg = baseline(db, `/vsizip/${files.grids}/grids.shp`, 'bench_grids');
      const bh = baseline(db, files.households, 'bench_households');
      console.log(`  ogr2ogr → PostGIS (same files, no checks): grids ${seconds(bg)}, households ${seconds(bh)}`);
      console.log(
        `  ratio ours / ogr2ogr: grids ${(total(g) / bg).toFixed(1)}×, households ${(total(h) / bh).toFixed(1)}×; ` +
          `commit alone: grids ${(g.commit / bg).toFixed(1)}×, households ${(h.commit / bh).toFixed(1)}× (target ≤ 2×)`,
      );
    } else console.log('  (the ogr2ogr baseline needs PostgreSQL: set DATABASE_URL)');
  }
} finally {
  for (const db of dbs) await db.close();
  await stopGdal();
  rmSync(work, { recursive: true, force: true });
}

/**
 * npm run bench:heatmap — our heatmap aggregate beside fetching the raw points, in one run.
 *
 * 1,000,000 generated incidents over two years in 沾益区 (seasons, weekly rhythm, clustered where
 * people live). The filter: one year, two categories (fire, dispute), the whole district. Timed
 * through the HTTP app (in process), for:
 *   - ours: GET /api/heatmap (hexagons at zoom 10, then 12),
 *   - raw, lean: every matching point as [lon, lat] in one response (what a client-side heatmap needs),
 *   - raw, the list API: GET /api/incidents paged 5,000 at a time.
 * Prints time, bytes (plain and gzip) and the ratios. PGlite, and PostgreSQL when DATABASE_URL is set.
 *   npm run bench:heatmap -- [--incidents 1000000]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { createApp } from '../../server/app.ts';
import { createUser, openSession, SESSION_COOKIE } from '../../server/db/accounts.ts';
import type { Db } from '../../server/db/db.ts';
import { insertRegions } from '../../server/db/regions.ts';
import { parseBoundaryFeatures, type Position } from '../../server/domain/geojson-input.ts';
import { generateIncidents } from '../../server/seed/incidents.ts';
import { Random } from '../../server/seed/random.ts';
import { generateHouseholds, planTownships, Territory } from '../../server/seed/settlements.ts';
import { benchDatabases, postgisVersion } from './databases.ts';

const { values } = parseArgs({ options: { incidents: { type: 'string', default: '1000000' } } });
const COUNT = Number(values.incidents);
const NOW = new Date('2026-11-01T00:00:00+08:00');
const FROM = '2025-11-01T00:00:00+08:00';
const TO = '2026-11-01T00:00:00+08:00';

const file = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'data', 'boundaries', 'qujing.geojson'), 'utf8'));
const county = parseBoundaryFeatures(file).features.find((f) => f.code === '530303')!;

async function build(db: Db): Promise<number> {
  const random = new Random(7);
  const territory = new Territory(county.coordinates, random);
  const seat: Position = [103.822324, 25.600507];
  const townships = planTownships(territory, seat, ['西平街道', '龙华街道'], ['白水镇', '盘江镇', '德泽乡', '菱角乡', '炎方乡'], random);
  const households = generateHouseholds(territory, seat, townships, 130_000, random);
  const incidents = generateIncidents({
    count: COUNT,
    households,
    roads: townships.slice(1).map((t) => [seat, t.centre]),
    frame: territory.frame,
    now: NOW,
    random,
  });
  const id = await db.transaction(async (tx) => {
    const [d] = await insertRegions(tx, [{ parentId: null, level: 'district', code: '530303', name: '沾益区', coordinates: county.coordinates }], true);
    const [t] = await insertRegions(tx, [{ parentId: d!, level: 'township', code: '530303-001', name: '全区', coordinates: county.coordinates }], true);
    const [v] = await insertRegions(tx, [{ parentId: t!, level: 'village', code: '530303-001-001', name: '全区', coordinates: county.coordinates }], true);
    const [g] = await insertRegions(
      tx,
      [{ parentId: v!, level: 'grid', code: '530303-001-001-0001', name: '全区网格', coordinates: county.coordinates, gridType: 'rural' }],
      true,
    );
    // Bulk load: indexes built once at the end.
    const { rows: indexes } = await tx.query<{ name: string; def: string }>(
      `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'incident' AND indexname <> 'incident_pkey'`,
    );
    for (const ix of indexes) await tx.query(`DROP INDEX ${ix.name}`);
    for (let i = 0; i < incidents.length; i += 50_000) {
      const b = incidents.slice(i, i + 50_000);
      await tx.query(
        `INSERT INTO incident (geom, category, severity, description, reported_at, status, grid_id)
         SELECT ST_SetSRID(ST_MakePoint(x, y), 4326), c, s, '', r, st, $7 FROM unnest($1::float8[], $2::float8[], $3::text[], $4::int[],
           $5::timestamptz[], $6::text[]) AS u(x, y, c, s, r, st)`,
        [
          b.map((x) => x.lon),
          b.map((x) => x.lat),
          b.map((x) => x.category),
          b.map((x) => x.severity),
          b.map((x) => x.reportedAt.toISOString()),
          b.map(() => 'reported'),
          g,
        ],
      );
    }
    for (const ix of indexes) await tx.query(ix.def);
    return d!;
  });
  // What the server's housekeeping does after a bulk load (PostgreSQL's autovacuum, in time).
  await db.exec('VACUUM ANALYZE incident');
  return id;
}

interface Fetched {
  ms: number;
  bytes: number;
  gzip: number;
  items: number;
}

/** The median of three runs, after the table has been read once (so no variant pays for a cold cache). */
async function timed(run: () => Promise<{ bodies: string[]; items: number }>, runs = 3): Promise<Fetched> {
  const times: number[] = [];
  let last!: { bodies: string[]; items: number };
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    last = await run();
    times.push(performance.now() - t);
  }
  const ms = times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
  const { bodies, items } = last;
  const bytes = bodies.reduce((s, b) => s + Buffer.byteLength(b), 0);
  const gzip = bodies.reduce((s, b) => s + gzipSync(b).length, 0);
  return { ms, bytes, gzip, items };
}

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);

for (const db of await benchDatabases('gridplan_bench_heatmap')) {
  console.log(
    `\n${await postgisVersion(db)}: ${COUNT.toLocaleString('en')} incidents; filter: ${FROM.slice(0, 10)} – ${TO.slice(0, 10)}, fire + dispute, whole district`,
  );
  const t0 = performance.now();
  const district = await build(db);
  console.log(`  (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const app = createApp({ db, cache: false });
  const user = await createUser(db, { username: 'bench', password: 'bench-password', role: 'analyst' });
  const cookie = `${SESSION_COOKIE}=${(await openSession(db, { userId: user.id })).token}`;
  const get = async (path: string) => {
    const res = await app.request(path, { headers: { cookie } });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.text();
  };
  await db.query('SELECT count(*) FROM incident'); // warm the cache for every variant alike
  const q = `region=${district}&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&category=fire,dispute`;
  const rows: [string, Fetched][] = [];
  for (const zoom of [10, 12]) {
    rows.push([
      `ours: /api/heatmap hex, zoom ${zoom}`,
      await timed(async () => {
        const body = await get(`/api/heatmap?${q}&shape=hex&zoom=${zoom}`);
        return { bodies: [body], items: JSON.parse(body).cells.length };
      }),
    ]);
  }
  rows.push([
    'raw: [lon, lat] of every point',
    await timed(async () => {
      const { rows: r } = await db.query<{ j: string }>(
        `SELECT json_agg(json_build_array(round(ST_X(geom)::numeric, 6), round(ST_Y(geom)::numeric, 6)))::text AS j
       FROM incident i WHERE i.reported_at >= $1 AND i.reported_at < $2 AND i.category = ANY($3::text[])`,
        [FROM, TO, ['fire', 'dispute']],
      );
      const body = r[0]!.j;
      return { bodies: [body], items: JSON.parse(body).length };
    }),
  ]);
  rows.push([
    'raw: /api/incidents, 5,000 a page',
    await timed(async () => {
      const bodies: string[] = [];
      let offset: number | null = 0;
      let items = 0;
      while (offset !== null) {
        const body = await get(`/api/incidents?${q}&limit=5000&offset=${offset}`);
        const page = JSON.parse(body);
        bodies.push(body);
        items += page.items.length;
        offset = page.next;
      }
      return { bodies, items };
    }, 1),
  ]); // tens of seconds: once
  const ours = rows[0]!;
  for (const [name, r] of rows) {
    const vs =
      r === ours[1]
        ? ''
        : `   ours is ${(r.bytes / ours[1].bytes).toFixed(0)}× smaller (${(r.gzip / ours[1].gzip).toFixed(0)}× gzip), ` +
          `${(r.ms / ours[1].ms).toFixed(1)}× faster`;
    console.log(
      `  ${name.padEnd(36)} ${(r.ms / 1000).toFixed(2).padStart(7)} s ${fmt(r.bytes).padStart(10)} (gzip ${fmt(r.gzip).padStart(9)}) ` +
        `${String(r.items).padStart(8)} items${vs}`,
    );
  }
  const lean = rows.find(([name]) => name.startsWith('raw: [lon'))![1];
  for (const [name, r] of rows.filter(([n]) => n.startsWith('ours'))) {
    console.log(`  ${name}: ${(lean.ms / r.ms).toFixed(1)}× faster and ${(lean.bytes / r.bytes).toFixed(0)}× fewer bytes than the raw points`);
  }
  console.log('  target: ≥ 20× fewer bytes and faster than fetching the raw points');
  await db.close();
}

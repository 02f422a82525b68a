/**
 * npm run bench:tiles — vector tiles of the demo district, served by `npm start`'s server.
 *
 * One set of tiles (grids at zoom 10–16, villages and townships at 10–12, households at 12 and
 * 15: every tile over the district at the low zooms, a fixed sample of those over it at the high
 * ones) is asked:
 *   1. raw: the `ST_AsMVT` query alone on PostgreSQL, straight through `pg` (the baseline);
 *   1b. raw over HTTP: the same query behind the thinnest server (`lib/bare-tile-server.ts`: node's
 *      `http`, no session, validation, cache or gzip) — what HTTP itself costs on this machine;
 *   2. ours on PostgreSQL: through the server over HTTP (one kept-open connection, after tiles of other zooms warmed
 *      every side up), each tile its first time (computed), then again (kept) — target: first time within 1.3× of raw.
 *      1, 1b and 2 ask each tile in turn, tile by tile (see `sideBySide`), so that the ratios compare one moment;
 *   2b. as a map asks them: six tiles in flight at once (a browser's connections to one server), each its
 *      first time (a fresh server), beside the raw query six at a time through the pool;
 *   3. ours on the embedded database (geojson-vt + vt-pbf): the same — target within 3× of PostgreSQL;
 *   4. under load, on each: 50 clients asking tiles of the set for 15 s while 10 planners each
 *      rename a grid every 2 s (each rename retires the tiles over that grid) — target p99 < 100 ms.
 * Without DATABASE_URL only the embedded database runs.
 *   npm run bench:tiles -- [--seconds 15] [--sample 120] [--scale 1]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { startChild, stopChild } from '../lib/child-server.ts';
import { createUser, openSession, SESSION_COOKIE } from '../../server/db/accounts.ts';
import { openDb, type Db, type OpenOptions } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';
import { vectorTile, type TileLayer } from '../../server/db/tiles.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    sample: { type: 'string', default: '120' },
    scale: { type: 'string', default: '1' },
  },
});

interface Tile {
  layer: TileLayer;
  z: number;
  x: number;
  y: number;
}
const path = (t: Tile) => `/api/tiles/${t.layer}/${t.z}/${t.x}/${t.y}.mvt`;

/** A deterministic shuffle (mulberry32): the same sample every run. */
function sampled<T>(items: T[], n: number, seed = 20261130): T[] {
  let a = seed;
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

/** Tiles of zooms the measured set does not have: asked once, untimed, by each side before it is measured. */
const WARM_UP: [TileLayer, number, number][] = [
  ['grid', 13, 60],
  ['village', 11, Infinity],
  ['households', 13, 30],
];

const MEASURED: [TileLayer, number, number][] = [
  ['grid', 10, Infinity],
  ['grid', 12, Infinity],
  ['grid', 14, Number(values.sample)],
  ['grid', 16, Number(values.sample)],
  ['village', 10, Infinity],
  ['village', 12, Infinity],
  ['township', 10, Infinity],
  ['households', 12, Infinity],
  ['households', 15, Number(values.sample) / 2],
];
/** The tiles over the district (n of them at most, a fixed sample), per layer and zoom. */
async function tileSet(db: Db, plan: [TileLayer, number, number][]): Promise<Tile[]> {
  const tiles: Tile[] = [];
  for (const [layer, z, n] of plan) {
    const { rows } = await db.query<{ x: number; y: number }>(
      `WITH d AS (SELECT ST_Transform(geom, 3857) AS g FROM region WHERE level = 'district'),
            s AS (SELECT 40075016.68557849 / 2 ^ $1 AS size)
       SELECT x, y FROM d, s,
         generate_series(floor((ST_XMin(d.g) + 20037508.342789244) / s.size)::int, floor((ST_XMax(d.g) + 20037508.342789244) / s.size)::int) AS x,
         generate_series(floor((20037508.342789244 - ST_YMax(d.g)) / s.size)::int, floor((20037508.342789244 - ST_YMin(d.g)) / s.size)::int) AS y
       WHERE ST_Intersects(d.g, ST_MakeEnvelope(-20037508.342789244 + x * s.size, 20037508.342789244 - (y + 1) * s.size,
                                                 -20037508.342789244 + (x + 1) * s.size, 20037508.342789244 - y * s.size, 3857))
       ORDER BY x, y`,
      [z],
    );
    tiles.push(...sampled(rows, n === Infinity ? rows.length : n).map((r) => ({ layer, z, x: r.x, y: r.y })));
  }
  return tiles;
}

async function seeded(where: OpenOptions): Promise<{ cookie: string; tiles: Tile[]; warmUp: Tile[]; grids: number[] }> {
  const db = await openDb(where);
  try {
    await migrate(db);
    const t0 = performance.now();
    await seedDistrict(db, { ...DEMO, scale: Number(values.scale) });
    console.log(`  demo seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const user = await createUser(db, { username: 'bench', password: 'bench-password', role: 'admin' });
    const { token } = await openSession(db, { userId: user.id });
    const { rows } = await db.query<{ id: number }>(
      `SELECT id FROM (SELECT DISTINCT ON (parent_id) id, parent_id FROM region WHERE level = 'grid' ORDER BY parent_id, id) g ORDER BY parent_id LIMIT 10`,
    );
    return { cookie: `${SESSION_COOKIE}=${token}`, tiles: await tileSet(db, MEASURED), warmUp: await tileSet(db, WARM_UP), grids: rows.map((r) => r.id) };
  } finally {
    await db.close();
  }
}

interface Timing {
  total: number;
  p50: number;
  p95: number;
  bytes: number;
}
function timing(ms: number[], bytes: number): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { total: ms.reduce((a, b) => a + b, 0), p50: at(0.5), p95: at(0.95), bytes };
}

/** One connection kept open, as a browser keeps one to its server; node's own http client, whose cost per request is a small part of fetch's. */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
/** How many tiles a map has in flight at once: a browser's connections to one server over HTTP/1.1. */
const MAP_PARALLEL = 6;
const mapAgent = new Agent({ keepAlive: true, maxSockets: MAP_PARALLEL });
function get(url: string, cookie: string, via = agent): Promise<{ status: number; bytes: number; cache: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: via, headers: { cookie, 'accept-encoding': 'gzip' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, cache: String(res.headers['x-cache'] ?? 'none') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Each tile once, in order, through the server: as a map asks them (gzip taken; the bytes counted are those sent). */
async function overHttp(url: string, cookie: string, tiles: Tile[]): Promise<{ timing: Timing; cache: Record<string, number> }> {
  const ms: number[] = [];
  const cache: Record<string, number> = {};
  let bytes = 0;
  for (const t of tiles) {
    const t0 = performance.now();
    const res = await get(url + path(t), cookie);
    ms.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${path(t)}: HTTP ${res.status}`);
    bytes += res.bytes;
    cache[res.cache] = (cache[res.cache] ?? 0) + 1;
  }
  return { timing: timing(ms, bytes), cache };
}

/** Runs `each` over the items with `n` in flight at once, in order of starting; resolves with the wall time in ms. */
async function inFlight<T>(items: T[], n: number, each: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await each(items[next++]!);
    }),
  );
  return performance.now() - t0;
}

/** Readers asking tiles while planners rename grids (each rename retires the tiles over its grid). */
async function underLoad(
  url: string,
  cookie: string,
  tiles: Tile[],
  grids: number[],
): Promise<{ p50: number; p99: number; requests: number; errors: number; edits: number }> {
  const seconds = Number(values.seconds);
  const paths = tiles.map(path);
  const readers = autocannon({
    url,
    connections: 50,
    duration: seconds,
    headers: { cookie, 'accept-encoding': 'gzip' },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)]! }) }],
  });
  let edits = 0;
  const until = Date.now() + seconds * 1000;
  const planner = async (grid: number, i: number) => {
    await new Promise((r) => setTimeout(r, (2000 * i) / grids.length));
    while (Date.now() < until) {
      const next = Date.now() + 2000;
      const got = await fetch(`${url}/api/regions/${grid}`, { headers: { cookie } });
      const version = ((await got.json()) as { properties: { version: number } }).properties.version;
      const saved = await fetch(`${url}/api/regions/${grid}`, {
        method: 'PATCH',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ version, name: `瓦片压测${i}-${Date.now() % 100_000}` }),
      });
      await saved.arrayBuffer();
      if (saved.ok) edits++;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  };
  const [r] = await Promise.all([readers, ...grids.map(planner)]);
  return { p50: r!.latency.p50, p99: r!.latency.p99, requests: r!.requests.total, errors: r!.errors + r!.timeouts + r!.non2xx, edits };
}

/** The thinnest HTTP server in front of the raw query (`lib/bare-tile-server.ts`), as a child process like ours. */
async function startBare(databaseUrl: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/lib/bare-tile-server.ts'], {
    cwd: resolve(import.meta.dirname, '..', '..'),
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /bare tiles on (http:\/\/\S+)/.exec(line);
      if (m) done(m[1]!);
    });
    child.on('exit', (code) => fail(new Error(`the bare tile server exited (${code})`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

/**
 * Each tile its first time on three sides — the raw query in process, the raw query behind bare
 * HTTP, and ours — asked one after another, tile by tile, the order turning with each tile (the first
 * to ask a tile reads PostgreSQL's pages from disk for the others): what the machine is doing
 * meanwhile falls on the three alike, where three runs one after another each saw another moment.
 */
async function sideBySide(
  db: Db,
  bareUrl: string,
  oursUrl: string,
  cookie: string,
  w: { tiles: Tile[]; warmUp: Tile[] },
): Promise<{ raw: Timing; bare: Timing; ours: Timing; cache: Record<string, number> }> {
  const bare = (t: Tile) => `/${t.layer}/${t.z}/${t.x}/${t.y}`;
  const sides = {
    raw: async (t: Tile) => (await vectorTile(db, t.layer, t.z, t.x, t.y)).length,
    bare: async (t: Tile) => {
      const res = await get(bareUrl + bare(t), '');
      if (res.status !== 200) throw new Error(`${bare(t)}: HTTP ${res.status}`);
      return res.bytes;
    },
    ours: async (t: Tile) => {
      const res = await get(oursUrl + path(t), cookie);
      if (res.status !== 200) throw new Error(`${path(t)}: HTTP ${res.status}`);
      cache[res.cache] = (cache[res.cache] ?? 0) + 1;
      return res.bytes;
    },
  };
  const cache: Record<string, number> = {};
  const names = Object.keys(sides) as (keyof typeof sides)[];
  for (const t of w.warmUp) for (const n of names) await sides[n](t);
  for (const k of Object.keys(cache)) delete cache[k];
  const ms = { raw: [] as number[], bare: [] as number[], ours: [] as number[] };
  const bytes = { raw: 0, bare: 0, ours: 0 };
  for (const [i, t] of w.tiles.entries()) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length]!;
      const t0 = performance.now();
      bytes[n] += await sides[n](t);
      ms[n].push(performance.now() - t0);
    }
  }
  return { raw: timing(ms.raw, bytes.raw), bare: timing(ms.bare, bytes.bare), ours: timing(ms.ours, bytes.ours), cache };
}

const fmt = (t: Timing) => `${(t.total / 1000).toFixed(2)} s in all, p50 ${t.p50.toFixed(1)} ms, p95 ${t.p95.toFixed(1)} ms, ${(t.bytes / 1024).toFixed(0)} KB`;

const results: Record<string, { cold: Timing; warm: Timing; load: Awaited<ReturnType<typeof underLoad>> }> = {};
let raw: Timing | null = null;
let bareHttp: Timing | null = null;
let rawParallel = 0;
let oursParallel = 0;

async function serve(name: string, where: OpenOptions, env: Record<string, string>, cleanup: () => Promise<void>) {
  console.log(`${name}:`);
  const w = await seeded(where);
  console.log(`  ${w.tiles.length} tiles`);
  const server = await startChild(env);
  try {
    let cold: { timing: Timing; cache: Record<string, number> };
    if (where.databaseUrl) {
      // The baselines beside ours, tile by tile: the query alone, straight to PostgreSQL, and behind bare HTTP.
      const db = await openDb(where);
      const bare = await startBare(where.databaseUrl);
      try {
        const side = await sideBySide(db, bare.url, server.url, w.cookie, w);
        raw = side.raw;
        bareHttp = side.bare;
        cold = { timing: side.ours, cache: side.cache };
      } finally {
        bare.stop();
      }
      // As a map asks them: six in flight at once (the pool has ten connections).
      rawParallel = await inFlight(w.tiles, MAP_PARALLEL, async (t) => void (await vectorTile(db, t.layer, t.z, t.x, t.y)));
      await db.close();
      console.log(`  raw ST_AsMVT query:        ${fmt(raw)} (uncompressed)`);
      console.log(`  raw, over bare HTTP:       ${fmt(bareHttp)} (uncompressed)`);
    } else {
      await overHttp(server.url, w.cookie, w.warmUp);
      cold = await overHttp(server.url, w.cookie, w.tiles);
    }
    console.log(`  ours, first time:          ${fmt(cold.timing)} (gzip) · ${JSON.stringify(cold.cache)}`);
    const warm = await overHttp(server.url, w.cookie, w.tiles);
    console.log(`  ours, again (kept):        ${fmt(warm.timing)} · ${JSON.stringify(warm.cache)}`);
    const load = await underLoad(server.url, w.cookie, w.tiles, w.grids);
    console.log(
      `  under load (50 readers, 10 planners): ${load.requests} tiles, p50 ${load.p50} ms, p99 ${load.p99} ms, ${load.errors} errors, ${load.edits} renames`,
    );
    results[name] = { cold: cold.timing, warm: warm.timing, load };
  } finally {
    await stopChild(server);
  }
  if (where.databaseUrl) {
    // Each tile its first time again, as a map asks them (six in flight): a fresh server keeps nothing yet.
    const again = await startChild(env);
    try {
      await overHttp(again.url, w.cookie, w.warmUp);
      oursParallel = await inFlight(w.tiles, MAP_PARALLEL, async (t) => {
        const res = await get(again.url + path(t), w.cookie, mapAgent);
        if (res.status !== 200 || res.cache === 'hit') throw new Error(`${path(t)}: HTTP ${res.status}, cache ${res.cache}`);
      });
      console.log(
        `  six at a time, first time:  raw ${(rawParallel / 1000).toFixed(2)} s, ` +
          `ours ${(oursParallel / 1000).toFixed(2)} s over HTTP (${(oursParallel / rawParallel).toFixed(2)}×)`,
      );
    } finally {
      await stopChild(again);
    }
  }
  await cleanup();
}

if (process.env.DATABASE_URL) {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS gridplan_bench_tiles');
  await admin.query('CREATE DATABASE gridplan_bench_tiles');
  await admin.end();
  const u = new URL(process.env.DATABASE_URL);
  u.pathname = '/gridplan_bench_tiles';
  await serve('PostgreSQL', { databaseUrl: u.toString() }, { DATABASE_URL: u.toString() }, async () => {});
}
const dir = await mkdtemp(join(tmpdir(), 'gridplan-tiles-'));
await serve('embedded (PGlite)', { dataDir: dir }, { GRIDPLAN_DATA_DIR: dir }, () => rm(dir, { recursive: true, force: true }));

console.log('\nsummary');
const pgRun = results.PostgreSQL;
const lite = results['embedded (PGlite)']!;
if (pgRun && raw) {
  const r = raw as Timing;
  console.log(
    `  PostgreSQL, first time vs raw ST_AsMVT: ${(pgRun.cold.total / r.total).toFixed(2)}× (target ≤ 1.3×); kept: ${(pgRun.warm.total / r.total).toFixed(2)}×`,
  );
  console.log(
    `  PostgreSQL, first time, six tiles in flight as a map asks them: ${(oursParallel / rawParallel).toFixed(2)}× the raw query six at a time (target ≤ 1.3×)`,
  );
  const b = bareHttp as Timing | null;
  if (b)
    console.log(
      `  PostgreSQL, first time vs the same query behind bare HTTP: ${(pgRun.cold.total / b.total).toFixed(2)}× ` +
        `(bare HTTP itself: ${(b.total / r.total).toFixed(2)}× the query in process)`,
    );
  console.log(
    `  embedded vs PostgreSQL, first time: ${(lite.cold.total / pgRun.cold.total).toFixed(2)}× (target ≤ 3×); ` +
      `kept: ${(lite.warm.total / pgRun.warm.total).toFixed(2)}×`,
  );
} else console.log('  (set DATABASE_URL to compare with PostgreSQL and its raw ST_AsMVT)');
for (const [name, r] of Object.entries(results)) console.log(`  ${name} under load: p99 ${r.load.p99} ms (target < 100 ms)`);

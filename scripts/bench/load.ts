/**
 * npm run bench:load — the server under 200 concurrent clients on loopback, for 30 seconds.
 *
 * The demo district (full scale) in a fresh embedded database, served by `npm start`'s server in
 * its own process. autocannon drives:
 *   - 180 reading clients, each request drawn from ~400 distinct reads: region details and
 *     children (townships, villages), heatmaps of one month or the year for three category
 *     filters, the screen's figures for the district and its townships;
 *   - 20 planners, each renaming their own grid (in their own village) every two seconds: read
 *     it, then PATCH with its version — ten saves a second, so the plan keeps changing under the
 *     readers (timed by this script: GET and PATCH each count as one edit request).
 * Prints throughput, p50/p99 latency and errors (non-2xx and socket errors) for reads and for
 * edits; then the same run with the read cache turned off (GRIDPLAN_CACHE=0) as the baseline.
 * Target: zero errors, p99 under 250 ms for reads.
 * Then the same load while `--attackers` clients (default 20) flood the sign-in with 18 MB bodies
 * nested millions of levels deep, without a session: signed-in reads' p99 must stay within 2× of
 * the run without them.
 *   npm run bench:load -- [--seconds 30] [--readers 180] [--planners 20] [--attackers 20] [--scale 1] [--city qujing] [--slow MS] [--only ours|baseline|flood]
 *     [--data-dir DIR]  (PGlite: keep the database there and reuse it when it holds one)
 * `--city` seeds a whole city (all its counties) instead of the demo district; each run ends with the
 * server's resident memory, now and at its peak (Linux /proc).
 * With DATABASE_URL set it runs on that PostgreSQL (a scratch database) instead of PGlite.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { startChild, stopChild } from '../lib/child-server.ts';
import { createUser, openSession, SESSION_COOKIE } from '../../server/db/accounts.ts';
import { openDb, type OpenOptions } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';
import { seedCity } from '../../server/seed/seed-city.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';

/** The server's resident memory now and at its peak (Linux: VmRSS and VmHWM of /proc/<pid>/status), in MB; null elsewhere. */
function residentMb(pid: number | undefined): { now: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { now: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return null;
  }
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    readers: { type: 'string', default: '180' },
    planners: { type: 'string', default: '20' },
    attackers: { type: 'string', default: '20' },
    scale: { type: 'string', default: '1' },
    city: { type: 'string' },
    // Diagnosis: print the server's statements slower than this many ms; skip the baseline run.
    slow: { type: 'string' },
    only: { type: 'string' }, // 'ours' or 'baseline'
    // Diagnosis: keep the embedded database in this directory, and seed it only when it is empty (a city takes minutes).
    'data-dir': { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const READERS = Number(values.readers);
/** Readers are this many people (180 connections over 30 accounts: six questions each at a time). */
const READER_ACCOUNTS = Math.max(1, Math.ceil(READERS / 6));
const PLANNERS = Number(values.planners);
const ATTACKERS = Number(values.attackers);

/** The sign-in flood (see lib/flood.ts) against the server at `url`, in a niced process of its own. */
function flood(url: string, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const port = new URL(url).port;
    const child = spawn(
      'nice',
      ['-n', '10', process.execPath, '--import', 'tsx', join(import.meta.dirname, 'lib', 'flood.ts'), port, String(ATTACKERS), String(seconds)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });
}

async function prepare(): Promise<{ where: OpenOptions; env: Record<string, string>; cleanup: () => Promise<void> }> {
  if (process.env.DATABASE_URL) {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS gridplan_bench_load');
    await admin.query('CREATE DATABASE gridplan_bench_load');
    await admin.end();
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = '/gridplan_bench_load';
    return { where: { databaseUrl: u.toString() }, env: { DATABASE_URL: u.toString() }, cleanup: async () => {} };
  }
  if (values['data-dir']) return { where: { dataDir: values['data-dir'] }, env: { GRIDPLAN_DATA_DIR: values['data-dir'] }, cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'gridplan-load-'));
  return { where: { dataDir: dir }, env: { GRIDPLAN_DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

interface Workload {
  cookie: string;
  /** The readers' sessions: readers are people, each asking a few things at once (the server takes each person's in turn). */
  readerCookies: string[];
  reads: string[];
  grids: number[];
}

/** Seeds the demo, makes an account and a session, and lists what the clients will ask. */
async function seed(where: OpenOptions): Promise<Workload> {
  const db = await openDb(where);
  try {
    await migrate(db);
    const t0 = performance.now();
    const seeded = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region`)).rows[0]!.n > 0;
    if (seeded) console.log(`reusing the database in ${values['data-dir']}`);
    else if (values.city) await seedCity(db, { city: values.city, seed: DEMO.seed, scale: Number(values.scale), rule: DEMO.rule! });
    else await seedDistrict(db, { ...DEMO, scale: Number(values.scale) });
    if (!seeded) console.log(`${values.city ?? 'demo'} seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const stamp = Date.now();
    const user = await createUser(db, { username: `bench-${stamp}`, password: 'bench-password', role: 'admin' });
    const { token } = await openSession(db, { userId: user.id });
    const readerCookies: string[] = [];
    for (let i = 0; i < READER_ACCOUNTS; i++) {
      const reader = await createUser(db, { username: `bench-${stamp}-reader-${i}`, password: 'bench-password', role: 'admin' });
      readerCookies.push(`${SESSION_COOKIE}=${(await openSession(db, { userId: reader.id })).token}`);
    }
    const { rows } = await db.query<{ id: number; level: string }>(`SELECT id, level FROM region WHERE level <> 'grid' ORDER BY id`);
    const district = (rows.find((r) => r.level === 'city') ?? rows.find((r) => r.level === 'district'))!.id;
    const townships = rows.filter((r) => r.level === 'township').map((r) => r.id);
    const villages = rows.filter((r) => r.level === 'village').map((r) => r.id);
    // Each planner in another village.
    const { rows: grids } = await db.query<{ id: number }>(
      `SELECT id FROM (SELECT DISTINCT ON (parent_id) id, parent_id FROM region WHERE level = 'grid' ORDER BY parent_id, id) g ORDER BY parent_id LIMIT $1`,
      [PLANNERS],
    );
    const reads: string[] = [];
    for (const id of [district, ...townships, ...villages]) reads.push(`/api/regions/${id}`, `/api/regions/${id}/children`);
    const categories = ['fire,dispute', 'hazard', ''];
    const now = new Date();
    for (let m = 0; m < 12; m++) {
      const from = new Date(now.getFullYear(), now.getMonth() - m - 1, 1).toISOString();
      const to = new Date(now.getFullYear(), now.getMonth() - m, 1).toISOString();
      for (const c of categories) reads.push(`/api/heatmap?region=${district}&from=${from}&to=${to}&zoom=10${c ? `&category=${c}` : ''}`);
    }
    for (const c of categories) reads.push(`/api/heatmap?region=${district}&zoom=10${c ? `&category=${c}` : ''}`);
    for (const id of [district, ...townships]) reads.push(`/api/stats/overview?region=${id}`);
    return { cookie: `${SESSION_COOKIE}=${token}`, readerCookies, reads, grids: grids.map((g) => g.id) };
  } finally {
    await db.close();
  }
}

interface Figures {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

const figures = (r: autocannon.Result): Figures => ({
  requests: r.requests.total,
  perSecond: r.requests.average,
  p50: r.latency.p50,
  p99: r.latency.p99,
  errors: r.errors + r.timeouts + r.non2xx,
});

/** How the reads were served (the x-cache header): hit, stale, shared, miss, refresh. */
const served: Record<string, number> = {};

async function run(url: string, w: Workload, attack = false): Promise<{ reads: Figures; edits: Figures }> {
  for (const k of Object.keys(served)) delete served[k];
  // As a browser asks: with its cookie, taking gzip.
  const headers = { cookie: w.cookie, 'accept-encoding': 'gzip' };
  const pick = () => w.reads[Math.floor(Math.random() * w.reads.length)]!;
  const readers = autocannon({
    url,
    connections: READERS,
    duration: SECONDS,
    headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({
          ...req,
          path: pick(),
          headers: { ...req.headers, cookie: w.readerCookies[Math.floor(Math.random() * w.readerCookies.length)]! },
        }),
        onResponse: (_status, _body, _context, h) => {
          const how = (h as Record<string, string> | undefined)?.['x-cache'] ?? 'none';
          served[how] = (served[how] ?? 0) + 1;
        },
      },
    ],
  });
  // Each planner, on their own grid, every two seconds: reads it for its version, then renames it.
  // Timed here rather than by autocannon, which does not pace a sequence per connection.
  const latencies: number[] = [];
  let editErrors = 0;
  const until = Date.now() + SECONDS * 1000;
  const planner = async (grid: number, i: number) => {
    await new Promise((r) => setTimeout(r, (2000 * i) / w.grids.length)); // spread over the two seconds
    while (Date.now() < until) {
      const next = Date.now() + 2000;
      try {
        let t0 = performance.now();
        const got = await fetch(`${url}/api/regions/${grid}`, { headers: { cookie: w.cookie } });
        const version = got.ok ? ((await got.json()) as { properties: { version: number } }).properties.version : NaN;
        latencies.push(performance.now() - t0);
        t0 = performance.now();
        const saved = await fetch(`${url}/api/regions/${grid}`, {
          method: 'PATCH',
          headers: { cookie: w.cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ version, name: `压测网格${i}-${Date.now() % 100_000}` }),
        });
        await saved.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (!got.ok || !saved.ok) editErrors++;
      } catch {
        editErrors++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  };
  const attacked = attack ? flood(url, SECONDS) : null;
  const [r] = await Promise.all([readers, ...w.grids.map(planner)]);
  if (attacked) console.log(`flood of 18 MB sign-ins: ${await attacked}`);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  const edits: Figures = { requests: latencies.length, perSecond: latencies.length / SECONDS, p50: at(0.5), p99: at(0.99), errors: editErrors };
  return { reads: figures(r!), edits };
}

const { where, env, cleanup } = await prepare();
try {
  const workload = await seed(where);
  const results: Record<string, { reads: Figures; edits: Figures }> = {};
  const memory: Record<string, { now: number; peak: number } | null> = {};
  const runs = [
    ['ours (read cache on)', '1', false],
    ['flood (ours, sign-in flooded)', '1', true],
    ['baseline (cache off)', '0', false],
  ] as const;
  for (const [name, cache, attack] of runs.filter(
    ([name]) => !values.only || name.startsWith(values.only) || (values.only === 'ours' && name.startsWith('flood')),
  )) {
    const server = await startChild({ ...env, GRIDPLAN_CACHE: cache, ...(values.slow ? { GRIDPLAN_SLOW_QUERY_MS: values.slow } : {}) });
    if (values.slow) server.child.stderr!.pipe(process.stderr);
    try {
      // Warm up: every read once, as a server that has been running has seen them.
      const t0 = performance.now();
      for (const path of workload.reads) await (await fetch(server.url + path, { headers: { cookie: workload.cookie } })).arrayBuffer();
      console.log(`${name}: warm-up, each of the ${workload.reads.length} reads once, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (values.slow) console.error('--- load starts');
      results[name] = await run(server.url, workload, attack);
      const total = Object.values(served).reduce((a, b) => a + b, 0);
      console.log(
        `${name}: reads served ${Object.entries(served)
          .sort(([, a], [, b]) => b - a)
          .map(([k, n]) => `${k} ${((100 * n) / total).toFixed(2)}%`)
          .join(', ')}`,
      );
    } finally {
      memory[name] = residentMb(server.child.pid);
      await stopChild(server);
    }
  }
  const driver = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
  console.log(`\n${driver}, ${READERS} readers + ${PLANNERS} planners for ${SECONDS} s on loopback (${workload.reads.length} distinct reads)\n`);
  console.log('| | reads/s | read p50 | read p99 | read errors | edits/s | edit p99 | edit errors |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `| ${name} | ${r.reads.perSecond.toFixed(0)} | ${r.reads.p50} ms | ${r.reads.p99} ms | ${r.reads.errors} | ${r.edits.perSecond.toFixed(1)} | ` +
        `${r.edits.p99} ms | ${r.edits.errors} |`,
    );
  }
  for (const [name, m] of Object.entries(memory)) {
    if (m) console.log(`${name}: server resident ${m.now} MB at the end, ${m.peak} MB at its peak`);
  }
  const ours = results['ours (read cache on)'] ?? results['baseline (cache off)']!;
  const base = results['baseline (cache off)'] ?? ours;
  console.log(
    `\nread p99: ${(base.reads.p99 / Math.max(1, ours.reads.p99)).toFixed(1)}× lower than the baseline; read throughput ` +
      `${(ours.reads.perSecond / Math.max(1, base.reads.perSecond)).toFixed(1)}×`,
  );
  console.log(`target (zero errors, read p99 < 250 ms): ${ours.reads.errors + ours.edits.errors === 0 && ours.reads.p99 < 250 ? 'met' : 'NOT met'}`);
  const flooded = results['flood (ours, sign-in flooded)'];
  if (flooded && results['ours (read cache on)']) {
    const ratio = flooded.reads.p99 / Math.max(1, ours.reads.p99);
    console.log(
      `under the sign-in flood: read p99 ${flooded.reads.p99} ms against ${ours.reads.p99} ms without it (${ratio.toFixed(2)}×; target ≤ 2×): ` +
        `${ratio <= 2 && flooded.reads.errors === 0 ? 'met' : 'NOT met'}`,
    );
  }
} finally {
  await cleanup();
}

/**
 * npm run bench:versions — the plan on a date (issue: plan versions §4) and the comparison of a
 * date with today (§2), on the full demo district. The demo is seeded and said to have stood since
 * New Year; then its largest township is divided anew by the auto-split (a different target), as
 * a planning round would. Timed through the API, median of three warm runs, beside the same read
 * of today's plan from `region` in the same run (what a dated read costs over a live one):
 *
 *   asOf map    GET /api/regions/:district/descendants?level=grid&asOf=…  vs  the same without asOf
 *   compare     GET /api/compare?region=:township&a=date:…&b=live         vs  the township's grids today
 *
 * Aim (issue): each under 1 s. BENCH_SCALE shrinks the district. Both databases when DATABASE_URL is set.
 */
import { createApp } from '../../server/app.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';
import { sessionCookie } from '../../tests/support/auth.ts';
import { benchDatabases, postgisVersion } from './databases.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;

for (const db of await benchDatabases('gridplan_bench_versions')) {
  console.log(`\n${await postgisVersion(db)}`);
  const summary = await seedDistrict(db, { ...DEMO, scale: SCALE });
  await db.query('DELETE FROM region_history WHERE valid_to IS NOT NULL');
  await db.query(`UPDATE region_history SET valid_from = '2026-01-01T00:00:00+08:00'`);
  await db.query('ANALYZE region_history');
  const app = createApp({ db, cache: false });
  const cookie = await sessionCookie(db, { username: 'bench', role: 'admin' });
  const get = async (path: string) => {
    const t = performance.now();
    const res = await app.request(path, { headers: { cookie } });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t, body };
  };
  const { rows } = await db.query<{ id: number; name: string; grids: number; households: number }>(
    `SELECT t.id, t.name, count(g.id)::int AS grids, t.household_count AS households FROM region t
     JOIN region v ON v.parent_id = t.id JOIN region g ON g.parent_id = v.id
     WHERE t.level = 'township' GROUP BY t.id ORDER BY count(g.id) DESC LIMIT 1`,
  );
  const township = rows[0]!;
  const split = await app.request(`/api/regions/${township.id}/autosplit`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 14, commit: true }),
  });
  if (split.status !== 200) throw new Error(`autosplit: ${split.status} ${await split.text()}`);
  console.log(
    `  ${summary.grids} grids, ${summary.households} households; ${township.name} (${township.grids} grids, ${township.households} households) divided anew`,
  );
  const time = async (path: string) => {
    await get(path);
    const runs: number[] = [];
    let body: Record<string, unknown> = {};
    for (let i = 0; i < 3; i++) ({ ms: runs[i]!, body } = await get(path));
    return { ms: median(runs), body };
  };
  const past = await time(`/api/regions/${summary.districtId}/descendants?level=grid&asOf=2026-06-01`);
  const live = await time(`/api/regions/${summary.districtId}/descendants?level=grid`);
  const pastGrids = (past.body.features as unknown[]).length;
  console.log(`  asOf map of the district: ${ms(past.ms)} (${pastGrids} grids) · today's: ${ms(live.ms)} · ${(past.ms / live.ms).toFixed(1)}×`);
  const diff = await time(`/api/compare?region=${township.id}&a=date:2026-06-01&b=live`);
  const today = await time(`/api/regions/${township.id}/descendants?level=grid`);
  const c = diff.body as { added: unknown[]; removed: unknown[]; changed: unknown[]; movedHouseholds: number };
  console.log(
    `  compare ${township.name}, June 1st with today: ${ms(diff.ms)} (${c.removed.length} grids gone, ${c.added.length} added, ${c.changed.length} changed, ` +
      `${c.movedHouseholds} households moved) · its grids today: ${ms(today.ms)} · ${(diff.ms / today.ms).toFixed(1)}×`,
  );
  await db.close();
}

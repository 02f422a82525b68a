/**
 * npm run bench:versions — plan versions (issue #21 §6) on the full demo district. The demo is
 * seeded and said to have stood since New Year; a planner makes a draft of its largest township
 * and divides it anew there with the auto-split (another target), as a planning round would. Timed
 * through the API, median of three warm runs:
 *
 *   draft       POST /api/drafts { regionId: township }                  the copy of the township
 *   diff        GET /api/compare?region=:township&a=live&b=draft:ID      vs  the same folded from the draft's change log
 *   asOf map    GET /api/regions/:district/descendants?level=grid&asOf=… vs  the same recomputed from the change log
 *   publish     the approval that publishes it (both steps)
 *
 * The baselines are what a system without drafts in their own tables or a history table does:
 * replay its change log (every operation's before and after snapshots) to get the other plan.
 * Aim (issue): the diff and the asOf map each under 1 s. BENCH_SCALE shrinks the district. Both
 * databases when DATABASE_URL is set.
 */
import { createApp } from '../../server/app.ts';
import type { Db } from '../../server/db/db.ts';
import { inDraft } from '../../server/db/drafts.ts';
import { DEMO, seedDistrict } from '../../server/seed/seed-district.ts';
import { sessionCookie } from '../../tests/support/auth.ts';
import { benchDatabases, postgisVersion } from './databases.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;

interface Snap {
  id: number;
  level: string;
  name: string;
  wkb: string;
  parentId: number | null;
}

/**
 * The baseline: regions' states folded from a change log — for each region touched, its first
 * `before` and last `after` — and the grids added, removed and changed between them.
 */
async function foldLog(db: Db, since: string | null): Promise<{ added: number; removed: number; changed: number; ms: number }> {
  const t = performance.now();
  const { rows } = await db.query<{ entity_id: number; before: Snap | null; after: Snap | null }>(
    `SELECT entity_id, before, after FROM change WHERE entity = 'region' AND undone_at IS NULL ${since ? 'AND at > $1' : ''} ORDER BY id`,
    since ? [since] : [],
  );
  const first = new Map<number, Snap | null>();
  const last = new Map<number, Snap | null>();
  for (const r of rows) {
    if (!first.has(r.entity_id)) first.set(r.entity_id, r.before);
    last.set(r.entity_id, r.after);
  }
  let added = 0;
  let removed = 0;
  let changed = 0;
  for (const [id, a] of first) {
    const b = last.get(id) ?? null;
    const level = (a ?? b)?.level;
    if (level !== 'grid') continue;
    if (!a && b) added++;
    else if (a && !b) removed++;
    else if (a && b && (a.wkb !== b.wkb || a.name !== b.name || a.parentId !== b.parentId)) changed++;
  }
  return { added, removed, changed, ms: performance.now() - t };
}

for (const db of await benchDatabases('gridplan_bench_versions')) {
  console.log(`\n${await postgisVersion(db)}`);
  const summary = await seedDistrict(db, { ...DEMO, scale: SCALE });
  await db.query('DELETE FROM region_history WHERE valid_to IS NOT NULL');
  await db.query(`UPDATE region_history SET valid_from = '2026-01-01T00:00:00+08:00'`);
  await db.query('ANALYZE region_history');
  const app = createApp({ db, cache: false });
  const admin = await sessionCookie(db, { username: 'bench', role: 'admin' });
  const call = async (method: string, path: string, body?: unknown, cookie = admin) => {
    const t = performance.now();
    const res = await app.request(path, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return { ms: performance.now() - t, body: JSON.parse(text.split('\n').filter(Boolean).at(-1)!) as Record<string, any> };
  };
  const time = async (path: string) => {
    await call('GET', path);
    const runs: number[] = [];
    let body: Record<string, any> = {};
    for (let i = 0; i < 3; i++) ({ ms: runs[i]!, body } = await call('GET', path));
    return { ms: median(runs), body };
  };
  const { rows } = await db.query<{ id: number; name: string; grids: number; households: number }>(
    `SELECT t.id, t.name, count(g.id)::int AS grids, t.household_count AS households FROM region t
     JOIN region v ON v.parent_id = t.id JOIN region g ON g.parent_id = v.id
     WHERE t.level = 'township' GROUP BY t.id ORDER BY count(g.id) DESC LIMIT 1`,
  );
  const township = rows[0]!;
  console.log(
    `  ${summary.grids} grids, ${summary.households} households; draft of ${township.name} (${township.grids} grids, ${township.households} households)`,
  );

  const planner = await sessionCookie(db, { username: 'bench.planner', role: 'planner', regionId: township.id });
  const made = await call('POST', '/api/drafts', { regionId: township.id, name: '重新划分' }, planner);
  const draftId = made.body.id as number;
  const split = await call('POST', `/api/regions/${township.id}/autosplit?draft=${draftId}`, { target: 14, commit: true }, planner);
  console.log(`  draft made in ${ms(made.ms)}; auto-split in the draft in ${ms(split.ms)}`);

  const diff = await time(`/api/compare?region=${township.id}&a=live&b=draft:${draftId}`);
  const folded = await foldLog(inDraft(db, draftId), null);
  const d = diff.body as { added: unknown[]; removed: unknown[]; changed: unknown[]; movedHouseholds: number };
  console.log(
    `  diff of the draft with today: ${ms(diff.ms)} (${d.removed.length} grids gone, ${d.added.length} added, ${d.changed.length} changed, ` +
      `${d.movedHouseholds} households moved) · folded from its change log: ${ms(folded.ms)} (${folded.removed} gone, ${folded.added} added; ` +
      `no households moved, no figures)`,
  );

  const townshipReviewer = await sessionCookie(db, { username: 'bench.township', role: 'planner', regionId: township.id });
  const reviewer = await sessionCookie(db, { username: 'bench.leader', role: 'leader', regionId: null });
  await call('POST', `/api/drafts/${draftId}/submit`, { note: '' }, planner);
  await call('POST', `/api/drafts/${draftId}/review`, { decision: 'approve', comment: '' }, townshipReviewer);
  const published = await call('POST', `/api/drafts/${draftId}/review`, { decision: 'approve', comment: '' }, reviewer);
  console.log(`  published (${published.body.status}) in ${ms(published.ms)}`);

  const past = await time(`/api/regions/${summary.districtId}/descendants?level=grid&asOf=2026-06-01`);
  const replay = await foldLog(db, '2026-06-01T00:00:00+08:00');
  const live = await time(`/api/regions/${summary.districtId}/descendants?level=grid`);
  console.log(
    `  asOf map of the district: ${ms(past.ms)} (${(past.body.features as unknown[]).length} grids) · ` +
      `recomputed from the change log: ${ms(replay.ms + live.ms)} (today's map ${ms(live.ms)} + the log replayed ${ms(replay.ms)})`,
  );
  const byVersion = await time(`/api/compare?region=${township.id}&a=date:2026-06-01&b=version:${published.body.versionId}`);
  console.log(`  compare June 1st with the version: ${ms(byVersion.ms)}`);
  await db.close();
}

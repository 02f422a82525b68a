import type { Db, Queryable } from './db.ts';
import { assertDraftOpen, draftSchema } from './drafts.ts';
import { householdsAt, planAt, subtreeAt, type PlanTime } from './region-queries.ts';
import { districtOf, districtRules } from './rules.ts';

/** A side of a comparison: the plan now (`at` null) or as it stood at a moment, with its label. */
export interface PlanSide {
  label: string;
  at: PlanTime;
  /** A draft's plan (then `at` is null). */
  draft?: number | undefined;
}

/** The relation holding a side's regions. */
const relOf = (side: PlanSide) => (side.draft ? `${draftSchema(side.draft)}.region` : planAt(side.at));

/** Region ids of a subtree on a side (its root excluded). */
const subtreeOf = (side: PlanSide, root: string) =>
  side.draft
    ? `(WITH RECURSIVE down AS (SELECT p.id, p.level, 0 AS depth FROM ${relOf(side)} p WHERE p.id = ${root}
        UNION ALL SELECT c.id, c.level, d.depth + 1 FROM ${relOf(side)} c JOIN down d ON c.parent_id = d.id WHERE d.level <> 'grid')
       SELECT id FROM down WHERE depth > 0)`
    : subtreeAt(side.at, root);

interface GridRow {
  id: number;
  code: string;
  name: string;
  grid_type: string | null;
  parent_id: number;
  households: number;
  wkb: string;
  geometry: GeoJSON.MultiPolygon;
  worker_id: number | null;
  staff: string | null;
}

type GridJson = { id: number; code: string; name: string; gridType: string | null; parentId: number; households: number; workerId: number | null };

export interface PlanComparison {
  regionId: number;
  a: SideFigures;
  b: SideFigures;
  added: GeoJSON.Feature[];
  removed: GeoJSON.Feature[];
  changed: {
    id: number;
    code: string;
    name: string;
    changes: ('shape' | 'code' | 'name' | 'type' | 'village' | 'worker' | 'staff')[];
    before: GridJson;
    after: GridJson;
    /** The new shape, when it changed. */
    geometry?: GeoJSON.MultiPolygon;
  }[];
  /** Households (as they lie today) whose grid differs between the two plans: from → to, counted. */
  moves: { from: { id: number; code: string; name: string } | null; to: { id: number; code: string; name: string } | null; households: number }[];
  movedHouseholds: number;
}

interface SideFigures {
  label: string;
  grids: number;
  households: number;
  perGrid: number | null;
  /** Share of grids whose household count keeps the district's current rule. */
  inRange: number | null;
}

const MAX_FEATURES = 2_000;
const MAX_MOVES = 500;

/** The grids under a region on one side, each with the households (as they lie today) within it. */
async function gridsOf(db: Queryable, regionId: number, side: PlanSide): Promise<GridRow[]> {
  const { rows } = await db.query<GridRow>(
    `SELECT g.id, g.code, g.name, g.grid_type, g.parent_id, g.worker_id, encode(g.geom::bytea, 'hex') AS wkb, ST_AsGeoJSON(g.geom, 6)::json AS geometry,
            ${
              side.at
                ? 'NULL::text'
                : `(SELECT string_agg(s.role || ':' || s.worker_id, ',' ORDER BY s.role, s.worker_id) FROM ${
                    side.draft ? `${draftSchema(side.draft)}.grid_staff` : 'grid_staff'
                  } s WHERE s.grid_id = g.id)`
            } AS staff,
            ${side.at ? householdsAt('g') : 'g.household_count'} AS households
     FROM ${relOf(side)} g
     WHERE g.level = 'grid' AND (g.id = $1 OR g.id IN ${subtreeOf(side, '$1')})
     ORDER BY g.code`,
    [regionId],
  );
  return rows;
}

const json = (g: GridRow): GridJson => ({
  id: g.id,
  code: g.code,
  name: g.name,
  gridType: g.grid_type,
  parentId: g.parent_id,
  households: g.households,
  workerId: g.worker_id,
});
const feature = (g: GridRow): GeoJSON.Feature => ({ type: 'Feature', id: g.id, geometry: g.geometry, properties: json(g) });

/**
 * Two plans of one region side by side: grids added, removed and changed (shape, name, type,
 * village), households moved between grids, and each side's figures. Grids are matched by id
 * (edits keep a grid's id), and a grid that went is matched to the new grid continuing it (see
 * below: a split or an auto-split makes new ids), which is then one grid changed, not one removed and
 * one added; a household counts as moved unless it stays in its grid's continuation, as auto-split's
 * own figure counts. Households are counted as they lie today, so a comparison shows what the plan
 * change did to the same people.
 */
export async function comparePlans(db: Db, regionId: number, a: PlanSide, b: PlanSide): Promise<PlanComparison> {
  if (!a.draft && !b.draft) return compareIn(db, regionId, a, b);
  // A draft's copy is read in one transaction that holds it: a withdrawal or publication waits.
  return db.transaction(async (tx) => {
    for (const side of [a, b]) if (side.draft) await assertDraftOpen(tx, side.draft, 'read');
    return compareIn(tx, regionId, a, b);
  });
}

async function compareIn(db: Queryable, regionId: number, a: PlanSide, b: PlanSide): Promise<PlanComparison> {
  const [ga, gb] = [await gridsOf(db, regionId, a), await gridsOf(db, regionId, b)];
  const byId = (gs: GridRow[]) => new Map(gs.map((g) => [g.id, g]));
  const [ma, mb] = [byId(ga), byId(gb)];
  const cameIds = gb.filter((g) => !ma.has(g.id)).map((g) => g.id);
  const goneIds = ga.filter((g) => !mb.has(g.id)).map((g) => g.id);
  const changed: PlanComparison['changed'] = [];
  const reshaped: number[] = [];
  const compare = (before: GridRow, after: GridRow) => {
    const changes: PlanComparison['changed'][number]['changes'] = [];
    if (before.wkb !== after.wkb) changes.push('shape');
    if (before.code !== after.code) changes.push('code');
    if (before.name !== after.name) changes.push('name');
    if (before.grid_type !== after.grid_type) changes.push('type');
    if (before.parent_id !== after.parent_id) changes.push('village');
    if (before.worker_id !== after.worker_id) changes.push('worker');
    // the other staff: known for today's plan and drafts (a past plan keeps only its full-time worker)
    if (!a.at && !b.at && (before.staff ?? '') !== (after.staff ?? '')) changes.push('staff');
    if (changes.length > 0) {
      const shape = changes.includes('shape') ? { geometry: after.geometry } : {};
      changed.push({ id: after.id, code: after.code, name: after.name, changes, before: json(before), after: json(after), ...shape });
    }
    return changes;
  };
  for (const after of gb) {
    const before = ma.get(after.id);
    if (before && compare(before, after).includes('shape')) reshaped.push(after.id);
  }
  // Only households within a grid that appeared, went or changed shape can have moved.
  const touched = [...cameIds, ...goneIds, ...reshaped];
  let rows: { from_id: number | null; to_id: number | null; n: number }[] = [];
  if (touched.length > 0) {
    const inA = ga.map((g) => g.id);
    const inB = gb.map((g) => g.id);
    // Each household near a touched grid with the grid it lies in on a side: today's (and a draft's)
    // is the one it is filed under; on a past plan the touched grids of that plan are joined to the
    // households within them — each polygon tested against its points, which PostGIS prepares once.
    // (A household near a touched grid lies in a touched grid on both sides when each side tiles.)
    const pairs = (side: PlanSide, ids: string) =>
      side.draft
        ? // the draft's own households, not joined to hh here: the planner guessed hh at a hundredth of its rows and
          // looked through all of hh once per household (a township of 12,587: 12 s instead of 0.1 s)
          `SELECT d.id AS hid, d.region_id AS gid FROM ${draftSchema(side.draft)}.household d WHERE d.region_id = ANY(${ids})`
        : side.at
          ? `SELECT h.id AS hid, min(g.id) AS gid FROM ${planAt(side.at)} g JOIN household h ON g.geom && h.geom AND ST_Intersects(g.geom, h.geom)
             WHERE g.level = 'grid' AND g.id = ANY($1::int[]) AND g.id = ANY(${ids}) GROUP BY h.id`
          : `SELECT hh.id AS hid, hh.region_id AS gid FROM hh WHERE hh.region_id = ANY(${ids})`;
    ({ rows } = await db.query<{ from_id: number | null; to_id: number | null; n: number }>(
      `WITH touched AS (
         SELECT geom FROM ${relOf(a)} WHERE id = ANY($1::int[]) UNION ALL SELECT geom FROM ${relOf(b)} WHERE id = ANY($1::int[])
       ), hh AS (
         SELECT DISTINCT h.id, h.region_id FROM touched t JOIN household h ON h.geom && t.geom AND ST_Intersects(t.geom, h.geom)
       ), pa AS (${pairs(a, '$2::int[]')}), pb AS (${pairs(b, '$3::int[]')}),
       placed AS (SELECT pa.gid AS from_id, pb.gid AS to_id FROM hh LEFT JOIN pa ON pa.hid = hh.id LEFT JOIN pb ON pb.hid = hh.id)
       SELECT from_id, to_id, count(*)::int AS n FROM placed WHERE from_id IS DISTINCT FROM to_id
       GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`,
      [touched, inA, inB],
    ));
  }
  // A grid that went continues as at most one grid that came — the one sharing most households with
  // it, greedily, as auto-split counts (it gives its grids new ids under the old codes, and the grid's
  // worker follows): households that stay with their grid's continuation did not change grid, and the
  // pair is one grid changed, not one removed and one added. A grid sharing no households with a new
  // one continues as the new grid holding most of its area, when it holds most of the new one's too.
  const [gone, came] = [new Set(goneIds), new Set(cameIds)];
  const continuation = new Map<number, number>();
  const continues = new Set<number>();
  const stays = new Set<(typeof rows)[number]>();
  for (const r of rows) {
    if (r.from_id === null || r.to_id === null || !gone.has(r.from_id) || !came.has(r.to_id)) continue;
    if (continuation.has(r.from_id) || continues.has(r.to_id)) continue;
    continuation.set(r.from_id, r.to_id);
    continues.add(r.to_id);
    stays.add(r);
  }
  const [leftGone, leftCame] = [goneIds.filter((id) => !continuation.has(id)), cameIds.filter((id) => !continues.has(id))];
  if (leftGone.length > 0 && leftCame.length > 0) {
    const { rows: shared } = await db.query<{ from_id: number; to_id: number }>(
      `SELECT o.id AS from_id, n.id AS to_id FROM ${relOf(a)} o JOIN ${relOf(b)} n ON o.geom && n.geom
       WHERE o.id = ANY($1::int[]) AND n.id = ANY($2::int[]) AND ST_Intersects(o.geom, n.geom)
         AND ST_Area(ST_Intersection(o.geom, n.geom)) > 0.5 * GREATEST(ST_Area(o.geom), ST_Area(n.geom))
       ORDER BY 1, 2`,
      [leftGone, leftCame],
    );
    for (const r of shared) {
      if (continuation.has(r.from_id) || continues.has(r.to_id)) continue;
      continuation.set(r.from_id, r.to_id);
      continues.add(r.to_id);
    }
  }
  for (const [from, to] of continuation) compare(ma.get(from)!, mb.get(to)!);
  const added = gb.filter((g) => came.has(g.id) && !continues.has(g.id));
  const removed = ga.filter((g) => gone.has(g.id) && !continuation.has(g.id));
  const name = (id: number | null, m: Map<number, GridRow>) => {
    const g = id === null ? undefined : m.get(id);
    return g ? { id: g.id, code: g.code, name: g.name } : null;
  };
  const moves: PlanComparison['moves'] = [];
  let movedHouseholds = 0;
  for (const r of rows) {
    if (stays.has(r)) continue;
    movedHouseholds += r.n;
    if (moves.length < MAX_MOVES) moves.push({ from: name(r.from_id, ma), to: name(r.to_id, mb), households: r.n });
  }
  // Each grid judged by its own district's rules (a city's grids by several), the district found by its village.
  const district = await districtOf(db, regionId);
  const villages = [...new Set([...ga, ...gb].map((g) => g.parent_id))];
  const { rows: homes } = district
    ? { rows: villages.map((v) => ({ village: v, district: district.id })) }
    : await db.query<{ village: number; district: number }>(
        `SELECT v.id AS village, d.id AS district FROM unnest($1::int[]) AS v(id)
         JOIN LATERAL (SELECT a.id FROM gp_ancestors(ARRAY[v.id]) a JOIN region r ON r.id = a.id WHERE r.level = 'district' LIMIT 1) d ON true`,
        [villages],
      );
  const districtOfVillage = new Map(homes.map((h) => [h.village, h.district]));
  const rulesOf = new Map<number, Map<string, { min: number; max: number }>>();
  for (const d of new Set(districtOfVillage.values())) rulesOf.set(d, new Map((await districtRules(db, d)).map((r) => [r.gridType, r])));
  const ruleOf = (g: GridRow) => (g.grid_type ? rulesOf.get(districtOfVillage.get(g.parent_id) ?? -1)?.get(g.grid_type) : undefined);
  const figures = (side: PlanSide, gs: GridRow[]): SideFigures => {
    const households = gs.reduce((s, g) => s + g.households, 0);
    const judged = gs.filter((g) => ruleOf(g) !== undefined);
    const ok = judged.filter((g) => g.households >= ruleOf(g)!.min && g.households <= ruleOf(g)!.max);
    return {
      label: side.label,
      grids: gs.length,
      households,
      perGrid: gs.length ? Math.round((10 * households) / gs.length) / 10 : null,
      inRange: judged.length ? Math.round((1000 * ok.length) / judged.length) / 1000 : null,
    };
  };
  return {
    regionId,
    a: figures(a, ga),
    b: figures(b, gb),
    added: added.slice(0, MAX_FEATURES).map(feature),
    removed: removed.slice(0, MAX_FEATURES).map(feature),
    changed: changed.slice(0, MAX_FEATURES),
    moves,
    movedHouseholds,
  };
}

import type { InfeasibleReason } from '../domain/autosplit.ts';
import { childCode, childName } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';
import { planGrids, type AutosplitOptions, type PlannedGrid, type PlannedVillage } from './autosplit-plan.ts';
import { assignHouseholds, recountHouseholdsAround } from './households.ts';
import { reassignIncidentsIn } from './incidents.ts';
import { lockRegions, recordOperation, snapshots, type ChangeRow } from './region-store.ts';

export interface AutosplitSummary {
  villages: number;
  grids: number;
  households: number;
  withinRange: number;
  /** Share of grids within their type's range (1 = all). */
  withinRangeShare: number;
  minHouseholds: number;
  maxHouseholds: number;
  meanCompactness: number;
  barrierCrossings: number;
  /** Grids with straight borders (the rest follow the houses where straight ones would leave the range). */
  straightGrids: number;
  /** Corners per grid outline, on average (fewer: simpler borders to walk and to sign). */
  meanVertices: number;
  /** Border drawn inside the area, in metres, and the share of it running along a road, river or other line. */
  borderM: number;
  borderOnBarrierShare: number;
  /** Workload (households + weight × incidents of the last 12 months) per grid: least, most, and spread (coefficient of variation). */
  minWorkload: number;
  maxWorkload: number;
  workloadCv: number;
  /** The widest grid's span, corner to corner (m). */
  widestM: number;
  /** Incidents of the last 12 months in the area (null: the workload was not asked for). */
  incidents: number | null;
  /**
   * Households that would change grid: in each proposed grid, those not in the current grid most of
   * them are in now (a household in a village without grids changes too) — the number a county announces.
   */
  householdsMoved: number;
  /** The proposal divides exactly as the current grids do (nothing would change). */
  unchanged: boolean;
  /** Grids left as they are (asked for, or meeting their rule when rebalancing). */
  kept: number;
  /** Grids that met their rule but joined a neighbouring remainder too small to be a grid alone (rebalancing). */
  released: number;
  /** Grids that cannot be made to their rule, each with its village's name (the list is read without the map). */
  infeasible: { ord: number; villageId: number; village: string; reason: InfeasibleReason; households: number }[];
  /** Villages typed by their names (none set, no grids to show it): how many as residential communities, how many as rural. */
  typedByName: { residential: number; rural: number };
  elapsedMs: number;
}

export interface ProposedGrid extends PlannedGrid {
  villageCode: string;
  villageName: string;
  /** The grid's id once committed. */
  id?: number;
}

export interface AutosplitResult {
  proposal: { type: 'FeatureCollection'; features: { type: 'Feature'; id: number; properties: ProposedGrid; geometry: unknown }[] };
  summary: AutosplitSummary;
  /** On commit: the change-log operation (undo reverts it) and the new grids' ids. */
  committed?: { op: number; ids: number[] };
}

/** Proposes a division of every village in or under `regionId`; with `commit`, replaces their grids in the caller's transaction. */
export async function autosplit(tx: Queryable, regionId: number, options: AutosplitOptions & { commit?: boolean; actor?: string }): Promise<AutosplitResult> {
  const started = performance.now();
  if (options.commit) await lockRegions(tx, [regionId]);
  const { villages, grids, keep, released } = await planGrids(tx, regionId, options);
  const change = await changeAgainstCurrent(tx, options.householdTable ?? 'household');
  const committed = options.commit ? await replaceGrids(tx, options.actor ?? 'anonymous', villages, grids, keep) : undefined;
  const { rows } = await tx.query<{ ord: number; geometry: unknown }>('SELECT ord, ST_AsGeoJSON(geom, 7)::json AS geometry FROM autosplit_grid ORDER BY ord');
  const geometry = new Map(rows.map((r) => [r.ord, r.geometry]));
  const village = new Map(villages.map((v) => [v.id, v]));
  const features = grids.map((g): AutosplitResult['proposal']['features'][number] => ({
    type: 'Feature' as const,
    id: g.ord,
    properties: {
      ...g,
      villageCode: village.get(g.villageId)!.code,
      villageName: village.get(g.villageId)!.name,
      compactness: round(g.compactness, 3),
      areaM2: Math.round(g.areaM2),
      ...(committed ? { id: committed.ids[g.ord - 1]! } : {}),
    },
    geometry: geometry.get(g.ord),
  }));
  return {
    proposal: { type: 'FeatureCollection', features },
    summary: {
      ...summarise(villages, grids, started),
      ...change,
      meanVertices: meanVertices(rows.map((r) => r.geometry)),
      kept: keep.length,
      released: released.length,
    },
    ...(committed ? { committed } : {}),
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function borders(grids: PlannedGrid[]): Pick<AutosplitSummary, 'borderM' | 'borderOnBarrierShare'> {
  const border = grids.reduce((s, g) => s + (g.borderM ?? 0), 0);
  const off = grids.reduce((s, g) => s + (g.offBarrierM ?? 0), 0);
  // Each border between two grids counts in both: halved, it is the length a planner would draw.
  return { borderM: Math.round(border / 2), borderOnBarrierShare: border > 0 ? round((border - off) / border, 3) : 0 };
}

function workloads(grids: PlannedGrid[]): Pick<AutosplitSummary, 'minWorkload' | 'maxWorkload' | 'workloadCv' | 'incidents'> {
  const w = grids.map((g) => g.workload);
  if (w.length === 0) return { minWorkload: 0, maxWorkload: 0, workloadCv: 0, incidents: grids.length && grids[0]!.incidents === null ? null : 0 };
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
  return {
    minWorkload: Math.min(...w),
    maxWorkload: Math.max(...w),
    workloadCv: mean > 0 ? round(sd / mean, 3) : 0,
    incidents: grids[0]!.incidents === null ? null : grids.reduce((s, g) => s + (g.incidents ?? 0), 0),
  };
}

/**
 * How far the plan in `autosplit_grid` is from the grids the households are in now. Each current
 * grid continues as at most one proposed grid (the one sharing most households with it, greedily,
 * as its worker follows it); every household not in its grid's continuation changes grid.
 */
async function changeAgainstCurrent(tx: Queryable, table: 'household' | 'seed_household'): Promise<{ householdsMoved: number; unchanged: boolean }> {
  if (table !== 'household') return { householdsMoved: 0, unchanged: false }; // the seed: no grids yet
  const { rows: pairs } = await tx.query<{ planned: number; now: number | null; n: number }>(
    `SELECT planned, now, count(*)::int AS n FROM (
       SELECT DISTINCT ON (h.id) h.id, a.ord AS planned, CASE WHEN r.level = 'grid' THEN r.id END AS now
       FROM household h JOIN autosplit_grid a ON a.geom && h.geom AND ST_Intersects(a.geom, h.geom) LEFT JOIN region r ON r.id = h.region_id
       ORDER BY h.id, a.ord) AS h
     GROUP BY planned, now ORDER BY n DESC, planned, now`,
  );
  const {
    rows: [r],
  } = await tx.query<{ planned: number; grids_now: number }>(
    `SELECT (SELECT count(*)::int FROM autosplit_grid) AS planned,
            (SELECT count(*)::int FROM region g WHERE g.level = 'grid' AND g.parent_id IN (SELECT DISTINCT village_id FROM autosplit_grid)) AS grids_now`,
  );
  const total = pairs.reduce((s, p) => s + p.n, 0);
  const continued = new Set<number>();
  const continues = new Set<number>();
  let stay = 0;
  for (const p of pairs) {
    if (p.now === null || continued.has(p.now) || continues.has(p.planned)) continue;
    continued.add(p.now);
    continues.add(p.planned);
    stay += p.n;
  }
  const moved = total - stay;
  const current = new Set(pairs.map((p) => p.now)).size;
  const unchanged = moved === 0 && pairs.length === r!.planned && current === r!.planned && r!.grids_now === r!.planned;
  return { householdsMoved: moved, unchanged };
}

/** Corners per outline (rings' points less the closing one), on average. */
function meanVertices(geometries: unknown[]): number {
  let corners = 0;
  for (const g of geometries as ({ type: string; coordinates: unknown } | null)[]) {
    const polygons = (g?.type === 'Polygon' ? [g.coordinates] : g?.type === 'MultiPolygon' ? g.coordinates : []) as number[][][][];
    for (const poly of polygons) for (const ring of poly) corners += ring.length - 1;
  }
  return geometries.length ? round(corners / geometries.length, 1) : 0;
}

function summarise(
  villages: PlannedVillage[],
  grids: PlannedGrid[],
  started: number,
): Omit<AutosplitSummary, 'householdsMoved' | 'unchanged' | 'meanVertices' | 'kept' | 'released'> {
  const within = grids.filter((g) => g.status === 'within').length;
  const counts = grids.map((g) => g.households);
  return {
    villages: villages.length,
    grids: grids.length,
    households: counts.reduce((a, b) => a + b, 0),
    withinRange: within,
    withinRangeShare: grids.length ? round(within / grids.length, 4) : 1,
    minHouseholds: counts.length ? Math.min(...counts) : 0,
    maxHouseholds: counts.length ? Math.max(...counts) : 0,
    meanCompactness: grids.length ? round(grids.reduce((s, g) => s + g.compactness, 0) / grids.length, 3) : 0,
    barrierCrossings: grids.filter((g) => g.crossesBarrier).length,
    ...borders(grids),
    widestM: grids.reduce((w, g) => Math.max(w, g.widthM), 0),
    ...workloads(grids),
    straightGrids: grids.filter((g) => g.straight).length,
    infeasible: grids
      .filter((g) => g.reason)
      .map((g) => ({
        ord: g.ord,
        villageId: g.villageId,
        village: villages.find((v) => v.id === g.villageId)?.name ?? '',
        reason: g.reason!,
        households: g.households,
      })),
    typedByName: {
      residential: villages.filter((v) => v.typeByName && v.gridType === 'residential').length,
      rural: villages.filter((v) => v.typeByName && v.gridType === 'rural').length,
    },
    elapsedMs: Math.round(performance.now() - started),
  };
}

/**
 * Replaces the villages' grids (all but `keep`) with the planned ones: each new grid continuing an
 * old one of its village (sharing most households with it, greedily, as the change's own count
 * pairs them) keeps that grid's number and so its code and name — and the name a planner gave it and
 * its notes (accepting a split had silently dropped 银湾村第2网格（河东片） and its 备注) — the others take the lowest free;
 * each old grid's worker to the new grid holding most of its households, each new grid's other staff
 * from the old grid most of its households come from, households re-pointed, one
 * change-log operation (old grids removed first, so undo re-creates them after deleting the new).
 */
async function replaceGrids(
  tx: Queryable,
  actor: string,
  villages: PlannedVillage[],
  grids: PlannedGrid[],
  keep: number[],
): Promise<{ op: number; ids: number[] }> {
  const villageIds = villages.map((v) => v.id);
  await lockRegions(tx, villageIds);
  const { rows: old } = await tx.query<{ id: number }>(
    'SELECT id FROM region WHERE parent_id = ANY($1::int[]) AND NOT id = ANY($2::int[]) ORDER BY id FOR UPDATE',
    [villageIds, keep],
  );
  const before = await snapshots(
    tx,
    old.map((r) => r.id),
  );
  const { workerOf, staffOf, continues } = await placePeople(
    tx,
    old.map((r) => r.id),
  );
  const { rows: oldNumbers } = await tx.query<{ id: number; parent_id: number; n: number | null; name: string; notes: string | null }>(
    `SELECT id, parent_id, substring(code FROM '-(\\d+)$')::int AS n, name, notes FROM region WHERE id = ANY($1::int[])`,
    [old.map((r) => r.id)],
  );
  const numberOf = new Map(oldNumbers.map((r) => [r.id, r]));
  await tx.query('DELETE FROM region WHERE id = ANY($1::int[])', [old.map((r) => r.id)]);
  const { rows: used } = await tx.query<{ parent_id: number; n: number }>(
    `SELECT parent_id, substring(code FROM '-(\\d+)$')::int AS n FROM region WHERE parent_id = ANY($1::int[])`,
    [villageIds],
  );
  const village = new Map(villages.map((v) => [v.id, v]));
  const taken = new Map<number, Set<number>>(villageIds.map((id) => [id, new Set(used.filter((u) => u.parent_id === id).map((u) => u.n))]));
  // the continuations' numbers first, then the lowest free for the rest
  const kept = new Map<number, number>();
  for (const g of grids) {
    const was = numberOf.get(continues.get(g.ord) ?? -1);
    const t = taken.get(g.villageId)!;
    if (!was || was.n === null || was.parent_id !== g.villageId || t.has(was.n)) continue;
    kept.set(g.ord, was.n);
    t.add(was.n);
  }
  const rows = grids.map((g) => {
    const v = village.get(g.villageId)!;
    const t = taken.get(v.id)!;
    let n = kept.get(g.ord) ?? 1;
    if (!kept.has(g.ord)) while (t.has(n)) n++;
    t.add(n);
    // the grid it continues, in its village: a name of the planner's own (not its number's) and its notes go on
    const was = numberOf.get(continues.get(g.ord) ?? -1);
    const same = was && was.parent_id === v.id ? was : null;
    const own = same && (same.n === null || same.name !== childName(v.name, 'grid', same.n)) ? same.name : null;
    return {
      ord: g.ord,
      parent: v.id,
      code: childCode(v.code, 'grid', n),
      name: own ?? childName(v.name, 'grid', n),
      type: g.gridType,
      worker: workerOf.get(g.ord) ?? null,
      notes: same?.notes ?? '',
    };
  });
  const { rows: created } = await tx.query<{ id: number; code: string }>(
    `WITH t AS (SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[]) AS t(ord, parent_id, code, name,
      grid_type, worker_id, notes))
     INSERT INTO region (parent_id, level, code, name, grid_type, worker_id, notes, geom)
     SELECT t.parent_id, 'grid', t.code, t.name, t.grid_type, t.worker_id, t.notes, g.geom
     FROM t JOIN autosplit_grid g ON g.ord = t.ord ORDER BY t.ord
     RETURNING id, code`,
    [
      rows.map((r) => r.ord),
      rows.map((r) => r.parent),
      rows.map((r) => r.code),
      rows.map((r) => r.name),
      rows.map((r) => r.type),
      rows.map((r) => r.worker),
      rows.map((r) => r.notes),
    ],
  );
  const idOf = new Map(created.map((c) => [c.code, c.id]));
  const ids = rows.map((r) => idOf.get(r.code)!);
  const staffed = rows.flatMap((r) => (staffOf.get(r.ord) ?? []).map((m) => ({ grid: idOf.get(r.code)!, ...m })));
  await tx.query(`INSERT INTO grid_staff (grid_id, worker_id, role) SELECT * FROM unnest($1::int[], $2::int[], $3::text[]) ON CONFLICT DO NOTHING`, [
    staffed.map((m) => m.grid),
    staffed.map((m) => m.workerId),
    staffed.map((m) => m.role),
  ]);
  // Households of the villages (not of kept grids) point at the new grid containing them.
  await tx.query(
    `UPDATE household h SET region_id = r.id
     FROM region r
     WHERE r.id = ANY($1::int[]) AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)
       AND (h.region_id IS NULL OR h.region_id = ANY($2::int[]))`,
    [ids, villageIds],
  );
  await assignHouseholds(tx, true);
  // The new grids too: their incidents are joined to them at once; given the villages alone, every
  // incident in them was looked up on its own (the largest township's 32,000: 3 s of a 6 s split).
  await reassignIncidentsIn(tx, [...ids, ...villageIds]);
  await recountHouseholdsAround(tx, [...ids, ...villageIds]);
  const after = await snapshots(tx, ids);
  const changes: ChangeRow[] = [
    ...before.map((b) => ({ entityId: b.id, before: b, after: null })),
    ...after.map((a) => ({ entityId: a.id, before: null, after: a })),
  ];
  const op = await recordOperation(tx, actor, 'autosplit', changes);
  return { op, ids };
}

/**
 * Where the old grids' people go, from one pass over the households.
 * - Each old grid's worker moves to the new grid holding most of the old grid's households; workers
 *   left over (their households went to grids already staffed) take the nearest unstaffed grid.
 * - The rest of each new grid's people (网格长, police officer, instructor, part-time members…) are
 *   those of the old grid most of its households came from, else of the nearest old grid. One person
 *   may so serve two of the new grids, as a village's cadre or police officer often does.
 */
async function placePeople(
  tx: Queryable,
  oldIds: number[],
): Promise<{ workerOf: Map<number, number>; staffOf: Map<number, { workerId: number; role: string }[]>; continues: Map<number, number> }> {
  const { rows: shared } = await tx.query<{ old: number; worker_id: number | null; ord: number; n: number }>(
    `SELECT o.id AS old, min(o.worker_id) AS worker_id, g.ord, count(*)::int AS n
     FROM household h JOIN region o ON o.id = h.region_id JOIN autosplit_grid g ON g.geom && h.geom AND ST_Intersects(g.geom, h.geom)
     WHERE o.id = ANY($1::int[]) GROUP BY o.id, g.ord`,
    [oldIds],
  );
  const { rows: near } = await tx.query<{ old: number; worker_id: number | null; ord: number }>(
    `SELECT o.id AS old, o.worker_id, g.ord FROM region o JOIN autosplit_grid g ON g.village_id = o.parent_id
     WHERE o.id = ANY($1::int[])
     ORDER BY ST_Distance(ST_PointOnSurface(o.geom), ST_PointOnSurface(g.geom)), o.worker_id, g.ord`,
    [oldIds],
  );
  // workers: households shared per worker and new grid, most first
  const perWorker = new Map<string, { worker_id: number; ord: number; n: number }>();
  for (const r of shared) {
    if (r.worker_id === null) continue;
    const key = `${r.worker_id}:${r.ord}`;
    const had = perWorker.get(key);
    perWorker.set(key, { worker_id: r.worker_id, ord: r.ord, n: (had?.n ?? 0) + r.n });
  }
  const byShare = [...perWorker.values()].sort((x, y) => y.n - x.n || x.worker_id - y.worker_id || x.ord - y.ord);
  const workerOf = new Map<number, number>();
  const placed = new Set<number>();
  for (const s of [...byShare, ...near.filter((r) => r.worker_id !== null)] as { worker_id: number; ord: number }[]) {
    if (workerOf.has(s.ord) || placed.has(s.worker_id)) continue;
    workerOf.set(s.ord, s.worker_id);
    placed.add(s.worker_id);
  }
  // the other staff: from the old grid each new grid shares most households with, else the nearest
  const { rows: staff } = await tx.query<{ grid_id: number; worker_id: number; role: string }>(
    'SELECT grid_id, worker_id, role FROM grid_staff WHERE grid_id = ANY($1::int[]) ORDER BY grid_id, role, worker_id',
    [oldIds],
  );
  const staffOf = new Map<number, { workerId: number; role: string }[]>();
  if (staff.length > 0) {
    const from = new Map<number, number>();
    for (const r of [...[...shared].sort((x, y) => y.n - x.n || x.old - y.old || x.ord - y.ord), ...near]) if (!from.has(r.ord)) from.set(r.ord, r.old);
    for (const [ord, old] of from)
      staffOf.set(
        ord,
        staff.filter((m) => m.grid_id === old).map((m) => ({ workerId: m.worker_id, role: m.role })),
      );
  }
  // each old grid continues as at most one new grid: the one sharing most of its households, greedily
  const continues = new Map<number, number>();
  const continued = new Set<number>();
  for (const r of [...shared].sort((x, y) => y.n - x.n || x.ord - y.ord || x.old - y.old)) {
    if (continues.has(r.ord) || continued.has(r.old)) continue;
    continues.set(r.ord, r.old);
    continued.add(r.old);
  }
  return { workerOf, staffOf, continues };
}

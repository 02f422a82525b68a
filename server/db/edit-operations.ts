import { InputError } from '../domain/errors.ts';
import type { MultiPolygonCoords } from '../domain/geojson-input.ts';
import { childLevel, childName } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';
import { clipToFreeSpace, difference, measureAgainstSiblings, prepareGeometry, sharedBorderM, splitByLine, union, type Wkb } from './geometry-ops.ts';
import { reassignHouseholdsIn, recountHouseholdsAround } from './households.ts';
import { reassignIncidentsIn } from './incidents.ts';
import {
  assertNoChildren,
  assertStaff,
  assertWorker,
  checkVersion,
  lockRegions,
  nextChildCodes,
  recordOperation,
  snapshots,
  writeStaff,
  type ChangeRow,
  type RegionSnapshot,
  type StaffMember,
} from './region-store.ts';

/** Tolerances of the editor: borders within `snapMeters` snap together; overlaps and leftovers under `toleranceM2` are slivers. */
export interface EditTolerances {
  snapMeters: number;
  toleranceM2: number;
}
export const DEFAULT_TOLERANCES: EditTolerances = { snapMeters: 0.5, toleranceM2: 1 };

export interface EditResult {
  op: number;
  /** Regions the operation created or changed (the caller returns them). */
  ids: number[];
  /** Areas left uncovered by the operation, in m² (a shrunk grid whose freed area touches no sibling). */
  gapM2: number;
}

const setGeometry = (tx: Queryable, id: number, wkb: Wkb) =>
  tx.query(`UPDATE region SET geom = ST_GeomFromEWKB(decode($2, 'hex')), version = version + 1, updated_at = now() WHERE id = $1`, [id, wkb]);

/** Households follow the geometry and the counts follow the households, in the same transaction. */
export async function settleHouseholds(tx: Queryable, touched: number[], parents: number[]): Promise<void> {
  await reassignHouseholdsIn(tx, touched);
  await reassignIncidentsIn(tx, touched);
  const { rows } = await tx.query<{ id: number }>('SELECT id FROM region WHERE id = ANY($1::int[])', [touched]);
  await recountHouseholdsAround(tx, [...rows.map((r) => r.id), ...parents]);
}

async function finish(
  tx: Queryable,
  actor: string,
  action: string,
  before: RegionSnapshot[],
  touched: number[],
  parents: number[],
  gapM2 = 0,
  moved = true,
): Promise<EditResult> {
  // Only a change of geometry moves households and incidents between regions.
  if (moved) await settleHouseholds(tx, touched, parents);
  const after = new Map((await snapshots(tx, touched)).map((s) => [s.id, s]));
  const beforeById = new Map(before.map((s) => [s.id, s]));
  const changes: ChangeRow[] = touched.map((id) => ({ entityId: id, before: beforeById.get(id) ?? null, after: after.get(id) ?? null }));
  const op = await recordOperation(tx, actor, action, changes);
  return { op, ids: touched.filter((id) => after.has(id)), gapM2 };
}

export interface CreateInput {
  parentId: number;
  coordinates: MultiPolygonCoords;
  name?: string | undefined;
  code?: string | undefined;
  gridType?: string | null | undefined;
  workerId?: number | null | undefined;
  notes?: string | undefined;
  clip?: boolean | undefined;
}

/** A new child region; refused when it leaves the parent or overlaps siblings, unless clipped to the free space. */
export async function createRegion(tx: Queryable, actor: string, input: CreateInput, tol = DEFAULT_TOLERANCES): Promise<EditResult> {
  const [parent] = await lockRegions(tx, [input.parentId], 'parentId');
  const level = childLevel(parent!.level);
  if (!level) throw new InputError('no_child_level', `${parent!.name} is a grid; grids have no children`, 'parentId');
  await assertWorker(tx, input.workerId);
  let wkb = await prepareGeometry(tx, input.coordinates, { parentId: parent!.id, selfId: null, snapMeters: tol.snapMeters });
  if (input.clip) {
    const clipped = await clipToFreeSpace(tx, wkb, parent!.id, null, tol.toleranceM2);
    if (!clipped.wkb)
      throw new InputError('empty_after_clip', `nothing of the drawn shape is left inside ${parent!.name} once its other children are cut away`, 'geometry');
    if (level === 'grid' && clipped.parts > 1) {
      throw new InputError('would_be_multipart', `clipped to the free space, the shape falls into ${clipped.parts} pieces; a grid is one polygon`, 'geometry');
    }
    wkb = clipped.wkb;
  } else {
    await refuseOverlaps(tx, wkb, parent!, null, tol);
  }
  const { code, n } = input.code ? { code: input.code, n: 0 } : (await nextChildCodes(tx, parent!, level, 1))[0]!;
  const name = input.name ?? childName(parent!.name, level, n);
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO region (parent_id, level, code, name, grid_type, worker_id, notes, geom)
     VALUES ($1, $2, $3, $4, $5, $6, $7, ST_GeomFromEWKB(decode($8, 'hex'))) RETURNING id`,
    [parent!.id, level, code, name, input.gridType ?? (level === 'grid' ? parent!.gridType : null), input.workerId ?? null, input.notes ?? '', wkb],
  );
  return finish(tx, actor, 'create', [], [rows[0]!.id], [parent!.id]);
}

async function refuseOverlaps(tx: Queryable, wkb: Wkb, parent: RegionSnapshot, selfId: number | null, tol: EditTolerances): Promise<void> {
  const { outsideM2, overlaps } = await measureAgainstSiblings(tx, wkb, parent.id, selfId, tol.toleranceM2);
  if (outsideM2 > tol.toleranceM2) {
    throw new InputError('outside_parent', `${Math.round(outsideM2)} m² of the shape lie outside ${parent.name}`, 'geometry', { outsideM2 });
  }
  if (overlaps.length > 0) {
    const names = overlaps.map((o) => `${o.name} (${o.areaM2} m²)`).join(', ');
    throw new InputError('overlaps_siblings', `the shape overlaps ${names}; pass clip: true to keep only the free part`, 'geometry', { overlaps });
  }
}

export interface UpdateInput {
  version: number;
  coordinates?: MultiPolygonCoords | undefined;
  name?: string | undefined;
  gridType?: string | null | undefined;
  workerId?: number | null | undefined;
  notes?: string | undefined;
  /** The grid's staff besides its full-time worker: replaces the list. */
  staff?: StaffMember[] | undefined;
  /** `adjust` (default): neighbours give up what the new shape takes and receive what it frees. `keep`: refuse overlaps. */
  neighbours?: 'adjust' | 'keep' | undefined;
}

/**
 * Changes a region's properties and geometry. With a new geometry, the shared border moves for
 * both sides: each overlapped sibling loses the overlap, and each freed piece joins the sibling
 * sharing the longest border with it (or is reported as a gap).
 */
export async function updateRegion(tx: Queryable, actor: string, id: number, input: UpdateInput, tol = DEFAULT_TOLERANCES): Promise<EditResult> {
  const [region] = await lockRegions(tx, [id]);
  checkVersion(region!, input.version);
  await assertWorker(tx, input.workerId);
  await tx.query(
    `UPDATE region SET name = coalesce($2, name), grid_type = CASE WHEN $3 THEN $4 ELSE grid_type END,
       worker_id = CASE WHEN $5 THEN $6::int ELSE worker_id END, notes = coalesce($7, notes), version = version + 1, updated_at = now()
     WHERE id = $1`,
    [id, input.name ?? null, input.gridType !== undefined, input.gridType ?? null, input.workerId !== undefined, input.workerId ?? null, input.notes ?? null],
  );
  if (input.staff) {
    await assertStaff(tx, region!, input.staff);
    await writeStaff(tx, id, input.staff);
  }
  if (!input.coordinates) return finish(tx, actor, 'update', [region!], [id], [], 0, false);
  if (region!.parentId === null) throw new InputError('no_parent', 'a district outline is replaced by importing it, not edited', 'geometry');
  const [parent] = await lockRegions(tx, [region!.parentId], 'id');
  const wkb = await prepareGeometry(tx, input.coordinates, { parentId: parent!.id, selfId: id, snapMeters: tol.snapMeters });
  if (input.neighbours === 'keep') {
    await refuseOverlaps(tx, wkb, parent!, id, tol);
    await setGeometry(tx, id, wkb);
    return finish(tx, actor, 'update', [region!], [id], [parent!.id]);
  }
  const { outsideM2, overlaps } = await measureAgainstSiblings(tx, wkb, parent!.id, id, tol.toleranceM2);
  if (outsideM2 > tol.toleranceM2) {
    throw new InputError('outside_parent', `${Math.round(outsideM2)} m² of the new shape lie outside ${parent!.name}`, 'geometry', { outsideM2 });
  }
  const neighbours = await lockRegions(
    tx,
    overlaps.map((o) => o.id),
  );
  const shapes = new Map<number, Wkb>();
  for (const n of neighbours) {
    const rest = await difference(tx, n.wkb, wkb, tol.toleranceM2);
    if (!rest.wkb)
      throw new InputError('neighbour_would_vanish', `the new shape would cover all of ${n.name} (${n.code}); merge them instead`, 'geometry', {
        id: n.id,
      });
    if (n.level === 'grid' && rest.parts > 1) {
      throw new InputError('neighbour_would_split', `the new shape would cut ${n.name} (${n.code}) into ${rest.parts} pieces`, 'geometry', { id: n.id });
    }
    shapes.set(n.id, rest.wkb);
  }
  // Freed pieces: what the old shape covered and the new one does not.
  const freed = await difference(tx, region!.wkb, wkb, tol.toleranceM2);
  let gapM2 = 0;
  if (freed.wkb) {
    const candidates = await tx.query<{ id: number }>(
      `SELECT id FROM region WHERE parent_id = $1 AND id <> $2 AND geom && ST_GeomFromEWKB(decode($3, 'hex')) ORDER BY id`,
      [parent!.id, id, freed.wkb],
    );
    const extra = await lockRegions(
      tx,
      candidates.rows.map((r) => r.id).filter((c) => !shapes.has(c)),
    );
    for (const e of extra) shapes.set(e.id, e.wkb);
    const { rows: pieces } = await tx.query<{ wkb: Wkb; area: number }>(
      `SELECT encode(ST_AsEWKB(ST_Multi(d.geom)), 'hex') AS wkb, gp_area_m2(d.geom) AS area FROM ST_Dump(ST_GeomFromEWKB(decode($1, 'hex'))) AS d`,
      [freed.wkb],
    );
    for (const piece of pieces) {
      let best: { id: number; m: number } | null = null;
      for (const [nid, shape] of shapes) {
        const m = await sharedBorderM(tx, piece.wkb, shape);
        if (m > 0 && (!best || m > best.m)) best = { id: nid, m };
      }
      if (!best) {
        gapM2 += piece.area;
        continue;
      }
      shapes.set(best.id, (await union(tx, [shapes.get(best.id)!, piece.wkb])).wkb!);
    }
  }
  const before = [region!, ...neighbours];
  const originals = new Map([...neighbours, ...(await snapshots(tx, [...shapes.keys()]))].map((s) => [s.id, s]));
  const changed = [...shapes.entries()].filter(([nid, shape]) => shape !== originals.get(nid)?.wkb);
  for (const [nid, shape] of changed) {
    if (!before.some((b) => b.id === nid)) before.push(originals.get(nid)!);
    await setGeometry(tx, nid, shape);
  }
  await setGeometry(tx, id, wkb);
  return finish(tx, actor, 'update', before, [id, ...changed.map(([nid]) => nid)], [parent!.id], gapM2);
}

/** Cuts a region along a line: the largest part keeps the region, each other part becomes a new sibling. */
export async function splitRegion(tx: Queryable, actor: string, id: number, version: number, line: [number, number][]): Promise<EditResult> {
  const [region] = await lockRegions(tx, [id]);
  checkVersion(region!, version);
  await assertNoChildren(tx, region!);
  if (region!.parentId === null) throw new InputError('no_parent', 'a district is not split here', 'id');
  const parts = await splitByLine(tx, region!.wkb, line);
  if (parts.length < 2)
    throw new InputError('line_does_not_cut', `the line does not cut ${region!.name} (${region!.code}) in two: draw it across the whole region`, 'line');
  const [parent] = await lockRegions(tx, [region!.parentId]);
  await setGeometry(tx, id, parts[0]!);
  const codes = await nextChildCodes(tx, parent!, region!.level, parts.length - 1);
  // a grid named as the plan names them (龙冲村第6网格) names its new pieces by their codes (…0008: 龙冲村第8网格), not
  // 第6网格-2 beside a code ending 0008; a name of its own (幸福小区) gets -2, -3
  const numbered = region!.level === 'grid' && /^(.*)第\d+网格$/.exec(region!.name);
  const nameOf = (i: number) => (numbered ? `${numbered[1]}第${codes[i]!.n}网格` : `${region!.name}-${i + 2}`);
  const created: number[] = [];
  for (const [i, wkb] of parts.slice(1).entries()) {
    const { rows } = await tx.query<{ id: number }>(
      `INSERT INTO region (parent_id, level, code, name, grid_type, notes, geom)
       VALUES ($1, $2, $3, $4, $5, '', ST_GeomFromEWKB(decode($6, 'hex'))) RETURNING id`,
      [parent!.id, region!.level, codes[i]!.code, nameOf(i), region!.gridType, wkb],
    );
    created.push(rows[0]!.id);
  }
  return finish(tx, actor, 'split', [region!], [id, ...created], [parent!.id]);
}

/** Merges adjacent siblings into the first of them; the others are deleted. */
export async function mergeRegions(tx: Queryable, actor: string, ids: number[], versions: number[]): Promise<EditResult> {
  if (new Set(ids).size !== ids.length) throw new InputError('duplicate_ids', 'each region may be named once', 'ids');
  if (versions.length !== ids.length) throw new InputError('versions_mismatch', `${ids.length} ids but ${versions.length} versions`, 'versions');
  const regions = await lockRegions(tx, ids, 'ids');
  regions.forEach((r, i) => checkVersion(r, versions[i]!, `versions[${i}]`));
  const parent = regions[0]!.parentId;
  const stranger = regions.find((r) => r.parentId !== parent);
  if (stranger) throw new InputError('not_siblings', `${stranger.name} (${stranger.code}) has another parent than ${regions[0]!.name}`, 'ids');
  for (const r of regions) await assertNoChildren(tx, r);
  const merged = await union(
    tx,
    regions.map((r) => r.wkb),
  );
  if (merged.parts !== 1) throw new InputError('not_adjacent', `the regions form ${merged.parts} separate pieces: only regions sharing a border merge`, 'ids');
  const [keep, ...gone] = regions;
  await tx.query('DELETE FROM region WHERE id = ANY($1::int[])', [gone.map((r) => r.id)]);
  await setGeometry(tx, keep!.id, merged.wkb!);
  return finish(tx, actor, 'merge', regions, ids, parent === null ? [] : [parent]);
}

/** Deletes a region without children: its area becomes a gap in its parent. */
export async function deleteRegion(tx: Queryable, actor: string, id: number, version: number): Promise<EditResult> {
  const [region] = await lockRegions(tx, [id]);
  checkVersion(region!, version);
  await assertNoChildren(tx, region!);
  // what it leaves uncovered in its parent: all of it
  const { rows } = await tx.query<{ m2: number }>('DELETE FROM region WHERE id = $1 RETURNING ST_Area(geom::geography) AS m2', [id]);
  const gapM2 = region!.parentId === null ? 0 : Math.round(rows[0]?.m2 ?? 0);
  return finish(tx, actor, 'delete', [region!], [id], region!.parentId === null ? [] : [region!.parentId], gapM2);
}

/** A gap left along a parent's border no wider than this anywhere goes to the child sharing most of its border; wider parts stay gaps. */
export const SLIVER_WIDTH_M = 50;

export interface FitOutcome {
  /** Children cut back to the outline (at any depth). */
  clipped: number;
  /** Slivers of the outline no child covered, given to the child sharing most border with each. */
  absorbed: { pieces: number; m2: number };
  /** Pieces of children the outline cut apart, given to the neighbour sharing most border with each (the child keeps its largest). */
  moved: number;
  /** Wider gaps (or ones no child borders), left for the planner to draw or auto-split. */
  gaps: { pieces: number; m2: number };
  /** Children (at any depth) all or all but a sliver outside their parent's outline: left as they are. */
  outside: { id: number; name: string; code: string; parent: string }[];
}

interface Fitted extends FitOutcome {
  before: RegionSnapshot[];
  touched: number[];
  parents: number[];
}

/**
 * Fits the regions below `parentId` to its outline, level by level (a village's new 村界, its grids): each child is cut
 * back to the outline, and each gap it leaves along it narrower than SLIVER_WIDTH_M goes to the child sharing most of
 * its border (the wider parts of a gap stay gaps); a child that changed fits its own children in turn. Nothing is recorded: the caller keeps `before` for
 * its operation. Children outside the outline are left as they are (they belong elsewhere: the planner moves them).
 */
export async function fitUnder(tx: Queryable, parentIds: number[], tol: EditTolerances = DEFAULT_TOLERANCES): Promise<Fitted> {
  const out: Fitted = { clipped: 0, absorbed: { pieces: 0, m2: 0 }, moved: 0, gaps: { pieces: 0, m2: 0 }, outside: [], before: [], touched: [], parents: [] };
  const seen = new Set<number>();
  let level = [...new Set(parentIds)];
  for (let depth = 0; level.length > 0 && depth < 6; depth++) {
    const next: number[] = [];
    for (const parentId of level) {
      const kids = await tx.query<{ id: number }>('SELECT id FROM region WHERE parent_id = $1 ORDER BY id FOR UPDATE', [parentId]);
      if (kids.rows.length === 0) continue;
      out.parents.push(parentId);
      const changed = new Set<number>();
      const remember = async (ids: number[]) => {
        const fresh = ids.filter((id) => !seen.has(id));
        fresh.forEach((id) => seen.add(id));
        if (fresh.length) out.before.push(...(await snapshots(tx, fresh)));
      };
      // 1. each child cut back to the outline (what the coverage check would not flag is left alone)
      const { rows: cut } = await tx.query<{ id: number; name: string; code: string; parent: string; wkb: Wkb | null; m2: number }>(
        `WITH p AS (SELECT name, geom FROM region WHERE id = $1),
         k AS (SELECT k.id, k.name, k.code, k.geom FROM region k, p WHERE k.parent_id = $1 AND NOT ST_CoveredBy(k.geom, p.geom)),
         x AS (SELECT k.id, k.name, k.code, p.name AS parent, gp_area_m2(gp_difference(k.geom, p.geom)) AS out_m2,
                 ST_Multi(ST_CollectionExtract(ST_Intersection(k.geom, p.geom, gp_grid()), 3)) AS g
               FROM k, p)
         SELECT id, name, code, parent, encode(ST_AsEWKB(g), 'hex') AS wkb, gp_area_m2(g) AS m2 FROM x WHERE out_m2 > $2 ORDER BY id`,
        [parentId, tol.toleranceM2],
      );
      /** Parts of the outline given to a child: united with it. */
      const give = async (id: number, parts: Wkb[]) => {
        await remember([id]);
        await tx.query(
          `UPDATE region SET geom = ST_Multi(ST_CollectionExtract(ST_UnaryUnion(ST_Collect(geom,
             (SELECT ST_Collect(ST_GeomFromEWKB(decode(w, 'hex'))) FROM unnest($2::text[]) AS w)), gp_grid()), 3)),
             version = version + 1, updated_at = now() WHERE id = $1`,
          [id, parts],
        );
        changed.add(id);
      };
      for (const c of cut) {
        if (!c.wkb || c.m2 <= tol.toleranceM2) {
          out.outside.push({ id: c.id, name: c.name, code: c.code, parent: c.parent });
          continue;
        }
        await remember([c.id]);
        await setGeometry(tx, c.id, c.wkb);
        changed.add(c.id);
        out.clipped++;
      }
      // A child the outline cut in pieces (across a narrow neck) keeps its largest; each other piece goes to the sibling
      // sharing most border with it (else it stays): a grid in three parts is a coverage problem of its own.
      for (const c of cut.filter((x) => changed.has(x.id))) {
        const { rows: parts } = await tx.query<{ wkb: Wkb; best: number | null; len: number | null }>(
          `WITH part AS (SELECT d.geom, row_number() OVER (ORDER BY gp_area_m2(d.geom) DESC) AS r FROM region k, LATERAL ST_Dump(k.geom) AS d WHERE k.id = $1)
           SELECT encode(ST_AsEWKB(part.geom), 'hex') AS wkb, b.id AS best, b.len
           FROM part LEFT JOIN LATERAL (
             SELECT s.id, ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(part.geom), ST_Boundary(s.geom), gp_grid()), 2)::geography) AS len
             FROM region s WHERE s.parent_id = $2 AND s.id <> $1 AND s.geom && part.geom ORDER BY 2 DESC, s.id LIMIT 1) b ON true
           WHERE part.r > 1`,
          [c.id, parentId],
        );
        const moving = parts.filter((x) => x.best !== null && (x.len ?? 0) > 0);
        if (moving.length === 0) continue;
        await tx.query(
          `UPDATE region SET geom = ST_Multi(ST_CollectionExtract(gp_difference(geom,
             (SELECT ST_Collect(ST_GeomFromEWKB(decode(w, 'hex'))) FROM unnest($2::text[]) AS w)), 3)),
             version = version + 1, updated_at = now() WHERE id = $1`,
          [c.id, moving.map((x) => x.wkb)],
        );
        const to = new Map<number, Wkb[]>();
        for (const x of moving) to.set(x.best!, [...(to.get(x.best!) ?? []), x.wkb]);
        for (const [id, wkbs] of to) await give(id, wkbs);
        out.moved += moving.length;
      }
      // 2. the outline's parts no child covers: its narrow parts (no wider than SLIVER_WIDTH_M anywhere: what an opening of
      // half that radius takes away) each to the child sharing most border with it; the wide parts are left as gaps
      const { rows: pieces } = await tx.query<{ wkb: Wkb; m2: number; thin: boolean; best: number | null; len: number | null }>(
        `WITH p AS (SELECT geom FROM region WHERE id = $1),
         u AS (SELECT ST_Union(geom, gp_grid()) AS g FROM region WHERE parent_id = $1),
         gap AS (SELECT ST_CollectionExtract(gp_difference(p.geom, u.g), 3) AS g FROM p, u),
         wide AS (SELECT CASE WHEN ST_IsEmpty(gap.g) THEN gap.g
                    ELSE ST_CollectionExtract(ST_Intersection(gap.g,
                      ST_Buffer(ST_Buffer(gap.g::geography, -$2::float8)::geometry::geography, $2::float8)::geometry, gp_grid()), 3)
                  END AS g FROM gap),
         piece AS (SELECT d.geom AS g, true AS thin FROM gap, wide, LATERAL ST_Dump(ST_CollectionExtract(gp_difference(gap.g, wide.g), 3)) AS d
                   UNION ALL SELECT d.geom, false FROM wide, LATERAL ST_Dump(wide.g) AS d)
         SELECT encode(ST_AsEWKB(piece.g), 'hex') AS wkb, gp_area_m2(piece.g) AS m2, piece.thin, b.id AS best, b.len
         FROM piece LEFT JOIN LATERAL (
           SELECT k.id, ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(piece.g), ST_Boundary(k.geom), gp_grid()), 2)::geography) AS len
           FROM region k WHERE piece.thin AND k.parent_id = $1 AND k.geom && piece.g
           ORDER BY 2 DESC, k.id LIMIT 1) b ON true
         WHERE gp_area_m2(piece.g) > 0`,
        [parentId, SLIVER_WIDTH_M / 2],
      );
      const gifts = new Map<number, Wkb[]>();
      for (const piece of pieces) {
        if (piece.thin && piece.best !== null && (piece.len ?? 0) > 0) {
          gifts.set(piece.best, [...(gifts.get(piece.best) ?? []), piece.wkb]);
          out.absorbed.pieces++;
          out.absorbed.m2 += piece.m2;
        } else if (piece.m2 > tol.toleranceM2) {
          out.gaps.pieces++;
          out.gaps.m2 += piece.m2;
        }
      }
      for (const [id, parts] of gifts) await give(id, parts);
      out.touched.push(...changed);
      // a child whose outline changed fits its own children (a village's grids)
      next.push(...changed);
    }
    level = next;
  }
  out.absorbed.m2 = Math.round(out.absorbed.m2);
  out.gaps.m2 = Math.round(out.gaps.m2);
  out.touched = [...new Set(out.touched)];
  return out;
}

/**
 * The planner's 贴合边界: the regions below a region fitted to its outline (fitUnder), as one operation, with households
 * and cases filed again. `op` is null when nothing needed to change.
 */
export async function fitChildren(
  tx: Queryable,
  actor: string,
  id: number,
  version: number,
  tol = DEFAULT_TOLERANCES,
): Promise<Omit<EditResult, 'op'> & { op: number | null; fit: FitOutcome }> {
  const [region] = await lockRegions(tx, [id]);
  checkVersion(region!, version);
  const done = await fitUnder(tx, [id], tol);
  const fit: FitOutcome = { clipped: done.clipped, absorbed: done.absorbed, moved: done.moved, gaps: done.gaps, outside: done.outside.slice(0, 100) };
  if (done.touched.length === 0) return { op: null, ids: [], gapM2: done.gaps.m2, fit };
  const result = await finish(tx, actor, 'fit', done.before, done.touched, done.parents, done.gaps.m2);
  return { ...result, fit };
}

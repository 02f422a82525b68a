import gcoord from 'gcoord';
import { CONTACT_PHONE } from '../domain/phone.ts';
import { BD09, GCJ02, undoObfuscation } from '../domain/crs.ts';
import { addressIndex } from '../domain/address.ts';
import { barrierClassOf } from '../domain/barrier-classes.ts';
import { InputError } from '../domain/errors.ts';
import { DEFAULT_LIMITS, parsePolygonGeometry, type BoundaryFeature, type FeatureError } from '../domain/geojson-input.ts';
import { childCode, childLevel, childName, codeFollowsParent, LEVELS, parentLevel, type Level } from '../domain/hierarchy.ts';
import type { FieldRole, ImportKind } from '../domain/import-fields.ts';
import { categoryOf, codeFromStatCode, gridTypeOf, householdSizeOf, isStatCode, looseTime, phoneOf, roleOf, severityOf } from '../domain/import-values.ts';
import { DEFAULT_TOLERANCES, fitUnder, settleHouseholds, type FitOutcome } from './edit-operations.ts';
import { measureAgainstSiblings, prepareGeometry } from './geometry-ops.ts';
import type { Db, Queryable, Tx } from './db.ts';
import { importBarrierBatch, type NewBarrier } from './barriers.ts';
import { importHouseholds } from './household-import.ts';
import type { HouseholdUpdate } from './household-batches.ts';
import { NOT_IN_A_NAME, parseAddress, parseHead, parseHouseholdPhone } from '../domain/household-input.ts';
import { oneLineText, visibleText } from '../domain/text.ts';
import { importIncidentBatch } from './incident-batches.ts';
import { incidentCategories, type NewIncident } from './incidents.ts';
import { importRegions, settleRegions, type ImportResult, type Placed as RegionPlacement } from './region-import.ts';
import { validateCoverage } from './coverage.ts';
import { recordOperation, snapshots, type ChangeRow } from './region-store.ts';
import { staffRoles } from './staff.ts';
import { importDepartments, type DepartmentRow } from './settings.ts';
import { assignHouseholds, recountHouseholdsAround } from './households.ts';
import { districtOf, districtRules } from './rules.ts';

/**
 * The import wizard's last two steps for any kind of layer: `plan` tries the import in a
 * transaction it then rolls back (so the report is what a commit would do, from the same code), and
 * `commit` does it. Rows come from GDAL already in lon/lat (see files/read.ts).
 */
export interface ImportRow {
  properties: Record<string, unknown>;
  geometry: GeoJSON.Geometry | null;
}

export interface ImportSpec {
  kind: ImportKind;
  /**
   * Boundaries: the region they divide (null: new districts). Grids: a village, or any region above
   * (each grid goes to the village it lies in). Others: the area the rows must lie in.
   */
  parentId: number | null;
  fields: Partial<Record<FieldRole, string>>;
  /** Make invalid polygons valid instead of refusing them. */
  repair: boolean;
  /** Keep only each polygon's free part inside its parent. */
  clip: boolean;
  /**
   * Points a clerk placed on the map (lon/lat, WGS 84) by row index: a household or incident row
   * goes there, whatever its coordinates or address say.
   */
  places?: ReadonlyMap<number, [number, number]>;
  /** Commit the good rows even when others are refused. */
  partial: boolean;
  /**
   * Grids: the file's grids replace the grids of every village they go into (a revised layer), in the
   * same operation, which undo takes back whole. Else they go in beside the grids there.
   */
  replace?: boolean;
  /** Households: a list's head or phone goes over one a grid worker corrected by hand (else the correction stays). */
  overwriteCorrected?: boolean;
  /**
   * Boundaries: a feature naming a region already under the parent (by 统计用区划代码, our code, or name, one alone) gives it
   * its outline, in the same operation (official 村界 over drawn ones); the others go in as new regions.
   */
  update?: boolean;
  /** With `update`: the regions below each one given its outline fitted to it (贴合边界, POST /api/regions/:id/fit), in the same operation. */
  fit?: boolean;
  /** Incidents: the file's own category names, as written, to ours (a code), for those not recognised (占道经营 → market). */
  categories?: ReadonlyMap<string, string>;
  /** The system the rows' own points were read in (households: a shift against their matched addresses names another). */
  crs?: string | null;
  /**
   * Boundaries: the level they are at, when deeper than the parent's next — a county's villages given
   * the district. Each then goes into the region of the level above it (its township) that holds most of it.
   */
  level?: Level | null;
}

export interface Problem {
  /** The row's position in the layer, from 0. */
  index: number;
  code: string;
  message: string;
  path: string;
  /** What the problem is about as the file writes it (an address, a name, a value, a place): shown beside the code's words in any language. */
  subject?: string;
  /** An outline over its parent's: the area outside it, and its share of the outline (0–1). */
  areaM2?: number;
  share?: number;
}

export interface ImportOutcome {
  kind: ImportKind;
  total: number;
  accepted: number;
  /** Every problem, row by row (an answer lists the first MAX_PROBLEMS). */
  problems: Problem[];
  problemCounts: Record<string, number>;
  regions?: {
    created: { code: string; name: string; statCode: string | null; gridType: string | null; parent: string }[];
    coverage: Record<string, number> | null;
    issues: unknown[];
    /**
     * With `replace`: the grids the file's took the place of, how many of them had people, and how
     * many of the file's grids kept them (same code); the rest are to be staffed again. `same`: the grids the file gives
     * again by their code, which stay those grids (their ids, history, patrols and cases filed in them).
     */
    replaced?: { grids: number; staffed: number; villages: number; kept: number; same: number };
    /** Where the new regions are to be seen: the nearest region holding them all (a grid layer's one village, or the township of its villages), else null. */
    landed?: number | null;
    /** With `update`: the regions already there whose outline the file's gives (the first 200 by name) and how many. */
    /**
     * `matched`: rows that named one of the parent's children (each updated, or refused with a problem of its row); `clipped`:
     * outlines cut back to the parent's (asked with `clip`: an official line drawn a few metres off the plan's), with the area cut.
     */
    updated?: { count: number; names: string[]; matched: number; clipped: { name: string; areaM2: number }[] };
    /** With `update` and `fit`: what fitting the regions below them to the new outlines did (or would do). */
    fitted?: FitOutcome;
    /**
     * Grids: those whose households (the points inside each) fall outside their type's range in the district's rules
     * (GET /api/regions/:id/rules), with the first 50: what the coverage check will mark once they are in.
     */
    outOfRange?: { count: number; grids: { name: string; households: number; gridType: string; min: number; max: number }[] };
  };
  /** `addressExample`: when no address of the file was found, one of the region's own (how they are written there), or null when it has none. */
  /**
   * `updated`: households the list changes; `unchanged`: those it finds as they are; `kept`: those whose head or phone a
   * grid worker corrected by hand, which the list would change and does not (unless `overwriteCorrected`), with the first 20.
   */
  households?: {
    added: number;
    updated: number;
    unchanged?: number;
    addressExample?: string | null;
    /** Of those added, placed at a door the region has because only the flat was new (69号5栋1单元301 at 69号). */
    atDoor?: number;
    kept?: { count: number; overwritten: boolean; rows: KeptCorrection[] };
    /** Grids the new households take out of their district's range for their type (a list of at most 20,000 new ones). */
    outOfRange?: { count: number; grids: { name: string; gridType: string; before: number; households: number; min: number; max: number }[] };
  };
  incidents?: { imported: number };
  /** `blank`: rows naming nobody and no phone (a roster's lines left to fill), passed over and not counted in `total`. */
  staff?: {
    assigned: number;
    grids: number;
    newWorkers: number;
    blank: number;
    /** Rows giving a role someone already holds in that grid: a full-time worker replaced, or a second holder of another role. */
    displaced: { grid: string; role: string; roleEn: string; was: string[]; now: string; replaces: boolean }[];
    displacedCount: number;
  };
  /** A department list: departments made, changed, and found as the file has them; `change`: the settings log entry that undoes it. */
  departments?: { added: number; updated: number; unchanged: number; change: number | null; similar: { name: string; like: string }[] };
  /** Lines imported, by class (main_road, lane, river…). */
  barriers?: { imported: number; classes: Record<string, number>; clipped: number };
  /**
   * Where rows without their own point were found (for the preview; at most 3,000): the household
   * an address matched (`exact`, `normalized`), the door of a flat not yet known (`building`), or each household an ambiguous address
   * fits (`candidate`).
   */
  located?: { i: number; lon: number; lat: number; how: 'exact' | 'normalized' | 'building' | 'candidate' }[];
  /**
   * Households: the rows whose address found a household lie, by their own coordinates, this far from
   * it (the median, in metres, over `rows` of them) — all one way when the file's system is not the
   * one it was read in; `suggest` is the system that brings them together (within `after` metres).
   */
  shift?: { rows: number; metres: number; suggest: string | null; after: number | null };
  /** The operation POST /api/changes/undo takes back (commit only). */
  op: number | null;
}

export type ImportStage = { stage: 'checking' | 'saving'; rows: number; total: number };

/** Thrown to roll a dry run back; carries its report out. */
class DryRun extends Error {
  constructor(readonly outcome: ImportOutcome) {
    super('dry run');
  }
}

/** Problems an answer lists (the counts are of all); the whole list is kept with the upload, for the download of the rows left out. */
export const MAX_PROBLEMS = 2_000;
/** The coverage problems an import of boundaries can make. */
const SPATIAL = new Set(['gap', 'overlap', 'outside_parent', 'sliver']);
const text = (v: unknown) => (v === null || v === undefined ? '' : oneLineText(String(v).normalize('NFKC')));
/** Words kept as the file wrote them (a name's full-width brackets stay full-width): on one line, nothing hidden, trimmed. */
const words = (v: unknown) => (v === null || v === undefined ? '' : oneLineText(String(v).normalize('NFC')));
const field = (row: ImportRow, spec: ImportSpec, role: FieldRole) => (spec.fields[role] ? row.properties[spec.fields[role]] : undefined);

function finish(kind: ImportKind, total: number, accepted: number, problems: Problem[], extra: Partial<ImportOutcome>): ImportOutcome {
  problems.sort((a, b) => a.index - b.index);
  const problemCounts: Record<string, number> = {};
  for (const p of problems) problemCounts[p.code] = (problemCounts[p.code] ?? 0) + 1;
  return { kind, total, accepted, problems, problemCounts, op: null, ...extra };
}

interface ParentRow {
  id: number;
  level: Level;
  code: string;
  name: string;
  statCode: string | null;
}

/** The deepest region that is, or lies above, every one of `ids` (null for none, or a null among them). */
async function nearestHolding(tx: Queryable, ids: (number | null)[]): Promise<number | null> {
  if (ids.length === 0 || ids.includes(null)) return null;
  const starts = [...new Set(ids as number[])];
  const { rows } = await tx.query<{ id: number }>(
    `WITH RECURSIVE up AS (
       SELECT r.id AS start, r.id, r.parent_id, 0 AS depth FROM region r WHERE r.id = ANY ($1::int[])
       UNION ALL
       SELECT u.start, p.id, p.parent_id, u.depth + 1 FROM region p JOIN up u ON p.id = u.parent_id
     )
     SELECT id FROM up GROUP BY id HAVING count(DISTINCT start) = $2 ORDER BY max(depth) LIMIT 1`,
    [starts, starts.length],
  );
  return rows[0]?.id ?? null;
}

async function regionRow(tx: Queryable, id: number, path: string): Promise<ParentRow> {
  const { rows } = await tx.query<ParentRow>('SELECT id, level, code, name, stat_code AS "statCode" FROM region WHERE id = $1', [id]);
  if (!rows[0]) throw new InputError('not_found', `region ${id} does not exist`, path);
  return rows[0];
}

/** The names in front of an address that say only which county it is in: the region's own and its ancestors'. */
async function addressPrefixes(tx: Queryable, regionId: number | null): Promise<string[]> {
  if (regionId === null) return [];
  const { rows } = await tx.query<{ name: string }>('SELECT r.name FROM gp_ancestors($1::int[]) a JOIN region r ON r.id = a.id ORDER BY a.depth DESC', [
    [regionId],
  ]);
  return rows.map((r) => r.name);
}

/** Drops everything up to the county's name ("云南省曲靖市沾益区…" → "…"), then the region names in front. */
function countyFree(address: string, prefixes: string[]): string {
  const s = address.normalize('NFKC').replace(/\s+/g, '');
  const district = prefixes[0];
  const at = district ? s.indexOf(district) : -1;
  return at >= 0 && at <= 12 ? s.slice(at + district!.length) : s;
}

// ── boundaries and grids ─────────────────────────────────────────────────────────────────────

interface Placed {
  feature: BoundaryFeature;
  parent: ParentRow;
}

/** Which village each grid lies in (by a point on its surface), for a grid layer given a township or a district. */
async function villagesOf(tx: Queryable, parent: ParentRow, features: BoundaryFeature[]): Promise<(number | null)[]> {
  if (parent.level === 'village') return features.map(() => parent.id);
  // (the parent's villages found once: walking its tree for each feature was 0.9 s of a district's 4,598 grids)
  const { rows } = await tx.query<{ ord: number; village: number | null }>(
    `WITH sub AS MATERIALIZED (SELECT coalesce(array_agg(s.id), '{}') AS ids FROM gp_subtree($1) s WHERE s.level = 'village')
     SELECT t.ord::int, (SELECT v.id FROM region v WHERE v.level = 'village' AND v.geom && p.g AND v.id = ANY((SELECT ids FROM sub)::int[])
                           AND ST_Intersects(v.geom, p.g) ORDER BY v.id LIMIT 1) AS village
     FROM unnest($2::text[]) WITH ORDINALITY AS t(j, ord),
          LATERAL (SELECT ST_PointOnSurface(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(t.j), 4326))) AS g) p
     ORDER BY t.ord`,
    [parent.id, features.map((f) => JSON.stringify({ type: 'MultiPolygon', coordinates: f.coordinates }))],
  );
  return rows.map((r) => r.village);
}

/**
 * For boundaries deeper than the parent's next level: the region of `holder` level under the parent
 * that holds most of each feature (null: none of them meets it).
 */
async function holdersOf(tx: Queryable, parent: ParentRow, holder: Level, features: BoundaryFeature[]): Promise<(number | null)[]> {
  const { rows } = await tx.query<{ ord: number; holder: number | null }>(
    `WITH h AS (SELECT r.id, r.geom FROM gp_subtree($1) s JOIN region r ON r.id = s.id WHERE r.level = $3)
     SELECT t.ord::int, (SELECT h.id FROM h WHERE h.geom && p.g AND ST_Intersects(h.geom, p.g)
                         ORDER BY ST_Area(ST_Intersection(h.geom, p.g, gp_grid())) DESC, h.id LIMIT 1) AS holder
     FROM unnest($2::text[]) WITH ORDINALITY AS t(j, ord),
          LATERAL (SELECT ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(t.j), 4326)) AS g) p
     ORDER BY t.ord`,
    [parent.id, features.map((f) => JSON.stringify({ type: 'MultiPolygon', coordinates: f.coordinates })), holder],
  );
  return rows.map((r) => r.holder);
}

/**
 * The level boundaries are at when it is not the parent's next (null when it is, or none was given);
 * refused when it is not below that.
 */
function deeperLevel(parent: ParentRow | null, level: Level | null): Level | null {
  if (level === null) return null;
  const next = parent ? childLevel(parent.level) : 'district';
  if (level === next) return null;
  if (!parent || !next || level === 'grid' || LEVELS.indexOf(level) < LEVELS.indexOf(next)) {
    throw new InputError(
      'wrong_level',
      parent
        ? `${parent.name} is a ${parent.level}: boundaries under it are at level ${next ?? 'none'} or deeper, not ${level}`
        : 'new boundaries are districts',
      'level',
    );
  }
  return level;
}

/** Codes for a group of new children: the file's own where they follow the parent, from 统计用区划代码 where they fit, else the next free. */
/** Features whose code is the file's own (or from its 统计用区划代码), not one made up for them: only these can be a grid it replaces. */
const fileCoded = new WeakSet<BoundaryFeature>();

async function assignCodes(tx: Queryable, parent: ParentRow, level: Level, group: BoundaryFeature[], raw: Map<number, string>): Promise<void> {
  const { rows } = await tx.query<{ code: string }>('SELECT code FROM region WHERE parent_id = $1', [parent.id]);
  const used = new Set(rows.map((r) => r.code));
  const pending: BoundaryFeature[] = [];
  for (const f of group) {
    const own = raw.get(f.index) ?? '';
    const fromStat = f.statCode ? codeFromStatCode(f.statCode, level, parent) : null;
    const code = codeFollowsParent(own, parent.code, level) ? own : fromStat;
    if (code && !used.has(code)) {
      f.code = code;
      used.add(code);
      fileCoded.add(f);
    } else pending.push(f);
  }
  let n = 0;
  for (const f of pending) {
    let code: string;
    do code = childCode(parent.code, level, ++n);
    while (used.has(code));
    used.add(code);
    f.code = code;
    if (!f.name) f.name = childName(parent.name, level, n);
  }
  for (const f of group) if (!f.name) f.name = childName(parent.name, level, Number(f.code.split('-').pop()));
}

/** The layer's polygons as boundary features, or a problem per row that is not one. */
function boundaryFeatures(rows: ImportRow[], spec: ImportSpec, maxVertices: number) {
  const features: BoundaryFeature[] = [];
  const problems: Problem[] = [];
  const raw = new Map<number, string>();
  rows.forEach((row, index) => {
    const path = `rows[${index}]`;
    try {
      const g = row.geometry;
      if (!g) throw new InputError('no_geometry', 'the row has no geometry', `${path}.geometry`);
      if (g.type !== 'Polygon' && g.type !== 'MultiPolygon') {
        throw new InputError('wrong_geometry_type', `a ${g.type} where a boundary needs a polygon (the layer mixes geometry types)`, `${path}.geometry`);
      }
      const coordinates = parsePolygonGeometry(g, `${path}.geometry`, { repair: spec.repair, limits: { maxVertices } });
      const code = text(field(row, spec, 'code'));
      const stat = text(field(row, spec, 'statCode'));
      const statCode = isStatCode(stat) ? stat : isStatCode(code) ? code : null;
      if (stat && !isStatCode(stat)) throw new InputError('invalid_stat_code', `统计用区划代码 has 12 digits, got ${JSON.stringify(stat)}`, `${path}.statCode`);
      const gridTypeText = text(field(row, spec, 'gridType'));
      const gridType = gridTypeOf(gridTypeText);
      if (gridTypeText && !gridType) {
        throw new InputError('unknown_grid_type', `grid type ${JSON.stringify(gridTypeText)} is none of 散居 小区 单位 商圈 农村`, `${path}.gridType`);
      }
      raw.set(index, code);
      features.push({ index, code: '', name: words(field(row, spec, 'name')), coordinates, statCode, gridType });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push({ index, code: err.code, message: err.message, path: err.path, subject: words(field(row, spec, 'name')) });
    }
  });
  return { features, problems, raw };
}

/** Removes the grids of some villages for a revised layer: how many, how many had a worker, and (when recorded) their states for undo. */
async function removeGrids(tx: Queryable, villages: number[], record: boolean) {
  await tx.query('SELECT id FROM region WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE', [villages]);
  const { rows } = await tx.query<{ id: number; staffed: boolean }>(
    `SELECT id, worker_id IS NOT NULL AS staffed FROM region WHERE parent_id = ANY($1::int[]) AND level = 'grid' ORDER BY id FOR UPDATE`,
    [villages],
  );
  const ids = rows.map((r) => r.id);
  const before = record ? await snapshots(tx, ids) : [];
  // each staffed grid's people by its code: a grid of the file with the same code takes them over
  const { rows: crews } = await tx.query<Crew & { code: string }>(
    `SELECT r.code, r.worker_id AS "workerId",
            (SELECT coalesce(json_agg(json_build_object('workerId', s.worker_id, 'role', s.role)), '[]'::json)
               FROM grid_staff s WHERE s.grid_id = r.id) AS staff
     FROM region r WHERE r.id = ANY($1::int[]) AND (r.worker_id IS NOT NULL OR EXISTS (SELECT 1 FROM grid_staff s WHERE s.grid_id = r.id))`,
    [ids],
  );
  const { rows: coded } = await tx.query<{ id: number; code: string; version: number }>('SELECT id, code, version FROM region WHERE id = ANY($1::int[])', [
    ids,
  ]);
  await tx.query('DELETE FROM region WHERE id = ANY($1::int[])', [ids]);
  const changes: ChangeRow[] = before.map((b) => ({ entityId: b.id, before: b, after: null }));
  const crew = new Map(crews.map(({ code, ...c }) => [code, c]));
  const byCode = new Map(coded.map(({ code, ...r }) => [code, r]));
  return { grids: ids.length, staffed: rows.filter((r) => r.staffed).length, villages, changes, crew, byCode };
}

/**
 * A grid of a revised layer carrying the code of a grid it replaces is that grid, changed: the new row takes the old one's
 * id (its version one past), so its change history, the patrols walked in it and the cases filed in it stay its own, and
 * the change log holds one change of it (before → after) in place of a removal and an addition. New id → old id.
 */
async function keepIdentity(tx: Queryable, created: { id: number; code: string }[], byCode: Map<string, { id: number; version: number }>) {
  const kept = new Map<number, number>();
  for (const c of created) {
    const was = byCode.get(c.code);
    if (!was) continue;
    await tx.query('UPDATE region SET id = $2, version = $3 WHERE id = $1', [c.id, was.id, was.version + 1]);
    kept.set(c.id, was.id);
  }
  return kept;
}

/** A grid's people: its full-time worker and the rest of its staff by role. */
interface Crew {
  workerId: number | null;
  staff: { workerId: number; role: string }[];
}

/** The new grids whose code a replaced grid had take over its people; how many did. */
async function carryCrews(tx: Queryable, created: { id: number; code: string }[], crew: Map<string, Crew>): Promise<number[]> {
  const taking = created.flatMap((c) => {
    const k = crew.get(c.code);
    return k ? [{ id: c.id, ...k }] : [];
  });
  if (taking.length === 0) return [];
  await tx.query(`UPDATE region r SET worker_id = u.w FROM unnest($1::int[], $2::int[]) AS u(id, w) WHERE r.id = u.id AND u.w IS NOT NULL`, [
    taking.map((t) => t.id),
    taking.map((t) => t.workerId),
  ]);
  const staff = taking.flatMap((t) => t.staff.map((s) => ({ grid: t.id, ...s })));
  if (staff.length > 0)
    await tx.query(`INSERT INTO grid_staff (grid_id, worker_id, role) SELECT * FROM unnest($1::int[], $2::int[], $3::text[]) ON CONFLICT DO NOTHING`, [
      staff.map((s) => s.grid),
      staff.map((s) => s.workerId),
      staff.map((s) => s.role),
    ]);
  return taking.map((t) => t.id);
}

/** What a check of boundaries or grids found, kept for its commit (see `householdChecks`): where each feature goes and how it lies there. */
interface RegionCheck {
  spec: string;
  stamp: string;
  villages: (number | null)[] | null;
  placed: Map<number | null, RegionPlacement[]>;
}

const regionChecks = new WeakMap<ImportRow[], RegionCheck>();

/** Every write to regions moves one of these (undo and redo included: they change versions or the log). */
const regionStamp = async (q: Queryable) =>
  (
    await q.query<{ s: string }>(
      `SELECT concat_ws(':', (SELECT coalesce(max(id), 0) FROM change),
         (SELECT count(*) || ':' || coalesce(sum(version), 0) || ':' || coalesce(max(id), 0) FROM region)) AS s`,
    )
  ).rows[0]!.s;

/**
 * The file's outlines for the parent's children they name (统计用区划代码, our code, or a name that one child alone has): each
 * checked as a drawn outline is (valid, inside the parent) and set, its change kept for the import's one operation. What they
 * leave between them and the children the file does not name shows in the coverage report; a refused one is a problem of its row.
 */
async function outlineChildren(tx: Tx, parent: ParentRow, features: BoundaryFeature[], raw: Map<number, string>, problems: Problem[], clip: boolean) {
  const { rows: kids } = await tx.query<{ id: number; code: string; stat_code: string | null; name: string }>(
    'SELECT id, code, stat_code, name FROM region WHERE parent_id = $1 ORDER BY id FOR UPDATE',
    [parent.id],
  );
  const taken = new Set<number>();
  const seen = new Set<number>();
  const ids: number[] = [];
  const names: string[] = [];
  const changes: ChangeRow[] = [];
  const clipped: { name: string; areaM2: number }[] = [];
  const tol = DEFAULT_TOLERANCES;
  for (const f of features) {
    const own = raw.get(f.index) ?? '';
    const byCode = kids.filter((k) => (f.statCode && k.stat_code === f.statCode) || (own && k.code === own));
    // (a village's committee is the village: 中堡村委会 names 中堡村; 居委会 a community)
    const named = (n: string) =>
      n
        .trim()
        .replace(/村民委员会$|村委会$/, '村')
        .replace(/居民委员会$|居委会$/, '社区');
    const hits = byCode.length > 0 ? byCode : kids.filter((k) => f.name && named(k.name) === named(f.name));
    if (hits.length !== 1) continue;
    const k = hits[0]!;
    taken.add(f.index);
    const path = `rows[${f.index}]`;
    if (seen.has(k.id)) {
      problems.push({ index: f.index, code: 'duplicate_name', message: `${k.name} is given twice in the file`, path, subject: f.name || k.name });
      continue;
    }
    seen.add(k.id);
    let wkb: string;
    try {
      wkb = await prepareGeometry(tx, f.coordinates, { parentId: parent.id, selfId: k.id, snapMeters: tol.snapMeters }, path);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push({ index: f.index, code: e.code, message: e.message, path, subject: f.name || k.name });
      continue;
    }
    const { outsideM2 } = await measureAgainstSiblings(tx, wkb, parent.id, k.id, tol.toleranceM2);
    if (outsideM2 > tol.toleranceM2) {
      // An official line a few metres off the plan's (another survey, another simplification) is cut back to the
      // parent when asked; one mostly outside is another place, or read in the wrong coordinate system.
      const cut = await cutToParent(tx, wkb, parent.id, tol.toleranceM2);
      const share = cut.areaM2 + outsideM2 > 0 ? outsideM2 / (cut.areaM2 + outsideM2) : 1;
      const small = share < OVERHANG_SHARE && cut.wkb !== null;
      if (clip && small) {
        wkb = cut.wkb!;
        clipped.push({ name: k.name, areaM2: Math.round(outsideM2) });
      } else {
        const m2 = Math.round(outsideM2);
        const pct = (share * 100).toFixed(share < 0.01 ? 2 : 1);
        problems.push({
          index: f.index,
          code: small ? 'overhangs_parent' : 'outside_parent',
          message: small
            ? `${m2} m² (${pct}%) of ${k.name}'s outline lie outside ${parent.name}: clip to cut them off`
            : `${m2} m² (${pct}%) of ${k.name}'s outline lie outside ${parent.name} (is the coordinate system right?)`,
          path,
          subject: f.name || k.name,
          areaM2: m2,
          share: Math.round(share * 10_000) / 10_000,
        });
        continue;
      }
    }
    const [before] = await snapshots(tx, [k.id]);
    await tx.query(`UPDATE region SET geom = ST_GeomFromEWKB(decode($2, 'hex')), version = version + 1, updated_at = now() WHERE id = $1`, [k.id, wkb]);
    const [after] = await snapshots(tx, [k.id]);
    changes.push({ entityId: k.id, before: before!, after: after! });
    ids.push(k.id);
    names.push(k.name);
  }
  return { taken, ids, names, changes, clipped };
}

/** Below this share of an outline outside its parent, it is the same place drawn a little differently (cut back with `clip`). */
const OVERHANG_SHARE = 0.1;

/** An outline cut back to its parent's (its polygon parts over the tolerance), with the area kept. */
async function cutToParent(tx: Queryable, wkb: string, parentId: number, toleranceM2: number): Promise<{ wkb: string | null; areaM2: number }> {
  const { rows } = await tx.query<{ wkb: string | null; area: number }>(
    `WITH x AS (SELECT ST_CollectionExtract(ST_Intersection(ST_GeomFromEWKB(decode($1, 'hex')), p.geom, gp_grid()), 3) AS g FROM region p WHERE p.id = $2),
     part AS (SELECT d.geom FROM x, LATERAL ST_Dump(x.g) AS d WHERE gp_area_m2(d.geom) > $3)
     SELECT CASE WHEN count(*) > 0 THEN encode(ST_AsEWKB(ST_Multi(ST_Collect(geom))), 'hex') END AS wkb, coalesce(sum(gp_area_m2(geom)), 0) AS area FROM part`,
    [wkb, parentId, toleranceM2],
  );
  return { wkb: rows[0]!.wkb, areaM2: rows[0]!.area };
}

/**
 * Boundaries or grids into the plan. A check (`dryRun`, rolled back after) skips what cannot change
 * its report: filing households and incidents into the new regions (a grid layer over a county in use
 * re-files tens of thousands of each: 25 s of 31 s measured) and the change log's rows.
 */
async function planRegions(tx: Tx, actor: string, rows: ImportRow[], spec: ImportSpec, maxVertices: number, dryRun: boolean): Promise<ImportOutcome> {
  const stamp = await regionStamp(tx);
  const replace = spec.kind === 'grid' && spec.replace === true;
  const key = `${specKey(spec)}|${spec.repair}|${spec.clip}|${replace}|${spec.update ?? false}|${spec.fit ?? false}|${maxVertices}`;
  const kept = regionChecks.get(rows);
  // The check's placements, while nothing it read has changed since (else placed again).
  const reuse = !dryRun && kept?.spec === key && kept.stamp === stamp ? kept : null;
  const keep: RegionCheck = { spec: key, stamp, villages: null, placed: new Map() };
  const parent = spec.parentId === null ? null : await regionRow(tx, spec.parentId, 'parentId');
  const { features, problems, raw } = boundaryFeatures(rows, spec, maxVertices);
  const deeper = spec.kind === 'boundary' ? deeperLevel(parent, spec.level ?? null) : null;
  // Official outlines over the regions already there: each feature naming one of the parent's children gives it its shape
  const outlined = spec.kind === 'boundary' && spec.update && parent && !deeper ? await outlineChildren(tx, parent, features, raw, problems, spec.clip) : null;
  if (outlined) features.splice(0, features.length, ...features.filter((f) => !outlined.taken.has(f.index)));
  // and, asked, what is below them fitted to their new outlines (a village's grids cut back, its slivers given to them)
  const fitted = outlined && spec.fit && outlined.ids.length > 0 ? await fitUnder(tx, outlined.ids) : null;
  const fitChanges: ChangeRow[] = [];
  if (fitted && fitted.touched.length > 0) {
    const now = new Map((await snapshots(tx, fitted.touched)).map((r) => [r.id, r]));
    const was = new Map(fitted.before.map((r) => [r.id, r]));
    for (const id of fitted.touched) fitChanges.push({ entityId: id, before: was.get(id) ?? null, after: now.get(id) ?? null });
  }
  // Where each feature goes: boundaries under the parent (or, deeper, under the region of the parent's
  // that holds them); grids under the village they lie in.
  const groups = new Map<number | null, Placed[]>();
  if (spec.kind === 'grid') {
    if (!parent || parent.level === 'grid')
      throw new InputError('wrong_level', 'grids go into a village, or a township or district whose villages exist', 'parentId');
    const villages = reuse?.villages ?? (await villagesOf(tx, parent, features));
    keep.villages = villages;
    const rowsById = new Map<number, ParentRow>();
    for (const [i, f] of features.entries()) {
      const v = villages[i];
      if (v === null || v === undefined) {
        problems.push({
          index: f.index,
          code: 'no_village',
          message: `${f.name || `feature ${f.index + 1}`} lies in no village of ${parent.name}`,
          path: `rows[${f.index}]`,
          subject: f.name,
        });
        continue;
      }
      if (!rowsById.has(v)) rowsById.set(v, await regionRow(tx, v, 'parentId'));
      groups.set(v, [...(groups.get(v) ?? []), { feature: f, parent: rowsById.get(v)! }]);
    }
  } else if (deeper) {
    // A county's villages given the district: each into the township holding most of it.
    const holder = parentLevel(deeper)!;
    const holders = reuse?.villages ?? (await holdersOf(tx, parent!, holder, features));
    keep.villages = holders;
    const rowsById = new Map<number, ParentRow>();
    for (const [i, f] of features.entries()) {
      const h = holders[i];
      if (h === null || h === undefined) {
        problems.push({
          index: f.index,
          code: `no_${holder}`,
          message: `${f.name || `feature ${f.index + 1}`} lies in no ${holder} of ${parent!.name}`,
          path: `rows[${f.index}]`,
          subject: f.name,
        });
        continue;
      }
      if (!rowsById.has(h)) rowsById.set(h, await regionRow(tx, h, 'parentId'));
      groups.set(h, [...(groups.get(h) ?? []), { feature: f, parent: rowsById.get(h)! }]);
    }
  } else {
    if (parent && !childLevel(parent.level)) throw new InputError('wrong_level', `${parent.name} is a grid; nothing goes below it`, 'parentId');
    groups.set(
      parent?.id ?? null,
      features.map((f) => ({ feature: f, parent: parent! })),
    );
  }
  const level = (p: ParentRow | null): Level => (spec.kind === 'grid' ? 'grid' : p ? childLevel(p.level)! : 'district');
  // A revised layer: the grids of each village it goes into make way first (and come back on undo) —
  // unless the layer's rows for that village are all refused: that village keeps its grids.
  const replacing = replace ? { grids: 0, staffed: 0, kept: 0, same: 0, villages: [] as number[], changes: [] as ChangeRow[] } : null;
  const created: NonNullable<ImportOutcome['regions']>['created'] = [];
  const changes: ChangeRow[] = [];
  const ids: number[] = [];
  let coverage: Record<string, number> | null = null;
  const issues: unknown[] = [];
  // the parents that received new regions (null: more than one new district)
  const received: (number | null)[] = [];
  for (const [parentId, group] of groups) {
    const p = group[0]?.parent ?? parent;
    const lv = level(parentId === null ? null : p);
    const fs = group.map((g) => g.feature);
    // (before the codes are given: the file's own codes for the grids it replaces are free again)
    const making = replacing && parentId !== null;
    if (making) await tx.query('SAVEPOINT replacing_village');
    const removed = making ? await removeGrids(tx, [parentId], !dryRun) : null;
    if (parentId === null) {
      for (const f of fs) {
        const own = raw.get(f.index) ?? '';
        f.code = /^\d{6}$/.test(own) ? own : f.statCode ? f.statCode.slice(0, 6) : own;
        if (!f.name) f.name = f.code;
      }
      const bad = fs.filter((f) => !/^\d{6}$/.test(f.code));
      for (const f of bad)
        problems.push({ index: f.index, code: 'missing_code', message: 'a district needs its six-digit code', path: `rows[${f.index}].code` });
      fs.splice(0, fs.length, ...fs.filter((f) => /^\d{6}$/.test(f.code)));
    } else await assignCodes(tx, p!, lv, fs, raw);
    const result: ImportResult = await importRegions(tx, actor, fs, [], {
      parentId,
      level: lv,
      repair: spec.repair,
      clip: spec.clip,
      partial: true,
      strict: false,
      toleranceM2: DEFAULT_TOLERANCES.toleranceM2,
      record: false,
      settle: false,
      changes: !dryRun,
      placed: reuse?.placed.get(parentId),
    });
    if (result.placed) keep.placed.set(parentId, result.placed);
    if (result.created.length > 0) received.push(parentId === null ? (result.created.length === 1 ? result.created[0]!.id : null) : parentId);
    if (making && result.created.length === 0) await tx.query('ROLLBACK TO SAVEPOINT replacing_village');
    else if (making) {
      await tx.query('RELEASE SAVEPOINT replacing_village');
      replacing.grids += removed!.grids;
      replacing.staffed += removed!.staffed;
      replacing.villages.push(parentId);
      // a grid the file keeps (its code) is that grid: its id, history and people; the change log holds it as it now is,
      // so redo brings them too
      const own = new Set(fs.filter((f) => fileCoded.has(f)).map((f) => f.code));
      const same = await keepIdentity(
        tx,
        result.created.filter((c) => own.has(c.code)),
        removed!.byCode,
      );
      if (same.size > 0) {
        const was = new Map(removed!.changes.map((c) => [c.entityId, c]));
        for (const c of result.created) c.id = same.get(c.id) ?? c.id;
        for (const c of result.changes ?? []) {
          const old = same.get(c.entityId);
          if (old === undefined) continue;
          c.entityId = old;
          c.before = was.get(old)?.before ?? null;
        }
        const merged = new Set(same.values());
        removed!.changes = removed!.changes.filter((c) => !merged.has(c.entityId));
        replacing.same += same.size;
      }
      replacing.changes.push(...removed!.changes);
      const carried = await carryCrews(
        tx,
        result.created.filter((c) => own.has(c.code)),
        removed!.crew,
      );
      replacing.kept += carried.filter((id) => result.created.some((c) => c.id === id && removed!.crew.get(c.code)?.workerId != null)).length;
      const restate = [...new Set([...carried, ...same.values()])];
      if (restate.length > 0 && result.changes) {
        const now = new Map((await snapshots(tx, restate)).map((r) => [r.id, r]));
        for (const c of result.changes) if (now.has(c.entityId)) c.after = now.get(c.entityId)!;
      }
    }
    const nameOf = new Map(fs.map((f) => [f.index, f.name]));
    problems.push(...result.errors.map((e: FeatureError) => ({ ...e, path: `rows[${e.index}]`, subject: e.subject ?? nameOf.get(e.index) ?? '' })));
    const byIndex = new Map(fs.map((f) => [f.code, f]));
    for (const c of result.created) {
      const f = byIndex.get(c.code)!;
      created.push({ code: c.code, name: c.name, statCode: f.statCode ?? null, gridType: f.gridType ?? null, parent: p?.name ?? '' });
    }
    changes.push(...(result.changes ?? []));
    ids.push(...result.created.map((c) => c.id));
  }
  if (outlined && outlined.ids.length > 0) {
    ids.push(...outlined.ids);
    received.push(parent!.id);
  }
  // Once for the whole layer: households and incidents into the new regions, the counts, and the
  // coverage of every parent that received some (a grid layer spans many villages).
  if (!dryRun && fitted && fitted.touched.length > 0) await settleHouseholds(tx, fitted.touched, fitted.parents);
  if (!dryRun && (ids.length > 0 || replacing?.villages.length)) {
    await settleRegions(tx, ids, spec.parentId);
    if (replacing?.villages.length) {
      // the households of the removed grids that no new grid took go to their village (their incidents keep no grid)
      await assignHouseholds(tx, true);
      await recountHouseholdsAround(tx, replacing.villages);
    }
  }
  if (ids.length > 0) {
    if (parent) {
      const parents = new Set([...groups.keys()]);
      const deep = spec.kind === 'grid' && parent.level !== 'village';
      // Deeper boundaries: each region that received some, at its own first level (the parent's whole
      // tree would also check every grid below it).
      const reports = [];
      for (const id of deeper ? (received as number[]) : [parent.id])
        reports.push(await validateCoverage(tx, id, { depth: deep ? 'all' : 1, toleranceM2: DEFAULT_TOLERANCES.toleranceM2 }));
      const spatial = reports.flatMap((r) => r.issues.features).filter((f) => SPATIAL.has(f.properties.kind) && parents.has(f.properties.parentId));
      coverage = Object.fromEntries([...SPATIAL].map((k) => [k, spatial.filter((f) => f.properties.kind === k).length]));
      issues.push(...spatial.slice(0, 500));
    }
  }
  // Grids: their households against the district's range for their type, said before they go in (the coverage check marks them after)
  let outOfRange: NonNullable<ImportOutcome['regions']>['outOfRange'];
  const district = spec.kind === 'grid' && ids.length > 0 && parent ? await districtOf(tx, parent.id) : null;
  if (district) {
    const rules = new Map((await districtRules(tx, district.id)).map((r) => [r.gridType as string, r]));
    const { rows: counted } = await tx.query<{ name: string; grid_type: string | null; n: number }>(
      `SELECT r.name, r.grid_type, (SELECT count(*)::int FROM household h WHERE h.geom && r.geom AND ST_Intersects(r.geom, h.geom)) AS n
       FROM region r WHERE r.id = ANY($1::int[]) ORDER BY r.code`,
      [ids],
    );
    const off = counted.flatMap((c) => {
      // (a grid of no type has no range, as in the coverage check)
      const rule = c.grid_type ? rules.get(c.grid_type) : undefined;
      return rule && (c.n < rule.min || c.n > rule.max) ? [{ name: c.name, households: c.n, gridType: c.grid_type!, min: rule.min, max: rule.max }] : [];
    });
    if (off.length) outOfRange = { count: off.length, grids: off.slice(0, 50) };
  }
  // (the removed grids first: undo, going newest first, then takes the new grids out before putting them back)
  const all = [...(replacing?.changes ?? []), ...(outlined?.changes ?? []), ...fitChanges, ...changes];
  const op = all.length > 0 && !dryRun ? await recordOperation(tx, actor, 'import', all) : null;
  if (dryRun) regionChecks.set(rows, keep);
  const replaced = replacing
    ? { replaced: { grids: replacing.grids, staffed: replacing.staffed, kept: replacing.kept, same: replacing.same, villages: replacing.villages.length } }
    : {};
  const landed = dryRun ? null : await nearestHolding(tx, received);
  const updated = outlined
    ? {
        updated: { count: outlined.names.length, names: outlined.names.slice(0, 200), matched: outlined.taken.size, clipped: outlined.clipped.slice(0, 200) },
        ...(fitted
          ? { fitted: { clipped: fitted.clipped, moved: fitted.moved, absorbed: fitted.absorbed, gaps: fitted.gaps, outside: fitted.outside.slice(0, 100) } }
          : {}),
      }
    : {};
  return finish(spec.kind, rows.length, created.length + (outlined?.ids.length ?? 0), problems, {
    regions: { created, coverage, issues, ...replaced, ...updated, landed, ...(outOfRange ? { outOfRange } : {}) },
    op,
  });
}

// ── households ───────────────────────────────────────────────────────────────────────────────

interface HouseholdPlan {
  outcome: ImportOutcome;
  adds: { lon: number; lat: number; size: number; address: string; head: string; phone: string }[];
  updates: HouseholdUpdate[];
}

const pointOf = (g: GeoJSON.Geometry | null): [number, number] | null =>
  g?.type === 'Point' && Number.isFinite(g.coordinates[0]) && Number.isFinite(g.coordinates[1]) ? [g.coordinates[0]!, g.coordinates[1]!] : null;

/** Which points lie inside a region (all of them when there is none). */
async function insideRegion(tx: Queryable, regionId: number | null, points: ([number, number] | null)[]): Promise<boolean[]> {
  const out = points.map((p) => p !== null);
  if (regionId === null) return out;
  const idx = points.flatMap((p, i) => (p ? [i] : []));
  for (let k = 0; k < idx.length; k += 20_000) {
    const part = idx.slice(k, k + 20_000);
    // The region cut into pieces of at most 64 vertices: each point is tested against the few whose box holds it.
    const { rows } = await tx.query<{ inside: boolean }>(
      `WITH piece AS MATERIALIZED (SELECT ST_Subdivide(geom, 64) AS g FROM region WHERE id = $1)
       SELECT EXISTS (SELECT 1 FROM piece WHERE piece.g && p.g AND ST_Intersects(piece.g, p.g)) AS inside
       FROM unnest($2::float8[], $3::float8[]) WITH ORDINALITY AS u(x, y, ord),
            LATERAL (SELECT ST_SetSRID(ST_MakePoint(u.x, u.y), 4326) AS g) p
       ORDER BY u.ord`,
      [regionId, part.map((i) => points[i]![0]), part.map((i) => points[i]![1])],
    );
    rows.forEach((r, j) => (out[part[j]!] = r.inside));
  }
  return out;
}

/** For points outside the region: whether each would lie inside with longitude and latitude swapped (a sheet's columns mixed up). */
async function swappedInside(tx: Queryable, regionId: number | null, outside: ([number, number] | null)[]): Promise<boolean[]> {
  if (regionId === null || outside.every((p) => p === null)) return outside.map(() => false);
  return insideRegion(
    tx,
    regionId,
    outside.map((p) => (p && Math.abs(p[0]) <= 90 ? [p[1], p[0]] : null)),
  );
}

type Known = { id: number; address: string; x: number; y: number };

/** A household a grid worker corrected by hand that a list would change: as corrected, and as the list has it. */
export interface KeptCorrection {
  address: string;
  head: string;
  phone: string;
  listHead: string | null;
  listPhone: string | null;
  by: string | null;
  at: string;
}

/**
 * Of the households a list finds, those it changes: each as the list has it where it differs, except a head or
 * phone a grid worker corrected by hand since (kept, and said, unless the clerk says the list is right).
 */
async function realUpdates(tx: Queryable, updates: HouseholdUpdate[], addresses: Map<number, string>, overwrite: boolean) {
  if (updates.length === 0) return { updates, unchanged: 0, kept: { count: 0, overwritten: overwrite, rows: [] as KeptCorrection[] } };
  const { rows } = await tx.query<{ id: number; size: number; head: string; phone: string; at: Date | string | null; by: string | null }>(
    'SELECT id, size, head_name AS head, phone, corrected_at AS at, corrected_by AS by FROM household WHERE id = ANY($1::int[])',
    [updates.map((u) => u.id)],
  );
  const now = new Map(rows.map((r) => [r.id, r]));
  const out: HouseholdUpdate[] = [];
  const kept = { count: 0, overwritten: overwrite, rows: [] as KeptCorrection[] };
  let unchanged = 0;
  for (const u0 of updates) {
    const h = now.get(u0.id);
    if (!h) continue;
    let u = u0;
    const differs = (u.head !== null && u.head !== h.head) || (u.phone !== null && u.phone !== h.phone);
    if (h.at !== null && differs) {
      kept.count++;
      if (kept.rows.length < 20) {
        kept.rows.push({
          address: addresses.get(u.id) ?? '',
          head: h.head,
          phone: h.phone,
          listHead: u.head,
          listPhone: u.phone,
          by: h.by,
          at: new Date(h.at).toISOString(),
        });
      }
      if (!overwrite) u = { ...u, head: null, phone: null };
    }
    if ((u.size ?? h.size) === h.size && (u.head ?? h.head) === h.head && (u.phone ?? h.phone) === h.phone) unchanged++;
    else out.push(u);
  }
  return { updates: out, unchanged, kept };
}

/**
 * The last region's addresses, indexed, while no household or region has changed since (the stamp):
 * a clerk placing unmatched rows one by one checks the list again after each, and reading and
 * indexing a county's 130,000 addresses was 2.1 s of each 2.3 s check.
 */
let knownIndex: { key: string; prefixes: string[]; find: ReturnType<typeof addressIndex<Known>> } | null = null;

async function addressesOf(tx: Queryable, parentId: number | null) {
  const key = `${parentId}|${await householdStamp(tx)}`;
  if (knownIndex?.key === key) return knownIndex;
  const prefixes = await addressPrefixes(tx, parentId);
  const { rows: known } = await tx.query<Known>(
    parentId === null
      ? `SELECT id, address, ST_X(geom) AS x, ST_Y(geom) AS y FROM household WHERE address <> ''`
      : `SELECT h.id, h.address, ST_X(h.geom) AS x, ST_Y(h.geom) AS y FROM household h
         WHERE h.address <> '' AND h.region_id IN (SELECT id FROM gp_subtree($1))`,
    parentId === null ? [] : [parentId],
  );
  // the townships (乡镇/街道) a list may leave out in front of a village's addresses
  const { rows: towns } = await tx.query<{ name: string }>(
    `SELECT DISTINCT r.name FROM region r WHERE r.level = 'township'
       AND ($1::int IS NULL OR r.id IN (SELECT id FROM gp_subtree($1)) OR r.id IN (SELECT a.id FROM gp_ancestors(ARRAY[$1::int]) a))`,
    [parentId],
  );
  knownIndex = {
    key,
    prefixes,
    find: addressIndex(
      known,
      (h) => countyFree(h.address, prefixes),
      prefixes.slice(1),
      towns.map((t) => t.name),
    ),
  };
  return knownIndex;
}

/** Where each row is: its own point, else the one household its address names. */
async function locate(tx: Queryable, rows: ImportRow[], spec: ImportSpec) {
  const hasAddress = !!spec.fields.address;
  const { prefixes, find } = hasAddress ? await addressesOf(tx, spec.parentId) : { prefixes: [], find: null };
  return rows.map((row, i) => {
    // a point placed by hand is where the row goes: its address is kept but not looked up
    const placed = spec.places?.get(i) ?? null;
    const own = placed ?? pointOf(row.geometry);
    const address = visibleText(words(field(row, spec, 'address')));
    const match = !placed && find && address ? find(countyFree(address, prefixes)) : null;
    return { own, address, match };
  });
}

const PREVIEW_POINTS = 3_000;

/** Where address matches put rows, and the households an ambiguous address fits: for the preview. */
function locatedOf(located: Awaited<ReturnType<typeof locate>>): NonNullable<ImportOutcome['located']> {
  const out: NonNullable<ImportOutcome['located']> = [];
  for (const [i, l] of located.entries()) {
    if (out.length >= PREVIEW_POINTS) break;
    if (!l.match || l.own) continue;
    if (l.match.how === 'ambiguous') for (const f of l.match.found.slice(0, 5)) out.push({ i, lon: f.x, lat: f.y, how: 'candidate' });
    else if ((l.match.how === 'exact' || l.match.how === 'normalized') && l.match.found[0])
      out.push({ i, lon: l.match.found[0].x, lat: l.match.found[0].y, how: l.match.how });
    else if (l.match.how === 'building') {
      const door = doorPlace(l.match.found);
      if (door) out.push({ i, lon: door[0], lat: door[1], how: 'building' });
    }
  }
  return out;
}

/** Where a door stands: its households' first place, when they all lie within 150 m of it (else the door is not one building). */
function doorPlace(found: readonly Known[]): [number, number] | null {
  const first = found[0];
  if (!first) return null;
  const p: [number, number] = [first.x, first.y];
  return found.every((f) => metresApart(p, [f.x, f.y]) <= 150) ? p : null;
}

/** Metres between two lon/lat points (a county's distances: the equirectangular approximation is plenty). */
const metresApart = (a: [number, number], b: [number, number]) => {
  const k = Math.cos(((a[1] + b[1]) / 2) * (Math.PI / 180));
  return 111_320 * Math.hypot((a[0] - b[0]) * k, a[1] - b[1]);
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * A household file whose rows carry both an address we know and coordinates of their own: if the
 * coordinates lie far from the households the addresses found, all alike, the file is in another
 * system than the one it was read in (Amap's GCJ-02 read as WGS 84 lies 300–500 m off). Said, with
 * the system that brings them together, before rows placed by their coordinates go in wrong.
 */
function shiftOf(located: Awaited<ReturnType<typeof locate>>, crs: string | null): { shift?: NonNullable<ImportOutcome['shift']> } {
  const pairs = located.flatMap((l) =>
    l.own && l.match && (l.match.how === 'exact' || l.match.how === 'normalized') && l.match.found[0]
      ? [[l.own, [l.match.found[0].x, l.match.found[0].y]] as [[number, number], [number, number]]]
      : [],
  );
  if (pairs.length < 3) return {};
  const off = median(pairs.map(([o, h]) => metresApart(o, h)));
  if (off < 100) return {};
  // what the rows' points would be, read in another system (they were read in `crs`, GCJ-02/BD-09 already undone)
  const asWritten = (p: [number, number]) => (crs === GCJ02 ? toGcj(p) : crs === BD09 ? toBd(p) : p);
  const candidates: [string, (p: [number, number]) => [number, number]][] =
    crs === GCJ02 || crs === BD09
      ? [['EPSG:4326', asWritten]]
      : [
          [GCJ02, (p) => undoObfuscation(GCJ02, p)],
          [BD09, (p) => undoObfuscation(BD09, p)],
        ];
  let best: { suggest: string; after: number } | null = null;
  for (const [suggest, f] of candidates) {
    const after = median(pairs.map(([o, h]) => metresApart(f(o), h)));
    if (after < off / 4 && (!best || after < best.after)) best = { suggest, after };
  }
  return { shift: { rows: pairs.length, metres: Math.round(off), suggest: best?.suggest ?? null, after: best ? Math.round(best.after) : null } };
}
const toGcj = (p: [number, number]) => gcoord.transform(p, gcoord.WGS84, gcoord.GCJ02) as [number, number];
const toBd = (p: [number, number]) => gcoord.transform(p, gcoord.WGS84, gcoord.BD09) as [number, number];

async function planHouseholds(tx: Queryable, rows: ImportRow[], spec: ImportSpec): Promise<HouseholdPlan> {
  const problems: Problem[] = [];
  const located = await locate(tx, rows, spec);
  const inside = await insideRegion(
    tx,
    spec.parentId,
    located.map((l) => l.own),
  );
  const parentName = spec.parentId === null ? '' : (await regionRow(tx, spec.parentId, 'parentId')).name;
  const swapped = await swappedInside(
    tx,
    spec.parentId,
    located.map((l, i) => (l.own && !inside[i] && !(l.match && l.match.how !== 'none') ? l.own : null)),
  );
  const adds: HouseholdPlan['adds'] = [];
  let updates: HouseholdPlan['updates'] = [];
  const seen = new Set<number>();
  const matchedAddress = new Map<number, string>();
  let atDoor = 0;
  located.forEach(({ own, address, match }, index) => {
    const path = `rows[${index}]`;
    // an address as hand entry takes it: no control characters, no direction overrides, nothing unreadable
    try {
      parseAddress(address, `${path}.address`);
    } catch (e) {
      const subject = address.replace(new RegExp(NOT_IN_A_NAME.source, 'g'), '\ufffd').slice(0, 60);
      problems.push({ index, code: 'invalid_address', message: (e as Error).message, path: `${path}.address`, subject });
      return;
    }
    const sizeText = text(field(rows[index]!, spec, 'size'));
    const size = sizeText ? householdSizeOf(sizeText) : null;
    if (size !== null && (!Number.isInteger(size) || size < 1 || size > 30)) {
      problems.push({
        index,
        code: 'invalid_size',
        message: `a household has 1 to 30 people, got ${JSON.stringify(sizeText)}`,
        path: `${path}.size`,
        subject: sizeText,
      });
      return;
    }
    // 户主 and a number to reach them: kept as given; a masked or broken number is the clerk's to fix
    let headText: string;
    try {
      headText = parseHead(field(rows[index]!, spec, 'head'), `${path}.head`);
    } catch (e) {
      const subject = words(field(rows[index]!, spec, 'head'))
        .replace(new RegExp(NOT_IN_A_NAME.source, 'g'), '\ufffd')
        .slice(0, 60);
      problems.push({ index, code: 'invalid_head', message: (e as Error).message, path: `${path}.head`, subject });
      return;
    }
    const phoneText = text(field(rows[index]!, spec, 'phone'));
    let phone: string;
    try {
      phone = parseHouseholdPhone(phoneText, `${path}.phone`);
    } catch (e) {
      problems.push({ index, code: 'invalid_phone', message: (e as Error).message, path: `${path}.phone`, subject: phoneText });
      return;
    }
    if (match && (match.how === 'exact' || match.how === 'normalized')) {
      const id = match.found[0]!.id;
      if (seen.has(id)) {
        problems.push({ index, code: 'duplicate_address', message: `${address} is in the list twice`, path: `${path}.address`, subject: address });
        return;
      }
      seen.add(id);
      matchedAddress.set(id, match.found[0]!.address);
      // a list updates what it gives: an empty cell leaves the household's own value
      if (size !== null || headText || phone) updates.push({ id, size, head: headText || null, phone: phone || null });
      return;
    }
    if (match?.how === 'ambiguous') {
      problems.push({
        index,
        code: 'ambiguous_address',
        message: `${address} fits ${match.found.length} households; add the room or building`,
        path: `${path}.address`,
        subject: address,
      });
      return;
    }
    // a flat of a door the region has (69号5栋1单元301 where 69号 is): a new household at that door, said so
    const door = !own && match?.how === 'building' ? doorPlace(match.found) : null;
    if (door) {
      adds.push({ lon: door[0], lat: door[1], size: size ?? 1, address, head: headText, phone });
      atDoor++;
      return;
    }
    if (own) {
      if (!inside[index]) {
        problems.push(
          swapped[index]
            ? {
                index,
                code: 'swapped_lonlat',
                message: `${own[0].toFixed(5)}, ${own[1].toFixed(5)} lies outside ${parentName}, inside it swapped: are longitude and latitude mixed up?`,
                path: `${path}.geometry`,
                subject: `${own[0].toFixed(5)}, ${own[1].toFixed(5)}`,
              }
            : {
                index,
                code: 'outside_parent',
                message: `${own[0].toFixed(5)}, ${own[1].toFixed(5)} lies outside ${parentName}`,
                path: `${path}.geometry`,
                subject: `${own[0].toFixed(5)}, ${own[1].toFixed(5)}`,
              },
        );
        return;
      }
      adds.push({ lon: own[0], lat: own[1], size: size ?? 1, address, head: headText, phone });
      return;
    }
    // one of the two coordinates given (or not a number): that, not the address, is what to fix
    const lonText = spec.fields.lon ? text(field(rows[index]!, spec, 'lon')) : '';
    const latText = spec.fields.lat ? text(field(rows[index]!, spec, 'lat')) : '';
    if (lonText || latText) {
      problems.push({
        index,
        code: 'bad_coordinates',
        message: `the row's coordinates are incomplete or not numbers: ${JSON.stringify(lonText)}, ${JSON.stringify(latText)}`,
        path: `${path}.geometry`,
        subject: `${lonText || '—'}, ${latText || '—'}`,
      });
    } else if (address)
      problems.push({ index, code: 'unmatched_address', message: `no household has the address ${address}`, path: `${path}.address`, subject: address });
    else if (spec.fields.address)
      problems.push({ index, code: 'empty_address', message: 'the row has no coordinates and its address is empty', path: `${path}.address` });
    else problems.push({ index, code: 'no_location', message: 'the row has neither coordinates nor an address', path });
  });
  // Not one address found: say how the region's addresses are written (a list from another system
  // often names places otherwise), so the clerk sees why before placing rows one by one.
  const noneFound = problems.some((p) => p.code === 'unmatched_address') && !located.some((l) => l.match && l.match.how !== 'none');
  const example = noneFound
    ? ((
        await tx.query<{ address: string }>(
          `SELECT h.address FROM household h WHERE h.address <> '' AND ($1::int IS NULL OR h.region_id IN (SELECT id FROM gp_subtree($1)))
           ORDER BY h.id LIMIT 1`,
          [spec.parentId],
        )
      ).rows[0]?.address ?? null)
    : null;
  const real = await realUpdates(tx, updates, matchedAddress, spec.overwriteCorrected ?? false);
  updates = real.updates;
  const outOfRange = adds.length > 0 && adds.length <= RANGE_CHECK_MAX_ADDS ? await pushedOutOfRange(tx, adds) : null;
  const outcome = finish('household', rows.length, adds.length + seen.size, problems, {
    households: {
      added: adds.length,
      updated: updates.length,
      unchanged: real.unchanged,
      ...(outOfRange ? { outOfRange } : {}),
      ...(atDoor ? { atDoor } : {}),
      ...(real.kept.count ? { kept: real.kept } : {}),
      ...(noneFound ? { addressExample: example } : {}),
    },
    located: locatedOf(located),
    ...shiftOf(located, spec.crs ?? null),
  });
  return { outcome, adds, updates };
}

/**
 * A routine list (a few new households here and there) checked against the grids it adds to: those it takes out of their
 * district's range for their type, said before anything is written (a clerk's update took a grid of 21 to 32 households and
 * nothing said so until the coverage check). A first load of a county's every household (over this many) changes nearly every
 * grid, and the coverage check says which after.
 */
const RANGE_CHECK_MAX_ADDS = 20_000;
async function pushedOutOfRange(tx: Queryable, adds: { lon: number; lat: number }[]) {
  const { rows } = await tx.query<{ name: string; grid_type: string; before: number; after: number; lo: number; hi: number }>(
    `WITH p AS (SELECT ST_SetSRID(ST_MakePoint(x, y), 4326) AS g FROM unnest($1::float8[], $2::float8[]) AS t(x, y)),
     hit AS (SELECT r.id, count(*)::int AS n FROM p JOIN region r ON r.level = 'grid' AND r.geom && p.g AND ST_Intersects(r.geom, p.g) GROUP BY r.id)
     SELECT r.name, r.grid_type, r.household_count AS before, r.household_count + hit.n AS after, gr.lo, gr.hi
     FROM hit JOIN region r ON r.id = hit.id JOIN grid_range gr ON gr.grid_id = r.id
     WHERE r.grid_type IS NOT NULL AND gr.hi IS NOT NULL AND (r.household_count + hit.n > gr.hi OR r.household_count + hit.n < gr.lo)
       AND r.household_count BETWEEN gr.lo AND gr.hi
     ORDER BY r.code`,
    [adds.map((a) => a.lon), adds.map((a) => a.lat)],
  );
  if (rows.length === 0) return null;
  return {
    count: rows.length,
    grids: rows.slice(0, 50).map((r) => ({ name: r.name, gridType: r.grid_type, before: r.before, households: r.after, min: r.lo, max: r.hi })),
  };
}

// ── incidents ────────────────────────────────────────────────────────────────────────────────

async function planIncidents(tx: Tx, actor: string, rows: ImportRow[], spec: ImportSpec, now: Date): Promise<ImportOutcome> {
  const categories = await incidentCategories(tx);
  for (const [name, code] of spec.categories ?? [])
    if (!categories.some((c) => c.code === code))
      throw new InputError('unknown_category', `${code} is none of the categories (${categories.map((c) => c.code).join(', ')})`, `categories.${name}`);
  const located = spec.fields.address
    ? await locate(tx, rows, spec)
    : rows.map((r, i) => ({ own: spec.places?.get(i) ?? pointOf(r.geometry), address: '', match: null }));
  const inside = await insideRegion(
    tx,
    spec.parentId,
    located.map(
      (l) =>
        l.own ??
        (l.match?.found.length === 1 ? [l.match.found[0]!.x, l.match.found[0]!.y] : null) ??
        (l.match?.how === 'building' ? doorPlace(l.match.found) : null),
    ),
  );
  const swapped = await swappedInside(
    tx,
    spec.parentId,
    located.map((l, i) => (l.own && !inside[i] ? l.own : null)),
  );
  const problems: Problem[] = [];
  const good: { index: number; incident: NewIncident }[] = [];
  rows.forEach((row, index) => {
    const path = `rows[${index}]`;
    const l = located[index]!;
    const at =
      l.own ??
      (l.match?.found.length === 1 ? ([l.match.found[0]!.x, l.match.found[0]!.y] as [number, number]) : null) ??
      (l.match?.how === 'building' ? doorPlace(l.match.found) : null);
    const categoryText = text(field(row, spec, 'category'));
    // (a name of the file's the clerk said is one of ours first)
    const named = spec.categories?.get(categoryText);
    const category = named && categories.some((c) => c.code === named) ? named : categoryOf(categoryText, categories);
    const severityText = text(field(row, spec, 'severity'));
    const severity = severityText ? severityOf(severityText) : 1;
    const timeText = text(field(row, spec, 'time'));
    const reportedAt = timeText ? looseTime(timeText) : now;
    const description = words(field(row, spec, 'description')).slice(0, 2_000);
    const problem = !category
      ? ['unknown_category', `category ${JSON.stringify(categoryText)} is none of ${categories.map((c) => c.zh).join('、')}`, 'category', categoryText]
      : severity === null
        ? ['invalid_severity', `severity ${JSON.stringify(severityText)} is none of 1–4, 一般, 较大, 重大, 特别重大`, 'severity', severityText]
        : !reportedAt
          ? ['invalid_time', `${JSON.stringify(timeText)} is not a time (2026-11-03 14:22, 2026/11/3, 2026年11月3日)`, 'time', timeText]
          : reportedAt.getTime() > now.getTime() + 5 * 60_000
            ? ['time_in_future', `${timeText} is in the future`, 'time', timeText]
            : !at
              ? l.address
                ? ['unmatched_address', `no household has the address ${l.address}`, 'address', l.address]
                : spec.fields.address
                  ? ['empty_address', 'the row has no coordinates and its address is empty', 'address']
                  : ['no_location', 'the row has neither coordinates nor an address', 'geometry']
              : !inside[index]
                ? swapped[index]
                  ? [
                      'swapped_lonlat',
                      `${at[0].toFixed(5)}, ${at[1].toFixed(5)} lies outside the area, inside it swapped: are longitude and latitude mixed up?`,
                      'geometry',
                      `${at[0].toFixed(5)}, ${at[1].toFixed(5)}`,
                    ]
                  : ['outside_parent', `${at[0].toFixed(5)}, ${at[1].toFixed(5)} lies outside the area`, 'geometry', `${at[0].toFixed(5)}, ${at[1].toFixed(5)}`]
                : null;
    if (problem) problems.push({ index, code: problem[0]!, message: problem[1]!, path: `${path}.${problem[2]}`, subject: problem[3] ?? '' });
    else
      good.push({
        index,
        incident: { lon: at![0], lat: at![1], category: category!, severity: severity!, description, reportedAt: reportedAt!, reporterId: null },
      });
  });
  const { ids, outside, op } = await importIncidentBatch(
    tx,
    actor,
    good.map((g) => g.incident),
    { format: 'wizard' },
  );
  for (const i of outside)
    problems.push({ index: good[i]!.index, code: 'outside_parent', message: 'the place lies in no district of the plan', path: `rows[${good[i]!.index}]` });
  return finish('incident', rows.length, ids.length, problems, { incidents: { imported: ids.length }, located: locatedOf(located), op });
}

// ── staff ────────────────────────────────────────────────────────────────────────────────────

async function planStaff(tx: Tx, actor: string, rows: ImportRow[], spec: ImportSpec): Promise<ImportOutcome> {
  if (spec.parentId === null) throw new InputError('missing_parent', 'choose the region whose grids the staff serve', 'parentId');
  const roles = await staffRoles(tx);
  const { rows: grids } = await tx.query<{ id: number; code: string; name: string; worker_id: number | null }>(
    `SELECT r.id, r.code, r.name, r.worker_id FROM gp_subtree($1) s JOIN region r ON r.id = s.id WHERE r.level = 'grid'`,
    [spec.parentId],
  );
  const byCode = new Map(grids.map((g) => [g.code, g]));
  const byName = new Map<string, typeof grids>();
  for (const g of grids) byName.set(g.name, [...(byName.get(g.name) ?? []), g]);
  // The people a row may be: those serving the region's grids, or no grid yet — not a namesake (or a number) serving
  // another county's grids, whom the import would otherwise put here and so widen what their account reaches.
  const { rows: workers } = await tx.query<{ id: number; name: string; phone: string }>(
    `SELECT w.id, w.name, w.phone FROM worker w
     WHERE NOT EXISTS (SELECT 1 FROM public.region r WHERE r.worker_id = w.id) AND NOT EXISTS (SELECT 1 FROM public.grid_staff g WHERE g.worker_id = w.id)
        OR EXISTS (SELECT 1 FROM region r WHERE r.worker_id = w.id AND r.id = ANY($1::int[]))
        OR EXISTS (SELECT 1 FROM grid_staff g WHERE g.worker_id = w.id AND g.grid_id = ANY($1::int[]))`,
    [grids.map((g) => g.id)],
  );
  const byPhone = new Map(workers.filter((w) => w.phone).map((w) => [w.phone, w]));
  const problems: Problem[] = [];
  const assignments: { index: number; grid: number; worker: { id: number | null; name: string; phone: string; role: string }; role: string }[] = [];
  // A row naming nobody and no phone is a roster's line left blank (the exported 人员名册 gives one for each
  // grid without a full-time worker, to fill in): passed over, not refused.
  let blank = 0;
  rows.forEach((row, index) => {
    const path = `rows[${index}]`;
    const name = text(field(row, spec, 'person'));
    const phoneText = text(field(row, spec, 'phone'));
    if (!name && !phoneText) {
      blank++;
      return;
    }
    const phone = phoneText ? phoneOf(phoneText) : '';
    const roleText = text(field(row, spec, 'role'));
    const role = roleText ? roleOf(roleText, roles) : 'full_time';
    // A roster often has both 网格编码 and 网格名称: a row whose column for the grid is empty (or names no grid)
    // is placed by another column named for grids that does (the code column blank, the name given).
    let gridText = text(field(row, spec, 'grid'));
    if (!byCode.has(gridText) && (byName.get(gridText) ?? []).length !== 1) {
      const other = Object.entries(row.properties)
        .filter(([k]) => k !== spec.fields.grid && /网格|grid|wg/i.test(k))
        .map(([, v]) => text(v))
        .find((v) => v && (byCode.has(v) || (byName.get(v) ?? []).length === 1));
      if (other) gridText = other;
    }
    const named = byName.get(gridText) ?? [];
    const grid = byCode.get(gridText) ?? (named.length === 1 ? named[0] : undefined);
    const problem = !name
      ? ['missing_person', 'the row names no person', 'person']
      : phone === null
        ? ['invalid_phone', `${JSON.stringify(phoneText)} is not a phone number`, 'phone', phoneText]
        : !role
          ? ['unknown_role', `${JSON.stringify(roleText)} is none of ${roles.map((r) => r.zh).join('、')}`, 'role', roleText]
          : named.length > 1 && !byCode.has(gridText)
            ? ['ambiguous_grid', `${named.length} grids are called ${gridText}; use the grid's code`, 'grid', gridText]
            : !grid
              ? ['unknown_grid', `no grid ${JSON.stringify(gridText)} in the region`, 'grid', gridText]
              : null;
    if (problem) {
      problems.push({ index, code: problem[0]!, message: problem[1]!, path: `${path}.${problem[2]}`, subject: problem[3] ?? '' });
      return;
    }
    const known = phone ? byPhone.get(phone) : workers.find((w) => w.name === name);
    assignments.push({ index, grid: grid!.id, worker: { id: known?.id ?? null, name, phone: phone ?? '', role: role! }, role: role! });
  });
  // A grid has one full-time worker: a file naming two for one grid is asked which (else the later row would silently win).
  const fullTime = new Map<number, number[]>();
  assignments.forEach((a, i) => a.role === 'full_time' && fullTime.set(a.grid, [...(fullTime.get(a.grid) ?? []), i]));
  const doubled = new Set([...fullTime.values()].filter((is) => is.length > 1).flat());
  if (doubled.size > 0) {
    const gridName = new Map(grids.map((g) => [g.id, g.name]));
    for (const i of doubled) {
      const a = assignments[i]!;
      const all = fullTime.get(a.grid)!.map((j) => assignments[j]!.worker.name);
      problems.push({
        index: a.index,
        code: 'duplicate_full_time',
        message: `grid ${gridName.get(a.grid)} is given ${all.length} full-time workers (${all.join(', ')}); it has one`,
        path: `rows[${a.index}].person`,
        subject: `${gridName.get(a.grid)} — ${all.join('、')}`,
      });
    }
    problems.sort((x, y) => x.index - y.index);
    assignments.splice(0, assignments.length, ...assignments.filter((_, i) => !doubled.has(i)));
  }
  const touched = [...new Set(assignments.map((a) => a.grid))];
  await tx.query('SELECT id FROM region WHERE id = ANY($1::int[]) FOR UPDATE', [touched]);
  const before = new Map((await snapshots(tx, touched)).map((s) => [s.id, s]));
  // Who already holds the role a row gives, in its grid: a full-time worker the list replaces, and another holder of a
  // role the list adds a second one to (two 网格长), said in the report before anything is written.
  const { rows: holders } = await tx.query<{ grid: number; role: string; worker: number; name: string }>(
    `SELECT r.id AS grid, 'full_time' AS role, w.id AS worker, w.name FROM region r JOIN worker w ON w.id = r.worker_id WHERE r.id = ANY($1::int[])
     UNION ALL SELECT g.grid_id, g.role, w.id, w.name FROM grid_staff g JOIN worker w ON w.id = g.worker_id WHERE g.grid_id = ANY($1::int[])`,
    [touched],
  );
  const gridNames = new Map(grids.map((g) => [g.id, g.name]));
  const roleNames = new Map(roles.map((r) => [r.code, r]));
  const displaced: NonNullable<ImportOutcome['staff']>['displaced'] = [];
  for (const a of assignments) {
    const same = holders.filter((h) => h.grid === a.grid && h.role === a.role);
    if (same.length === 0 || (a.worker.id !== null && same.some((h) => h.worker === a.worker.id))) continue;
    const role = roleNames.get(a.role);
    displaced.push({
      grid: gridNames.get(a.grid) ?? '',
      role: role?.zh ?? a.role,
      roleEn: role?.en || a.role,
      was: same.map((h) => h.name),
      now: a.worker.name,
      replaces: a.role === 'full_time',
    });
  }
  let newWorkers = 0;
  const made = new Map<string, number>();
  for (const a of assignments) {
    if (a.worker.id === null) {
      const key = `${a.worker.name}|${a.worker.phone}`;
      let id = made.get(key);
      if (id === undefined) {
        id = (
          await tx.query<{ id: number }>('INSERT INTO worker (name, phone, role) VALUES ($1, $2, $3) RETURNING id', [a.worker.name, a.worker.phone, a.role])
        ).rows[0]!.id;
        made.set(key, id);
        if (a.worker.phone) byPhone.set(a.worker.phone, { id, name: a.worker.name, phone: a.worker.phone });
        newWorkers++;
      }
      a.worker.id = id;
    }
    if (a.role === 'full_time') await tx.query('UPDATE region SET worker_id = $2 WHERE id = $1', [a.grid, a.worker.id]);
    else await tx.query('INSERT INTO grid_staff (grid_id, worker_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [a.grid, a.worker.id, a.role]);
  }
  if (touched.length > 0) await tx.query('UPDATE region SET version = version + 1, updated_at = now() WHERE id = ANY($1::int[])', [touched]);
  const after = await snapshots(tx, touched);
  const op =
    touched.length > 0
      ? await recordOperation(
          tx,
          actor,
          'import',
          after.map((s) => ({ entityId: s.id, before: before.get(s.id)!, after: s })),
        )
      : null;
  return finish('staff', rows.length - blank, assignments.length, problems, {
    staff: { assigned: assignments.length, grids: touched.length, newWorkers, blank, displaced: displaced.slice(0, 200), displacedCount: displaced.length },
    op,
  });
}

// ── departments (职能部门) ───────────────────────────────────────────────────────────────────────

const DEPARTMENT_CODE = /^[a-z][a-z0-9_]{1,31}$/;

/** A department list: each row checked as the settings screen checks one, then all written as one settings change. */
async function planDepartments(tx: Tx, actor: string, rows: ImportRow[], spec: ImportSpec): Promise<ImportOutcome> {
  const problems: Problem[] = [];
  let good: DepartmentRow[] = [];
  /** Each good row's index in the layer. */
  let at: number[] = [];
  const [codes, names] = [new Set<string>(), new Set<string>()];
  rows.forEach((row, index) => {
    const path = `rows[${index}]`;
    const zh = words(field(row, spec, 'name'));
    const code = text(field(row, spec, 'code')).toLowerCase() || null;
    const phone = text(field(row, spec, 'phone')) || null;
    const problem: [string, string, string, string?] | null = !zh
      ? ['missing_name', 'the row names no department', 'name']
      : zh.length > 40
        ? ['invalid_name', `a department's name has at most 40 characters, got ${zh.length}`, 'name', zh]
        : code !== null && !DEPARTMENT_CODE.test(code)
          ? ['invalid_code', `${JSON.stringify(code)} is no department code: 2–32 lower-case letters, digits or _, from a letter`, 'code', code]
          : code !== null && codes.has(code)
            ? ['duplicate_code', `${code} is in the list twice`, 'code', code]
            : names.has(zh)
              ? ['duplicate_name', `${zh} is in the list twice`, 'name', zh]
              : phone !== null && !CONTACT_PHONE.test(phone)
                ? ['invalid_phone', `${JSON.stringify(phone)} is not a phone number`, 'phone', phone]
                : null;
    if (problem) {
      problems.push({ index, code: problem[0], message: problem[1], path: `${path}.${problem[2]}`, subject: problem[3] ?? zh });
      return;
    }
    if (code) codes.add(code);
    names.add(zh);
    const en = words(field(row, spec, 'nameEn'));
    const contact = words(field(row, spec, 'contact')).slice(0, 40);
    good.push({ code, zh, en: en ? en.slice(0, 80) : null, contact: contact || null, phone });
    at.push(index);
  });
  // a list for a region does not change another region's own department, even named by its code (a whole plan's export
  // brought back for one county): such a row is said, not written
  if (spec.parentId !== null) {
    const { rows: far } = await tx.query<{ code: string; region: string | null }>(
      `SELECT d.code, (SELECT r.name FROM region r WHERE r.id = d.region_id) AS region FROM department d
       WHERE d.code = ANY($1::text[]) AND NOT (gp_overlaps(d.region_id, $2) OR gp_overlaps($2, d.region_id))`,
      [good.flatMap((g) => (g.code ? [g.code] : [])), spec.parentId],
    );
    const elsewhere = new Map(far.map((f) => [f.code, f.region]));
    const keep = good.map((g, k) => {
      const region = g.code !== null && elsewhere.has(g.code) ? elsewhere.get(g.code) : undefined;
      if (region === undefined) return true;
      problems.push({
        index: at[k]!,
        code: 'department_elsewhere',
        message: `${g.code} is a department of ${region ?? 'another region'}, not of the region this list is for`,
        path: `rows[${at[k]!}].code`,
        subject: g.zh,
      });
      return false;
    });
    good = good.filter((_, k) => keep[k]);
    at = at.filter((_, k) => keep[k]);
    problems.sort((a, b) => a.index - b.index);
  }
  const departments = await importDepartments(tx, actor, good, spec.parentId, 'parentId');
  return finish('department', rows.length, good.length, problems, { departments, op: null });
}

// ── barriers (roads, rivers, railways) ─────────────────────────────────────────────────────────

async function planBarriers(tx: Tx, actor: string, rows: ImportRow[], spec: ImportSpec, maxVertices: number): Promise<ImportOutcome> {
  if (spec.parentId === null) throw new InputError('missing_parent', 'choose the region the roads and rivers are for', 'parentId');
  const problems: Problem[] = [];
  const lines: { index: number; barrier: NewBarrier }[] = [];
  rows.forEach((row, index) => {
    const g = row.geometry;
    const path = `rows[${index}].geometry`;
    if (!g) return problems.push({ index, code: 'no_geometry', message: 'the row has no line', path });
    if (g.type !== 'LineString' && g.type !== 'MultiLineString') {
      return problems.push({ index, code: 'wrong_geometry_type', message: `roads and rivers are lines, this row is a ${g.type}`, path, subject: g.type });
    }
    const parts = (g.type === 'LineString' ? [g.coordinates] : g.coordinates).filter((l) => l.length >= 2);
    const vertices = parts.reduce((n, l) => n + l.length, 0);
    if (parts.length === 0) return problems.push({ index, code: 'line_too_short', message: 'a line needs two positions', path });
    if (vertices > maxVertices) {
      return problems.push({
        index,
        code: 'too_many_vertices',
        message: `the line has ${vertices} vertices; at most ${maxVertices}`,
        path,
        subject: String(vertices),
      });
    }
    lines.push({
      index,
      barrier: {
        cls: barrierClassOf(field(row, spec, 'barrierClass')),
        name: words(field(row, spec, 'name')).slice(0, 200),
        geometry: { type: 'MultiLineString', coordinates: parts },
      },
    });
  });
  // Each line as far as it runs inside the region: a road or river of the county imported for one
  // township stops at its edge (a township's planner may shape only its own auto-split).
  const { rows: inside } = await tx.query<{ inside: boolean; cut: boolean; g: string | null }>(
    `SELECT ST_Intersects(r.geom, l.g) AS inside, NOT ST_Covers(r.geom, l.g) AS cut,
            CASE WHEN ST_Intersects(r.geom, l.g) AND NOT ST_Covers(r.geom, l.g)
                 THEN ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Intersection(r.geom, l.g), 2)), 9) END AS g
     FROM region r, unnest($2::text[]) WITH ORDINALITY AS t(g, ord), LATERAL (SELECT ST_SetSRID(ST_GeomFromGeoJSON(t.g), 4326) AS g) l
     WHERE r.id = $1 ORDER BY t.ord`,
    [spec.parentId, lines.map((l) => JSON.stringify(l.barrier.geometry))],
  );
  let clipped = 0;
  const good = lines.filter((l, i) => {
    const r = inside[i];
    const kept = r?.inside && r.cut && r.g ? (JSON.parse(r.g) as GeoJSON.MultiLineString) : null;
    if (kept && kept.coordinates.length > 0) {
      l.barrier.geometry = kept;
      clipped++;
    }
    // (a line that only touches the area keeps nothing inside it)
    if (r?.inside && (!kept || kept.coordinates.length > 0)) return true;
    problems.push({
      index: l.index,
      code: 'outside_parent',
      message: 'the line lies outside the area (is the coordinate system right?)',
      path: `rows[${l.index}].geometry`,
    });
    return false;
  });
  const { ids, op } = await importBarrierBatch(
    tx,
    actor,
    good.map((l) => l.barrier),
  );
  const classes: Record<string, number> = {};
  for (const l of good) classes[l.barrier.cls] = (classes[l.barrier.cls] ?? 0) + 1;
  return finish('barrier', rows.length, ids.length, problems, { barriers: { imported: ids.length, classes, clipped }, op });
}

// ── plan and commit ──────────────────────────────────────────────────────────────────────────

export interface ImportContext {
  actor: string;
  now: Date;
  maxVertices?: number;
  onProgress?: (p: ImportStage) => void | Promise<void>;
}

function runInTransaction(tx: Tx, rows: ImportRow[], spec: ImportSpec, ctx: ImportContext, dryRun = false): Promise<ImportOutcome> {
  const maxVertices = ctx.maxVertices ?? DEFAULT_LIMITS.maxVertices;
  if (spec.kind === 'boundary' || spec.kind === 'grid') return planRegions(tx, ctx.actor, rows, spec, maxVertices, dryRun);
  if (spec.kind === 'incident') return planIncidents(tx, ctx.actor, rows, spec, ctx.now);
  if (spec.kind === 'staff') return planStaff(tx, ctx.actor, rows, spec);
  if (spec.kind === 'barrier') return planBarriers(tx, ctx.actor, rows, spec, maxVertices);
  if (spec.kind === 'department') return planDepartments(tx, ctx.actor, rows, spec);
  return checkHouseholds(tx, rows, spec).then((p) => p.outcome);
}

/**
 * A household check, kept for the commit that follows it: by the rows read (the route keeps one read
 * per file and mapping, so the check and its commit hold the same array), the spec, and a stamp of
 * what the check read — the households and the regions. While neither changed, the commit takes the
 * check's result instead of matching 130,000 addresses and testing their points again (about 2 s).
 */
const householdChecks = new WeakMap<ImportRow[], { spec: string; stamp: string; plan: HouseholdPlan }>();

const specKey = (spec: ImportSpec) =>
  JSON.stringify([
    spec.kind,
    spec.parentId,
    spec.level ?? null,
    Object.entries(spec.fields).sort(),
    [...(spec.places ?? new Map()).entries()].sort((a, b) => a[0] - b[0]),
    spec.overwriteCorrected ?? false,
    [...(spec.categories ?? new Map()).entries()].sort(),
  ]);

/** Every write to households or regions moves one of these (undo and redo included: they change counts, versions or the log). */
const householdStamp = async (q: Queryable) =>
  (
    await q.query<{ s: string }>(
      `SELECT concat_ws(':', (SELECT coalesce(max(id), 0) FROM change),
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(size), 0) FROM household),
         (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM region)) AS s`,
    )
  ).rows[0]!.s;

async function checkHouseholds(tx: Queryable, rows: ImportRow[], spec: ImportSpec): Promise<HouseholdPlan> {
  const stamp = await householdStamp(tx);
  const plan = await planHouseholds(tx, rows, spec);
  householdChecks.set(rows, { spec: specKey(spec), stamp, plan });
  return plan;
}

/** The check's result when nothing it read has changed since, else a new check. */
async function householdPlanFor(db: Db, rows: ImportRow[], spec: ImportSpec): Promise<HouseholdPlan> {
  const kept = householdChecks.get(rows);
  if (kept && kept.spec === specKey(spec) && kept.stamp === (await householdStamp(db))) return kept.plan;
  return checkHouseholds(db, rows, spec);
}

/** What a commit would do, from the same code, rolled back: nothing is written. */
export async function planImport(db: Db, rows: ImportRow[], spec: ImportSpec, ctx: ImportContext): Promise<ImportOutcome> {
  await ctx.onProgress?.({ stage: 'checking', rows: 0, total: rows.length });
  try {
    await db.transaction(async (tx) => {
      throw new DryRun(await runInTransaction(tx, rows, spec, ctx, true));
    });
  } catch (err) {
    if (err instanceof DryRun) return { ...err.outcome, op: null };
    throw err;
  }
  throw new Error('unreachable');
}

/** Refuses a commit that would leave rows out, unless the clerk asked for the rest alone. */
function refuseIfProblems(outcome: ImportOutcome, spec: ImportSpec): void {
  const n = outcome.total - outcome.accepted;
  if (n > 0 && !spec.partial) {
    throw new InputError(
      'invalid_rows',
      `${n} of ${outcome.total} rows cannot be imported; nothing was imported (import the other ${outcome.accepted} with partial: true, or fix the file)`,
      outcome.problems[0]?.path ?? 'rows',
      outcome.problems.slice(0, 1000),
    );
  }
  if (outcome.accepted === 0) throw new InputError('nothing_to_import', 'no row of the layer can be imported', 'rows');
}

/** Does the import: one transaction (households: staged, then one), one operation to undo; a refusal writes nothing. */
export async function commitImport(db: Db, rows: ImportRow[], spec: ImportSpec, ctx: ImportContext): Promise<ImportOutcome> {
  await ctx.onProgress?.({ stage: 'checking', rows: 0, total: rows.length });
  if (spec.kind === 'household') {
    const plan = await householdPlanFor(db, rows, spec);
    refuseIfProblems(plan.outcome, spec);
    await ctx.onProgress?.({ stage: 'saving', rows: 0, total: rows.length });
    const result = await importHouseholds(db, ctx.actor, plan.adds, 'import', (p) => ctx.onProgress?.({ stage: 'saving', rows: p.rows, total: rows.length }), {
      updates: plan.updates,
    });
    return { ...plan.outcome, op: result.op };
  }
  return db.transaction(async (tx) => {
    const outcome = await runInTransaction(tx, rows, spec, ctx);
    refuseIfProblems(outcome, spec);
    await ctx.onProgress?.({ stage: 'saving', rows: rows.length, total: rows.length });
    return outcome;
  });
}

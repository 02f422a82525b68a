import { InputError } from '../domain/errors.ts';
import type { BoundaryFeature, FeatureError } from '../domain/geojson-input.ts';
import { childLevel, type Level } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';
import { validateCoverage, type CoverageReport } from './coverage.ts';
import { reassignHouseholdsIn, recountHouseholdsAround } from './households.ts';
import { reassignIncidentsIn } from './incidents.ts';
import { regionLevel } from './region-queries.ts';
import { recordOperation, snapshots, type ChangeRow } from './region-store.ts';

export interface ImportOptions {
  parentId: number | null;
  level: Level;
  /** Make invalid polygons valid (ST_MakeValid) instead of refusing them. */
  repair: boolean;
  /** Keep only each feature's free part: inside the parent, off its other children and the features before it. */
  clip: boolean;
  /** Store the valid features even when others are refused. */
  partial: boolean;
  /** Refuse the layer when it leaves gaps, overlaps or spills in its parent. */
  strict: boolean;
  /** Overlaps and spills smaller than this are slivers, not refusals. */
  toleranceM2: number;
  /** Record the layer as its own operation (default); false: the caller records `changes` with others, as one. */
  record?: boolean;
  /**
   * After the insert: file households and incidents in the new regions, recount, and check the
   * parent's coverage (default). False: the caller does it once for several layers.
   */
  settle?: boolean;
  /** False with `record: false`: no change rows are read back (a check that is rolled back needs none). */
  changes?: boolean;
  /** Each feature's placement as a check of the same features against the same plan found it (else placed here). */
  placed?: Placed[];
}

export interface ImportResult {
  op: number | null;
  created: { id: number; code: string; name: string }[];
  errors: FeatureError[];
  coverage: CoverageReport | null;
  /** The changes made, when the caller records them (`record: false`). */
  changes?: ChangeRow[];
  /** Each feature's placement, for a commit that follows this check to reuse. */
  placed?: Placed[];
}

// The geometry as stored: valid (repaired when asked), multi, on the fixed-precision grid.
const stored = (repair: boolean, j: string) =>
  repair
    ? `ST_Multi(ST_ReducePrecision(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(${j}), 4326)), 3), gp_grid()))`
    : `ST_Multi(ST_ReducePrecision(ST_SetSRID(ST_GeomFromGeoJSON(${j}), 4326), gp_grid()))`;

export interface Placed {
  ord: number;
  wkb: string | null;
  valid: boolean;
  reason: string | null;
  x: number | null;
  y: number | null;
  outside_m2: number;
  overlaps: { id: number; code: string; name: string; areaM2: number }[];
  earlier: { index: number; areaM2: number }[];
  clipped_m2: number | null;
  parts: number | null;
}

/**
 * Each feature against the place it goes: GEOS validity, the area outside the parent, overlaps
 * with the parent's other children and with the features before it in the file — the rules a
 * drawn region obeys. With `clip`, each keeps only its free part:
 *
 *   fᵢ' = (fᵢ ∩ parent) − ∪ siblings − ∪ fⱼ (j < i)
 *
 * (subtracting the earlier features whole equals subtracting their clipped parts: what clipping
 * took from them was the parent's outside or siblings, which fᵢ loses anyway).
 */
async function place(tx: Queryable, features: BoundaryFeature[], o: ImportOptions): Promise<Placed[]> {
  const { rows } = await tx.query<Placed>(
    `WITH raw AS (SELECT ord::int, j FROM unnest($1::text[]) WITH ORDINALITY AS t(j, ord)),
     checked AS (SELECT ord, ST_IsValidDetail(ST_SetSRID(ST_GeomFromGeoJSON(j), 4326)) AS d, j FROM raw),
     -- only valid input (or repaired) goes on to the overlays
     f0 AS (SELECT ord, ${stored(o.repair, 'j')} AS g FROM checked WHERE $3 OR (d).valid),
     parent AS (SELECT geom FROM region WHERE id = $2),
     -- Corners within a millimetre of the parent's outline are put on it: a layer exported and brought
     -- back (its corners rounded on the way, then put on the stored grid) fits its parent again instead
     -- of leaving hair-thin gaps and spills along the edge. Where snapping would make a shape invalid, it stays as it came.
     f AS (SELECT f0.ord, CASE WHEN s.g IS NOT NULL AND ST_IsValid(s.g) THEN s.g ELSE f0.g END AS g
           FROM f0 LEFT JOIN LATERAL (SELECT ST_Multi(ST_Snap(f0.g, p.geom, 1e-8)) AS g FROM parent p WHERE f0.g && p.geom) s ON true),
     sibling AS (SELECT id, code, name, geom FROM region WHERE parent_id IS NOT DISTINCT FROM $2),
     -- Overlaps are measured only where interiors meet (ST_Relate 'T********'): neighbours that merely
     -- share an edge have nothing to measure, and intersecting each such pair was most of the check
     -- (a file of 4,598 grids: 11,481 touching pairs, 780 ms of intersections for no area at all).
     measured AS (
       SELECT f.ord, f.g,
         -- a feature the parent covers has nothing outside it: its difference (an overlay with the
         -- parent's whole outline) is computed only for the others (4,598 grids: 470 → 170 ms)
         CASE WHEN $2::int IS NULL OR ST_CoveredBy(f.g, (SELECT geom FROM parent)) THEN 0
              ELSE gp_area_m2(gp_difference(f.g, (SELECT geom FROM parent))) END AS outside_m2,
         (SELECT coalesce(json_agg(json_build_object('id', s.id, 'code', s.code, 'name', s.name, 'areaM2', round(s.a::numeric, 1)) ORDER BY s.id), '[]')
            FROM (SELECT s.id, s.code, s.name, gp_area_m2(ST_Intersection(s.geom, f.g, gp_grid())) AS a FROM sibling s WHERE s.geom && f.g
              AND ST_Relate(s.geom, f.g, 'T********')) s
           WHERE s.a > $4) AS overlaps,
         (SELECT coalesce(json_agg(json_build_object('index', e.ord - 1, 'areaM2', round(e.a::numeric, 1)) ORDER BY e.ord), '[]')
            FROM (SELECT e.ord, gp_area_m2(ST_Intersection(e.g, f.g, gp_grid())) AS a FROM f e
              WHERE e.ord < f.ord AND e.g && f.g AND ST_Relate(e.g, f.g, 'T********')) e
           WHERE e.a > $4) AS earlier
       FROM f
     ),
     clipped AS (
       SELECT m.ord, ST_Multi(ST_CollectionExtract(gp_difference(
                -- (only the area: where the feature runs along the parent's edge from outside, the intersection
                -- also holds that line, and GEOS will not subtract the siblings from such a mix)
                CASE WHEN $2::int IS NULL THEN m.g ELSE ST_CollectionExtract(ST_Intersection(m.g, (SELECT geom FROM parent), gp_grid()), 3) END,
                (SELECT ST_Union(x.g, gp_grid()) FROM (
                   SELECT s.geom AS g FROM sibling s WHERE s.geom && m.g
                   UNION ALL SELECT e.g FROM f e WHERE e.ord < m.ord AND e.g && m.g) x)), 3)) AS g
       FROM measured m WHERE $5
     )
     SELECT c.ord, encode(ST_AsEWKB(CASE WHEN $5 THEN k.g ELSE m.g END), 'hex') AS wkb,
            (c.d).valid, (c.d).reason, ST_X((c.d).location) AS x, ST_Y((c.d).location) AS y,
            coalesce(m.outside_m2, 0) AS outside_m2, coalesce(m.overlaps, '[]') AS overlaps, coalesce(m.earlier, '[]') AS earlier,
            CASE WHEN $5 THEN gp_area_m2(k.g) END AS clipped_m2, CASE WHEN $5 THEN ST_NumGeometries(k.g) END AS parts
     FROM checked c LEFT JOIN measured m ON m.ord = c.ord LEFT JOIN clipped k ON k.ord = c.ord
     ORDER BY c.ord`,
    [features.map((f) => JSON.stringify({ type: 'MultiPolygon', coordinates: f.coordinates })), o.parentId, o.repair, o.toleranceM2, o.clip],
  );
  return rows;
}

/** What keeps a placed feature out, in the words a drawn region would hear; null when it may go in. */
function refusal(f: BoundaryFeature, p: Placed, o: ImportOptions, parentName: string, input: BoundaryFeature[]): FeatureError | null {
  const path = `features.features[${f.index}]`;
  if (!o.repair && !p.valid) {
    const where = p.x !== null && p.y !== null ? ` at ${p.x} ${p.y}` : '';
    return { index: f.index, code: 'invalid_geometry', message: `${p.reason ?? 'invalid'}${where}`, path: `${path}.geometry` };
  }
  if (o.clip) {
    if (p.wkb === null || (p.clipped_m2 ?? 0) <= o.toleranceM2) {
      return {
        index: f.index,
        code: 'empty_after_clip',
        message: `nothing of ${f.name} is left inside ${parentName} once its other children and the features before it are cut away`,
        path: `${path}.geometry`,
      };
    }
    if (o.level === 'grid' && (p.parts ?? 1) > 1) {
      return {
        index: f.index,
        code: 'would_be_multipart',
        message: `clipped to the free space, ${f.name} falls into ${p.parts} pieces; a grid is one polygon`,
        path: `${path}.geometry`,
      };
    }
    return null;
  }
  if (p.outside_m2 > o.toleranceM2) {
    return {
      index: f.index,
      code: 'outside_parent',
      message: `${Math.round(p.outside_m2)} m² of ${f.name} lie outside ${parentName}; pass clip: true to keep only the part inside`,
      path: `${path}.geometry`,
      // (how much: the wizard's line said only the feature's own name after 超出范围)
      areaM2: Math.round(p.outside_m2),
    };
  }
  if (p.overlaps.length > 0) {
    const names = p.overlaps.map((s) => `${s.name} (${s.code}, ${s.areaM2} m²)`).join(', ');
    return {
      index: f.index,
      code: 'overlaps_siblings',
      message: `${f.name} overlaps ${names}; pass clip: true to keep only the free part`,
      path: `${path}.geometry`,
      subject: p.overlaps.map((s) => s.name).join('、'),
    };
  }
  if (p.earlier.length > 0) {
    // (the overlay counts the features it was given; the file's own row and the feature's name are what a clerk can find)
    const other = p.earlier.map((e) => ({ ...e, f: input[e.index] }));
    const which = other.map((e) => `feature ${e.f?.index ?? e.index} (${e.areaM2} m²)`).join(', ');
    return {
      index: f.index,
      code: 'overlaps_siblings',
      message: `${f.name} overlaps ${which} of the same file; pass clip: true to keep only the free part`,
      path: `${path}.geometry`,
      // (rows as a spreadsheet counts them, from 1)
      subject: other.map((e) => e.f?.name || `#${(e.f?.index ?? e.index) + 1}`).join('、'),
    };
  }
  return null;
}

/** New regions take in the households and incidents that lie in them, and every count above them is redone. */
export async function settleRegions(tx: Queryable, ids: number[], parentId: number | null): Promise<void> {
  await reassignHouseholdsIn(tx, ids);
  await reassignIncidentsIn(tx, ids);
  await recountHouseholdsAround(tx, [...ids, ...(parentId === null ? [] : [parentId])]);
}

/**
 * Imports boundaries as children of a region (or as districts) in the caller's transaction: every
 * feature obeys the rules a drawn region does (inside its parent, off its siblings — refused, or
 * clipped with `clip`), codes are unique, and the layer is one operation that undo takes back.
 * Problems are listed per feature; unless `partial`, any of them refuses the whole layer.
 */
export async function importRegions(
  tx: Queryable,
  actor: string,
  input: BoundaryFeature[],
  parseErrors: FeatureError[],
  o: ImportOptions,
): Promise<ImportResult> {
  const parent = o.parentId === null ? null : await regionLevel(tx, o.parentId);
  if (o.parentId !== null && !parent) throw new InputError('not_found', `parent region ${o.parentId} does not exist`, 'parentId');
  const expected = parent ? childLevel(parent.level) : 'district';
  if (o.level !== expected) {
    throw new InputError('wrong_level', `children of ${parent ? `a ${parent.level}` : 'nothing'} are at level ${expected ?? 'none'}, not ${o.level}`, 'level');
  }
  // Nothing else changes this parent's children while the layer goes in.
  if (o.parentId !== null) await tx.query('SELECT id FROM region WHERE id = $1 FOR UPDATE', [o.parentId]);
  const parentName = parent?.name ?? 'the plan';
  const placed = o.placed ?? (await place(tx, input, o));
  const taken = new Set(
    (await tx.query<{ code: string }>('SELECT code FROM region WHERE code = ANY($1::text[])', [input.map((f) => f.code)])).rows.map((r) => r.code),
  );
  const problems: FeatureError[] = [...parseErrors];
  const good: { f: BoundaryFeature; wkb: string }[] = [];
  input.forEach((f, i) => {
    const p = placed[i]!;
    const refused = taken.has(f.code)
      ? { index: f.index, code: 'duplicate_code', message: `a region with code ${f.code} already exists`, path: `features.features[${f.index}]` }
      : refusal(f, p, o, parentName, input);
    if (refused) problems.push(refused);
    else good.push({ f, wkb: p.wkb! });
  });
  problems.sort((a, b) => a.index - b.index);
  if (problems.length > 0 && !o.partial) {
    throw new InputError(
      'invalid_features',
      `${problems.length} of ${input.length + parseErrors.length} features cannot be imported; nothing was imported (pass partial: true to import the rest)`,
      problems[0]!.path,
      problems,
    );
  }
  if (good.length === 0) return { op: null, created: [], errors: problems, coverage: null, placed };
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO region (parent_id, level, code, name, geom, stat_code, grid_type)
     SELECT $1, $2, t.code, t.name, ST_GeomFromEWKB(decode(t.wkb, 'hex')), t.stat_code, t.grid_type
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS t(code, name, wkb, stat_code, grid_type, ord)
     ORDER BY t.ord RETURNING id`,
    [
      o.parentId,
      o.level,
      good.map((g) => g.f.code),
      good.map((g) => g.f.name),
      good.map((g) => g.wkb),
      good.map((g) => g.f.statCode ?? null),
      good.map((g) => (o.level === 'grid' ? (g.f.gridType ?? null) : null)),
    ],
  );
  const ids = rows.map((r) => r.id);
  const created = good.map((g, i) => ({ id: ids[i]!, code: g.f.code, name: g.f.name }));
  const changes = async () => (o.changes === false ? [] : (await snapshots(tx, ids)).map((s) => ({ entityId: s.id, before: null, after: s })));
  if (o.settle === false) return { op: null, created, errors: problems, coverage: null, changes: await changes(), placed };
  await settleRegions(tx, ids, o.parentId);
  // The layer's coverage of its parent: problems are reported, and refused only when strict.
  const coverage = o.parentId === null ? null : await validateCoverage(tx, o.parentId, { depth: 1, toleranceM2: o.toleranceM2 });
  const spatial = coverage ? coverage.summary.counts.gap + coverage.summary.counts.overlap + coverage.summary.counts.outside_parent : 0;
  if (o.strict && spatial > 0) {
    throw new InputError(
      'coverage_problems',
      `the layer leaves ${spatial} gaps, overlaps or spills in its parent; nothing was imported (drop strict to store it and fix it on the map)`,
      'features',
      coverage!.summary.counts,
    );
  }
  if (o.record === false) return { op: null, created, errors: problems, coverage, changes: await changes() };
  const op = await recordOperation(tx, actor, 'import', await changes());
  return { op, created, errors: problems, coverage };
}

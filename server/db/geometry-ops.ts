import { InputError } from '../domain/errors.ts';
import type { MultiPolygonCoords } from '../domain/geojson-input.ts';
import type { Queryable } from './db.ts';
import { validityOf } from './regions.ts';
import { M_PER_DEG_LON } from '../domain/local-frame.ts';

/** Hex EWKB: how geometry travels between statements without losing a bit. */
export type Wkb = string;

const GEOM = `ST_GeomFromEWKB(decode($1, 'hex'))`;
// Metres to degrees for snapping distances (equatorial degrees of longitude: conservative everywhere).
const M_PER_DEG = M_PER_DEG_LON;

/** Checks a drawn polygon with GEOS and snaps its vertices to the parent's and siblings' borders within `snapMeters`. */
export async function prepareGeometry(
  tx: Queryable,
  coordinates: MultiPolygonCoords,
  context: { parentId: number; selfId: number | null; snapMeters: number },
  path = 'geometry',
): Promise<Wkb> {
  const [invalid] = await validityOf(tx, [coordinates]);
  if (invalid) {
    const where = invalid.location ? ` at ${invalid.location[0]} ${invalid.location[1]}` : '';
    throw new InputError('invalid_geometry', `${invalid.reason}${where}`, path);
  }
  const { rows } = await tx.query<{ raw: Wkb; snapped: Wkb | null; valid: boolean | null }>(
    `WITH g AS (SELECT ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326)) AS g),
     ref AS (SELECT ST_Collect(ST_Boundary(geom)) AS lines FROM region
             WHERE id = $2 OR (parent_id = $2 AND id IS DISTINCT FROM $3) AND geom && (SELECT ST_Expand(g, $4) FROM g)),
     s AS (SELECT ST_Multi(ST_ReducePrecision(g.g, gp_grid())) AS g,
              CASE WHEN $4 > 0 AND ref.lines IS NOT NULL THEN ST_Multi(ST_ReducePrecision(ST_Snap(g.g, ref.lines, $4), gp_grid())) END AS snapped
       FROM g, ref)
     SELECT encode(ST_AsEWKB(g), 'hex') AS raw, encode(ST_AsEWKB(snapped), 'hex') AS snapped, ST_IsValid(snapped) AS valid FROM s`,
    [JSON.stringify({ type: 'MultiPolygon', coordinates }), context.parentId, context.selfId, context.snapMeters / M_PER_DEG],
  );
  const r = rows[0]!;
  // Snapping can fold a thin polygon onto itself; then keep what was drawn.
  return r.snapped && r.valid ? r.snapped : r.raw;
}

export interface Overlap {
  id: number;
  code: string;
  name: string;
  areaM2: number;
}

/** How far a geometry leaves its parent, and which siblings it overlaps, beyond `toleranceM2`. */
export async function measureAgainstSiblings(tx: Queryable, wkb: Wkb, parentId: number, selfId: number | null, toleranceM2: number) {
  const { rows } = await tx.query<{ outside_m2: number; overlaps: Overlap[] }>(
    `WITH g AS (SELECT ${GEOM} AS g), p AS (SELECT geom FROM region WHERE id = $2)
     SELECT gp_area_m2(gp_difference(g.g, p.geom)) AS outside_m2,
       (SELECT coalesce(json_agg(json_build_object('id', o.id, 'code', o.code, 'name', o.name, 'areaM2', round(o.a::numeric, 1)) ORDER BY o.id), '[]'::json)
        FROM (SELECT s.id, s.code, s.name, gp_area_m2(ST_Intersection(s.geom, g.g, gp_grid())) AS a
              FROM region s WHERE s.parent_id = $2 AND s.id IS DISTINCT FROM $3 AND s.geom && g.g AND ST_Intersects(s.geom, g.g)) o
        WHERE o.a > $4) AS overlaps
     FROM g, p`,
    [wkb, parentId, selfId, toleranceM2],
  );
  return { outsideM2: rows[0]!.outside_m2, overlaps: rows[0]!.overlaps };
}

/** Keeps the polygon parts of a geometry larger than `toleranceM2`; returns them with their count. */
async function polygonParts(tx: Queryable, sql: string, params: unknown[], toleranceM2: number): Promise<{ wkb: Wkb | null; parts: number; areaM2: number }> {
  const { rows } = await tx.query<{ wkb: Wkb | null; parts: number; area: number }>(
    `WITH x AS (${sql}),
     part AS (SELECT d.geom FROM x, LATERAL ST_Dump(ST_CollectionExtract(x.g, 3)) AS d WHERE gp_area_m2(d.geom) > $${params.length + 1})
     SELECT encode(ST_AsEWKB(ST_Multi(ST_Collect(geom))), 'hex') AS wkb, count(*)::int AS parts, coalesce(sum(gp_area_m2(geom)), 0) AS area FROM part`,
    [...params, toleranceM2],
  );
  return { wkb: rows[0]!.parts > 0 ? rows[0]!.wkb : null, parts: rows[0]!.parts, areaM2: rows[0]!.area };
}

/** The geometry clipped to its parent minus its siblings. */
export function clipToFreeSpace(tx: Queryable, wkb: Wkb, parentId: number, selfId: number | null, toleranceM2: number) {
  return polygonParts(
    tx,
    // (the area only: a shape running along the parent's edge from outside meets it in a line too, which GEOS will not subtract from)
    `SELECT gp_difference(ST_CollectionExtract(ST_Intersection(${GEOM}, p.geom, gp_grid()), 3),
                          (SELECT ST_Union(s.geom, gp_grid()) FROM region s WHERE s.parent_id = $2 AND s.id IS DISTINCT FROM $3 AND s.geom && ${GEOM})) AS g
     FROM region p WHERE p.id = $2`,
    [wkb, parentId, selfId],
    toleranceM2,
  );
}

/** `a` minus `b`, as polygon parts larger than the tolerance. */
export function difference(tx: Queryable, a: Wkb, b: Wkb, toleranceM2: number) {
  return polygonParts(tx, `SELECT gp_difference(${GEOM}, ST_GeomFromEWKB(decode($2, 'hex'))) AS g`, [a, b], toleranceM2);
}

/** The union of several geometries, as polygon parts (one part when they are adjacent). */
export function union(tx: Queryable, geometries: Wkb[]) {
  return polygonParts(tx, `SELECT ST_Union(ST_GeomFromEWKB(decode(w, 'hex')), gp_grid()) AS g FROM unnest($1::text[]) AS w`, [geometries], 0);
}

/** The parts of a region's geometry cut by a line, largest first (one part when the line does not cut it). */
export async function splitByLine(tx: Queryable, wkb: Wkb, line: [number, number][]): Promise<Wkb[]> {
  const { rows } = await tx.query<{ wkb: Wkb }>(
    `SELECT encode(ST_AsEWKB(ST_Multi(ST_ReducePrecision(d.geom, gp_grid()))), 'hex') AS wkb
     FROM ST_Dump(ST_CollectionExtract(ST_Split(${GEOM}, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)), 3)) AS d
     ORDER BY ST_Area(d.geom) DESC, ST_XMin(d.geom), ST_YMin(d.geom)`,
    [wkb, JSON.stringify({ type: 'LineString', coordinates: line })],
  );
  return rows.map((r) => r.wkb);
}

/** Length in metres of the border two geometries share. */
export async function sharedBorderM(tx: Queryable, a: Wkb, b: Wkb): Promise<number> {
  const { rows } = await tx.query<{ m: number }>(
    `SELECT coalesce(ST_Length(ST_Intersection(ST_Boundary(${GEOM}), ST_Boundary(ST_GeomFromEWKB(decode($2, 'hex'))), gp_grid())::geography), 0) AS m`,
    [a, b],
  );
  return rows[0]!.m;
}

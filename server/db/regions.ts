import type { MultiPolygonCoords } from '../domain/geojson-input.ts';
import type { Level } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';

export interface NewRegion {
  parentId: number | null;
  level: Level;
  code: string;
  name: string;
  coordinates: MultiPolygonCoords;
  gridType?: string | null;
}

/** GEOS's verdict on each geometry: `null` when valid, else the reason and where. */
export async function validityOf(tx: Queryable, geometries: MultiPolygonCoords[]): Promise<({ reason: string; location: [number, number] | null } | null)[]> {
  if (geometries.length === 0) return [];
  const { rows } = await tx.query<{ ord: number; valid: boolean; reason: string | null; x: number | null; y: number | null }>(
    `SELECT g.ord, (d).valid, (d).reason, ST_X((d).location) AS x, ST_Y((d).location) AS y
     FROM (SELECT ord, ST_IsValidDetail(ST_SetSRID(ST_GeomFromGeoJSON(j), 4326)) AS d
           FROM unnest($1::text[]) WITH ORDINALITY AS t(j, ord)) AS g
     ORDER BY g.ord`,
    [geometries.map((c) => JSON.stringify({ type: 'MultiPolygon', coordinates: c }))],
  );
  return rows.map((r) => (r.valid ? null : { reason: r.reason ?? 'invalid', location: r.x === null || r.y === null ? null : [r.x, r.y] }));
}

/** Inserts regions (optionally repairing geometry with `ST_MakeValid`); returns their ids in order. */
export async function insertRegions(tx: Queryable, regions: NewRegion[], repair = false): Promise<number[]> {
  if (regions.length === 0) return [];
  const geom = repair
    ? `ST_Multi(ST_ReducePrecision(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(t.j), 4326)), 3), gp_grid()))`
    : `ST_Multi(ST_ReducePrecision(ST_SetSRID(ST_GeomFromGeoJSON(t.j), 4326), gp_grid()))`;
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO region (parent_id, level, code, name, grid_type, geom)
     SELECT t.parent_id, t.level, t.code, t.name, t.grid_type, ${geom}
     FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
       AS t(parent_id, level, code, name, grid_type, j, ord)
     ORDER BY t.ord
     RETURNING id`,
    [
      regions.map((r) => r.parentId),
      regions.map((r) => r.level),
      regions.map((r) => r.code),
      regions.map((r) => r.name),
      regions.map((r) => r.gridType ?? null),
      regions.map((r) => JSON.stringify({ type: 'MultiPolygon', coordinates: r.coordinates })),
    ],
  );
  return rows.map((r) => r.id);
}

export async function recordChange(
  tx: Queryable,
  /** `at`: the app's clock (a case's timeline reads it; tests run a fake one), else the database's. */
  change: { actor: string; action: string; entity: string; entityId: number | null; before: unknown; after: unknown; at?: Date | undefined },
): Promise<void> {
  await tx.query('INSERT INTO change (actor, action, entity, entity_id, before, after, at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()))', [
    change.actor,
    change.action,
    change.entity,
    change.entityId,
    change.before === null ? null : JSON.stringify(change.before),
    change.after === null ? null : JSON.stringify(change.after),
    change.at?.toISOString() ?? null,
  ]);
}

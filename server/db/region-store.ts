import { InputError, notFound } from '../domain/errors.ts';
import { childCode, type Level } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';

/** A region as the change log stores it: every field, geometry at full precision. */
export interface RegionSnapshot {
  id: number;
  parentId: number | null;
  level: Level;
  code: string;
  name: string;
  gridType: string | null;
  workerId: number | null;
  notes: string;
  version: number;
  geometry: { type: 'MultiPolygon'; coordinates: unknown };
  /** Exact geometry (hex EWKB): a restore must give back bit-identical shared vertices. */
  wkb: string;
}

const SNAPSHOT = `r.id, r.parent_id AS "parentId", r.level, r.code, r.name, r.grid_type AS "gridType",
  r.worker_id AS "workerId", r.notes, r.version, ST_AsGeoJSON(r.geom, 15)::json AS geometry,
  encode(ST_AsEWKB(r.geom), 'hex') AS wkb`;

/** Reads regions and locks them for the rest of the transaction; throws 404 naming a missing one. */
export async function lockRegions(tx: Queryable, ids: number[], path = 'id'): Promise<RegionSnapshot[]> {
  const { rows } = await tx.query<RegionSnapshot>(`SELECT ${SNAPSHOT} FROM region r WHERE r.id = ANY($1::int[]) ORDER BY r.id FOR UPDATE`, [ids]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id, i) => {
    const r = byId.get(id);
    if (!r) throw notFound('region', id, ids.length > 1 ? `${path}[${i}]` : path);
    return r;
  });
}

export async function snapshots(tx: Queryable, ids: number[]): Promise<RegionSnapshot[]> {
  const { rows } = await tx.query<RegionSnapshot>(`SELECT ${SNAPSHOT} FROM region r WHERE r.id = ANY($1::int[]) ORDER BY r.id`, [ids]);
  return rows;
}

/** 409 when a client edited from a stale version: someone else changed the region meanwhile. */
export function checkVersion(region: RegionSnapshot, version: number, path = 'version'): void {
  if (region.version !== version) {
    throw new InputError(
      'version_conflict',
      `${region.name} (${region.code}) is at version ${region.version}, not ${version}: it was changed meanwhile; reload and retry`,
      path,
      409,
      { id: region.id, currentVersion: region.version },
    );
  }
}

export async function assertNoChildren(tx: Queryable, region: RegionSnapshot): Promise<void> {
  const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM region WHERE parent_id = $1', [region.id]);
  if (rows[0]!.n > 0) {
    throw new InputError('has_children', `${region.name} (${region.code}) has ${rows[0]!.n} child regions; change those first`, 'id', 422);
  }
}

/** The code for a parent's next child: one past the highest number in use. */
export async function nextChildCodes(tx: Queryable, parent: { id: number; code: string }, level: Level, count: number): Promise<{ code: string; n: number }[]> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT coalesce(max(substring(code FROM '-(\\d+)$')::int), 0) AS n FROM region WHERE parent_id = $1`,
    [parent.id],
  );
  return Array.from({ length: count }, (_, i) => {
    const n = rows[0]!.n + i + 1;
    return { code: childCode(parent.code, level, n), n };
  });
}

export async function assertWorker(tx: Queryable, workerId: number | null | undefined): Promise<void> {
  if (workerId === null || workerId === undefined) return;
  const { rows } = await tx.query('SELECT 1 FROM worker WHERE id = $1', [workerId]);
  if (rows.length === 0) throw notFound('worker', workerId, 'workerId');
}

export interface ChangeRow {
  entityId: number;
  before: RegionSnapshot | null;
  after: RegionSnapshot | null;
}

/** Records one operation (several changes that undo and redo together); returns its number. */
export async function recordOperation(tx: Queryable, actor: string, action: string, changes: ChangeRow[], reverts: number | null = null): Promise<number> {
  const { rows } = await tx.query<{ op: number }>(`SELECT nextval('change_op_seq')::int AS op`);
  const op = rows[0]!.op;
  await tx.query(
    `INSERT INTO change (op, actor, action, entity, entity_id, before, after, reverts)
     SELECT $1, $2, $3, 'region', t.entity_id, t.before::jsonb, t.after::jsonb, $7
     FROM unnest($4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS t(entity_id, before, after, ord)
     ORDER BY t.ord`,
    [
      op,
      actor,
      action,
      changes.map((c) => c.entityId),
      changes.map((c) => (c.before ? JSON.stringify(c.before) : null)),
      changes.map((c) => (c.after ? JSON.stringify(c.after) : null)),
      reverts,
    ],
  );
  return op;
}

/** Writes a snapshot back: updates the region if it exists, else re-creates it with its id. */
export async function writeSnapshot(tx: Queryable, s: RegionSnapshot, version: number): Promise<void> {
  await tx.query(
    `INSERT INTO region (id, parent_id, level, code, name, grid_type, worker_id, notes, version, geom)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ST_GeomFromEWKB(decode($10, 'hex')))
     ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, level = EXCLUDED.level, code = EXCLUDED.code,
       name = EXCLUDED.name, grid_type = EXCLUDED.grid_type, worker_id = EXCLUDED.worker_id, notes = EXCLUDED.notes,
       version = EXCLUDED.version, geom = EXCLUDED.geom, updated_at = now()`,
    [s.id, s.parentId, s.level, s.code, s.name, s.gridType, s.workerId, s.notes, version, s.wkb],
  );
}

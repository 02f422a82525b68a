import { barrierClassOf, BARRIER_CLASSES, DEFAULT_BARRIER_PREFERENCE, type BarrierClass, type BarrierPreference } from '../domain/barrier-classes.ts';
import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { nextOp } from './household-batches.ts';

/**
 * Roads, rivers, railways… imported as line layers (auto-split 2, §2). An import is one operation:
 * its lines carry the operation's number, undo hides them and redo shows them again.
 */
export interface BarrierBatchState {
  batch: number;
  present: boolean;
  count: number;
}

export interface NewBarrier {
  cls: BarrierClass;
  name: string;
  /** GeoJSON LineString or MultiLineString, lon/lat. */
  geometry: GeoJSON.LineString | GeoJSON.MultiLineString;
}

/** Inserts the lines as one undoable operation; returns their ids (in order) and the operation. */
export async function importBarrierBatch(tx: Queryable, actor: string, lines: NewBarrier[]): Promise<{ ids: number[]; op: number | null }> {
  if (lines.length === 0) return { ids: [], op: null };
  const op = await nextOp(tx);
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO barrier (class, name, import_op, geom)
     SELECT t.cls, t.name, $4, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(t.g), 4326))
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(cls, name, g, ord) ORDER BY t.ord
     RETURNING id`,
    [lines.map((l) => l.cls), lines.map((l) => l.name), lines.map((l) => JSON.stringify(l.geometry)), op],
  );
  const counts: Record<string, number> = {};
  for (const l of lines) counts[l.cls] = (counts[l.cls] ?? 0) + 1;
  await recordBarrierBatch(tx, op, actor, 'import', { batch: op, present: false, count: rows.length }, { batch: op, present: true, count: rows.length }, null, {
    classes: counts,
  });
  return { ids: rows.map((r) => r.id), op };
}

export async function recordBarrierBatch(
  tx: Queryable,
  op: number,
  actor: string,
  action: string,
  before: BarrierBatchState,
  after: BarrierBatchState,
  reverts: number | null,
  summary: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(`INSERT INTO change (op, actor, action, entity, entity_id, before, after, reverts) VALUES ($1, $2, $3, 'barrier', NULL, $4, $5, $6)`, [
    op,
    actor,
    action,
    JSON.stringify({ ...summary, ...before }),
    JSON.stringify({ ...summary, ...after }),
    reverts,
  ]);
}

/** Hides (undo) or shows again (redo) an import's lines. */
export async function revertBarrierBatch(tx: Queryable, to: BarrierBatchState): Promise<void> {
  await tx.query('UPDATE barrier SET present = $2 WHERE import_op = $1', [to.batch, to.present]);
}

/** How auto-split treats each class: the defaults, over which a request's own choices go. */
export function barrierPreferences(asked: Partial<Record<BarrierClass, BarrierPreference>> = {}): Record<BarrierClass, BarrierPreference> {
  return { ...DEFAULT_BARRIER_PREFERENCE, ...asked };
}

/**
 * The imported lines crossing a region, as GeoJSON lines per preference (`never`, `prefer`), for
 * auto-split to cut along. Lines of `ignore` classes are left out.
 */
export async function storedBarriers(
  tx: Queryable,
  regionId: number,
  preference: Record<BarrierClass, BarrierPreference>,
): Promise<{ never: string | null; prefer: string | null; count: number }> {
  const classes = (p: BarrierPreference) => BARRIER_CLASSES.filter((c) => preference[c] === p);
  const { rows } = await tx.query<{ never: string | null; prefer: string | null; n: number }>(
    `WITH area AS (SELECT geom FROM region WHERE id = $1),
     b AS (SELECT b.class, b.geom FROM barrier b, area WHERE b.present AND b.geom && area.geom AND ST_Intersects(b.geom, area.geom))
     SELECT ST_AsGeoJSON(ST_Collect(geom) FILTER (WHERE class = ANY($2::text[])))::text AS never,
            ST_AsGeoJSON(ST_Collect(geom) FILTER (WHERE class = ANY($3::text[])))::text AS prefer,
            count(*) FILTER (WHERE class = ANY($2::text[]) OR class = ANY($3::text[]))::int AS n
     FROM b`,
    [regionId, classes('never'), classes('prefer')],
  );
  return { never: rows[0]?.never ?? null, prefer: rows[0]?.prefer ?? null, count: rows[0]?.n ?? 0 };
}

export interface BarrierFeature {
  type: 'Feature';
  id: number;
  properties: { class: BarrierClass; name: string };
  geometry: unknown;
}

/** The lines crossing a region (at most `limit`), simplified to the precision a map shows. */
export async function barriersIn(tx: Queryable, regionId: number, limit: number): Promise<{ features: BarrierFeature[]; truncated: boolean }> {
  const { rows } = await tx.query<{ id: number; class: BarrierClass; name: string; geometry: unknown }>(
    `WITH area AS (SELECT geom FROM region WHERE id = $1)
     SELECT b.id, b.class, b.name, ST_AsGeoJSON(b.geom, 7)::json AS geometry
     FROM barrier b, area WHERE b.present AND b.geom && area.geom AND ST_Intersects(b.geom, area.geom)
     ORDER BY b.id LIMIT $2`,
    [regionId, limit + 1],
  );
  if (rows.length === 0) {
    const { rows: found } = await tx.query('SELECT 1 FROM region WHERE id = $1', [regionId]);
    if (found.length === 0) throw new InputError('not_found', `region ${regionId} does not exist`, 'regionId');
  }
  return {
    features: rows.slice(0, limit).map((r) => ({ type: 'Feature', id: r.id, properties: { class: r.class, name: r.name }, geometry: r.geometry })),
    truncated: rows.length > limit,
  };
}

export { barrierClassOf };

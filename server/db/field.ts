import { InputError, notFound } from '../domain/errors.ts';
import type { FieldIncident, Photo, PhotoType } from '../schemas/incident.ts';
import type { Queryable } from './db.ts';
import { incidentJson } from './incidents.ts';
import { recordChange } from './regions.ts';

/** At most this many photos per incident's report, and as many per department's answer (dispatch). */
export const MAX_PHOTOS = 3;

const photoUrl = (incidentId: number, id: number) => `/api/incidents/${incidentId}/photos/${id}`;

/**
 * Stores a photo of an incident once: the same image again (by its SHA-256) gives back the one
 * stored before. `mayUse` is asked with the incident's grid before anything is written.
 */
export async function storePhoto(
  tx: Queryable,
  actor: string,
  p: {
    incidentId: number;
    mime: PhotoType;
    bytes: Uint8Array;
    sha256: string;
    at: Date;
    mayUse: (gridId: number | null) => void;
    /** A department's photo of its answer: the dispatch it answers (null: the report's own). */
    dispatchId?: number | null;
  },
): Promise<{ photo: Photo; created: boolean }> {
  const { rows } = await tx.query<{ grid_id: number | null }>('SELECT grid_id FROM incident WHERE id = $1 FOR UPDATE', [p.incidentId]);
  if (!rows[0]) throw notFound('incident', p.incidentId);
  p.mayUse(rows[0].grid_id);
  const dispatchId = p.dispatchId ?? null;
  const { rows: have } = await tx.query<{ id: number; mime: PhotoType; size: number; sha256: string; dispatch_id: number | null }>(
    'SELECT id, mime, size, sha256, dispatch_id FROM incident_photo WHERE incident_id = $1 ORDER BY id',
    [p.incidentId],
  );
  // (the same image twice on one incident is one photo, whoever sent it: a retry, or a department sending the report's photo back)
  const same = have.find((h) => h.sha256 === p.sha256);
  if (same) return { photo: { id: same.id, incidentId: p.incidentId, mime: same.mime, size: same.size, url: photoUrl(p.incidentId, same.id) }, created: false };
  if (have.filter((h) => h.dispatch_id === dispatchId).length >= MAX_PHOTOS) {
    throw new InputError(
      'too_many_photos',
      dispatchId === null ? `incident ${p.incidentId} already has ${MAX_PHOTOS} photos` : `the answer already has ${MAX_PHOTOS} photos`,
      'body',
    );
  }
  const { rows: ins } = await tx.query<{ id: number }>(
    `INSERT INTO incident_photo (incident_id, mime, bytes, size, sha256, uploaded_by, uploaded_at, dispatch_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [p.incidentId, p.mime, p.bytes, p.bytes.length, p.sha256, actor, p.at.toISOString(), dispatchId],
  );
  const photo = { id: ins[0]!.id, incidentId: p.incidentId, mime: p.mime, size: p.bytes.length, url: photoUrl(p.incidentId, ins[0]!.id) };
  await recordChange(tx, {
    at: p.at,
    actor,
    action: 'photo',
    entity: 'incident',
    entityId: p.incidentId,
    before: null,
    after: { photo: photo.id, mime: p.mime, size: p.bytes.length, sha256: p.sha256, ...(dispatchId === null ? {} : { dispatch: dispatchId }) },
  });
  return { photo, created: true };
}

/** A stored photo with its incident's grid (for the caller to check who may see it), or null. */
export async function photoOf(
  db: Queryable,
  incidentId: number,
  photoId: number,
): Promise<{ gridId: number | null; mime: string; bytes: Uint8Array; thumb: Uint8Array | null } | null> {
  const { rows } = await db.query<{ grid_id: number | null; mime: string; bytes: Uint8Array; thumb: Uint8Array | null }>(
    'SELECT i.grid_id, p.mime, p.bytes, p.thumb FROM incident_photo p JOIN incident i ON i.id = p.incident_id WHERE p.id = $1 AND p.incident_id = $2',
    [photoId, incidentId],
  );
  return rows[0] ? { gridId: rows[0].grid_id, mime: rows[0].mime, bytes: rows[0].bytes, thumb: rows[0].thumb } : null;
}

/**
 * Keeps a photo's thumbnail once made (an empty one: none to make, the photo is shown as it is). A
 * cache of the photo, not a change of it: nothing for the change log. Returns what it kept.
 */
export async function keepThumbnail(db: Queryable, photoId: number, thumb: Uint8Array | null): Promise<Uint8Array> {
  const kept = thumb ?? new Uint8Array(0);
  await db.query('UPDATE incident_photo SET thumb = $2 WHERE id = $1 AND thumb IS NULL', [photoId, kept]);
  return kept;
}

/** Whether an incident was sent to a department. */
export async function dispatchedTo(db: Queryable, incidentId: number, departmentId: number | null): Promise<boolean> {
  return (await db.query('SELECT 1 FROM dispatch WHERE incident_id = $1 AND department_id = $2', [incidentId, departmentId])).rows.length > 0;
}

const OPEN = ['reported', 'dispatched', 'resolved'];

/** The open incidents of grids (reported, dispatched, resolved awaiting feedback), newest first, with answers and photos. */
/**
 * A grid's open cases; or, given `reporter`, what that worker reported (我的上报): every one, closed, merged or
 * marked invalid too, the newest 100 — wherever the grid it lies in went since.
 */
const OPEN_OF_GRIDS = 'i.grid_id = ANY($1::int[]) AND i.status = ANY($3::text[]) AND i.void_kind IS NULL';
export async function fieldIncidents(db: Queryable, grids: number[], now: Date, reporter: number | null = null): Promise<FieldIncident[]> {
  const { rows } = await db.query<{ j: FieldIncident }>(
    `SELECT ${incidentJson('$2')}::jsonb || jsonb_build_object(
       'dispatches', (SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', d.id, 'department', jsonb_build_object('code', dep.code, 'zh', dep.zh, 'en', dep.en),
           'dispatchedAt', d.dispatched_at, 'dueAt', d.due_at, 'acknowledgedAt', d.acknowledged_at, 'resolvedAt', d.resolved_at, 'answer', d.answer,
           'overdue', CASE WHEN d.resolved_at IS NULL AND d.returned_at IS NULL AND d.due_at < $2 THEN 'resolve'
                           WHEN d.acknowledged_at IS NULL AND d.returned_at IS NULL AND d.ack_due_at < $2 THEN 'ack' END,
           'role', d.role, 'returnedAt', d.returned_at, 'returnReason', d.return_reason,
           'answerPhotos', ARRAY(SELECT '/api/incidents/' || ph.incident_id || '/photos/' || ph.id FROM incident_photo ph
                                 WHERE ph.dispatch_id = d.id ORDER BY ph.id)
         ) ORDER BY dep.sort, dep.id), '[]'::jsonb)
         FROM dispatch d JOIN department dep ON dep.id = d.department_id
         -- (the departments on it now: not one taken off it or that sent it back, nor the last round's before a reopen)
         WHERE d.incident_id = i.id AND d.returned_at IS NULL
           AND NOT (i.reopened_at IS NOT NULL AND d.resolved_at IS NOT NULL AND d.resolved_at <= i.reopened_at)),
       'photos', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'incidentId', p.incident_id, 'mime', p.mime, 'size', p.size,
           'url', '/api/incidents/' || p.incident_id || '/photos/' || p.id) ORDER BY p.id), '[]'::jsonb)
         FROM incident_photo p WHERE p.incident_id = i.id AND p.dispatch_id IS NULL)
     ) AS j
     FROM incident i JOIN incident_category c ON c.code = i.category
     WHERE ${reporter === null ? OPEN_OF_GRIDS : 'i.reporter_id = $4 AND $1::int[] IS NOT NULL AND $3::text[] IS NOT NULL'}
     ORDER BY i.reported_at DESC, i.id DESC LIMIT ${reporter === null ? 200 : 100}`,
    [grids, now.toISOString(), OPEN, ...(reporter === null ? [] : [reporter])],
  );
  return rows.map((r) => r.j);
}

/** Whether a grid exists. */
export async function isGrid(db: Queryable, id: number): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM region WHERE id = $1 AND level = 'grid'`, [id])).rows.length > 0;
}

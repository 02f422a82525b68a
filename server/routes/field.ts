import { createHash } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { DispatchJson } from '../db/dispatches.ts';
import { INCIDENT_JSON, type IncidentJson } from '../db/incidents.ts';
import { recordChange } from '../db/regions.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { actorOf, assertOwnGrid, principalOf } from '../http/auth.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { errorResponses, IdParam } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

/** At most this many photos per incident. */
export const MAX_PHOTOS = 3;
/** Largest photo accepted, in bytes; the phone scales photos down before sending (to about 300 KB). */
export const MAX_PHOTO_BYTES = 4 * 1024 * 1024;
export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
type PhotoType = (typeof PHOTO_TYPES)[number];

/** The image type the bytes really are (by their signature), or null. */
export function sniffImage(b: Uint8Array): PhotoType | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return 'image/png';
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return null;
}

const Photo = z
  .object({ id: z.number().int(), incidentId: z.number().int(), mime: z.enum(PHOTO_TYPES), size: z.number().int(), url: z.string() })
  .openapi('Photo');
const photoUrl = (incidentId: number, id: number) => `/api/incidents/${incidentId}/photos/${id}`;

const uploadRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/photos',
  summary: `Attach a photo to an incident (JPEG, PNG or WebP; at most ${MAX_PHOTOS}, ${MAX_PHOTO_BYTES / 1024 / 1024} MB each)`,
  description:
    'The body is the image itself. The same image sent again (a retry) answers 200 with the photo already stored. 415 when the bytes are not a JPEG, PNG or WebP image whatever the content type says.',
  request: {
    params: IdParam,
    body: { required: true, content: Object.fromEntries(PHOTO_TYPES.map((t) => [t, { schema: z.string().openapi({ format: 'binary' }) }])) },
  },
  responses: {
    201: { description: 'Stored', ...json(Photo) },
    200: { description: 'Stored before', ...json(Photo) },
    ...errorResponses(400, 403, 404, 413, 415, 422),
  },
});

const photoRoute = createRoute({
  method: 'get',
  path: '/incidents/{id}/photos/{photo}',
  summary: "One photo of an incident (a worker: of their grid's incidents; a department: of incidents dispatched to it)",
  request: {
    params: IdParam.extend({
      photo: z.coerce
        .number()
        .int()
        .positive()
        .openapi({ param: { name: 'photo', in: 'path' } }),
    }),
  },
  responses: {
    200: { description: 'The image', content: Object.fromEntries(PHOTO_TYPES.map((t) => [t, { schema: z.string().openapi({ format: 'binary' }) }])) },
    ...errorResponses(403, 404),
  },
});

const OPEN = ['reported', 'dispatched', 'resolved'];
const fieldRoute = createRoute({
  method: 'get',
  path: '/field/incidents',
  summary: "A grid's open incidents (reported, dispatched, resolved awaiting feedback) with each department's answer and the photos",
  description: 'A grid worker gets the grids they staff; others name a grid with `grid`. Newest first, up to 200.',
  request: { query: z.object({ grid: z.coerce.number().int().positive().optional() }) },
  responses: {
    200: { description: 'Incidents', ...json(z.object({ grids: z.array(z.number().int()), items: z.array(z.record(z.string(), z.unknown())) })) },
    ...errorResponses(400, 403, 404),
  },
});

type FieldIncident = IncidentJson & { dispatches: DispatchJson[]; photos: z.infer<typeof Photo>[] };

/** May this caller see this incident's photos? Workers: their grids; departments: incidents dispatched to them. */
async function assertMayView(c: Context<Env>, incident: { id: number; grid_id: number | null }): Promise<void> {
  const p = principalOf(c);
  assertOwnGrid(c, incident.grid_id);
  if (p.role === 'department') {
    const { rows } = await c.get('db').query('SELECT 1 FROM dispatch WHERE incident_id = $1 AND department_id = $2', [incident.id, p.departmentId]);
    if (rows.length === 0) throw new InputError('outside_scope', `incident ${incident.id} was not dispatched to your department`, 'id', 403);
  }
}

export function fieldRoutes() {
  return router()
    .openapi(uploadRoute, async (c) => {
      const { id } = c.req.valid('param');
      const declared = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!declared.startsWith('image/'))
        throw new InputError(
          'unsupported_media_type',
          `send the image itself as image/jpeg, image/png or image/webp, not ${JSON.stringify(declared || 'nothing')}`,
          'content-type',
          415,
        );
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.length === 0) throw new InputError('empty_body', 'the photo is empty', 'body', 400);
      if (bytes.length > MAX_PHOTO_BYTES)
        throw new InputError('payload_too_large', `the photo has ${bytes.length} bytes; the limit is ${MAX_PHOTO_BYTES}`, 'body', 413);
      const mime = sniffImage(bytes);
      if (!mime) throw new InputError('not_an_image', 'the body is not a JPEG, PNG or WebP image', 'body', 415);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const me = principalOf(c);
      const { photo, created } = await c.get('db').transaction(async (tx) => {
        const { rows } = await tx.query<{ grid_id: number | null }>('SELECT grid_id FROM incident WHERE id = $1 FOR UPDATE', [id]);
        if (!rows[0]) throw notFound('incident', id);
        assertOwnGrid(c, rows[0].grid_id);
        const { rows: have } = await tx.query<{ id: number; mime: PhotoType; size: number; sha256: string }>(
          'SELECT id, mime, size, sha256 FROM incident_photo WHERE incident_id = $1 ORDER BY id',
          [id],
        );
        const same = have.find((h) => h.sha256 === sha256);
        if (same) return { photo: { id: same.id, incidentId: id, mime: same.mime, size: same.size, url: photoUrl(id, same.id) }, created: false };
        if (have.length >= MAX_PHOTOS) throw new InputError('too_many_photos', `incident ${id} already has ${MAX_PHOTOS} photos`, 'body', 422);
        const { rows: ins } = await tx.query<{ id: number }>(
          'INSERT INTO incident_photo (incident_id, mime, bytes, size, sha256, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
          [id, mime, bytes, bytes.length, sha256, me.username, nowOf(c).toISOString()],
        );
        const photo = { id: ins[0]!.id, incidentId: id, mime, size: bytes.length, url: photoUrl(id, ins[0]!.id) };
        await recordChange(tx, {
          actor: actorOf(c),
          action: 'photo',
          entity: 'incident',
          entityId: id,
          before: null,
          after: { photo: photo.id, mime, size: bytes.length, sha256 },
        });
        return { photo, created: true };
      });
      return c.json(photo, created ? 201 : 200);
    })
    .openapi(photoRoute, async (c) => {
      const { id, photo } = c.req.valid('param');
      const db = c.get('db');
      const { rows } = await db.query<{ grid_id: number | null; mime: string; bytes: Uint8Array }>(
        'SELECT i.grid_id, p.mime, p.bytes FROM incident_photo p JOIN incident i ON i.id = p.incident_id WHERE p.id = $1 AND p.incident_id = $2',
        [photo, id],
      );
      if (!rows[0]) throw notFound('photo', photo, 'photo');
      await assertMayView(c, { id, grid_id: rows[0].grid_id });
      const bytes = rows[0].bytes;
      return c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as never, 200, {
        'content-type': rows[0].mime,
        // A photo never changes once stored.
        'cache-control': 'private, max-age=31536000, immutable',
      }) as never;
    })
    .openapi(fieldRoute, async (c) => {
      const me = principalOf(c);
      const { grid } = c.req.valid('query');
      let grids: number[];
      if (me.role === 'worker') {
        if (grid !== undefined) assertOwnGrid(c, grid, 'query.grid');
        grids = grid !== undefined ? [grid] : me.gridIds;
      } else {
        if (grid === undefined) throw new InputError('grid_required', 'name the grid with ?grid=', 'query.grid', 400);
        const { rows } = await c.get('db').query(`SELECT 1 FROM region WHERE id = $1 AND level = 'grid'`, [grid]);
        if (rows.length === 0) throw notFound('grid', grid, 'query.grid');
        grids = [grid];
      }
      const now = nowOf(c).toISOString();
      const { rows } = await c.get('db').query<{ j: FieldIncident }>(
        `SELECT ${INCIDENT_JSON}::jsonb || jsonb_build_object(
           'dispatches', (SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', d.id, 'department', jsonb_build_object('code', dep.code, 'zh', dep.zh, 'en', dep.en),
               'dispatchedAt', d.dispatched_at, 'dueAt', d.due_at, 'acknowledgedAt', d.acknowledged_at, 'resolvedAt', d.resolved_at, 'answer', d.answer,
               'overdue', CASE WHEN d.resolved_at IS NULL AND d.due_at < $2 THEN 'resolve' WHEN d.acknowledged_at IS NULL AND d.ack_due_at < $2 THEN 'ack' END
             ) ORDER BY dep.sort, dep.id), '[]'::jsonb)
             FROM dispatch d JOIN department dep ON dep.id = d.department_id WHERE d.incident_id = i.id),
           'photos', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'incidentId', p.incident_id, 'mime', p.mime, 'size', p.size,
               'url', '/api/incidents/' || p.incident_id || '/photos/' || p.id) ORDER BY p.id), '[]'::jsonb)
             FROM incident_photo p WHERE p.incident_id = i.id)
         ) AS j
         FROM incident i JOIN incident_category c ON c.code = i.category
         WHERE i.grid_id = ANY($1::int[]) AND i.status = ANY($3::text[])
         ORDER BY i.reported_at DESC, i.id DESC LIMIT 200`,
        [grids, now, OPEN],
      );
      return c.json({ grids, items: rows.map((r) => r.j) }, 200);
    });
}

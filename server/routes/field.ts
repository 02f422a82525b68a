import { createHash } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { dispatchedTo, fieldIncidents, isGrid, keepThumbnail, MAX_PHOTOS, photoOf, storePhoto } from '../db/field.ts';
import { thumbnail } from '../files/thumb.ts';
import { FieldIncidentSchema, PHOTO_TYPES, PhotoSchema, type PhotoType } from '../schemas/incident.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { actorOf, areaRegion, assertInArea, assertOwnGrid, principalOf } from '../http/auth.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { errorResponses, IdParam, WholeId } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

/** Largest photo accepted, in bytes; the phone scales photos down before sending (to about 300 KB). */
export const MAX_PHOTO_BYTES = 4 * 1024 * 1024;

/** The image type the bytes really are (by their signature), or null. */
export function sniffImage(b: Uint8Array): PhotoType | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return 'image/png';
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return null;
}

const Photo = PhotoSchema;

const uploadRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/photos',
  summary: `Attach a photo to an incident (JPEG, PNG or WebP; at most ${MAX_PHOTOS}, ${MAX_PHOTO_BYTES / 1024 / 1024} MB each)`,
  description:
    'The body is the image itself. The same image sent again (a retry) answers 200 with the photo already stored. 415 when the bytes are not a JPEG, ' +
    'PNG or WebP image whatever the content type says.',
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

const answerPhotoRoute = createRoute({
  method: 'post',
  path: '/dispatches/{id}/photos',
  summary: `报到 with evidence: a department's photo of what it did (处置后照片), at most ${MAX_PHOTOS} per dispatch, sent before it resolves`,
  description:
    'As POST /api/incidents/{id}/photos, for the department the dispatch went to (an admin, any): the photo is kept with the incident and listed ' +
    'with the dispatch (`answerPhotos`) for the centre and the grid worker. 422 `dispatch_closed` once the dispatch is resolved or sent back.',
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
      photo: WholeId.openapi({ param: { name: 'photo', in: 'path' } }),
    }),
    query: z.object({
      size: z.enum(['full', 'thumb']).default('full').openapi({
        description: '`thumb`: a JPEG of at most 320 px on its long side, for lists of cases (the photo itself when it is already small, or a PNG or WebP)',
      }),
    }),
  },
  responses: {
    200: { description: 'The image', content: Object.fromEntries(PHOTO_TYPES.map((t) => [t, { schema: z.string().openapi({ format: 'binary' }) }])) },
    ...errorResponses(403, 404),
  },
});

const fieldRoute = createRoute({
  method: 'get',
  path: '/field/incidents',
  summary: "A grid's open incidents (reported, dispatched, resolved awaiting feedback) with each department's answer and the photos",
  description:
    'A grid worker gets the grids they staff; others name a grid with `grid`. Newest first, up to 200. ' +
    '`mine=true` (a grid worker): what they reported (我的上报), closed, merged and invalid ones too, the newest 100.',
  request: {
    query: z.object({
      grid: z.coerce.number().int().positive().max(2_147_483_647).optional(),
      mine: z.enum(['true', 'false']).optional(),
    }),
  },
  responses: {
    200: { description: 'Incidents', ...json(z.object({ grids: z.array(z.number().int()), items: z.array(FieldIncidentSchema) })) },
    ...errorResponses(400, 403, 404),
  },
});

/** May this caller see this incident's photos? Workers: their grids; departments: incidents dispatched to them. */
async function assertMayView(c: Context<Env>, incident: { id: number; grid_id: number | null }): Promise<void> {
  const p = principalOf(c);
  assertOwnGrid(c, incident.grid_id);
  await assertInArea(c, c.get('db'), incident.grid_id, incident.id);
  if (p.role === 'department') {
    if (!(await dispatchedTo(c.get('db'), incident.id, p.departmentId)))
      throw new InputError('outside_scope', `incident ${incident.id} was not dispatched to your department`, 'id');
  }
}

/** A photo sent as the body: its bytes, what they really are and their digest; refused in words when it is no image or too large. */
async function photoBody(c: Context<Env>): Promise<{ bytes: Uint8Array; mime: PhotoType; sha256: string }> {
  const declared = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!declared.startsWith('image/'))
    throw new InputError(
      'unsupported_media_type',
      `send the image itself as image/jpeg, image/png or image/webp, not ${JSON.stringify(declared || 'nothing')}`,
      'content-type',
    );
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new InputError('empty_body', 'the photo is empty', 'body');
  if (bytes.length > MAX_PHOTO_BYTES) throw new InputError('payload_too_large', `the photo has ${bytes.length} bytes; the limit is ${MAX_PHOTO_BYTES}`, 'body');
  const mime = sniffImage(bytes);
  if (!mime) throw new InputError('not_an_image', 'the body is not a JPEG, PNG or WebP image', 'body');
  return { bytes, mime, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export function fieldRoutes() {
  return router()
    .openapi(answerPhotoRoute, async (c) => {
      const { id } = c.req.valid('param');
      const p = principalOf(c);
      const { rows } = await c.get('db').query<{ incident: number; department: number; closed: boolean; grid: number | null }>(
        `SELECT d.incident_id AS incident, d.department_id AS department, (d.resolved_at IS NOT NULL OR d.returned_at IS NOT NULL) AS closed, i.grid_id AS grid
           FROM dispatch d JOIN incident i ON i.id = d.incident_id WHERE d.id = $1`,
        [id],
      );
      const d = rows[0];
      if (!d) throw notFound('dispatch', id);
      if (p.role === 'department' && d.department !== p.departmentId) throw new InputError('outside_scope', `dispatch ${id} went to another department`, 'id');
      await assertInArea(c, c.get('db'), d.grid, d.incident);
      if (d.closed)
        throw new InputError('dispatch_closed', `dispatch ${id} is resolved or sent back: its photos go with its answer, before it is resolved`, 'id');
      const { bytes, mime, sha256 } = await photoBody(c);
      const { photo, created } = await c
        .get('db')
        .transaction((tx) => storePhoto(tx, actorOf(c), { incidentId: d.incident, mime, bytes, sha256, at: nowOf(c), mayUse: () => {}, dispatchId: id }));
      return c.json(photo, created ? 201 : 200);
    })
    .openapi(uploadRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { bytes, mime, sha256 } = await photoBody(c);
      const { photo, created } = await c
        .get('db')
        .transaction((tx) => storePhoto(tx, actorOf(c), { incidentId: id, mime, bytes, sha256, at: nowOf(c), mayUse: (gridId) => assertOwnGrid(c, gridId) }));
      return c.json(photo, created ? 201 : 200);
    })
    .openapi(photoRoute, async (c) => {
      const { id, photo } = c.req.valid('param');
      const { size } = c.req.valid('query');
      const found = await photoOf(c.get('db'), id, photo);
      if (!found) throw notFound('photo', photo, 'photo');
      await assertMayView(c, { id, grid_id: found.gridId });
      // the thumbnail is made the first time one is asked for, by someone who may see the photo, and kept (empty: none to make)
      let thumb = size === 'thumb' ? found.thumb : null;
      if (size === 'thumb' && thumb === null) {
        const made = await thumbnail(`incident:${photo}`, found.bytes, found.mime);
        // (busy: the photo itself this time, and the thumbnail made when next asked)
        if (made !== 'busy') thumb = await keepThumbnail(c.get('db'), photo, made);
      }
      const small = thumb !== null && thumb.length > 0;
      const bytes = small ? thumb! : found.bytes;
      return c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as never, 200, {
        'content-type': small ? 'image/jpeg' : found.mime,
        // A photo never changes once stored.
        'cache-control': 'private, max-age=31536000, immutable',
      }) as never;
    })
    .openapi(fieldRoute, async (c) => {
      const me = principalOf(c);
      const { grid, mine } = c.req.valid('query');
      if (mine === 'true') {
        if (me.role !== 'worker' || me.workerId === null) throw new InputError('forbidden', 'a grid worker’s own reports: sign in as one', 'query.mine');
        return c.json({ grids: me.gridIds, items: await fieldIncidents(c.get('db'), me.gridIds, nowOf(c), me.workerId) }, 200);
      }
      let grids: number[];
      if (me.role === 'worker') {
        if (grid !== undefined) assertOwnGrid(c, grid, 'query.grid');
        grids = grid !== undefined ? [grid] : me.gridIds;
      } else {
        if (grid === undefined) throw new InputError('grid_required', 'name the grid with ?grid=', 'query.grid');
        if (!(await isGrid(c.get('db'), grid))) throw notFound('grid', grid, 'query.grid');
        await areaRegion(c, grid, 'query.grid');
        grids = [grid];
      }
      return c.json({ grids, items: await fieldIncidents(c.get('db'), grids, nowOf(c)) }, 200);
    });
}

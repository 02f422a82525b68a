import { createRoute, z } from '@hono/zod-openapi';
import { ndjson, wantsStream, type ProgressSink } from '../http/ndjson.ts';
import { readCsv, readGeoJson, RowError, uploadType } from '../http/upload.ts';
import { actorOf, assertUnscoped } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { importHouseholds, type ImportProgress } from '../db/household-import.ts';
import { InputError } from '../domain/errors.ts';
import { parseHouseholdCsvRow, parseHouseholdFeature } from '../domain/household-input.ts';
import { notFound } from '../domain/errors.ts';
import { errorResponses, IdParam } from './schemas.ts';

const ImportResult = z
  .object({
    imported: z.number().int(),
    assigned: z.object({ grid: z.number().int(), coarser: z.number().int() }),
    outside: z.object({ count: z.number().int(), indexes: z.array(z.number().int()) }),
    errors: z.array(RowError),
  })
  .openapi('HouseholdImportResult');

const importRoute = createRoute({
  method: 'post',
  path: '/households/import',
  summary: 'Import households from CSV (lon,lat,size,address) or GeoJSON Points',
  description:
    'Each household is assigned to its grid (or the finest region containing it). Points outside every district are reported, not stored. ' +
    'With `Accept: application/x-ndjson` the response streams `{"progress":{…}}` lines and ends with `{"result":{…}}`.',
  request: {
    query: z.object({ partial: z.enum(['true', 'false']).optional() }),
    body: {
      required: true,
      content: { 'text/csv': { schema: z.string() }, 'application/geo+json': { schema: z.any() }, 'application/json': { schema: z.any() } },
    },
  },
  responses: { 201: { description: 'Imported', content: { 'application/json': { schema: ImportResult } } }, ...errorResponses(400, 413, 415, 422) },
});

const MAX_POINTS = 50_000;

const pointsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/households',
  summary: 'Households inside a region, as points (at most 50,000)',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'Households',
      content: {
        'application/json': {
          schema: z.object({
            type: z.literal('FeatureCollection'),
            truncated: z.boolean(),
            features: z.array(
              z.object({
                type: z.literal('Feature'),
                id: z.number().int(),
                geometry: z.object({ type: z.literal('Point'), coordinates: z.tuple([z.number(), z.number()]) }),
                properties: z.object({ size: z.number().int(), regionId: z.number().int().nullable() }),
              }),
            ),
          }),
        },
      },
    },
    ...errorResponses(400, 404),
  },
});

export function householdRoutes() {
  return router()
    .openapi(pointsRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const { rows } = await db.query<{ id: number; x: number; y: number; size: number; region_id: number | null }>(
        `SELECT h.id, round(ST_X(h.geom)::numeric, 7)::float8 AS x, round(ST_Y(h.geom)::numeric, 7)::float8 AS y, h.size, h.region_id
         FROM household h JOIN region r ON r.id = $1 AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)
         ORDER BY h.id LIMIT $2`,
        [id, MAX_POINTS + 1],
      );
      if (rows.length === 0 && (await db.query('SELECT 1 FROM region WHERE id = $1', [id])).rows.length === 0) throw notFound('region', id);
      const features = rows.slice(0, MAX_POINTS).map((r) => ({
        type: 'Feature' as const,
        id: r.id,
        geometry: { type: 'Point' as const, coordinates: [r.x, r.y] as [number, number] },
        properties: { size: r.size, regionId: r.region_id },
      }));
      return c.json({ type: 'FeatureCollection' as const, truncated: rows.length > MAX_POINTS, features }, 200);
    })
    .openapi(importRoute, async (c) => {
      const partial = c.req.valid('query').partial === 'true';
      assertUnscoped(c, 'a household import (it may touch the whole plan)');
      const type = uploadType(c.req.header('content-type'));
      const db = c.get('db');
      const run = async (onProgress: ProgressSink<ImportProgress>) => {
        const body = c.req.raw.body;
        if (!body) throw new InputError('empty_body', 'request body is empty', 'body', 400);
        const parsed =
          type === 'text/csv'
            ? await readCsv(body, parseHouseholdCsvRow, (n) => onProgress({ stage: 'parsing', rows: n }))
            : readGeoJson(await c.req.text(), parseHouseholdFeature, 'Points');
        if (parsed.total === 0) throw new InputError('empty_collection', 'no households in the request', 'body');
        if (parsed.errors.length > 0 && !partial) {
          throw new InputError(
            'invalid_rows',
            `${parsed.errors.length} of ${parsed.total} rows are invalid; nothing was imported (add ?partial=true to import the rest)`,
            parsed.errors[0]!.path,
            422,
            parsed.errors.slice(0, 1000),
          );
        }
        const result = await importHouseholds(db, actorOf(c), parsed.rows, type, onProgress);
        return { ...result, errors: parsed.errors.slice(0, 1000) };
      };
      if (!wantsStream(c)) return c.json(await run(() => {}), 201);
      return ndjson(c, 201, (send) => run(send)) as never;
    });
}

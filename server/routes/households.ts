import { createRoute, z } from '@hono/zod-openapi';
import { ndjson, wantsStream, type ProgressSink } from '../http/ndjson.ts';
import { readUpload, RowError } from '../http/upload.ts';
import { actorOf, areaRegion, assertOwnGrid, assertUnscoped, principalOf } from '../http/auth.ts';
import { editHousehold, householdRecord } from '../db/household-batches.ts';
import { areaOf } from '../domain/roles.ts';
import { InputError } from '../domain/errors.ts';
import { regionExists } from '../db/region-queries.ts';
import { nowOf, router } from '../http/router.ts';
import { importHouseholds, type ImportProgress } from '../db/household-import.ts';
import { householdPoints } from '../db/households.ts';
import { parseHead, parseHouseholdCsvRow, parseHouseholdFeature, parseHouseholdPhone } from '../domain/household-input.ts';
import { notFound } from '../domain/errors.ts';
import { errorResponses, IdParam, json } from './schemas.ts';

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
  summary: 'Import households from CSV (lon,lat,size,address; optional head, phone) or GeoJSON Points',
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

const Household = z
  .object({
    id: z.number().int(),
    regionId: z.number().int().nullable(),
    address: z.string(),
    size: z.number().int(),
    head: z.string().openapi({ description: '户主: who heads the household' }),
    phone: z.string().openapi({ description: 'a number to reach them (a mobile, or a landline)' }),
    version: z.number().int(),
    op: z.number().int().nullable().openapi({ description: 'the operation undo takes back; null when nothing changed' }),
  })
  .openapi('Household');

const editRoute = createRoute({
  method: 'patch',
  path: '/households/{id}',
  summary: "Correct one household's head (户主), phone or size: its grid worker, or a planner or admin of its area",
  description:
    'Refused (409) when the household changed since `version` was read. Empty text clears a head or phone. ' +
    'One operation in the change log; undo takes it back.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          version: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 1),
          head: z.string().max(200).optional(),
          phone: z.string().max(40).optional(),
          size: z.number().int().min(1).max(30).optional(),
        }),
      ),
    },
  },
  responses: { 200: { description: 'The household as it is now', ...json(Household) }, ...errorResponses(400, 401, 403, 404, 409, 422) },
});

export function householdRoutes() {
  return router()
    .openapi(pointsRoute, async (c) => {
      const { id } = c.req.valid('param');
      // households (addresses, sizes) only of the area one is given, if any
      if (await regionExists(c.get('db'), id)) await areaRegion(c, id, 'id');
      const points = await householdPoints(c.get('db'), id, MAX_POINTS);
      if (!points) throw notFound('region', id);
      return c.json(points, 200);
    })
    .openapi(editRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const edit = {
        version: body.version,
        head: body.head === undefined ? undefined : parseHead(body.head, 'head'),
        phone: body.phone === undefined ? undefined : parseHouseholdPhone(body.phone, 'phone'),
        size: body.size,
      };
      const p = principalOf(c);
      const done = await c.get('db').transaction(async (tx) => {
        const before = await householdRecord(tx, id, true);
        if (!before) throw notFound('household', id);
        // a grid worker: the households of their grids; anyone given an area: those within it
        if (p.role === 'worker') assertOwnGrid(c, before.regionId, 'id');
        else if (before.regionId !== null) await areaRegion(c, before.regionId, 'id', tx);
        else if (areaOf(p) !== null) throw new InputError('outside_scope', `household ${id} lies outside your assigned area`, 'id');
        return editHousehold(tx, actorOf(c), before, edit, nowOf(c));
      });
      return c.json(done, 200);
    })
    .openapi(importRoute, async (c) => {
      const partial = c.req.valid('query').partial === 'true';
      assertUnscoped(c, 'a household import (it may touch the whole plan)');
      const run = async (onProgress: ProgressSink<ImportProgress>) => {
        const parse = { csv: parseHouseholdCsvRow, feature: parseHouseholdFeature, what: 'households' };
        const parsed = await readUpload(c, parse, partial, (n) => onProgress({ stage: 'parsing', rows: n }));
        const result = await importHouseholds(c.get('db'), actorOf(c), parsed.rows, parsed.type, onProgress);
        return { ...result, errors: parsed.errors.slice(0, 1000) };
      };
      if (!wantsStream(c)) return c.json(await run(() => {}), 201);
      return ndjson(c, 201, (send) => run(send)) as never;
    });
}

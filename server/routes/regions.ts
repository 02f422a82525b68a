import { createRoute, z } from '@hono/zod-openapi';
import { router } from '../http/router.ts';
import { actorOf, assertPlanScope, assertUnscoped } from '../http/auth.ts';
import { DEFAULT_TOLERANCES } from '../db/edit-operations.ts';
import { byCode, childrenOf, descendantsOf, districts, regionAt, regionById, regionExists, search } from '../db/region-queries.ts';
import { importRegions } from '../db/region-import.ts';
import { partFigures } from '../db/export.ts';
import { CoverageReportSchema } from './coverage.ts';
import { InputError, notFound } from '../domain/errors.ts';
import type { Queryable } from '../db/db.ts';
import { AsOfQuery, asOfInstant } from '../domain/plan-time.ts';
import { DEFAULT_LIMITS, parseBoundaryFeatures } from '../domain/geojson-input.ts';
import { errorResponses, IdParam, LevelSchema, RegionCollectionSchema, RegionFeatureSchema } from './schemas.ts';
import { cached, never, regionReads } from '../http/cache.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const listRoute = createRoute({
  method: 'get',
  path: '/regions',
  summary: 'Top-level regions (districts), the region with a given code, or a search by name or code',
  request: { query: z.object({ code: z.string().min(1).max(64).optional(), q: z.string().trim().min(1).max(64).optional() }) },
  responses: { 200: { description: 'Regions', ...json(RegionCollectionSchema) }, ...errorResponses(400) },
});

const getRoute = createRoute({
  method: 'get',
  path: '/regions/{id}',
  summary: 'One region with its ancestors and bounding box (`asOf`: as it was at the end of that day)',
  request: { params: IdParam, query: z.object({ asOf: AsOfQuery }) },
  responses: { 200: { description: 'Region', ...json(RegionFeatureSchema) }, ...errorResponses(400, 404) },
});

const childrenRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/children',
  summary: 'Children of a region, with household counts (`asOf`: as they were; households counted as they lie today)',
  request: { params: IdParam, query: z.object({ asOf: AsOfQuery }) },
  responses: { 200: { description: 'Children', ...json(RegionCollectionSchema) }, ...errorResponses(400, 404) },
});

const descendantsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/descendants',
  summary: 'Every region at one level below a region (e.g. all grids of a township)',
  request: { params: IdParam, query: z.object({ level: LevelSchema, asOf: AsOfQuery }) },
  responses: { 200: { description: 'Descendants', ...json(RegionCollectionSchema) }, ...errorResponses(400, 404) },
});

const PartFiguresSchema = z.object({
  id: z.number().int(),
  townships: z.number().int(),
  villages: z.number().int(),
  grids: z.number().int(),
  staffed: z.number().int().openapi({ description: 'Grids with a worker' }),
  passing: z.number().int().openapi({ description: 'Grids that pass their rules (household range, a worker, one piece), as the coverage check judges them' }),
});

const partsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/parts',
  summary: "What lies in each child of a region: townships, villages and grids below it, grids with a worker and grids that pass (today's plan)",
  request: { params: IdParam },
  responses: { 200: { description: 'Figures per child', ...json(z.object({ parts: z.array(PartFiguresSchema) })) }, ...errorResponses(400, 404) },
});

const ImportBody = z.object({
  parentId: z.number().int().positive().nullable(),
  level: LevelSchema,
  features: z.record(z.string(), z.unknown()).openapi({ description: 'A GeoJSON FeatureCollection of Polygon/MultiPolygon features' }),
  nameProperty: z.string().min(1).max(64).optional(),
  codeProperty: z.string().min(1).max(64).optional(),
  repair: z.boolean().optional().openapi({ description: 'Close unclosed rings and make invalid polygons valid instead of refusing them' }),
  partial: z.boolean().optional().openapi({ description: 'Import the valid features even when others are invalid' }),
  clip: z
    .boolean()
    .optional()
    .openapi({
      description:
        'Keep only the free part of each feature (inside the parent, off its other children and earlier features) instead of refusing features that ' +
        'leave the parent or overlap',
    }),
  strict: z.boolean().optional().openapi({ description: 'Refuse the whole layer when it leaves coverage problems (gaps, overlaps, spills) in the parent' }),
});

const ImportResult = z
  .object({
    op: z.number().int().nullable().openapi({ description: 'the operation: POST /api/changes/undo takes the layer back' }),
    created: z.array(z.object({ id: z.number().int(), code: z.string(), name: z.string() })),
    errors: z.array(z.object({ index: z.number().int(), code: z.string(), message: z.string(), path: z.string() })),
    coverage: CoverageReportSchema.nullable(),
  })
  .openapi('ImportResult');

const importRoute = createRoute({
  method: 'post',
  path: '/regions/import',
  summary: 'Import boundaries as children of a region (or as districts)',
  request: { body: { required: true, ...json(ImportBody) } },
  responses: { 201: { description: 'Imported', ...json(ImportResult) }, ...errorResponses(400, 404, 409, 413, 422) },
});

/** Why a region cannot be shown on a past day: the plan's history had not begun, or it did not exist then. */
async function notThen(db: Queryable, id: number, asOf: string): Promise<InputError> {
  const { rows } = await db.query<{ since: string | null }>(
    `SELECT to_char(min(valid_from) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS since FROM region_history`,
  );
  const since = rows[0]?.since ?? null;
  if (since !== null && asOf.slice(0, 10) < since) {
    return new InputError('before_history', `the plan's history starts on ${since}: ask for that day or a later one`, 'asOf', { since });
  }
  return new InputError('not_found', `region ${id} did not exist on ${asOf}`, 'id');
}

export function regionRoutes() {
  return router()
    .openapi(listRoute, async (c) =>
      cached(c, { reads: () => ['plan'], clock: never }, async () => {
        const { code, q } = c.req.valid('query');
        const db = c.get('db');
        return c.json(code ? await byCode(db, code) : q ? await search(db, q) : await districts(db), 200);
      }),
    )
    .openapi(getRoute, async (c) =>
      cached(c, { reads: regionReads, clock: never }, async () => {
        const { id } = c.req.valid('param');
        const { asOf } = c.req.valid('query');
        const region = await regionById(c.get('db'), id, asOfInstant(asOf));
        if (!region) throw asOf ? await notThen(c.get('db'), id, asOf) : notFound('region', id);
        return c.json(region, 200);
      }),
    )
    .openapi(childrenRoute, async (c) =>
      cached(c, { reads: regionReads, clock: never }, async () => {
        const { id } = c.req.valid('param');
        const { asOf } = c.req.valid('query');
        const at = asOfInstant(asOf);
        const db = c.get('db');
        if (!(await regionAt(db, id, at))) throw asOf ? await notThen(db, id, asOf) : notFound('region', id);
        return c.json(await childrenOf(db, id, at), 200);
      }),
    )
    .openapi(partsRoute, async (c) =>
      cached(c, { reads: regionReads, clock: never }, async () => {
        const { id } = c.req.valid('param');
        const db = c.get('db');
        if (!(await regionExists(db, id))) throw notFound('region', id);
        return c.json({ parts: await partFigures(db, id) }, 200);
      }),
    )
    .openapi(descendantsRoute, async (c) =>
      cached(c, { reads: regionReads, clock: never }, async () => {
        const { id } = c.req.valid('param');
        const { level, asOf } = c.req.valid('query');
        const at = asOfInstant(asOf);
        const db = c.get('db');
        if (!(await regionAt(db, id, at))) throw asOf ? await notThen(db, id, asOf) : notFound('region', id);
        return c.json(await descendantsOf(db, id, level, at), 200);
      }),
    )
    .openapi(importRoute, async (c) => {
      const body = c.req.valid('json');
      if (body.parentId === null) assertUnscoped(c, 'a new district');
      else await assertPlanScope(c, [body.parentId], false, 'parentId');
      const { features, errors } = parseBoundaryFeatures(body.features, {
        repair: body.repair ?? false,
        limits: { maxVertices: c.get('options').limits?.importVertices ?? DEFAULT_LIMITS.maxVertices },
        ...(body.nameProperty ? { nameProperty: body.nameProperty } : {}),
        ...(body.codeProperty ? { codeProperty: body.codeProperty } : {}),
      });
      const options = {
        parentId: body.parentId,
        level: body.level,
        repair: body.repair ?? false,
        clip: body.clip ?? false,
        partial: body.partial ?? false,
        strict: body.strict ?? false,
        toleranceM2: DEFAULT_TOLERANCES.toleranceM2,
      };
      const { created, errors: problems, coverage, op } = await c.get('db').transaction((tx) => importRegions(tx, actorOf(c), features, errors, options));
      return c.json({ op, created, errors: problems, coverage }, 201);
    });
}

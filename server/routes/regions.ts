import { createRoute, z } from '@hono/zod-openapi';
import { router } from '../http/router.ts';
import { actorOf, assertPlanScope, assertUnscoped } from '../http/auth.ts';
import { reassignHouseholdsIn, recountHouseholds } from '../db/households.ts';
import { byCode, childrenOf, descendantsOf, districts, regionById, regionLevel, search } from '../db/region-queries.ts';
import { insertRegions, recordChange, validityOf } from '../db/regions.ts';
import { validateCoverage } from '../db/coverage.ts';
import { CoverageReportSchema } from './coverage.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { parseBoundaryFeatures, type FeatureError } from '../domain/geojson-input.ts';
import { childLevel } from '../domain/hierarchy.ts';
import { errorResponses, IdParam, LevelSchema, RegionCollectionSchema, RegionFeatureSchema } from './schemas.ts';

const json = <T,>(schema: T) => ({ content: { 'application/json': { schema } } });

const listRoute = createRoute({
  method: 'get',
  path: '/regions',
  summary: 'Top-level regions (districts), the region with a given code, or a search by name or code',
  request: { query: z.object({ code: z.string().min(1).max(64).optional(), q: z.string().min(1).max(64).optional() }) },
  responses: { 200: { description: 'Regions', ...json(RegionCollectionSchema) }, ...errorResponses(400) },
});

const getRoute = createRoute({
  method: 'get',
  path: '/regions/{id}',
  summary: 'One region with its ancestors and bounding box',
  request: { params: IdParam },
  responses: { 200: { description: 'Region', ...json(RegionFeatureSchema) }, ...errorResponses(400, 404) },
});

const childrenRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/children',
  summary: 'Children of a region, with household counts',
  request: { params: IdParam },
  responses: { 200: { description: 'Children', ...json(RegionCollectionSchema) }, ...errorResponses(400, 404) },
});

const descendantsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/descendants',
  summary: 'Every region at one level below a region (e.g. all grids of a township)',
  request: { params: IdParam, query: z.object({ level: LevelSchema }) },
  responses: { 200: { description: 'Descendants', ...json(RegionCollectionSchema) }, ...errorResponses(400, 404) },
});

const ImportBody = z.object({
  parentId: z.number().int().positive().nullable(),
  level: LevelSchema,
  features: z.record(z.string(), z.unknown()).openapi({ description: 'A GeoJSON FeatureCollection of Polygon/MultiPolygon features' }),
  nameProperty: z.string().min(1).max(64).optional(),
  codeProperty: z.string().min(1).max(64).optional(),
  repair: z.boolean().optional().openapi({ description: 'Close unclosed rings and make invalid polygons valid instead of refusing them' }),
  partial: z.boolean().optional().openapi({ description: 'Import the valid features even when others are invalid' }),
  strict: z.boolean().optional().openapi({ description: 'Refuse the whole layer when it leaves coverage problems (gaps, overlaps, spills) in the parent' }),
});

const ImportResult = z
  .object({
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

export function regionRoutes() {
  return router()
    .openapi(listRoute, async (c) => {
      const { code, q } = c.req.valid('query');
      const db = c.get('db');
      return c.json(code ? await byCode(db, code) : q ? await search(db, q.trim()) : await districts(db), 200);
    })
    .openapi(getRoute, async (c) => {
      const { id } = c.req.valid('param');
      const region = await regionById(c.get('db'), id);
      if (!region) throw notFound('region', id);
      return c.json(region, 200);
    })
    .openapi(childrenRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      if (!(await regionLevel(db, id))) throw notFound('region', id);
      return c.json(await childrenOf(db, id), 200);
    })
    .openapi(descendantsRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { level } = c.req.valid('query');
      const db = c.get('db');
      if (!(await regionLevel(db, id))) throw notFound('region', id);
      return c.json(await descendantsOf(db, id, level), 200);
    })
    .openapi(importRoute, async (c) => {
      const body = c.req.valid('json');
      const db = c.get('db');
      if (body.parentId === null) assertUnscoped(c, 'a new district');
      else await assertPlanScope(c, [body.parentId], false, 'parentId');
      const parent = body.parentId === null ? null : await regionLevel(db, body.parentId);
      if (body.parentId !== null && !parent) throw notFound('parent region', body.parentId, 'parentId');
      const expected = parent ? childLevel(parent.level) : 'district';
      if (body.level !== expected) {
        throw new InputError('wrong_level', `children of ${parent ? `a ${parent.level}` : 'nothing'} are at level ${expected ?? 'none'}, not ${body.level}`, 'level');
      }
      const { features, errors } = parseBoundaryFeatures(body.features, {
        repair: body.repair ?? false,
        ...(body.nameProperty ? { nameProperty: body.nameProperty } : {}),
        ...(body.codeProperty ? { codeProperty: body.codeProperty } : {}),
      });
      const result = await db.transaction(async (tx) => {
        const problems: FeatureError[] = [...errors];
        if (!body.repair) {
          (await validityOf(tx, features.map((f) => f.coordinates))).forEach((v, i) => {
            const f = features[i]!;
            if (v) {
              const where = v.location ? ` at ${v.location[0]} ${v.location[1]}` : '';
              problems.push({ index: f.index, code: 'invalid_geometry', message: `${v.reason}${where}`, path: `features.features[${f.index}].geometry` });
            }
          });
        }
        const taken = new Set(
          (await tx.query<{ code: string }>('SELECT code FROM region WHERE code = ANY($1::text[])', [features.map((f) => f.code)])).rows.map((r) => r.code),
        );
        for (const f of features) {
          if (taken.has(f.code)) problems.push({ index: f.index, code: 'duplicate_code', message: `a region with code ${f.code} already exists`, path: `features.features[${f.index}]` });
        }
        problems.sort((a, b) => a.index - b.index);
        if (problems.length > 0 && !body.partial) {
          throw new InputError('invalid_features', `${problems.length} of ${features.length + errors.length} features are invalid; nothing was imported (pass partial: true to import the rest)`, problems[0]!.path, 422, problems);
        }
        const bad = new Set(problems.map((p) => p.index));
        const good = features.filter((f) => !bad.has(f.index));
        const ids = await insertRegions(
          tx,
          good.map((f) => ({ parentId: body.parentId, level: body.level, code: f.code, name: f.name, coordinates: f.coordinates })),
          body.repair ?? false,
        );
        await reassignHouseholdsIn(tx, ids);
        await recountHouseholds(tx);
        const created = good.map((f, i) => ({ id: ids[i]!, code: f.code, name: f.name }));
        // The layer's coverage of its parent: problems are reported, and refused only when strict.
        const coverage = body.parentId === null ? null : await validateCoverage(tx, body.parentId, { depth: 1, toleranceM2: 1 });
        const spatial = coverage ? coverage.summary.counts.gap + coverage.summary.counts.overlap + coverage.summary.counts.outside_parent : 0;
        if (body.strict && spatial > 0) {
          throw new InputError('coverage_problems', `the layer leaves ${spatial} gaps, overlaps or spills in its parent; nothing was imported (drop strict to store it and fix it on the map)`, 'features', 422, coverage!.summary.counts);
        }
        for (const r of created) {
          await recordChange(tx, { actor: actorOf(c), action: 'import', entity: 'region', entityId: r.id, before: null, after: { ...r, level: body.level, parentId: body.parentId } });
        }
        return { created, errors: problems, coverage };
      });
      return c.json(result, 201);
    });
}

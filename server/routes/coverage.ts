import { createRoute, z } from '@hono/zod-openapi';
import { hasCoverageFunctions, validateCoverage } from '../db/coverage.ts';
import { regionLevel } from '../db/region-queries.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { router } from '../http/router.ts';
import { errorResponses, IdParam } from './schemas.ts';
import type { Context } from 'hono';
import { withoutHouseholdLocations } from '../domain/coverage-report.ts';
import { areaOf, can } from '../domain/roles.ts';
import { isWithin } from '../db/accounts.ts';
import { principalOf } from '../http/auth.ts';
import { cached, never, regionReads } from '../http/cache.ts';
import type { Env } from '../http/router.ts';

export const CoverageReportSchema = z
  .object({
    summary: z.object({
      ok: z.boolean(),
      counts: z.record(z.string(), z.number().int()),
      parentsChecked: z.number().int(),
      parentsSuspect: z.number().int(),
      areaCheckedM2: z.number(),
      path: z.enum(['edges', 'coverage', 'relate']),
      elapsedMs: z.number(),
      stepsMs: z
        .object({ tiling: z.number(), rules: z.number(), households: z.number() })
        .openapi({ description: 'where the time went: the tiling (validity, gaps, overlaps, spills), the grid rules, the households' }),
    }),
    issues: z.object({
      type: z.literal('FeatureCollection'),
      features: z.array(
        z.object({
          type: z.literal('Feature'),
          geometry: z.object({ type: z.string(), coordinates: z.any() }).nullable(),
          properties: z.object({
            kind: z.string(),
            regionIds: z.array(z.number().int()),
            parentId: z.number().int().nullable(),
            name: z.string().optional().openapi({ description: "the grid's name, where the problem is one grid's" }),
            areaM2: z.number().optional(),
            count: z.number().optional(),
            role: z.string().optional(),
            of: z.string().optional(),
            message: z.object({ zh: z.string(), en: z.string() }),
          }),
        }),
      ),
    }),
  })
  .openapi('CoverageReport');

const coverageRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/coverage',
  summary: 'Validate that the children of a region (depth=1) or every level below it (depth=all) tile it, and follow the grid rules',
  request: {
    params: IdParam,
    query: z.object({
      depth: z.enum(['1', 'all']).default('1'),
      tolerance: z.coerce.number().min(0).max(1e6).default(1).openapi({ description: 'm²: smaller gaps and overlaps are slivers' }),
      path: z.enum(['edges', 'coverage', 'relate']).optional().openapi({
        description: 'force a screening path: edges counted in the server (default), ST_CoverageInvalidEdges (PostGIS 3.6), or all in SQL with ST_Relate',
      }),
    }),
  },
  responses: { 200: { description: 'Report', content: { 'application/json': { schema: CoverageReportSchema } } }, ...errorResponses(400, 404, 422) },
});

/**
 * Whether the caller may see where households are: who may not gets counts per region instead. Someone
 * given an area sees them only in a report of a region within it (their households list says the same):
 * a township's planner checking the township next door sees its unfiled households counted, not placed.
 */
const householdAccess = (c: Context<Env>) => {
  const p = principalOf(c);
  if (!can(p.role, 'households:read')) return 'counts';
  const area = areaOf(p);
  return area === null ? 'households' : `households in ${area}`;
};

export function coverageRoutes() {
  return router().openapi(coverageRoute, async (c) =>
    // (the report names the grids of its problems: a rename anywhere below retires it)
    cached(c, { reads: (args) => [...regionReads(args), 'names'], clock: never, vary: householdAccess }, async () => {
      const { id } = c.req.valid('param');
      const { depth, tolerance, path } = c.req.valid('query');
      const db = c.get('db');
      if (!(await regionLevel(db, id))) throw notFound('region', id);
      if (path === 'coverage' && !(await hasCoverageFunctions(db))) {
        throw new InputError('path_unavailable', 'this PostGIS has no ST_CoverageInvalidEdges; use path=relate', 'query.path');
      }
      const report = await validateCoverage(db, id, { depth: depth === 'all' ? 'all' : 1, toleranceM2: tolerance, path });
      const access = householdAccess(c);
      const area = areaOf(principalOf(c));
      const placed = access !== 'counts' && (area === null || (await isWithin(db, id, area, false)));
      return c.json(placed ? report : withoutHouseholdLocations(report), 200);
    }),
  );
}

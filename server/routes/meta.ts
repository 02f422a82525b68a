import { createRoute, z } from '@hono/zod-openapi';
import { router } from '../http/router.ts';
import { defaultGridTypes, healthFigures } from '../db/meta.ts';
import { listWorkers } from '../db/staff.ts';
import { WorkerListItemSchema } from '../schemas/staff.ts';
import { GridTypeSchema } from './schemas.ts';
import { cached, never } from '../http/cache.ts';

const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Which database driver and PostGIS version serve this instance',
  responses: {
    200: {
      description: 'Healthy',
      content: {
        'application/json': {
          schema: z.object({
            ok: z.literal(true),
            driver: z.enum(['pg', 'pglite']),
            postgis: z.string(),
            regions: z.number().int(),
            households: z.number().int(),
          }),
        },
      },
    },
  },
});

const configRoute = createRoute({
  method: 'get',
  path: '/config',
  summary: 'Settings the web app needs: optional external basemap',
  responses: { 200: { description: 'Config', content: { 'application/json': { schema: z.object({ basemapUrl: z.string().nullable() }) } } } },
});

const gridTypesRoute = createRoute({
  method: 'get',
  path: '/grid-types',
  summary: 'Grid types with their default household ranges',
  responses: {
    200: {
      description: 'Grid types',
      content: {
        'application/json': {
          schema: z.array(
            z.object({ gridType: GridTypeSchema, zh: z.string(), en: z.string(), min: z.number().int(), max: z.number().int(), target: z.number().int() }),
          ),
        },
      },
    },
  },
});

const workersRoute = createRoute({
  method: 'get',
  path: '/workers',
  summary: 'Grid workers, with the grid each one serves as its full-time worker (if any)',
  request: { query: z.object({ role: z.string().max(32).optional().openapi({ description: 'only people of this staffing role (e.g. full_time)' }) }) },
  responses: {
    200: {
      description: 'Workers',
      content: {
        'application/json': {
          schema: z.array(WorkerListItemSchema),
        },
      },
    },
  },
});

export function metaRoutes() {
  return router()
    .openapi(healthRoute, async (c) => {
      const db = c.get('db');
      return c.json({ ok: true as const, driver: db.driver, ...(await healthFigures(db)) }, 200);
    })
    .openapi(workersRoute, async (c) =>
      cached(c, { reads: () => ['plan'], clock: never }, async () => c.json(await listWorkers(c.get('db'), c.req.valid('query').role), 200)),
    )
    .openapi(configRoute, (c) => c.json({ basemapUrl: c.get('options').basemapUrl ?? null }, 200))
    .openapi(gridTypesRoute, async (c) => cached(c, { reads: () => ['plan'], clock: never }, async () => c.json(await defaultGridTypes(c.get('db')), 200)));
}

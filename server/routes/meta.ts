import { createRoute, z } from '@hono/zod-openapi';
import { router } from '../http/router.ts';
import { GRID_TYPE_NAMES, type GridType } from '../domain/grid-types.ts';
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
          schema: z.array(
            z.object({
              id: z.number().int(),
              name: z.string(),
              phone: z.string(),
              role: z.string(),
              gridId: z.number().int().nullable(),
              gridName: z.string().nullable(),
            }),
          ),
        },
      },
    },
  },
});

export function metaRoutes() {
  return router()
    .openapi(healthRoute, async (c) => {
      const db = c.get('db');
      const { rows } = await db.query<{ v: string; regions: number; households: number }>(
        `SELECT postgis_lib_version() AS v, (SELECT count(*)::int FROM region) AS regions, (SELECT count(*)::int FROM household) AS households`,
      );
      return c.json({ ok: true as const, driver: db.driver, postgis: rows[0]!.v, regions: rows[0]!.regions, households: rows[0]!.households }, 200);
    })
    .openapi(workersRoute, async (c) =>
      cached(c, { reads: () => ['plan'], clock: never }, async () => {
        const { role } = c.req.valid('query');
        const { rows } = await c.get('db').query<{ id: number; name: string; phone: string; role: string; grid_id: number | null; grid_name: string | null }>(
          `SELECT w.id, w.name, w.phone, w.role, g.id AS grid_id, g.name AS grid_name
         FROM worker w LEFT JOIN LATERAL (SELECT id, name FROM region WHERE worker_id = w.id ORDER BY id LIMIT 1) g ON true
         WHERE $1::text IS NULL OR w.role = $1
         ORDER BY (g.id IS NOT NULL), w.id`,
          [role ?? null],
        );
        return c.json(
          rows.map((r) => ({ id: r.id, name: r.name, phone: r.phone, role: r.role, gridId: r.grid_id, gridName: r.grid_name })),
          200,
        );
      }),
    )
    .openapi(configRoute, (c) => c.json({ basemapUrl: c.get('options').basemapUrl ?? null }, 200))
    .openapi(gridTypesRoute, async (c) =>
      cached(c, { reads: () => ['plan'], clock: never }, async () => {
        const { rows } = await c
          .get('db')
          .query<{ grid_type: GridType; min_households: number; max_households: number; target_households: number }>(
            'SELECT grid_type, min_households, max_households, target_households FROM grid_type_rule WHERE district_id IS NULL ORDER BY id',
          );
        return c.json(
          rows.map((r) => ({
            gridType: r.grid_type,
            ...GRID_TYPE_NAMES[r.grid_type],
            min: r.min_households,
            max: r.max_households,
            target: r.target_households,
          })),
          200,
        );
      }),
    );
}

import { createRoute, z } from '@hono/zod-openapi';
import { barriersIn } from '../db/barriers.ts';
import { BARRIER_CLASSES } from '../domain/barrier-classes.ts';
import { router } from '../http/router.ts';
import { errorResponses, json } from './schemas.ts';

const BarrierCollection = z
  .object({
    type: z.literal('FeatureCollection'),
    features: z.array(
      z.object({
        type: z.literal('Feature'),
        id: z.number().int(),
        properties: z.object({ class: z.enum(BARRIER_CLASSES), name: z.string() }),
        geometry: z.any(),
      }),
    ),
    truncated: z.boolean().openapi({ description: 'more lines cross the region than were sent' }),
  })
  .openapi('Barriers');

const listRoute = createRoute({
  method: 'get',
  path: '/barriers',
  summary: 'Imported roads, rivers, railways, ditches and ridges crossing a region',
  description:
    'Lines come in through the import wizard (kind `barrier`). Auto-split cuts along them by class: main roads, rivers and railways are ' +
    'not crossed; roads, lanes, ditches and ridges are followed where the pieces they cut hold enough households.',
  request: {
    query: z.object({
      regionId: z.coerce.number().int().positive().max(2_147_483_647).openapi({ example: 12 }),
      limit: z.coerce.number().int().min(1).max(20_000).optional().openapi({ description: 'at most this many lines (default 5,000)' }),
    }),
  },
  responses: { 200: { description: 'The lines', ...json(BarrierCollection) }, ...errorResponses(400, 404) },
});

export function barrierRoutes() {
  return router().openapi(listRoute, async (c) => {
    const { regionId, limit } = c.req.valid('query');
    const { features, truncated } = await barriersIn(c.get('db'), regionId, limit ?? 5_000);
    return c.json({ type: 'FeatureCollection' as const, features, truncated }, 200);
  });
}

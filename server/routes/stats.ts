import { createRoute, z } from '@hono/zod-openapi';
import { overview } from '../db/overview.ts';
import { nowOf, router } from '../http/router.ts';
import { areaRegion } from '../http/auth.ts';
import { notFound } from '../domain/errors.ts';
import { errorResponses } from './schemas.ts';
import { always, cached } from '../http/cache.ts';

const Figure = z.object({ value: z.number().nullable(), previous: z.number().nullable() });

const overviewRoute = createRoute({
  method: 'get',
  path: '/stats/overview',
  summary: "Key figures of a region for the leaders' screen, each with the previous period's value",
  request: {
    query: z.object({
      region: z.coerce.number().int().positive().max(2_147_483_647).optional().openapi({ description: "default: the caller's area, else the top of the plan" }),
    }),
  },
  responses: {
    200: {
      description: 'Figures',
      content: {
        'application/json': {
          schema: z.object({
            region: z.object({ id: z.number().int(), name: z.string(), level: z.string() }),
            figures: z.object({
              grids: Figure,
              workers: Figure,
              households: Figure,
              coverageArea: Figure,
              coverageHouseholds: Figure,
              failingGrids: Figure,
              incidentsToday: Figure,
              incidentsMonth: Figure,
              closureRate: Figure,
              hoursToClose: Figure,
              overdue: Figure.openapi({
                description:
                  "超期未办结: cases not yet resolved past their category's time to close (from the report) " +
                  'or past the deadline to resolve of one of their open dispatches',
              }),
              overdueDispatches: Figure.openapi({
                description:
                  "工单超时: departments' open dispatches on cases here past their own deadline to acknowledge or resolve " +
                  '(extensions included), as 跟踪督办 counts them',
              }),
              overdueToAcknowledge: Figure.openapi({
                description: 'of overdueDispatches, those late only to acknowledge (受理超时): their deadline to resolve is still ahead',
              }),
              satisfaction: Figure.openapi({ description: '满意率: satisfied or basically satisfied among verdicts of cases closed in 30 days' }),
              solvedOnSpot: Figure.openapi({ description: 'share of cases solved in 30 days without a department (grid, village, township, district)' }),
            }),
            solvedBy: z
              .object({
                grid: z.number().int(),
                village: z.number().int(),
                township: z.number().int(),
                district: z.number().int(),
                department: z.number().int(),
              })
              .openapi({ description: 'cases solved in the last 30 days, by the level that solved them' }),
            byCategory: z.record(z.string(), z.number().int()),
            rulesChanged: z
              .string()
              .nullable()
              .openapi({
                description:
                  'the day (China time) the household ranges or the staffing model last changed, when since the snapshot compared with: ' +
                  'the coverage and failing-grid figures then have no previous value',
              }),
          }),
        },
      },
    },
    ...errorResponses(400, 404),
  },
});

export function statsRoutes() {
  return router().openapi(overviewRoute, async (c) =>
    cached(c, { reads: () => ['incidents', 'layout'], clock: always }, async () => {
      const { region } = c.req.valid('query');
      const db = c.get('db');
      const id =
        (await areaRegion(c, region, 'query.region')) ??
        (await db.query<{ id: number }>('SELECT id FROM region WHERE parent_id IS NULL ORDER BY id LIMIT 1')).rows[0]?.id;
      if (id === undefined) throw notFound('region', 0, 'query.region');
      const result = await overview(db, id, nowOf(c));
      return c.json(result as never, 200);
    }),
  );
}

import { createRoute, z } from '@hono/zod-openapi';
import { comparePlans, type PlanSide } from '../db/compare.ts';
import { regionAt } from '../db/region-queries.ts';
import { InputError } from '../domain/errors.ts';
import { asOfInstant } from '../domain/plan-time.ts';
import { cached, never } from '../http/cache.ts';
import { router } from '../http/router.ts';
import { errorResponses, json } from './schemas.ts';

const Side = z
  .string()
  .regex(/^(live|date:\d{4}-\d{2}-\d{2})$/, 'live, or date:YYYY-MM-DD')
  .openapi({ description: '`live` (the plan now) or `date:YYYY-MM-DD` (as it stood at the end of that day)', example: 'date:2026-05-01' });

const Grid = z.object({
  id: z.number().int(),
  code: z.string(),
  name: z.string(),
  gridType: z.string().nullable(),
  parentId: z.number().int(),
  households: z.number().int(),
});
const Ref = z.object({ id: z.number().int(), code: z.string(), name: z.string() }).nullable();
const Figures = z.object({
  label: z.string(),
  grids: z.number().int(),
  households: z.number().int(),
  perGrid: z.number().nullable(),
  inRange: z.number().nullable().openapi({ description: 'share of grids within the district’s current household range' }),
});

/** The two sides of a comparison and the region compared. */
export const CompareQuery = z.object({
  region: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1),
  a: Side,
  b: Side.default('live'),
});

const compareRoute = createRoute({
  method: 'get',
  path: '/compare',
  summary: 'Two plans of a region side by side: grids added, removed, reshaped, renamed, retyped or moved to another village; households moved',
  description:
    'Grids are matched by id. Households are counted as they lie today within each plan’s grids, so the comparison shows what the plan change did to ' +
    'the same people. Up to 2,000 grids per list and the 500 largest moves.',
  request: { query: CompareQuery },
  responses: {
    200: {
      description: 'The comparison',
      ...json(
        z
          .object({
            regionId: z.number().int(),
            a: Figures,
            b: Figures,
            added: z.array(z.unknown()).openapi({ description: 'GeoJSON features of grids only in b' }),
            removed: z.array(z.unknown()).openapi({ description: 'GeoJSON features of grids only in a' }),
            changed: z.array(
              z.object({
                id: z.number().int(),
                code: z.string(),
                name: z.string(),
                changes: z.array(z.enum(['shape', 'name', 'type', 'village'])),
                before: Grid,
                after: Grid,
                geometry: z.unknown().optional().openapi({ description: 'the new shape (GeoJSON), when it changed' }),
              }),
            ),
            moves: z.array(z.object({ from: Ref, to: Ref, households: z.number().int() })),
            movedHouseholds: z.number().int(),
          })
          .openapi('PlanComparison'),
      ),
    },
    ...errorResponses(400, 404),
  },
});

export const sideOf = (s: string, path: string): PlanSide => (s === 'live' ? { label: 'live', at: null } : { label: s, at: asOfInstant(s.slice(5), path) });

export function compareRoutes() {
  return router().openapi(compareRoute, async (c) =>
    cached(c, { reads: () => ['plan', 'plan*', 'layout'], clock: never }, async () => {
      const { region, a, b } = c.req.valid('query');
      const [sa, sb] = [sideOf(a, 'a'), sideOf(b, 'b')];
      const db = c.get('db');
      if (!(await regionAt(db, region, sa.at)) && !(await regionAt(db, region, sb.at))) {
        throw new InputError('not_found', `region ${region} is in neither plan`, 'region');
      }
      return c.json(await comparePlans(db, region, sa, sb), 200);
    }),
  );
}

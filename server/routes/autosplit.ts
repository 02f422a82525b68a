import { createRoute, z } from '@hono/zod-openapi';
import { autosplit } from '../db/autosplit.ts';
import { BARRIER_CLASSES, BARRIER_PREFERENCES } from '../domain/barrier-classes.ts';
import { parseBarriers } from '../domain/barrier-input.ts';
import { InputError } from '../domain/errors.ts';
import { splitting } from '../http/heavy.ts';
import { ndjson, wantsStream } from '../http/ndjson.ts';
import { actorOf, assertPlanScope } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses, GridTypeSchema, IdParam } from './schemas.ts';

const Count = z.number().int().min(0).max(100_000);

const AutosplitBody = z.object({
  gridType: GridTypeSchema.optional().openapi({ description: "Grid type for every village; by default each village's own" }),
  min: Count.optional(),
  max: Count.optional(),
  target: Count.optional(),
  barriers: z
    .record(z.string(), z.unknown())
    .optional()
    .openapi({ description: 'GeoJSON lines no grid should cross: LineString, MultiLineString, Feature or FeatureCollection' }),
  keep: z.array(z.number().int().positive()).max(10_000).optional().openapi({ description: 'Grids kept as they are' }),
  importedBarriers: z.boolean().optional().openapi({ description: 'Cut along the imported roads, rivers and other lines of the area (default true)' }),
  barrierClasses: z
    .partialRecord(z.enum(BARRIER_CLASSES), z.enum(BARRIER_PREFERENCES))
    .optional()
    .openapi({ description: 'Per class of imported line: never (not crossed), prefer (followed where it can be), ignore' }),
  incidentWeight: z.number().min(0).max(100).optional().openapi({ description: 'Work per incident of the last 12 months, in households (default 0.25)' }),
  maxWidthM: z
    .number()
    .min(50)
    .max(100_000)
    .optional()
    .openapi({ description: 'How far apart (m) a grid’s households may lie: wider groups are cut again where the range allows (scattered villages)' }),
  workload: z.boolean().optional().openapi({ description: "Count each grid's incidents of the last 12 months and its workload" }),
  balanceWorkload: z
    .boolean()
    .optional()
    .openapi({ description: 'Balance households + weighted incidents between grids (the counts still keep to the range)' }),
  rebalance: z
    .boolean()
    .optional()
    .openapi({ description: 'Minimal change: keep every grid that meets its rule, divide only the rest (out-of-range grids, land without a grid)' }),
  commit: z.boolean().optional().openapi({ description: "Replace the area's grids (one transaction, undoable)" }),
  straight: z
    .boolean()
    .optional()
    .openapi({ description: 'Straight borders (a balanced power diagram) where they keep every count in range (default); false: borders between the houses' }),
});

const Summary = z.object({
  villages: z.number().int(),
  grids: z.number().int(),
  households: z.number().int(),
  withinRange: z.number().int(),
  withinRangeShare: z.number(),
  minHouseholds: z.number().int(),
  maxHouseholds: z.number().int(),
  meanCompactness: z.number(),
  barrierCrossings: z.number().int(),
  straightGrids: z.number().int().openapi({ description: 'grids with straight borders; the rest follow the houses where straight ones would leave the range' }),
  meanVertices: z.number().openapi({ description: 'corners per grid outline, on average' }),
  borderM: z.number().openapi({ description: 'length of border drawn inside the area (m)' }),
  borderOnBarrierShare: z.number().openapi({ description: 'share of that border along a road, river or other line' }),
  minWorkload: z.number(),
  maxWorkload: z.number(),
  workloadCv: z.number().openapi({ description: 'spread of the workload per grid: standard deviation / mean' }),
  incidents: z.number().int().nullable().openapi({ description: 'incidents of the last 12 months in the area (null unless the workload is asked for)' }),
  widestM: z.number().openapi({ description: "the widest grid's span, corner to corner (m)" }),
  householdsMoved: z
    .number()
    .int()
    .openapi({ description: 'households that would change grid (in each proposed grid, those not in the grid most of them are in now)' }),
  unchanged: z.boolean().openapi({ description: 'the proposal divides exactly as the current grids do' }),
  kept: z.number().int().openapi({ description: 'grids left as they are' }),
  released: z.number().int().openapi({ description: 'grids meeting their rule released to join a remainder too small alone (rebalance)' }),
  infeasible: z.array(z.object({ ord: z.number().int(), villageId: z.number().int(), village: z.string(), reason: z.string(), households: z.number().int() })),
  typedByName: z
    .object({ residential: z.number().int(), rural: z.number().int() })
    .openapi({ description: 'villages with no type set and no grids, typed by their names: 社区 residential, the rest rural' }),
  elapsedMs: z.number(),
});

const GridProps = z.object({
  ord: z.number().int(),
  villageId: z.number().int(),
  villageCode: z.string(),
  villageName: z.string(),
  households: z.number().int(),
  gridType: GridTypeSchema,
  min: z.number().int(),
  max: z.number().int(),
  status: z.enum(['under', 'within', 'over']),
  compactness: z.number(),
  areaM2: z.number(),
  widthM: z.number().openapi({ description: 'widest span, corner to corner (m)' }),
  borderM: z.number().nullable().openapi({ description: 'border drawn inside the area (m); null where it could not be measured' }),
  offBarrierM: z.number().nullable().openapi({ description: 'of which not along a road, river or other line (m)' }),
  incidents: z.number().int().nullable().openapi({ description: 'incidents of the last 12 months (null unless the workload is asked for)' }),
  workload: z.number().openapi({ description: 'households + incident weight × incidents' }),
  parts: z.number().int(),
  reason: z.string().nullable(),
  crossesBarrier: z.boolean(),
  id: z.number().int().optional(),
});

const AutosplitResponse = z
  .object({
    proposal: z.object({
      type: z.literal('FeatureCollection'),
      features: z.array(z.object({ type: z.literal('Feature'), id: z.number().int(), properties: GridProps, geometry: z.any() })),
    }),
    summary: Summary,
    committed: z.object({ op: z.number().int(), ids: z.array(z.number().int()) }).optional(),
  })
  .openapi('AutosplitResult');

const autosplitRoute = createRoute({
  method: 'post',
  path: '/regions/{id}/autosplit',
  summary: 'Divide a village (or every village of a township or district) into grids by household counts',
  description:
    'Proposes grids whose household counts lie in the grid type’s range, tiling the area exactly, one polygon each, following barriers. ' +
    '`commit: true` replaces the grids in one transaction, recorded as one undoable operation. ' +
    'With `Accept: application/x-ndjson` the response streams `{"progress":{"done","total"}}` per village and ends with `{"result":…}`.',
  request: {
    params: IdParam,
    body: { required: true, content: { 'application/json': { schema: AutosplitBody } } },
  },
  responses: {
    200: { description: 'Proposal (and commit)', content: { 'application/json': { schema: AutosplitResponse } } },
    ...errorResponses(400, 404, 409, 413, 422),
  },
});

/** The most grids one auto-split proposes (a city's plan has about 21,500; `GRIDPLAN_MAX_SPLIT_GRIDS`). */
export const MAX_SPLIT_GRIDS = 30_000;

export function autosplitRoutes() {
  return router().openapi(autosplitRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const barriers = body.barriers ? parseBarriers(body.barriers, 'barriers') : undefined;
    await assertPlanScope(c, [id], false);
    // Before any work: a range that would make more grids than a city has (one household each over a
    // district: 78,000 grids, a minute of a core and a 47 MB answer) is refused, not worked out.
    const size = Math.min(body.target || Infinity, body.max || Infinity);
    const most = c.get('options').limits?.splitGrids ?? MAX_SPLIT_GRIDS;
    if (Number.isFinite(size)) {
      const {
        rows: [r],
      } = await c.get('db').query<{ n: number }>('SELECT household_count AS n FROM region WHERE id = $1', [id]);
      const grids = Math.ceil((r?.n ?? 0) / size);
      if (grids > most)
        throw new InputError(
          'too_many_grids',
          `${size} households a grid would make about ${grids} grids here, more than the ${most} an auto-split makes at once; ` +
            'give a larger target or split each township on its own',
          body.target ? 'target' : 'max',
        );
    }
    const actor = actorOf(c);
    const run = (onProgress?: (done: number, total: number) => void | Promise<void>) =>
      splitting(c, () => c.get('db').transaction((tx) => autosplit(tx, id, { ...body, barriers, actor, onProgress })));
    if (wantsStream(c)) return ndjson(c, 200, (send) => run((done, total) => send({ done, total }))) as never;
    return c.json(await run(), 200);
  });
}

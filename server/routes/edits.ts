import { createRoute, z } from '@hono/zod-openapi';
import { NameText } from '../schemas/text.ts';
import type { Context } from 'hono';
import {
  DEFAULT_TOLERANCES,
  SLIVER_WIDTH_M,
  createRegion,
  deleteRegion,
  fitChildren,
  mergeRegions,
  splitRegion,
  updateRegion,
  type EditResult,
} from '../db/edit-operations.ts';
import { isWithin } from '../db/accounts.ts';
import { byIds } from '../db/region-queries.ts';
import { changeHistory, entitiesOf, operations } from '../db/change-log.ts';
import { redo, undo, UNDOABLE } from '../db/undo.ts';
import { DRAWN_LIMITS, parsePolygonGeometry, parsePosition } from '../domain/geojson-input.ts';
import { can } from '../domain/roles.ts';
import { actorOf, assertOperationInScope, assertPlanScope, assertWorkersInScope, principalOf } from '../http/auth.ts';
import { router, type Env } from '../http/router.ts';
import { errorResponses, GridTypeSchema, IdParam, WholeId, RegionCollectionSchema } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const Geometry = z.record(z.string(), z.unknown()).openapi({ description: 'GeoJSON Polygon or MultiPolygon (lon/lat)' });
const Version = z.number().int().positive();
const Line = z.object({ type: z.literal('LineString'), coordinates: z.array(z.unknown()).min(2).max(10_000) });

const EditResponse = z
  .object({
    op: z.number().int(),
    action: z.string(),
    regions: RegionCollectionSchema,
    removed: z.array(z.number().int()),
    gapM2: z.number(),
  })
  .openapi('EditResult');

const ok200 = { 200: { description: 'Done', ...json(EditResponse) } };

const createRouteDef = createRoute({
  method: 'post',
  path: '/regions',
  summary: 'Create a child region (e.g. draw a grid)',
  description: '422 when the shape leaves the parent or overlaps siblings beyond the tolerance, unless `clip: true` keeps only the free part.',
  request: {
    body: {
      required: true,
      ...json(
        z.object({
          parentId: z.number().int().positive(),
          geometry: Geometry,
          name: NameText(100).optional(),
          code: z.string().min(1).max(64).optional(),
          gridType: GridTypeSchema.optional(),
          workerId: z.number().int().positive().nullable().optional(),
          notes: z.string().max(2_000).optional(),
          clip: z.boolean().optional(),
        }),
      ),
    },
  },
  responses: { 201: { description: 'Created', ...json(EditResponse) }, ...errorResponses(400, 404, 409, 413, 422) },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/regions/{id}',
  summary: 'Change a region: properties and/or geometry (409 on a stale version)',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          version: Version,
          geometry: Geometry.optional(),
          name: NameText(100).optional(),
          gridType: GridTypeSchema.nullable().optional(),
          workerId: z.number().int().positive().nullable().optional(),
          notes: z.string().max(2_000).optional(),
          neighbours: z.enum(['adjust', 'keep']).optional(),
          staff: z
            .array(z.object({ workerId: z.number().int().positive(), role: z.string().min(1).max(32) }))
            .max(100)
            .optional()
            .openapi({
              description:
                "a grid's staff besides its full-time worker (grid leader, police officer, instructor, part-time members, volunteers): replaces the list",
            }),
        }),
      ),
    },
  },
  responses: { ...ok200, ...errorResponses(400, 404, 409, 413, 422) },
});

const splitRoute = createRoute({
  method: 'post',
  path: '/regions/{id}/split',
  summary: 'Split a region along a line drawn across it',
  request: { params: IdParam, body: { required: true, ...json(z.object({ version: Version, line: Line })) } },
  responses: { ...ok200, ...errorResponses(400, 404, 409, 422) },
});

const mergeRoute = createRoute({
  method: 'post',
  path: '/regions/merge',
  summary: 'Merge adjacent sibling regions into the first',
  request: {
    body: { required: true, ...json(z.object({ ids: z.array(z.number().int().positive()).min(2).max(100), versions: z.array(Version).min(2).max(100) })) },
  },
  responses: { ...ok200, ...errorResponses(400, 404, 409, 422) },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/regions/{id}',
  summary: 'Delete a region without children (its area becomes a gap)',
  request: { params: IdParam, query: z.object({ version: z.coerce.number().int().positive().max(2_147_483_647) }) },
  responses: { ...ok200, ...errorResponses(400, 404, 409, 422) },
});

const FitResponse = z
  .object({
    op: z.number().int().nullable().openapi({ description: 'the operation to undo; null when everything below already fitted' }),
    action: z.literal('fit'),
    regions: RegionCollectionSchema,
    removed: z.array(z.number().int()),
    gapM2: z.number().openapi({ description: 'the gaps left (m²)' }),
    fit: z.object({
      clipped: z.number().int().openapi({ description: 'regions cut back to their parent’s outline' }),
      absorbed: z.object({ pieces: z.number().int(), m2: z.number() }).openapi({ description: 'slivers given to the neighbour sharing most border' }),
      moved: z
        .number()
        .int()
        .openapi({ description: 'pieces of regions the outline cut apart, given to the neighbour sharing most border (each keeps its largest)' }),
      gaps: z.object({ pieces: z.number().int(), m2: z.number() }).openapi({ description: 'wider gaps, left to draw or auto-split' }),
      outside: z
        .array(z.object({ id: z.number().int(), name: z.string(), code: z.string(), parent: z.string() }))
        .openapi({ description: 'regions (the first 100) all or nearly all outside their parent’s outline, left as they are' }),
    }),
  })
  .openapi('FitResult');

const fitRoute = createRoute({
  method: 'post',
  path: '/regions/{id}/fit',
  summary: 'Fit the regions below a region to its outline (贴合边界): after its outline changed',
  description:
    'Each child is cut back to the outline; each gap left along it narrower than ' +
    `${SLIVER_WIDTH_M} m on average (2·area/perimeter) goes to the child sharing most of its border; a child that changed fits its own children ` +
    '(a village, then its grids). Children all or nearly all outside, and wider gaps, are left as they are and counted. One undoable operation; ' +
    'households and cases are filed again. 409 on a stale `version` of the region.',
  request: { params: IdParam, body: { required: true, ...json(z.object({ version: Version })) } },
  responses: { 200: { description: 'Fitted', ...json(FitResponse) }, ...errorResponses(400, 404, 409) },
});

const undoRoute = createRoute({
  method: 'post',
  path: '/changes/undo',
  summary: "Undo the caller's latest operation (per user)",
  request: {
    query: z.object({
      op: WholeId.optional().openapi({
        description: "only if this is still the caller's latest operation (an import's own undo button): 409 `not_latest` otherwise",
      }),
    }),
  },
  responses: { ...ok200, ...errorResponses(409) },
});

const redoRoute = createRoute({
  method: 'post',
  path: '/changes/redo',
  summary: "Redo the caller's most recently undone operation",
  responses: { ...ok200, ...errorResponses(409) },
});

/** What the change log holds of the plan: regions, households brought in, barrier lines. */
const PLAN_ENTITIES = ['region', 'household', 'barrier'] as const;

const historyRoute = createRoute({
  method: 'get',
  path: '/changes',
  summary: 'The change log, newest first',
  description:
    'An admin reads every entry (sign-ins, cases, settings). Everyone else reads the plan’s entries (regions, households, barrier lines), ' +
    'and someone given an area only the regions within it.',
  request: {
    query: z.object({ entityId: z.coerce.number().int().positive().max(2_147_483_647).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }),
  },
  responses: {
    200: {
      description: 'Changes',
      ...json(
        z.array(
          z.object({
            id: z.number().int(),
            op: z.number().int().nullable(),
            at: z.string(),
            actor: z.string(),
            action: z.string(),
            entity: z.string(),
            entityId: z.number().int().nullable(),
            undone: z.boolean(),
          }),
        ),
      ),
    },
    ...errorResponses(400),
  },
});

const operationsRoute = createRoute({
  method: 'get',
  path: '/operations',
  summary: 'The change log by operation, newest first: who did what, when, where; and the caller’s next undo',
  request: {
    query: z.object({
      region: z.coerce
        .number()
        .int()
        .positive()
        .max(2 ** 31 - 1)
        .optional()
        .openapi({
          description: 'operations that touched it or anything below it; someone given an area reads only the part within it (their area by default)',
        }),
      actor: z.string().min(1).max(64).optional(),
      action: z
        .enum(['create', 'update', 'split', 'merge', 'delete', 'autosplit', 'fit', 'import', 'publish', 'restore', 'undo', 'redo', 'household'])
        .optional()
        .openapi({
          description: "the kind; 'household': households added, corrected, taken out or brought in (the others leave these out, but for imports and undo)",
        }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: {
    200: {
      description: 'Operations',
      ...json(
        z.object({
          operations: z.array(
            z.object({
              op: z.number().int(),
              at: z.string(),
              actor: z.string(),
              actorName: z
                .string()
                .openapi({ description: "who that is: a grid worker's name for a worker's account, else the account's name, else the user name" }),
              action: z.string(),
              entity: z.string(),
              regions: z.number().int(),
              names: z.array(z.string()),
              regionId: z.number().int().nullable(),
              counts: z.object({ added: z.number().int(), updated: z.number().int(), removed: z.number().int().optional() }).nullable(),
              reason: z.string().nullable().openapi({ description: 'a household taken out: moved, demolished, duplicate or other' }),
              note: z.string().nullable().openapi({ description: 'the note given with it' }),
              undone: z.boolean(),
              reverts: z.number().int().nullable(),
              revertsAction: z
                .string()
                .nullable()
                .openapi({ description: 'what the reverted operation was (import, autosplit…): an undo of an import says so' }),
            }),
          ),
          nextUndo: z.number().int().nullable().openapi({ description: 'the operation POST /api/changes/undo takes back now, if any' }),
        }),
      ),
    },
    ...errorResponses(400),
  },
});

async function respond(c: Context<Env>, action: string, result: EditResult, status: 200 | 201 = 200) {
  const regions = await byIds(c.get('db'), result.ids);
  const present = new Set(regions.features.map((f) => f.id));
  return { body: { op: result.op, action, regions, removed: [] as number[], gapM2: result.gapM2 }, present, status };
}

function parseLine(line: z.infer<typeof Line>): [number, number][] {
  return line.coordinates.map((p, i) => parsePosition(p, `line.coordinates[${i}]`));
}

const drawnLimits = (c: Context<Env>) => ({ maxVertices: c.get('options').limits?.drawnVertices ?? DRAWN_LIMITS.maxVertices });

export function editRoutes() {
  return router()
    .openapi(createRouteDef, async (c) => {
      const body = c.req.valid('json');
      const coordinates = parsePolygonGeometry(body.geometry, 'geometry', { limits: drawnLimits(c) });
      await assertPlanScope(c, [body.parentId], false, 'parentId');
      if (body.workerId != null) await assertWorkersInScope(c, [{ id: body.workerId, path: 'workerId' }]);
      const result = await c.get('db').transaction((tx) => createRegion(tx, actorOf(c), { ...body, coordinates }, DEFAULT_TOLERANCES));
      const { body: out } = await respond(c, 'create', result);
      return c.json(out, 201);
    })
    .openapi(patchRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const coordinates = body.geometry ? parsePolygonGeometry(body.geometry, 'geometry', { limits: drawnLimits(c) }) : undefined;
      await assertPlanScope(c, [id], true);
      await assertWorkersInScope(c, [
        ...(body.workerId != null ? [{ id: body.workerId, path: 'workerId' }] : []),
        ...(body.staff ?? []).map((m, i) => ({ id: m.workerId, path: `staff[${i}].workerId` })),
      ]);
      const result = await c.get('db').transaction((tx) => updateRegion(tx, actorOf(c), id, { ...body, coordinates }));
      return c.json((await respond(c, 'update', result)).body, 200);
    })
    .openapi(splitRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { version, line } = c.req.valid('json');
      const coords = parseLine(line);
      await assertPlanScope(c, [id], true);
      const result = await c.get('db').transaction((tx) => splitRegion(tx, actorOf(c), id, version, coords));
      return c.json((await respond(c, 'split', result)).body, 200);
    })
    .openapi(mergeRoute, async (c) => {
      const { ids, versions } = c.req.valid('json');
      await assertPlanScope(c, ids, true, 'ids');
      const result = await c.get('db').transaction((tx) => mergeRegions(tx, actorOf(c), ids, versions));
      const { body, present } = await respond(c, 'merge', result);
      return c.json({ ...body, removed: ids.filter((i) => !present.has(i)) }, 200);
    })
    .openapi(deleteRouteDef, async (c) => {
      const { id } = c.req.valid('param');
      const { version } = c.req.valid('query');
      await assertPlanScope(c, [id], true);
      const result = await c.get('db').transaction((tx) => deleteRegion(tx, actorOf(c), id, version));
      return c.json({ ...(await respond(c, 'delete', result)).body, removed: [id] }, 200);
    })
    .openapi(fitRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { version } = c.req.valid('json');
      await assertPlanScope(c, [id], false);
      const result = await c.get('db').transaction((tx) => fitChildren(tx, actorOf(c), id, version));
      const regions = await byIds(c.get('db'), result.ids);
      return c.json({ op: result.op, action: 'fit' as const, regions, removed: [] as number[], gapM2: result.gapM2, fit: result.fit }, 200);
    })
    .openapi(undoRoute, async (c) => {
      const { op } = c.req.valid('query');
      const r = await c.get('db').transaction(async (tx) => {
        const done = await undo(tx, actorOf(c), op);
        await assertOperationInScope(c, tx, done.op);
        return done;
      });
      const { body, present } = await respond(c, r.action, { op: r.op, ids: r.ids, gapM2: 0 });
      return c.json({ ...body, removed: (await touched(c, r.reverted)).filter((i) => !present.has(i)) }, 200);
    })
    .openapi(redoRoute, async (c) => {
      const r = await c.get('db').transaction(async (tx) => {
        const done = await redo(tx, actorOf(c));
        await assertOperationInScope(c, tx, done.op);
        return done;
      });
      const { body, present } = await respond(c, r.action, { op: r.op, ids: r.ids, gapM2: 0 });
      return c.json({ ...body, removed: (await touched(c, r.reverted)).filter((i) => !present.has(i)) }, 200);
    })
    .openapi(operationsRoute, async (c) => {
      const { region, actor, action, limit } = c.req.valid('query');
      // someone given an area reads the operations in it; cases' imports only those who may read cases
      // (asked for a region above the area: the area's part of it; beside the area: nothing)
      const p = principalOf(c);
      const db = c.get('db');
      let regionId = region;
      if (p.role !== 'admin' && p.regionId !== null && (region === undefined || !(await isWithin(db, region, p.regionId, false)))) {
        if (region !== undefined && !(await isWithin(db, p.regionId, region, false))) return c.json({ operations: [], nextUndo: null }, 200);
        regionId = p.regionId;
      }
      const incidents = can(p.role, 'incidents:read');
      return c.json(await operations(db, { regionId, actor, action, limit, incidents }, actorOf(c), UNDOABLE), 200);
    })
    .openapi(historyRoute, async (c) => {
      const { entityId, limit } = c.req.valid('query');
      // the whole log (sign-ins, cases, settings) is the admin's; the others read the plan's part of it, in their area
      const p = principalOf(c);
      const seen = p.role === 'admin' ? null : { entities: p.regionId === null ? PLAN_ENTITIES : ['region'], regionId: p.regionId };
      return c.json(await changeHistory(c.get('db'), entityId, limit, seen), 200);
    });
}

const touched = (c: Context<Env>, op: number) => entitiesOf(c.get('db'), op);

import { turns } from '../http/heavy.ts';
import type { Context } from 'hono';
import type { Env } from '../http/router.ts';
import { createRoute, z } from '@hono/zod-openapi';
import { ndjson, wantsStream, type ProgressSink } from '../http/ndjson.ts';
import { readUpload, RowError } from '../http/upload.ts';
import { actorOf, areaRegion, assertOperationInScope, assertOwnGrid, assertUnscoped, principalOf } from '../http/auth.ts';
import {
  addHousehold,
  editHousehold,
  householdRecord,
  lockCounts,
  REGION_AT,
  regionsOfBatch,
  REMOVAL_REASONS,
  removedHouseholds,
  removeHousehold,
  restoreRemoval,
  type HouseholdBatchState,
  type HouseholdRecord,
} from '../db/household-batches.ts';
import { undo } from '../db/undo.ts';
import type { Queryable } from '../db/db.ts';
import { normalizeAddress } from '../domain/address.ts';
import { areaOf } from '../domain/roles.ts';
import { InputError } from '../domain/errors.ts';
import { regionExists } from '../db/region-queries.ts';
import { nowOf, router } from '../http/router.ts';
import { importHouseholds, type ImportProgress } from '../db/household-import.ts';
import { householdPoints } from '../db/households.ts';
import { NOT_IN_A_NAME, parseHead, parseHouseholdCsvRow, parseHouseholdFeature, parseHouseholdPhone } from '../domain/household-input.ts';
import { visibleText } from '../domain/text.ts';
import { notFound } from '../domain/errors.ts';
import { errorResponses, IdParam, json } from './schemas.ts';

const ImportResult = z
  .object({
    imported: z.number().int(),
    assigned: z.object({ grid: z.number().int(), coarser: z.number().int() }),
    outside: z.object({ count: z.number().int(), indexes: z.array(z.number().int()) }),
    errors: z.array(RowError),
  })
  .openapi('HouseholdImportResult');

const importRoute = createRoute({
  method: 'post',
  path: '/households/import',
  summary: 'Import households from CSV (lon,lat,size,address; optional head, phone) or GeoJSON Points',
  description:
    'Each household is assigned to its grid (or the finest region containing it). Points outside every district are reported, not stored. ' +
    'With `Accept: application/x-ndjson` the response streams `{"progress":{…}}` lines and ends with `{"result":{…}}`.',
  request: {
    query: z.object({ partial: z.enum(['true', 'false']).optional() }),
    body: {
      required: true,
      content: { 'text/csv': { schema: z.string() }, 'application/geo+json': { schema: z.any() }, 'application/json': { schema: z.any() } },
    },
  },
  responses: { 201: { description: 'Imported', content: { 'application/json': { schema: ImportResult } } }, ...errorResponses(400, 413, 415, 422) },
});

const MAX_POINTS = 50_000;

const pointsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/households',
  summary: 'Households inside a region, as points (at most 50,000)',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'Households',
      content: {
        'application/json': {
          schema: z.object({
            type: z.literal('FeatureCollection'),
            truncated: z.boolean(),
            features: z.array(
              z.object({
                type: z.literal('Feature'),
                id: z.number().int(),
                geometry: z.object({ type: z.literal('Point'), coordinates: z.tuple([z.number(), z.number()]) }),
                properties: z.object({ size: z.number().int(), regionId: z.number().int().nullable() }),
              }),
            ),
          }),
        },
      },
    },
    ...errorResponses(400, 404),
  },
});

const Household = z
  .object({
    id: z.number().int(),
    regionId: z.number().int().nullable(),
    address: z.string(),
    size: z.number().int(),
    head: z.string().openapi({ description: '户主: who heads the household' }),
    phone: z.string().openapi({ description: 'a number to reach them (a mobile, or a landline)' }),
    version: z.number().int(),
    op: z.number().int().nullable().openapi({ description: 'the operation undo takes back; null when nothing changed' }),
  })
  .openapi('Household');

const editRoute = createRoute({
  method: 'patch',
  path: '/households/{id}',
  summary: "Correct one household's head (户主), phone or size: its grid worker, or a planner or admin of its area",
  description:
    'Refused (409) when the household changed since `version` was read. Empty text clears a head or phone. ' +
    'One operation in the change log; undo takes it back.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          version: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 1),
          head: z.string().max(200).optional(),
          phone: z.string().max(40).optional(),
          size: z.number().int().min(1).max(30).optional(),
        }),
      ),
    },
  },
  responses: { 200: { description: 'The household as it is now', ...json(Household) }, ...errorResponses(400, 401, 403, 404, 409, 422) },
});

const NewHousehold = z.object({
  lon: z.number().min(-180).max(180),
  lat: z.number().min(-90).max(90),
  address: z.string().max(200).openapi({ description: 'as the door says it (门牌): 银湾村23号' }),
  size: z.number().int().min(1).max(30),
  head: z.string().max(200).optional(),
  phone: z.string().max(40).optional(),
  key: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/)
    .optional()
    .openapi({ description: "the phone's own key for an addition kept offline: sent twice (a lost answer), added once" }),
});

const addRoute = createRoute({
  method: 'post',
  path: '/households',
  summary: '新增住户: a household found at the door that no list had, placed where it is (its grid worker, or a planner or admin of its area)',
  description:
    'Filed by the grid it lies in: a grid worker only in their grids. Refused (422 `duplicate_address`) when the grid has a household ' +
    'at that address already (its id in `details`: correct that one). One operation in the change log; undo takes it back.',
  request: { body: { required: true, ...json(NewHousehold) } },
  responses: {
    201: { description: 'The household added', ...json(Household) },
    200: { description: 'Added already with this `key` (a lost answer): the household as it is', ...json(Household) },
    ...errorResponses(400, 401, 403, 409, 422),
  },
});

const removeRoute = createRoute({
  method: 'post',
  path: '/households/{id}/remove',
  summary: 'Take a household out: moved away (迁出), its house pulled down (拆除), entered twice (重复登记) or otherwise',
  description: 'Refused (409) when the household changed since `version` was read. One operation; undo gives it back with its visits.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          version: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 1),
          reason: z.enum(REMOVAL_REASONS),
          note: z.string().max(200).optional().openapi({ description: 'where they went, or why (迁往曲靖市区)' }),
        }),
      ),
    },
  },
  responses: {
    200: { description: 'Removed', ...json(z.object({ id: z.number().int(), op: z.number().int() })) },
    ...errorResponses(400, 401, 403, 404, 409, 422),
  },
});

const undoRoute = createRoute({
  method: 'post',
  path: '/households/undo',
  summary: "Take back one's own latest household change (an addition, a removal or a correction): the phone's 撤销",
  description: 'Only the caller’s latest change (409 `not_latest` otherwise) and only a household change of theirs (422 `not_household`).',
  request: {
    body: {
      required: true,
      ...json(
        z.object({
          op: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 1),
        }),
      ),
    },
  },
  responses: {
    200: { description: 'Undone', ...json(z.object({ op: z.number().int(), reverted: z.number().int() })) },
    ...errorResponses(400, 401, 403, 409, 422),
  },
});

const removedRoute = createRoute({
  method: 'get',
  path: '/households/removed',
  summary: "A grid's households taken out (迁出, 拆除, 重复登记) and not given back, newest first (at most 200): why, when, by whom",
  request: {
    query: z.object({
      grid: z.coerce
        .number()
        .int()
        .positive()
        .max(2 ** 31 - 1),
    }),
  },
  responses: {
    200: {
      description: 'Removed households',
      ...json(
        z.array(
          z.object({
            id: z.number().int(),
            address: z.string(),
            size: z.number().int(),
            head: z.string(),
            regionId: z.number().int().nullable(),
            removedAt: z.string(),
            by: z.string(),
            reason: z.string().nullable(),
            note: z.string().nullable(),
            op: z.number().int().openapi({ description: 'the removal: POST /api/households/restore gives it back' }),
          }),
        ),
      ),
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const restoreRoute = createRoute({
  method: 'post',
  path: '/households/restore',
  summary: '恢复: give back the households a removal took out, as they were — by the grid worker or a planner of their area, whoever removed them',
  description: 'One operation (`restore`) that undo takes back. 409 when the removal no longer stands (given back or undone meanwhile).',
  request: {
    body: {
      required: true,
      ...json(
        z.object({
          op: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 1),
        }),
      ),
    },
  },
  responses: {
    200: { description: 'Given back', ...json(z.object({ op: z.number().int(), ids: z.array(z.number().int()) })) },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

/**
 * A household (or households taken out together) the caller may change: a grid worker's in their
 * grids, someone given an area's within it. Refused without saying where it lies (which grid a
 * household of another is in was an answer to counting through ids).
 */
async function assertHouseholdScope(c: Context<Env>, tx: Queryable, regionId: number | null, what: string, path: string): Promise<void> {
  const p = principalOf(c);
  try {
    if (p.role === 'worker') assertOwnGrid(c, regionId, path);
    else if (regionId !== null) await areaRegion(c, regionId, path, tx);
    else if (areaOf(p) !== null) throw new InputError('outside_scope', '', path);
  } catch (e) {
    if (e instanceof InputError && e.code === 'outside_scope')
      throw new InputError('outside_scope', `${what} is not among the households you may change`, path);
    throw e;
  }
}

/**
 * A household with the counts of its grid and all above it held first (regions before households, as every household write takes them),
 * once the caller may change it (nothing of another's grid is held). One taken out since it was read: a stale form (409), as a
 * change made meanwhile is.
 */
async function lockedHousehold(c: Context<Env>, tx: Queryable, id: number): Promise<HouseholdRecord> {
  const first = await householdRecord(tx, id);
  if (!first) {
    const { rows: out } = await tx.query<{ region_id: number | null }>(
      `SELECT u.region_id FROM household_undone u JOIN change c ON c.op = u.op AND c.entity = 'household' AND c.action = 'delete'
       WHERE u.id = $1 ORDER BY u.op DESC LIMIT 1`,
      [id],
    );
    if (!out[0]) throw notFound('household', id);
    await assertHouseholdScope(c, tx, out[0].region_id, `household ${id}`, 'id');
    throw new InputError('version_conflict', `household ${id} was taken out (注销) since it was read`, 'id', { reason: 'removed' });
  }
  await assertHouseholdScope(c, tx, first.regionId, `household ${id}`, 'id');
  await lockCounts(tx, [first.regionId]);
  const h = await householdRecord(tx, id, true);
  if (!h) throw notFound('household', id);
  if (h.regionId !== first.regionId)
    throw new InputError('version_conflict', `household ${id} was filed anew meanwhile: read it again`, 'id', { currentVersion: h.version });
  return h;
}

/** The finest region a point lies in (its grid where there is one), as households are filed; null outside every one. */
async function regionAt(q: Queryable, lon: number, lat: number): Promise<{ id: number; level: string } | null> {
  const { rows } = await q.query<{ id: number; level: string }>(
    `WITH p AS (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS g)
     SELECT r.id, r.level::text AS level FROM region r, p WHERE r.geom && p.g AND ST_Intersects(r.geom, p.g)
     ORDER BY array_position(ARRAY['grid', 'village', 'township', 'district', 'city'], r.level::text), r.id LIMIT 1`,
    [lon, lat],
  );
  return rows[0] ?? null;
}

export function householdRoutes() {
  return router()
    .openapi(pointsRoute, (c) =>
      turns(c, async () => {
        const { id } = c.req.valid('param');
        // households (addresses, sizes) only of the area one is given, if any
        if (await regionExists(c.get('db'), id)) await areaRegion(c, id, 'id');
        const points = await householdPoints(c.get('db'), id, MAX_POINTS);
        if (!points) throw notFound('region', id);
        return c.json(points, 200);
      }),
    )
    .openapi(editRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const edit = {
        version: body.version,
        head: body.head === undefined ? undefined : parseHead(body.head, 'head'),
        phone: body.phone === undefined ? undefined : parseHouseholdPhone(body.phone, 'phone'),
        size: body.size,
      };
      const done = await c.get('db').transaction(async (tx) => {
        // a grid worker: the households of their grids; anyone given an area: those within it
        const before = await lockedHousehold(c, tx, id);
        return editHousehold(tx, actorOf(c), before, edit, nowOf(c));
      });
      return c.json(done, 200);
    })
    .openapi(addRoute, async (c) => {
      const body = c.req.valid('json');
      const address = visibleText(body.address);
      if (!address || NOT_IN_A_NAME.test(address)) {
        throw new InputError('invalid_address', 'write the address as the door says it (村、路、号), without control characters', 'address');
      }
      const h = {
        lon: body.lon,
        lat: body.lat,
        address,
        size: body.size,
        head: body.head === undefined ? '' : parseHead(body.head, 'head'),
        phone: body.phone === undefined ? '' : parseHouseholdPhone(body.phone, 'phone'),
      };
      const p = principalOf(c);
      const actor = actorOf(c);
      const done = await c.get('db').transaction(async (tx) => {
        const at = await regionAt(tx, h.lon, h.lat);
        if (!at) throw new InputError('outside', 'this place lies outside every district of the plan', 'lon');
        // a grid worker: in their grids only; anyone given an area: within it
        if (p.role === 'worker') {
          if (at.level !== 'grid' || !p.gridIds.includes(at.id))
            throw new InputError('outside_grid', 'this place lies outside your grids: stand at the door, or ask the planner', 'lon');
        } else await areaRegion(c, at.id, 'lon', tx);
        // the same door twice: the one there is corrected instead (checked with the grid's counts held, so two at once cannot both pass)
        await lockCounts(tx, [at.id]);
        // sent again after a lost answer: the one added then (looked for with the grid held: two at once, one added)
        if (body.key) {
          const { rows: had } = await tx.query<{ op: number; id: number | null }>(
            `SELECT c.op, (SELECT h.id FROM household h WHERE h.import_op = c.op LIMIT 1) AS id FROM change c
             WHERE c.actor = $1 AND c.entity = 'household' AND c.action = 'create' AND c.after->>'key' = $2 ORDER BY c.op LIMIT 1`,
            [actor, body.key],
          );
          if (had[0]) {
            if (had[0].id === null) throw new InputError('version_conflict', 'this household was added and taken back since', 'key', { reason: 'taken' });
            const record = (await householdRecord(tx, had[0].id))!;
            // (as it is now: only while it lies where the caller may see it — its grid may since be another worker's)
            await assertHouseholdScope(c, tx, record.regionId, 'the household added with this key', 'key');
            return { ...record, op: had[0].op, again: true };
          }
        }
        const { rows: there } = await tx.query<{ id: number; address: string }>('SELECT id, address FROM household WHERE region_id = $1', [at.id]);
        // (written with or without the county, township and village in front: within one grid they are the same)
        const { rows: above } = await tx.query<{ name: string }>(
          'SELECT r.name FROM gp_ancestors($1::int[]) a JOIN region r ON r.id = a.id WHERE r.id <> $2 ORDER BY a.depth DESC',
          [[at.id], at.id],
        );
        const prefixes = above.map((r) => r.name);
        const door = normalizeAddress(address, prefixes);
        const same = there.find((x) => normalizeAddress(x.address, prefixes) === door);
        if (same) {
          throw new InputError('duplicate_address', `${same.address} is already one of this grid's households: correct that one`, 'address', {
            id: same.id,
            address: same.address,
          });
        }
        return { ...(await addHousehold(tx, actor, h, nowOf(c), body.key)), again: false };
      });
      const { again, ...household } = done;
      return again ? c.json(household, 200) : c.json(household, 201);
    })
    .openapi(removeRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const note = body.note === undefined ? '' : visibleText(body.note);
      if (NOT_IN_A_NAME.test(note)) throw new InputError('invalid_note', 'the note holds characters that are not text', 'note');
      const done = await c.get('db').transaction(async (tx) => {
        const before = await lockedHousehold(c, tx, id);
        return removeHousehold(tx, actorOf(c), before, { version: body.version, reason: body.reason, note });
      });
      return c.json(done, 200);
    })
    .openapi(undoRoute, async (c) => {
      const { op } = c.req.valid('json');
      const actor = actorOf(c);
      const done = await c.get('db').transaction(async (tx) => {
        const { rows } = await tx.query<{ entity: string }>('SELECT DISTINCT entity FROM change WHERE op = $1 AND actor = $2 AND undone_at IS NULL', [
          op,
          actor,
        ]);
        if (rows.length !== 1 || rows[0]!.entity !== 'household')
          throw new InputError('not_household', `operation ${op} is not a household change of yours that stands`, 'op');
        // a grid worker: only while the grids it touched are still theirs (a grid given to another worker is theirs now)
        const p = principalOf(c);
        if (p.role === 'worker') {
          const { rows: state } = await tx.query<{ after: HouseholdBatchState }>(`SELECT after FROM change WHERE op = $1 AND entity = 'household' LIMIT 1`, [
            op,
          ]);
          for (const g of await regionsOfBatch(tx, state[0]!.after)) assertOwnGrid(c, g, 'op');
        }
        const r = await undo(tx, actor, op);
        await assertOperationInScope(c, tx, r.op);
        return r;
      });
      return c.json({ op: done.op, reverted: done.reverted }, 200);
    })
    .openapi(removedRoute, async (c) => {
      const { grid } = c.req.valid('query');
      const db = c.get('db');
      const { rows } = await db.query(`SELECT 1 FROM region WHERE id = $1 AND level = 'grid'`, [grid]);
      if (!rows.length) throw new InputError('not_found', `grid ${grid} does not exist`, 'query.grid');
      if (principalOf(c).role === 'worker') assertOwnGrid(c, grid, 'query.grid');
      else await areaRegion(c, grid, 'query.grid');
      return c.json(await removedHouseholds(db, [grid]), 200);
    })
    .openapi(restoreRoute, async (c) => {
      const { op } = c.req.valid('json');
      const done = await c.get('db').transaction(async (tx) => {
        // where they come back (their grid may have been split, merged or deleted since), or are back: the grid's worker, or
        // someone given an area around it
        const { rows } = await tx.query<{ region_id: number | null }>(
          `SELECT DISTINCT region_id FROM (
             SELECT ${REGION_AT('u.geom')} AS region_id FROM household_undone u WHERE u.op = $1
             UNION ALL SELECT h.region_id FROM change c
               CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(c.after->'removed') = 'array' THEN c.after->'removed' ELSE '[]' END) z
               JOIN household h ON h.id = z::int
             WHERE c.op = $1 AND c.entity = 'household' AND c.action = 'delete') r`,
          [op],
        );
        for (const r of rows) await assertHouseholdScope(c, tx, r.region_id, `operation ${op}`, 'op');
        return restoreRemoval(tx, actorOf(c), op);
      });
      return c.json(done, 200);
    })
    .openapi(importRoute, async (c) => {
      const partial = c.req.valid('query').partial === 'true';
      assertUnscoped(c, 'a household import (it may touch the whole plan)');
      const run = async (onProgress: ProgressSink<ImportProgress>) => {
        const parse = { csv: parseHouseholdCsvRow, feature: parseHouseholdFeature, what: 'households' };
        const parsed = await readUpload(c, parse, partial, (n) => onProgress({ stage: 'parsing', rows: n }));
        const result = await importHouseholds(c.get('db'), actorOf(c), parsed.rows, parsed.type, onProgress);
        return { ...result, errors: parsed.errors.slice(0, 1000) };
      };
      if (!wantsStream(c)) return c.json(await run(() => {}), 201);
      return ndjson(c, 201, (send) => run(send)) as never;
    });
}

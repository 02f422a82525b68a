import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { heatmap, hotspots, incidentStats, timeSeries } from '../db/incident-analytics.ts';
import {
  advanceIncident,
  categoryCodes,
  incidentCategories,
  incidentGrid,
  isWholePlan,
  listIncidents,
  reportedWithKey,
  reportIncident,
  type IncidentFilter,
  type IncidentJson,
  type NewIncident,
} from '../db/incidents.ts';
import { importIncidents } from '../db/incident-batches.ts';
import { regionExists, regionLevel } from '../db/region-queries.ts';
import type { Queryable } from '../db/db.ts';
import type { Principal } from '../domain/roles.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { parseIncidentCsvRow, parseIncidentFeature, parseIncidentObject } from '../domain/incident-input.ts';
import { INCIDENT_STATUSES, SATISFACTION, parseInstant, parseList, parseRange, type Satisfaction } from '../domain/incidents.ts';
import { ndjson, wantsStream, type ProgressSink } from '../http/ndjson.ts';
import { actorOf, assertInArea, assertOwnGrid, areaRegion, principalOf } from '../http/auth.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { readUpload, RowError } from '../http/upload.ts';
import { errorResponses, IdParam } from './schemas.ts';
import { IncidentSchema } from '../schemas/incident.ts';
import { always, cached, never, ranToNow } from '../http/cache.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const Incident = IncidentSchema;

/** Filters shared by the list, the heatmap and the statistics. */
export const FilterQuery = z.object({
  region: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  from: z.string().max(40).optional().openapi({ description: 'ISO 8601; default a year before `to`' }),
  to: z.string().max(40).optional().openapi({ description: 'ISO 8601, exclusive; default now' }),
  category: z.string().max(500).optional().openapi({ description: 'comma-separated category codes' }),
  status: z.string().max(200).optional().openapi({ description: 'comma-separated statuses' }),
  grids: z
    .enum(['current', 'filed'])
    .optional()
    .openapi({ description: 'which grid an incident counts in: the one its place lies in now (default), or the one it was filed in at its time' }),
});

/** The level an account acts at when it solves a case on the spot: a grid worker's grid, else its region's level (the district when unscoped). */
async function actingLevel(db: Queryable, p: Principal): Promise<'grid' | 'village' | 'township' | 'district'> {
  if (p.role === 'worker') return 'grid';
  if (p.regionId === null) return 'district';
  const level = (await regionLevel(db, p.regionId))?.level;
  return level === 'grid' || level === 'village' || level === 'township' ? level : 'district';
}

/** The analyze filters of a request (a grid worker: their own grids only). */
export async function filterOf(
  c: Context<Env>,
  q: z.infer<typeof FilterQuery> & {
    bbox?: string | undefined;
    intake?: string | undefined;
    satisfaction?: Satisfaction | undefined;
    reviewed?: 'true' | 'false' | undefined;
  },
): Promise<IncidentFilter> {
  const { from, to } = parseRange(q.from, q.to, nowOf(c));
  let bbox: [number, number, number, number] | undefined;
  if (q.bbox) {
    const parts = q.bbox.split(',').map(Number);
    if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v)) || parts[0]! > parts[2]! || parts[1]! > parts[3]!) {
      throw new InputError('invalid_bbox', `bbox is west,south,east,north in degrees, got ${JSON.stringify(q.bbox)}`, 'query.bbox');
    }
    bbox = parts as [number, number, number, number];
  }
  // A grid worker sees only the incidents of the grids they staff; whoever is scoped to an area, those of it.
  const p = principalOf(c);
  const gridIds = p.role === 'worker' ? p.gridIds : undefined;
  q = { ...q, region: await areaRegion(c, q.region, 'region') };
  return {
    from,
    to,
    bbox,
    regionId: q.region,
    gridIds,
    gridBy: q.grids ?? 'current',
    intake: q.intake === 'true',
    satisfaction: q.satisfaction,
    reviewed: q.reviewed === undefined ? undefined : q.reviewed === 'true',
    wholePlan: await isWholePlan(c.get('db'), q.region),
    categories: parseList(q.category, await categoryCodes(c.get('db')), 'query.category'),
    statuses: parseList(q.status, INCIDENT_STATUSES, 'query.status'),
  };
}

const createIncidentRoute = createRoute({
  method: 'post',
  path: '/incidents',
  summary: "Report one incident (as a grid worker's app does); its grid is found from its location",
  description:
    'With an `Idempotency-Key` header (a phone resending a report it made offline), a second request with the same key from the same user answers 200 ' +
    'with the incident the first created.',
  request: {
    headers: z.object({
      'idempotency-key': z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{8,100}$/, 'letters, digits, _ . : - (8–100)')
        .optional(),
    }),
    body: {
      required: true,
      ...json(
        z.object({
          lon: z.number(),
          lat: z.number(),
          category: z.string().min(1).max(32),
          severity: z.number().int(),
          description: z.string().max(2_000).optional(),
          address: z.string().max(200).optional().openapi({ description: '位置描述: where it is in words a department can go by (a landmark, a door number)' }),
          reportedAt: z.string().max(40).optional(),
          reporterId: z.number().int().positive().nullable().optional(),
        }),
      ),
    },
  },
  responses: {
    201: { description: 'Reported', ...json(Incident) },
    200: { description: 'Reported before with this Idempotency-Key', ...json(Incident) },
    ...errorResponses(400, 404, 422),
  },
});

const importRoute = createRoute({
  method: 'post',
  path: '/incidents/import',
  summary: 'Import incidents: CSV (lon,lat,category,severity,description,reported_at,reporter_id) or GeoJSON Points',
  description: 'Per-row errors; nothing is imported when a row is bad unless `?partial=true`. `Accept: application/x-ndjson` streams progress.',
  request: {
    query: z.object({ partial: z.enum(['true', 'false']).optional() }),
    body: {
      required: true,
      content: { 'text/csv': { schema: z.string() }, 'application/geo+json': { schema: z.any() }, 'application/json': { schema: z.any() } },
    },
  },
  responses: {
    201: {
      description: 'Imported',
      ...json(
        z.object({
          imported: z.number().int(),
          outside: z.object({ count: z.number().int(), indexes: z.array(z.number().int()) }),
          errors: z.array(RowError),
          op: z
            .number()
            .int()
            .nullable()
            .openapi({ description: 'the operation: POST /api/changes/undo takes the incidents back while nobody has acted on them' }),
        }),
      ),
    },
    ...errorResponses(400, 413, 415, 422),
  },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/incidents/{id}',
  summary: 'Move an incident one step: dispatched (department) → resolved → closed (feedback)',
  description: '422 `illegal_transition` for a step out of order; 409 when `version` is stale.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          status: z.enum(INCIDENT_STATUSES),
          department: z.string().max(100).optional(),
          feedback: z.string().max(2_000).optional(),
          onSpot: z.boolean().optional().openapi({ description: '就地解决: resolve a reported case where it happened (with `note`), no department' }),
          note: z.string().max(2_000).optional(),
          satisfaction: z.enum(SATISFACTION).optional().openapi({ description: "closing: the resident's verdict (满意 / 基本满意 / 不满意)" }),
          version: z.number().int().positive().optional(),
          at: z.string().max(40).optional(),
        }),
      ),
    },
  },
  responses: { 200: { description: 'Updated', ...json(Incident) }, ...errorResponses(400, 404, 409, 422) },
});

const listRoute = createRoute({
  method: 'get',
  path: '/incidents',
  summary: 'Incidents matching a filter, newest first, paged',
  request: {
    query: FilterQuery.extend({
      bbox: z.string().max(100).optional().openapi({ description: 'west,south,east,north' }),
      intake: z.enum(['true', 'false']).optional().openapi({ description: "true: the centre's intake — reported, sent neither to a department nor down" }),
      satisfaction: z
        .enum(['satisfied', 'basically', 'unsatisfied'])
        .optional()
        .openapi({ description: "only cases closed with this verdict (the centre's review)" }),
      reviewed: z
        .enum(['true', 'false'])
        .optional()
        .openapi({ description: 'false: only those the centre has not yet reviewed (不满意复核: reopened, or kept with POST /api/incidents/:id/review)' }),
      limit: z.coerce.number().int().min(1).max(5_000).default(500),
      offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
    }),
  },
  responses: {
    200: {
      description: 'Incidents',
      ...json(z.object({ total: z.number().int(), offset: z.number().int(), next: z.number().int().nullable(), items: z.array(Incident) })),
    },
    ...errorResponses(400, 404),
  },
});

const heatmapRoute = createRoute({
  method: 'get',
  path: '/heatmap',
  summary: 'Incidents aggregated into square or hexagonal cells (centres and counts)',
  request: {
    query: FilterQuery.extend({
      cell: z.coerce.number().min(50).max(100_000).optional().openapi({ description: 'cell size in metres (square side, hexagon width)' }),
      zoom: z.coerce.number().min(0).max(22).optional().openapi({ description: 'map zoom: picks a cell of about 24 pixels' }),
      shape: z.enum(['square', 'hex']).default('hex'),
    }),
  },
  responses: {
    200: {
      description: 'Cells',
      ...json(
        z.object({
          cell: z.object({ shape: z.enum(['square', 'hex']), sizeM: z.number() }),
          total: z.number().int(),
          cells: z.array(z.object({ lon: z.number(), lat: z.number(), count: z.number().int() })),
        }),
      ),
    },
    ...errorResponses(400, 404),
  },
});

const statsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/incident-stats',
  summary: 'Per child region (per grid for a village): counts by category, rate per 100 households, closure rate, median hours to close, overdue',
  request: { params: IdParam, query: FilterQuery.omit({ region: true }) },
  responses: {
    200: {
      description: 'Statistics',
      ...json(
        z.array(
          z.object({
            id: z.number().int(),
            code: z.string(),
            name: z.string(),
            level: z.string(),
            households: z.number().int(),
            total: z.number().int(),
            byCategory: z.record(z.string(), z.number().int()),
            per100Households: z.number().nullable(),
            closureRate: z.number().nullable(),
            medianHoursToClose: z.number().nullable(),
            overdue: z.number().int(),
          }),
        ),
      ),
    },
    ...errorResponses(400, 404),
  },
});

const hotspotRoute = createRoute({
  method: 'get',
  path: '/hotspots',
  summary: 'Getis–Ord Gi* of incident counts over the grids of a region: z-score and significance per grid',
  request: {
    query: FilterQuery.extend({
      region: z.coerce.number().int().positive().max(2_147_483_647),
      only: z
        .enum(['hot'])
        .optional()
        .openapi({
          description:
            "`hot`: only the grids significantly hot (a wall lists a few of them; a city's every grid is 4.9 MB). The z-scores are the same, " +
            'computed over every grid',
        }),
    }),
  },
  responses: {
    200: {
      description: 'Grids, hottest first',
      ...json(
        z.array(
          z.object({
            id: z.number().int(),
            code: z.string(),
            name: z.string(),
            place: z.string().openapi({ description: 'where it lies: its township (under a city, county · township)' }),
            count: z.number().int(),
            households: z.number().int(),
            label: z.tuple([z.number(), z.number()]),
            z: z.number(),
            p: z.number(),
            significance: z.string(),
          }),
        ),
      ),
    },
    ...errorResponses(400, 404),
  },
});

const seriesRoute = createRoute({
  method: 'get',
  path: '/incidents/timeseries',
  summary: 'Incident counts per day, week or month and category',
  request: { query: FilterQuery.extend({ bucket: z.enum(['day', 'week', 'month']).default('month') }) },
  responses: {
    200: {
      description: 'Series',
      ...json(z.object({ bucket: z.string(), series: z.array(z.object({ t: z.string(), counts: z.record(z.string(), z.number().int()) })) })),
    },
    ...errorResponses(400, 404),
  },
});

const categoriesRoute = createRoute({
  method: 'get',
  path: '/incident-categories',
  summary: 'Incident categories with their deadlines',
  responses: {
    200: { description: 'Categories', ...json(z.array(z.object({ code: z.string(), zh: z.string(), en: z.string(), deadlineHours: z.number().int() }))) },
  },
});

/** Incidents are filed under grids, so a region filter also reads the layout. */
export const incidentsIn = ({ query }: { query: { region?: number | undefined } }) => (query.region !== undefined ? ['incidents', 'layout'] : ['incidents']);

/** How late a report or a step of a case may be recorded (a phone offline for days; not a month assessed since). */
const LATE_DAYS = 7;

export function incidentRoutes() {
  return router()
    .openapi(categoriesRoute, async (c) =>
      cached(c, { reads: () => ['incidents'], clock: never }, async () => {
        return c.json(await incidentCategories(c.get('db')), 200);
      }),
    )
    .openapi(createIncidentRoute, async (c) => {
      const body = c.req.valid('json');
      const db = c.get('db');
      const input: NewIncident = { ...parseIncidentObject(body, await categoryCodes(db), nowOf(c)), address: body.address?.trim() || null };
      const me = principalOf(c);
      if (me.role === 'worker') input.reporterId = me.workerId;
      // a phone's outbox sends a report made offline days later, never weeks: an older one would
      // only move a case into a month already assessed
      if (me.role === 'worker' && input.reportedAt.getTime() < nowOf(c).getTime() - LATE_DAYS * 86_400_000)
        throw new InputError('too_late', `a report reaches the centre within ${LATE_DAYS} days of being made`, 'reportedAt', { days: LATE_DAYS });
      const key = c.req.valid('header')['idempotency-key'] ?? null;
      const earlier = async () => (key === null ? null : reportedWithKey(db, me.username, key, nowOf(c)));
      // the same key again is the same report sent again (a lost answer): its body must be that report's
      const same = (first: IncidentJson) => {
        const f = first as unknown as { lon: number; lat: number; category: string; severity: number; description: string };
        if (
          Math.abs(f.lon - input.lon) > 1e-6 ||
          Math.abs(f.lat - input.lat) > 1e-6 ||
          f.category !== input.category ||
          f.severity !== input.severity ||
          f.description !== input.description
        )
          throw new InputError(
            'idempotency_mismatch',
            `this Idempotency-Key was used for another report (#${first.id}); send a new report with a new key`,
            'idempotency-key',
            {
              id: first.id,
            },
          );
        return first;
      };
      const again = await earlier();
      if (again) return c.json(same(again), 200);
      const report = () => db.transaction((tx) => reportIncident(tx, me.username, input, key, (gridId) => assertOwnGrid(c, gridId, 'lon'), nowOf(c)));
      let incident;
      try {
        incident = await report();
      } catch (err) {
        // The same key sent twice at once: the second finds the first's incident.
        const first = (err as { code?: string }).code === '23505' ? await earlier() : null;
        if (!first) throw err;
        return c.json(same(first), 200);
      }
      c.get('events').publish({ type: 'incident', action: 'report', incident });
      return c.json(incident, 201);
    })
    .openapi(importRoute, async (c) => {
      const partial = c.req.valid('query').partial === 'true';
      const db = c.get('db');
      const categories = await categoryCodes(db);
      const now = nowOf(c);
      const run = async (onProgress: ProgressSink) => {
        const parse = {
          csv: (row: Record<string, unknown>, line: number) => parseIncidentCsvRow(row, line, categories, now),
          feature: (f: unknown, i: number) => parseIncidentFeature(f, i, categories, now),
          what: 'incidents',
        };
        const parsed = await readUpload(c, parse, partial, (n) => onProgress({ stage: 'parsing', rows: n }));
        await onProgress({ stage: 'saving', rows: parsed.rows.length });
        const result = await db.transaction((tx) => importIncidents(tx, actorOf(c), parsed.rows, parsed.type));
        if (result.imported > 0) c.get('events').publish({ type: 'incident', action: 'import', count: result.imported });
        return { ...result, errors: parsed.errors.slice(0, 1000) };
      };
      if (!wantsStream(c)) return c.json(await run(() => {}), 201);
      return ndjson(c, 201, run) as never;
    })
    .openapi(patchRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const at = body.at ? parseInstant(body.at, 'at') : nowOf(c);
      // a step recorded after the fact happened, and lately: never ahead of now, never weeks back
      if (at.getTime() > nowOf(c).getTime() + 5 * 60_000) throw new InputError('time_in_future', `${body.at} is in the future`, 'at');
      if (at.getTime() < nowOf(c).getTime() - LATE_DAYS * 86_400_000)
        throw new InputError('too_late', `a step is recorded within ${LATE_DAYS} days of when it happened`, 'at', { days: LATE_DAYS });
      // a grid worker closes a case on their visit to the resident, whose verdict it records
      // (a case closed without one never reaches the centre's review of unsatisfied residents)
      if (body.status === 'closed' && !body.satisfaction && principalOf(c).role === 'worker') {
        throw new InputError('satisfaction_required', "closing records the resident's verdict: satisfied, basically or unsatisfied", 'satisfaction');
      }
      const incident = await c.get('db').transaction(async (tx) => {
        const grid = await incidentGrid(tx, id);
        if (grid !== undefined) {
          assertOwnGrid(c, grid);
          await assertInArea(c, tx, grid, id);
        }
        return advanceIncident(tx, actorOf(c), id, { ...body, at }, nowOf(c), await actingLevel(tx, principalOf(c)));
      });
      c.get('events').publish({
        type: 'incident',
        action: body.status === 'dispatched' ? 'dispatch' : body.status === 'resolved' ? 'resolve' : 'close',
        incident,
      });
      return c.json(incident, 200);
    })
    .openapi(listRoute, async (c) => {
      const q = c.req.valid('query');
      const { total, items } = await listIncidents(c.get('db'), await filterOf(c, q), q.limit, q.offset, nowOf(c));
      return c.json({ total, offset: q.offset, next: q.offset + items.length < total ? q.offset + items.length : null, items }, 200);
    });
}

/** The analyst's questions: heatmaps, statistics per child region, hotspots, time series (all cached). */
export function incidentAnalyticsRoutes() {
  return router()
    .openapi(heatmapRoute, async (c) =>
      cached(c, { reads: incidentsIn, clock: ranToNow }, async () => {
        const q = c.req.valid('query');
        return c.json(await heatmap(c.get('db'), await filterOf(c, q), q.shape, q.cell, q.zoom), 200);
      }),
    )
    .openapi(statsRoute, async (c) =>
      cached(c, { reads: () => ['incidents', 'plan'], clock: always }, async () => {
        const { id } = c.req.valid('param');
        const filter = await filterOf(c, c.req.valid('query'));
        if (!(await regionExists(c.get('db'), id))) throw notFound('region', id);
        await areaRegion(c, id, 'id');
        return c.json(await incidentStats(c.get('db'), id, filter, nowOf(c)), 200);
      }),
    )
    .openapi(hotspotRoute, async (c) =>
      cached(c, { reads: () => ['incidents', 'plan'], clock: ranToNow }, async () => {
        const q = c.req.valid('query');
        if (!(await regionExists(c.get('db'), q.region))) throw notFound('region', q.region, 'query.region');
        const all = await hotspots(c.get('db'), { ...(await filterOf(c, q)), regionId: q.region });
        return c.json(q.only === 'hot' ? all.filter((h) => h.significance.startsWith('hot')) : all, 200);
      }),
    )
    .openapi(seriesRoute, async (c) =>
      cached(c, { reads: incidentsIn, clock: ranToNow }, async () => {
        const q = c.req.valid('query');
        return c.json(await timeSeries(c.get('db'), await filterOf(c, q), q.bucket), 200);
      }),
    );
}

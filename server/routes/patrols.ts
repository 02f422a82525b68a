import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { isWithin } from '../db/accounts.ts';
import { assessment, districtAssessmentRules, MEASURES, setAssessmentRules } from '../db/assessment.ts';
import { monthBounds, patrolSummary, recordPatrol, thisMonth } from '../db/patrols.ts';
import { InputError } from '../domain/errors.ts';
import { parseInstant } from '../domain/incidents.ts';
import { actorOf, assertOwnGrid, principalOf } from '../http/auth.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { writeLayers } from '../files/write.ts';
import { limited, reckoning, turns } from '../http/heavy.ts';
import { errorResponses, json } from './schemas.ts';

const Key = z.string().regex(/^[A-Za-z0-9_.:-]{8,100}$/, 'letters, digits, _ . : - (8–100)');
const Instant = z.string().max(40);
const recordRoute = createRoute({
  method: 'post',
  path: '/patrols',
  summary: '巡查: a patrol of one of your grids — its track and the households visited; sent again with the same key, stored once',
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            key: Key.openapi({ description: "the phone's own key for this patrol" }),
            gridId: z
              .number()
              .int()
              .positive()
              .max(2 ** 31 - 1),
            startedAt: Instant,
            endedAt: Instant,
            track: z
              .array(z.array(z.number()).min(2).max(3))
              .max(5_000)
              .openapi({ description: '[lon, lat] or [lon, lat, epoch ms] in WGS 84, in the order walked' }),
            visits: z
              .array(
                z
                  .object({
                    householdId: z
                      .number()
                      .int()
                      .positive()
                      .max(2 ** 31 - 1),
                    at: Instant,
                    note: z.string().max(500).optional(),
                  })
                  .strict(),
              )
              .max(1_000)
              .default([]),
          })
          .strict(),
      ),
    },
  },
  responses: {
    201: {
      description: 'Recorded',
      ...json(z.object({ id: z.number().int(), distanceM: z.number(), points: z.number().int(), visits: z.number().int() }).passthrough()),
    },
    200: { description: 'Recorded before with this key', ...json(z.object({ id: z.number().int() }).passthrough()) },
    ...errorResponses(400, 401, 403, 422),
  },
});

const Scope = z.object({
  region: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  month: z.string().max(7).optional().openapi({ description: 'YYYY-MM in China time (default this month)' }),
});
const summaryRoute = createRoute({
  method: 'get',
  path: '/patrols',
  summary: 'Per grid in a month: patrols, distance walked, share of households visited; and the tracks (a worker: their own grids)',
  request: { query: Scope },
  responses: {
    200: {
      description: 'Patrols',
      ...json(
        z.object({
          month: z.string(),
          grids: z.array(z.any()),
          tracks: z.any().openapi({ description: 'at most 2,000 tracks, sampled evenly over the month when there are more' }),
          tracksTotal: z.number().int().openapi({ description: 'the tracks of the month in all' }),
        }),
      ),
    },
    ...errorResponses(400, 401, 403),
  },
});
const Figures = {
  reports: z.number().int(),
  onSpot: z.number().int(),
  resolved: z.number().int(),
  onTime: z.number().int(),
  onTimeRate: z.number().nullable(),
  satisfied: z.number().int(),
  unsatisfied: z.number().int(),
  satisfaction: z.number().nullable(),
  overdue: z.number().int(),
  patrols: z.number().int(),
  distanceM: z.number(),
  households: z.number().int().openapi({ description: "the grid's households in the month: those there now and those taken out (注销) since it began" }),
  removed: z.number().int().openapi({ description: 'of those, taken out since the month began' }),
  visited: z.number().int(),
  visitShare: z.number().nullable(),
  points: z.number(),
};
const Rule = z
  .object({
    measure: z.enum(MEASURES),
    points: z.number(),
    zh: z.string(),
    en: z.string(),
    version: z.number().int(),
    own: z.boolean().optional().openapi({ description: "the district's own points (false: the plan's)" }),
  })
  .openapi('AssessmentRule');
const Place = z.object({ id: z.number().int(), name: z.string() });
const Assessment = z
  .object({
    month: z.string(),
    regionId: z.number().int(),
    rules: z.array(Rule).openapi({ description: "the points of the area's district (its own, else the plan's); above the districts, the plan's" }),
    district: Place.nullable().openapi({ description: 'the district whose points `rules` are (null: a city, the plan’s points)' }),
    ownDistricts: z.array(Place).openapi({ description: "the area's other districts that score by points of their own (a city's counties)" }),
    grids: z.array(
      z.object({
        gridId: z.number().int(),
        code: z.string(),
        name: z.string(),
        village: z.string(),
        workerId: z.number().int().nullable(),
        worker: z.string().nullable(),
        ...Figures,
      }),
    ),
    workers: z.array(
      z.object({
        workerId: z.number().int(),
        worker: z.string(),
        grids: z.number().int(),
        villages: z.array(z.string()),
        grid: z.string().nullable().openapi({ description: "the grid's name, for a worker of one grid" }),
        rank: z.number().int(),
        ...Figures,
      }),
    ),
    gridsTotal: z.number().int().openapi({ description: 'grids in the area (`grids` holds the first `limit`)' }),
    workersTotal: z.number().int().openapi({ description: 'workers ranked (`workers` holds the first `limit`, best first)' }),
  })
  .openapi('Assessment');
const assessmentRoute = createRoute({
  method: 'get',
  path: '/assessment',
  summary: '考核: per grid and per worker in a month — reports, solved on the spot, on time, satisfaction, overdue, patrols, points — ranked',
  request: {
    query: Scope.extend({
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(100_000)
        .optional()
        .openapi({ description: 'at most this many workers and grids (a city ranks tens of thousands: some 13 MB in all); the totals say how many there are' }),
    }),
  },
  responses: { 200: { description: 'Assessment', ...json(Assessment) }, ...errorResponses(400, 401, 403) },
});
const exportRoute = createRoute({
  method: 'get',
  path: '/assessment/export',
  summary: 'The month’s assessment as an Excel workbook: the ranking of workers, the grids, the rules',
  request: { query: Scope },
  responses: { 200: { description: 'XLSX' }, ...errorResponses(400, 401, 403) },
});
const rulesRoute = createRoute({
  method: 'put',
  path: '/assessment/rules',
  summary: 'The points a county gives for each measure (admin)',
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            rules: z
              .array(
                z
                  .object({
                    measure: z.enum(MEASURES),
                    points: z.number().min(-100).max(100),
                    version: z.number().int().positive().openapi({ description: 'the version read (409 when changed since)' }),
                  })
                  .strict(),
              )
              .min(1)
              .max(MEASURES.length),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Rules', ...json(z.array(Rule)) }, ...errorResponses(400, 401, 403, 409) },
});

const householdsRoute = createRoute({
  method: 'get',
  path: '/field/households',
  summary:
    'The households of one of your grids, for patrol visits: place, address, size, head (户主) and phone, and the last visit (a worker: their own grids)',
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
      description: 'Households',
      ...json(
        z.array(
          z.object({
            id: z.number().int(),
            lon: z.number(),
            lat: z.number(),
            address: z.string(),
            size: z.number().int(),
            head: z.string(),
            phone: z.string(),
            version: z.number().int(),
            visitedAt: z.string().nullable(),
          }),
        ),
      ),
    },
    ...errorResponses(400, 401, 403),
  },
});

/** Whose figures a caller sees: a worker their own grids; a scoped account its area; others the region asked (default the top of the plan). */
async function scopeOf(c: Context<Env>, region: number | undefined): Promise<{ regionId: number; gridIds?: number[] }> {
  const p = principalOf(c);
  const db = c.get('db');
  if (p.role === 'worker') {
    const root = await db.query<{ id: number }>(
      `SELECT a.id FROM gp_ancestors($1::int[]) a JOIN region r ON r.id = a.id WHERE r.level = 'district' ORDER BY a.id LIMIT 1`,
      [p.gridIds.length ? p.gridIds : [0]],
    );
    // (their own grids whatever region is asked; a region that is not there is refused as for anyone)
    if (region !== undefined && !(await db.query('SELECT 1 FROM region WHERE id = $1', [region])).rows.length) {
      throw new InputError('not_found', `region ${region} does not exist`, 'query.region');
    }
    return { regionId: region ?? root.rows[0]?.id ?? 0, gridIds: p.gridIds };
  }
  if (p.regionId !== null && p.role !== 'admin') {
    if (region === undefined) return { regionId: p.regionId };
    if (!(await isWithin(db, region, p.regionId, false))) throw new InputError('outside_scope', `region ${region} lies outside your area`, 'query.region');
    return { regionId: region };
  }
  if (region !== undefined) {
    const { rows: found } = await db.query('SELECT 1 FROM region WHERE id = $1', [region]);
    if (!found.length) throw new InputError('not_found', `region ${region} does not exist`, 'query.region');
    return { regionId: region };
  }
  // the top of the plan: the district, or the city above its districts
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM region WHERE parent_id IS NULL ORDER BY id LIMIT 1`);
  return { regionId: rows[0]?.id ?? 0 };
}

/** A share as a percentage to one place; none as an empty cell (null: '' would make the whole column text, its numbers with float noise). */
const pct = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 10);

export function patrolRoutes() {
  return router()
    .openapi(recordRoute, async (c) => {
      const body = c.req.valid('json');
      const p = principalOf(c);
      assertOwnGrid(c, body.gridId, 'gridId');
      const input = {
        key: body.key,
        gridId: body.gridId,
        startedAt: parseInstant(body.startedAt, 'startedAt'),
        endedAt: parseInstant(body.endedAt, 'endedAt'),
        track: body.track,
        visits: body.visits.map((v, i) => ({ householdId: v.householdId, at: parseInstant(v.at, `visits[${i}].at`), note: v.note })),
      };
      const result = await c.get('db').transaction(async (tx) => {
        // a worker walks for themself; anyone else records it for the grid's worker
        let workerId = p.role === 'worker' ? p.workerId : null;
        if (workerId === null) {
          const { rows } = await tx.query<{ w: number | null }>(`SELECT worker_id AS w FROM region WHERE id = $1 AND level = 'grid'`, [body.gridId]);
          if (!rows[0]) throw new InputError('not_found', `grid ${body.gridId} does not exist`, 'gridId');
          workerId = rows[0].w;
          if (workerId === null) throw new InputError('no_worker', `grid ${body.gridId} has no grid worker to patrol it`, 'gridId');
        }
        return recordPatrol(tx, actorOf(c), workerId, input, nowOf(c));
      });
      return c.json(result.patrol, result.created ? 201 : 200);
    })
    .openapi(householdsRoute, async (c) => {
      const { grid } = c.req.valid('query');
      assertOwnGrid(c, grid, 'query.grid');
      const { rows: found } = await c.get('db').query(`SELECT 1 FROM region WHERE id = $1 AND level = 'grid'`, [grid]);
      if (!found.length) throw new InputError('not_found', `grid ${grid} does not exist`, 'query.grid');
      const { rows } = await c.get('db').query<{
        id: number;
        lon: number;
        lat: number;
        address: string;
        size: number;
        head: string;
        phone: string;
        version: number;
        visitedAt: string | null;
      }>(
        `SELECT h.id, round(ST_X(h.geom)::numeric, 7)::float8 AS lon, round(ST_Y(h.geom)::numeric, 7)::float8 AS lat, h.address, h.size,
           h.head_name AS head, h.phone, h.version,
           (SELECT max(v.at) FROM patrol_visit v WHERE v.household_id = h.id) AS "visitedAt"
         FROM household h WHERE h.region_id = $1 ORDER BY h.address, h.id LIMIT 2000`,
        [grid],
      );
      return c.json(rows, 200);
    })
    .openapi(summaryRoute, (c) =>
      turns(c, async () => {
        const q = c.req.valid('query');
        const month = q.month ?? thisMonth(nowOf(c));
        const scope = await scopeOf(c, q.region);
        return c.json({ month, ...(await patrolSummary(c.get('db'), { ...scope, ...monthBounds(month, 'query.month') })) }, 200);
      }),
    )
    .openapi(assessmentRoute, async (c) => {
      const q = c.req.valid('query');
      const month = q.month ?? thisMonth(nowOf(c));
      const scope = await scopeOf(c, q.region);
      const bounds = monthBounds(month, 'query.month');
      const a = await reckoning(c, () => assessment(c.get('db'), { ...scope, ...bounds }, nowOf(c)));
      const n = q.limit ?? Infinity;
      return c.json(
        {
          month,
          regionId: scope.regionId,
          rules: a.rules,
          district: a.district,
          ownDistricts: a.ownDistricts,
          grids: a.grids.slice(0, n),
          workers: a.workers.slice(0, n),
          gridsTotal: a.grids.length,
          workersTotal: a.workers.length,
        },
        200,
      );
    })
    .openapi(exportRoute, async (c) => {
      const q = c.req.valid('query');
      const month = q.month ?? thisMonth(nowOf(c));
      const scope = await scopeOf(c, q.region);
      const bounds = monthBounds(month, 'query.month');
      // (worked out inside the export's own gate: a refused export costs nothing)
      const a = await limited(c, () => assessment(c.get('db'), { ...scope, ...bounds }, nowOf(c)));
      const figures = (f: (typeof a.grids)[number] | (typeof a.workers)[number]) => ({
        上报事件: f.reports,
        // (solved by the grid itself: the wall's 就地解决 counts the village's and township's too, and a worker's case
        // solved by the village, shown 就地解决 on the phone, counted none here)
        网格内解决: f.onSpot,
        办结: f.resolved,
        按时办结: f.onTime,
        '按时办结率%': pct(f.onTimeRate),
        满意: f.satisfied,
        不满意: f.unsatisfied,
        '满意率%': pct(f.satisfaction),
        超期: f.overdue,
        巡查次数: f.patrols,
        巡查公里: Math.round(f.distanceM / 100) / 10,
        户数: f.households,
        走访户数: f.visited,
        '走访覆盖率%': pct(f.visitShare),
        积分: f.points,
      });
      const layer = (name: string, sheet: string, rows: Record<string, unknown>[]) => ({
        name,
        sheet,
        geometryType: null,
        rows: rows.map((properties) => ({ properties, geometry: null })),
      });
      const owned = await Promise.all(a.ownDistricts.map(async (d) => ({ d, rules: await districtAssessmentRules(c.get('db'), d.id) })));
      // (one export at a time per person and four in all, as every other export)
      const file = await limited(c, () =>
        writeLayers(
          `assessment-${randomUUID()}`,
          [
            layer(
              'workers',
              '网格员排名',
              a.workers.map((w) => ({ 排名: w.rank, 网格员: w.worker, 所在村社区: w.villages.join('、'), 网格数: w.grids, ...figures(w) })),
            ),
            layer(
              'grids',
              '网格',
              a.grids.map((g) => ({ 网格编码: g.code, 网格名称: g.name, 所在村社区: g.village, 网格员: g.worker ?? '', ...figures(g) })),
            ),
            // the points each part of the area scores by: its district's (or the plan's), then each county's own under a city
            layer('rules', '积分规则', [
              ...a.rules.map((r) => ({ 适用于: a.district?.name ?? '全域默认', 指标: r.zh, 分值: r.points })),
              ...owned.flatMap(({ d, rules }) => rules.map((r) => ({ 适用于: d.name, 指标: r.zh, 分值: r.points }))),
            ]),
          ],
          { format: 'xlsx', crs: 'EPSG:4326', encoding: 'UTF-8' },
        ),
      );
      // named for its area as the plan's exports are (曲靖市-网格考核-2026-11.xlsx): a city's counties each download theirs
      const area = (await c.get('db').query<{ name: string }>('SELECT name FROM region WHERE id = $1', [scope.regionId])).rows[0]?.name;
      const name = encodeURIComponent(`${area ? `${area}-` : ''}网格考核-${month}.${file.ext}`);
      return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
        'content-type': file.type,
        'content-disposition': `attachment; filename="assessment-${month}.${file.ext}"; filename*=UTF-8''${name}`,
        'cache-control': 'no-store',
      });
    })
    .openapi(rulesRoute, async (c) => {
      const { rules } = c.req.valid('json');
      const twice = rules.findIndex((r, i) => rules.findIndex((x) => x.measure === r.measure) !== i);
      if (twice >= 0) throw new InputError('duplicate_measure', `${rules[twice]!.measure} is given twice`, `rules[${twice}].measure`);
      return c.json(await c.get('db').transaction((tx) => setAssessmentRules(tx, actorOf(c), rules)), 200);
    });
}

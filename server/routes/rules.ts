import { createRoute, z } from '@hono/zod-openapi';
import { defaultRules, defaultRulesVersion, districtOf, districtRules, rulesVersion, setDefaultRules, setDistrictRules } from '../db/rules.ts';
import { districtStaffing, setDistrictStaffing, staffingVersion } from '../db/staff.ts';
import { deadlinesVersion, districtDeadlines, setDistrictDeadlines } from '../db/district-deadlines.ts';
import { districtAssessmentRules, districtAssessmentVersion, MEASURES, setDistrictAssessment } from '../db/assessment.ts';
import { InputError, notFound } from '../domain/errors.ts';
import type { Queryable } from '../db/db.ts';
import type { GridType } from '../domain/grid-types.ts';
import { actorOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses, GridTypeSchema, IdParam, json } from './schemas.ts';

const Rule = z.object({
  gridType: GridTypeSchema,
  zh: z.string(),
  en: z.string(),
  min: z.number().int(),
  max: z.number().int(),
  target: z.number().int(),
  own: z.boolean().openapi({ description: "the district's own rule (false: the default)" }),
});
const Rules = z
  .object({
    districtId: z.number().int(),
    district: z.string(),
    rules: z.array(Rule),
    version: z.number().int().openapi({ description: 'send it back with a change: 409 when the rules changed meanwhile' }),
    mixed: z.array(GridTypeSchema).optional().openapi({ description: "a city: the types its districts set apart (their range spans the districts')" }),
  })
  .openapi('DistrictRules');

const RuleInput = z
  .object({
    gridType: GridTypeSchema,
    min: z.number().int().min(0).max(10_000),
    max: z.number().int().min(1).max(10_000),
    target: z.number().int().min(0).max(10_000),
  })
  .strict();
/** A district's type given back to the plan: it follows the plan's range again. */
const FollowPlan = z
  .object({ gridType: GridTypeSchema, followPlan: z.literal(true).openapi({ description: "the district follows the plan's range for this type again" }) })
  .strict();

const getRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/rules',
  summary: "The household range of each grid type in the region's district (its own rule, else the default); of a city, as its districts set them",
  request: { params: IdParam },
  responses: { 200: { description: 'Rules', ...json(Rules) }, ...errorResponses(400, 404) },
});

const putRoute = createRoute({
  method: 'put',
  path: '/regions/{id}/rules',
  summary:
    "Set the district's own household ranges (admin); the types left out keep theirs, `followPlan` gives a type back to the plan's range. " +
    'Coverage, the overview and the wall use them.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            rules: z
              .array(z.union([RuleInput, FollowPlan]))
              .min(1)
              .max(5),
            version: z.number().int().min(0).openapi({ description: 'the version read (409 when the rules changed since)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Rules', ...json(Rules) }, ...errorResponses(400, 403, 404, 409, 422) },
});

const DefaultRules = z
  .object({
    rules: z.array(Rule.omit({ own: true })),
    version: z.number().int().openapi({ description: 'send it back with a change: 409 when the ranges changed meanwhile' }),
    following: z.array(z.object({ id: z.number().int(), name: z.string(), gridTypes: z.array(GridTypeSchema) })).openapi({
      description: 'the districts and the types for which they follow these ranges (no rule of their own)',
    }),
  })
  .openapi('DefaultRules');

const getDefaultsRoute = createRoute({
  method: 'get',
  path: '/rules/defaults',
  summary: "The plan's household range of each grid type: what a district follows for a type it has no rule of its own for",
  responses: { 200: { description: 'The ranges', ...json(DefaultRules) }, ...errorResponses(400) },
});

const putDefaultsRoute = createRoute({
  method: 'put',
  path: '/rules/defaults',
  summary: "Set the plan's household ranges (admin): every district without its own rule for a type follows them. Logged and undoable in settings' history.",
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            rules: z.array(RuleInput).min(1).max(5),
            version: z.number().int().min(0).openapi({ description: 'the version read (409 when the ranges changed since)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'The ranges', ...json(DefaultRules) }, ...errorResponses(400, 403, 409, 422) },
});

/** Which districts follow the plan's range of which types. */
async function following(db: Queryable): Promise<{ id: number; name: string; gridTypes: GridType[] }[]> {
  const { rows } = await db.query<{ id: number; name: string; types: GridType[] }>(
    `SELECT d.id, d.name, array_agg(dflt.grid_type ORDER BY dflt.id) AS types
     FROM region d CROSS JOIN grid_type_rule dflt
     WHERE d.level = 'district' AND dflt.district_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM grid_type_rule own WHERE own.district_id = d.id AND own.grid_type = dflt.grid_type)
     GROUP BY d.id, d.name ORDER BY d.id`,
  );
  return rows.map((r) => ({ id: r.id, name: r.name, gridTypes: r.types }));
}

const strip = <T extends { own: boolean }>(rules: T[]) => rules.map(({ own: _own, ...r }) => r);

const StaffingRole = z.object({
  code: z.string(),
  zh: z.string(),
  en: z.string(),
  minPerGrid: z.number().int().openapi({ description: 'members of this role each grid of the district needs' }),
  own: z.boolean().openapi({ description: "the district's own count (false: the plan's model)" }),
  defaultPerGrid: z.number().int().openapi({ description: "the plan's model's count" }),
});
const Staffing = z
  .object({
    districtId: z.number().int(),
    district: z.string(),
    roles: z.array(StaffingRole),
    version: z.number().int().openapi({ description: 'send it back with a change: 409 when the model changed meanwhile' }),
  })
  .openapi('DistrictStaffing');

const getStaffingRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/staffing',
  summary: "The staffing model of the region's district: each role with how many its grids need (its own count, else the plan's)",
  request: { params: IdParam },
  responses: { 200: { description: 'Staffing', ...json(Staffing) }, ...errorResponses(400, 404) },
});

const putStaffingRoute = createRoute({
  method: 'put',
  path: '/regions/{id}/staffing',
  summary: "Set the district's own counts per role (admin): 1+N+X where the plan has 1+3+M+X; null follows the plan's again",
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            roles: z
              .array(
                z
                  .object({
                    code: z.string().min(1).max(32),
                    minPerGrid: z.number().int().min(0).max(20).nullable().openapi({ description: "null: the plan's count again" }),
                  })
                  .strict(),
              )
              .min(1)
              .max(30),
            version: z.number().int().min(0).openapi({ description: 'the version read (409 when the model changed since)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Staffing', ...json(Staffing) }, ...errorResponses(400, 403, 404, 409, 422) },
});

const SeverityDeadline = z.object({ severity: z.number().int(), ackHours: z.number(), resolveHours: z.number() });
const Deadlines = z
  .object({
    districtId: z.number().int(),
    district: z.string(),
    categories: z.array(
      z.object({
        code: z.string(),
        zh: z.string(),
        en: z.string(),
        own: z.boolean().openapi({ description: "the district's own four (false: the plan's)" }),
        deadlines: z.array(SeverityDeadline),
        defaults: z.array(SeverityDeadline).openapi({ description: "the plan's" }),
        closeHours: z.number().int().openapi({ description: 'hours from the report to close a case of the category on time there' }),
        defaultCloseHours: z.number().int().openapi({ description: "the plan's" }),
        closeOwn: z.boolean().openapi({ description: "the close hours are the district's own (false: the plan's, as they change)" }),
      }),
    ),
    version: z.number().int().openapi({ description: 'send it back with a change: 409 when the deadlines changed meanwhile' }),
  })
  .openapi('DistrictDeadlines');

const getDeadlinesRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/deadlines',
  summary: "The hours to acknowledge and resolve a dispatch, per category and severity, in the region's district (its own, else the plan's)",
  request: { params: IdParam },
  responses: { 200: { description: 'Deadlines', ...json(Deadlines) }, ...errorResponses(400, 404) },
});

const putDeadlinesRoute = createRoute({
  method: 'put',
  path: '/regions/{id}/deadlines',
  summary: "Set the district's own deadlines per category (admin): all four severities, or null to follow the plan's again",
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            categories: z
              .array(
                z
                  .object({
                    code: z.string().min(1).max(32),
                    deadlines: z
                      .array(
                        z
                          .object({
                            severity: z.number().int().min(1).max(4),
                            ackHours: z.number().min(0.1).max(8760),
                            resolveHours: z.number().min(0.1).max(8760),
                          })
                          .strict(),
                      )
                      .length(4)
                      .nullable(),
                    closeHours: z
                      .number()
                      .int()
                      .min(1)
                      .max(8760)
                      .optional()
                      .openapi({ description: 'with its own deadlines: hours to close a case of the category on time (left out: as they stand)' }),
                  })
                  .strict(),
              )
              .min(1)
              .max(100),
            version: z.number().int().min(0),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Deadlines', ...json(Deadlines) }, ...errorResponses(400, 403, 404, 409, 422) },
});

const Points = z
  .object({
    districtId: z.number().int(),
    district: z.string(),
    rules: z.array(
      z.object({
        measure: z.enum(MEASURES),
        zh: z.string(),
        en: z.string(),
        points: z.number().openapi({ description: "the points the district's workers get for the measure" }),
        version: z.number().int(),
        own: z.boolean().openapi({ description: "the district's own points (false: the plan's)" }),
        defaultPoints: z.number().openapi({ description: "the plan's" }),
      }),
    ),
    version: z.number().int().openapi({ description: 'send it back with a change: 409 when the points changed meanwhile' }),
  })
  .openapi('DistrictAssessmentRules');

const getPointsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/assessment-rules',
  summary: "The 考核 points in the region's district: each measure with its points there (its own, else the plan's)",
  request: { params: IdParam },
  responses: { 200: { description: 'Points', ...json(Points) }, ...errorResponses(400, 404) },
});

const putPointsRoute = createRoute({
  method: 'put',
  path: '/regions/{id}/assessment-rules',
  summary: "Set the district's own 考核 points per measure (admin); null follows the plan's again, measures left out keep theirs",
  request: {
    params: IdParam,
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
                    points: z.number().min(-100).max(100).nullable().openapi({ description: "null: the plan's points again" }),
                  })
                  .strict(),
              )
              .min(1)
              .max(MEASURES.length),
            version: z.number().int().min(0).openapi({ description: 'the version read (409 when the points changed since)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Points', ...json(Points) }, ...errorResponses(400, 403, 404, 409, 422) },
});

/**
 * A city's rules, as its districts set them: a type every district holds to the same range has that
 * range; one they set apart spans them all (from the lowest minimum to the highest maximum) and is named in `mixed`.
 */
async function cityOf(db: Queryable, id: number): Promise<z.infer<typeof Rules> | null> {
  const { rows } = await db.query<{ level: string; name: string }>('SELECT level, name FROM region WHERE id = $1', [id]);
  if (rows[0]?.level !== 'city') return null;
  const { rows: districts } = await db.query<{ id: number }>(`SELECT id FROM region WHERE parent_id = $1 AND level = 'district' ORDER BY id`, [id]);
  const each = await Promise.all(districts.map((d) => districtRules(db, d.id)));
  const mixed: GridType[] = [];
  const rules = (each[0] ?? []).map((first) => {
    const all = each.map((r) => r.find((x) => x.gridType === first.gridType) ?? first);
    if (all.every((r) => r.min === first.min && r.max === first.max && r.target === first.target)) return { ...first, own: all.some((r) => r.own) };
    mixed.push(first.gridType);
    const min = Math.min(...all.map((r) => r.min));
    const max = Math.max(...all.map((r) => r.max));
    return { ...first, min, max, target: Math.round((min + max) / 2), own: true };
  });
  return { districtId: id, district: rows[0].name, rules, version: 0, mixed };
}

export function ruleRoutes() {
  return router()
    .openapi(getDefaultsRoute, async (c) => {
      const db = c.get('db');
      const [rules, version, districts] = await Promise.all([defaultRules(db), defaultRulesVersion(db), following(db)]);
      return c.json({ rules: strip(rules), version, following: districts }, 200);
    })
    .openapi(putDefaultsRoute, async (c) => {
      const { rules, version } = c.req.valid('json');
      const db = c.get('db');
      const done = await db.transaction(async (tx) => {
        const after = await setDefaultRules(tx, actorOf(c), rules, version);
        return { rules: strip(after), version: await defaultRulesVersion(tx), following: await following(tx) };
      });
      return c.json(done, 200);
    })
    .openapi(getDeadlinesRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no deadlines of its own: each of its districts has them', 'id');
        throw notFound('region', id);
      }
      const [categories, version] = await Promise.all([districtDeadlines(db, district.id), deadlinesVersion(db, district.id)]);
      return c.json({ districtId: district.id, district: district.name, categories, version }, 200);
    })
    .openapi(putDeadlinesRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { categories, version } = c.req.valid('json');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no deadlines of its own: set each of its districts’', 'id');
        throw notFound('region', id);
      }
      const done = await db.transaction(async (tx) => {
        const after = await setDistrictDeadlines(tx, actorOf(c), district.id, categories, version);
        return { categories: after, version: await deadlinesVersion(tx, district.id) };
      });
      return c.json({ districtId: district.id, district: district.name, ...done }, 200);
    })
    .openapi(getPointsRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no 考核 points of its own: each of its districts has them', 'id');
        throw notFound('region', id);
      }
      const [rules, version] = await Promise.all([districtAssessmentRules(db, district.id), districtAssessmentVersion(db, district.id)]);
      return c.json({ districtId: district.id, district: district.name, rules, version }, 200);
    })
    .openapi(putPointsRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { rules, version } = c.req.valid('json');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no 考核 points of its own: set each of its districts’', 'id');
        throw notFound('region', id);
      }
      const done = await db.transaction(async (tx) => {
        const after = await setDistrictAssessment(tx, actorOf(c), district.id, rules, version);
        return { rules: after, version: await districtAssessmentVersion(tx, district.id) };
      });
      return c.json({ districtId: district.id, district: district.name, ...done }, 200);
    })
    .openapi(getStaffingRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no staffing model of its own: each of its districts has one', 'id');
        throw notFound('region', id);
      }
      const [roles, version] = await Promise.all([districtStaffing(db, district.id), staffingVersion(db, district.id)]);
      return c.json({ districtId: district.id, district: district.name, roles, version }, 200);
    })
    .openapi(putStaffingRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { roles, version } = c.req.valid('json');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no staffing model of its own: set each of its districts’', 'id');
        throw notFound('region', id);
      }
      const done = await db.transaction(async (tx) => {
        const after = await setDistrictStaffing(tx, actorOf(c), district.id, roles, version);
        return { roles: after, version: await staffingVersion(tx, district.id) };
      });
      return c.json({ districtId: district.id, district: district.name, ...done }, 200);
    })
    .openapi(getRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const city = await cityOf(db, id);
      if (city) return c.json({ ...city, version: 0 }, 200);
      const district = await districtOf(db, id);
      if (!district) throw notFound('region', id);
      return c.json(
        { districtId: district.id, district: district.name, rules: await districtRules(db, district.id), version: await rulesVersion(db, district.id) },
        200,
      );
    })
    .openapi(putRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { rules, version } = c.req.valid('json');
      const db = c.get('db');
      const district = await districtOf(db, id);
      if (!district) {
        if (await cityOf(db, id)) throw new InputError('city_rules', 'a city has no rules of its own: set each of its districts’ rules', 'id');
        throw notFound('region', id);
      }
      const done = await db.transaction(async (tx) => {
        const after = await setDistrictRules(tx, actorOf(c), district.id, rules, version);
        return { rules: after, version: await rulesVersion(tx, district.id) };
      });
      return c.json({ districtId: district.id, district: district.name, ...done }, 200);
    });
}

import { createRoute, z } from '@hono/zod-openapi';
import { districtOf, districtRules, rulesVersion, setDistrictRules } from '../db/rules.ts';
import { notFound } from '../domain/errors.ts';
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

const getRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/rules',
  summary: "The household range of each grid type in the region's district (its own rule, else the default)",
  request: { params: IdParam },
  responses: { 200: { description: 'Rules', ...json(Rules) }, ...errorResponses(400, 404) },
});

const putRoute = createRoute({
  method: 'put',
  path: '/regions/{id}/rules',
  summary: "Set the district's own household ranges (admin); the types left out keep theirs. Coverage, the overview and the wall use them.",
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            rules: z.array(RuleInput).min(1).max(5),
            version: z.number().int().min(0).optional().openapi({ description: 'the version read (409 when the rules changed since)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Rules', ...json(Rules) }, ...errorResponses(400, 403, 404, 409, 422) },
});

export function ruleRoutes() {
  return router()
    .openapi(getRoute, async (c) => {
      const { id } = c.req.valid('param');
      const district = await districtOf(c.get('db'), id);
      if (!district) throw notFound('region', id);
      const db = c.get('db');
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
      if (!district) throw notFound('region', id);
      const done = await db.transaction(async (tx) => {
        const after = await setDistrictRules(tx, actorOf(c), district.id, rules, version);
        return { rules: after, version: await rulesVersion(tx, district.id) };
      });
      return c.json({ districtId: district.id, district: district.name, ...done }, 200);
    });
}

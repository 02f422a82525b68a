import { createRoute, z } from '@hono/zod-openapi';
import { NameText } from '../schemas/text.ts';
import {
  assertAuthor,
  commentDraft,
  draftDetail,
  listDrafts,
  listVersions,
  maySee,
  newDraft,
  reviewDraft,
  submitDraft,
  versionById,
  versionInstant,
  withdrawDraft,
} from '../db/draft-review.ts';
import {
  approvalSteps,
  districtApprovalSteps,
  districtStepsVersion,
  draftById,
  rebaseDraft,
  setApprovalSteps,
  setDistrictApprovalSteps,
} from '../db/drafts.ts';
import { changeVersion } from '../db/versions.ts';
import { regionLevel } from '../db/region-queries.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { asOfInstant } from '../domain/plan-time.ts';
import { areaOf, can, ROLES } from '../domain/roles.ts';
import type { Queryable } from '../db/db.ts';

/** The roles that may decide a review step. */
const REVIEWERS = ROLES.filter((r) => can(r, 'plan:review')) as unknown as readonly [string, ...string[]];
import { actorOf, assertPlanScope, principalOf } from '../http/auth.ts';
import { nowOf, router } from '../http/router.ts';
import { errorResponses, etagOf, IdParam, IfMatchHeader, ifMatchVersion, json } from './schemas.ts';

const RegionId = z.coerce
  .number()
  .int()
  .positive()
  .max(2 ** 31 - 1);
const Status = z.enum(['editing', 'submitted', 'scheduled', 'published', 'rejected', 'withdrawn', 'conflict']);
const DraftSchema = z
  .object({
    id: z.number().int(),
    regionId: z.number().int(),
    regionName: z.string(),
    regionLevel: z.string(),
    name: z.string(),
    createdBy: z.string(),
    createdByName: z.string().openapi({ description: 'the display name of the account that made it (its login where it has none)' }),
    createdAt: z.string(),
    status: Status,
    step: z.number().int(),
    basedAt: z.string(),
    effectiveFrom: z.string().nullable(),
    fromVersion: z.number().int().nullable(),
    version: z.number().int(),
    updatedAt: z.string(),
    mayDecide: z.boolean().openapi({ description: 'whether the caller may decide its current review step' }),
  })
  .openapi('Draft');
const StepSchema = z.object({
  step: z.number().int(),
  level: z.enum(['district', 'township', 'village']),
  zh: z.string(),
  en: z.string(),
  roles: z.array(z.string()),
});
const ConflictSchema = z.object({ id: z.number().int(), code: z.string(), name: z.string(), level: z.string(), kind: z.enum(['changed', 'added', 'removed']) });
const DetailSchema = DraftSchema.extend({
  steps: z.array(StepSchema.extend({ state: z.enum(['done', 'current', 'waiting']), decidedBy: z.string().nullable(), decidedByName: z.string().nullable() })),
  events: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      actor: z.string(),
      actorName: z.string(),
      kind: z.string(),
      step: z.number().int().nullable(),
      gridId: z.number().int().nullable(),
      comment: z.string(),
    }),
  ),
  conflicts: z.array(ConflictSchema).openapi({ description: 'regions of the draft the live plan changed since it was copied or rebased' }),
  whyNot: z
    .enum(['role', 'author', 'decidedEarlier', 'area'])
    .nullable()
    .openapi({
      description:
        'while it waits for a decision the caller may not make, why: another role decides the step, the caller made or edited the draft, ' +
        'approved an earlier step of this round (four eyes), or holds an area the step is not within',
    }),
}).openapi('DraftDetail');
const VersionSchema = z
  .object({
    id: z.number().int(),
    regionId: z.number().int(),
    regionName: z.string(),
    draftId: z.number().int().nullable(),
    name: z.string(),
    note: z.string(),
    publishedBy: z.string(),
    approvedBy: z.string().nullable(),
    publishedByName: z.string(),
    approvedByName: z.string().nullable(),
    publishedAt: z.string(),
    effectiveFrom: z.string(),
    op: z.number().int().nullable(),
    gridsAdded: z.number().int(),
    gridsRemoved: z.number().int(),
    gridsChanged: z.number().int(),
  })
  .openapi('PlanVersion');
const Text = (max: number) => z.string().max(max).default('');
const DraftVersion = z.number().int().positive().optional().openapi({ description: "the draft's version as the caller saw it: 409 when it changed meanwhile" });

const createDraftRoute = createRoute({
  method: 'post',
  path: '/drafts',
  summary: "Make a draft: a working copy of a region's subtree. Editor, auto-split, coverage and undo routes take `?draft=ID`.",
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            regionId: z
              .number()
              .int()
              .positive()
              .max(2 ** 31 - 1),
            name: NameText(100),
          })
          .strict(),
      ),
    },
  },
  responses: { 201: { description: 'The draft', ...json(DetailSchema) }, ...errorResponses(400, 403, 404, 422) },
});
const listRoute = createRoute({
  method: 'get',
  path: '/drafts',
  summary: 'Drafts the caller may see: of a region (above or below it), open ones only, or those awaiting the caller’s decision',
  request: {
    query: z.object({
      region: RegionId.optional(),
      open: z.enum(['true', 'false']).optional(),
      awaiting: z.literal('me').optional(),
    }),
  },
  responses: { 200: { description: 'Drafts', ...json(z.array(DraftSchema)) }, ...errorResponses(400) },
});
const getRoute = createRoute({
  method: 'get',
  path: '/drafts/{id}',
  summary: 'A draft with its review steps, its history and the live changes under it',
  request: { params: IdParam },
  responses: { 200: { description: 'The draft', ...json(DetailSchema) }, ...errorResponses(400, 404) },
});
const withdrawRoute = createRoute({
  method: 'delete',
  path: '/drafts/{id}',
  summary: 'Withdraw a draft (its author or an administrator): its copy is dropped, its record stays',
  request: { params: IdParam },
  responses: { 200: { description: 'The draft', ...json(DetailSchema) }, ...errorResponses(400, 403, 404, 409) },
});
const submitRoute = createRoute({
  method: 'post',
  path: '/drafts/{id}/submit',
  summary: 'Send a draft for review (409 when the live plan changed under it: rebase first)',
  request: { params: IdParam, body: { required: true, ...json(z.object({ note: Text(2_000), version: DraftVersion }).strict()) } },
  responses: { 200: { description: 'The draft', ...json(DetailSchema) }, ...errorResponses(400, 403, 404, 409) },
});
const reviewRoute = createRoute({
  method: 'post',
  path: '/drafts/{id}/review',
  summary: "Decide the draft's current review step: approve (the last approval publishes it, now or on effectiveFrom), send back for changes, or reject",
  description:
    'Publishing refuses with 409 `draft_conflict`, naming the regions, when the live plan changed under the draft; ' +
    'the draft is then marked `conflict` for its planner to rebase.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            decision: z.enum(['approve', 'reject', 'changes']),
            comment: Text(2_000),
            effectiveFrom: z
              .string()
              .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date: YYYY-MM-DD')
              .optional()
              .openapi({ description: 'the day the plan takes effect (China Standard Time); today or left out: at once' }),
            version: DraftVersion,
          })
          .strict(),
      ),
    },
  },
  responses: {
    200: {
      description: 'The decision',
      ...json(z.object({ status: z.string(), versionId: z.number().int().nullable(), op: z.number().int().nullable(), draft: DetailSchema })),
    },
    ...errorResponses(400, 403, 404, 409),
  },
});
const commentRoute = createRoute({
  method: 'post',
  path: '/drafts/{id}/comments',
  summary: 'Comment on a draft, or on one grid of it',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            comment: z.string().trim().min(1).max(2_000),
            gridId: z
              .number()
              .int()
              .positive()
              .max(2 ** 31 - 1)
              .nullable()
              .default(null),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'The draft', ...json(DetailSchema) }, ...errorResponses(400, 404) },
});
const rebaseRoute = createRoute({
  method: 'post',
  path: '/drafts/{id}/rebase',
  summary: "Bring the live plan's changes into a draft: what the draft changed stays; the rest becomes as it is live",
  request: { params: IdParam },
  responses: {
    200: {
      description: 'Rebased',
      ...json(
        z.object({
          fromLive: z.number().int(),
          kept: z.number().int(),
          both: z.array(ConflictSchema).openapi({ description: 'regions both changed: the draft’s state was kept; check them' }),
          draft: DetailSchema,
        }),
      ),
    },
    ...errorResponses(400, 403, 404, 409),
  },
});
const versionsRoute = createRoute({
  method: 'get',
  path: '/versions',
  summary: 'Published plan versions (who, when, why, effective from) of a region, above or below it; newest first',
  request: { query: z.object({ region: RegionId.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }) },
  responses: { 200: { description: 'Versions', ...json(z.array(VersionSchema)) }, ...errorResponses(400) },
});
const rollbackRoute = createRoute({
  method: 'post',
  path: '/versions/{id}/rollback',
  summary: 'Roll back: a draft holding the plan as this version made it, to review and publish anew',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            name: NameText(100).optional(),
            before: z
              .boolean()
              .default(false)
              .openapi({ description: 'the plan as it was just before this version (the version taken back); else as it made it' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 201: { description: 'The draft', ...json(DetailSchema) }, ...errorResponses(400, 403, 404, 422) },
});
const stepsRoute = createRoute({
  method: 'get',
  path: '/approval-steps',
  summary: 'The steps a draft passes before it is published, and who decides each',
  responses: { 200: { description: 'Steps (their version as `ETag`, to send back as `If-Match`)', ...json(z.array(StepSchema)) } },
});
const putStepsRoute = createRoute({
  method: 'put',
  path: '/approval-steps',
  summary: 'Set the approval steps (admin): in order, each a level whose accounts of the given roles decide',
  description: 'Refused (409) while a draft is under review, or when the steps changed since the `If-Match` version. Logged; undone from the settings history.',
  request: {
    headers: IfMatchHeader,
    body: {
      required: true,
      ...json(
        z
          .object({
            steps: z
              .array(
                z
                  .object({
                    level: z.enum(['district', 'township', 'village']),
                    zh: z.string().trim().min(1).max(40),
                    en: z.string().trim().min(1).max(60),
                    roles: z.array(z.enum(REVIEWERS)).min(1).max(REVIEWERS.length).openapi({ description: 'roles that may review (hold plan:review)' }),
                  })
                  .strict(),
              )
              .min(1)
              .max(5),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Steps', ...json(z.array(StepSchema)) }, ...errorResponses(400, 403, 409) },
});

const StepInputSchema = z
  .object({
    level: z.enum(['district', 'township', 'village']),
    zh: z.string().trim().min(1).max(40),
    en: z.string().trim().min(1).max(60),
    roles: z.array(z.enum(REVIEWERS)).min(1).max(REVIEWERS.length).openapi({ description: 'roles that may review (hold plan:review)' }),
  })
  .strict();
const DistrictSteps = z
  .object({
    districtId: z.number().int(),
    district: z.string(),
    own: z.boolean().openapi({ description: "the district's own steps (false: it follows the plan's)" }),
    steps: z.array(StepSchema).openapi({ description: 'the steps its drafts pass' }),
    defaults: z.array(StepSchema).openapi({ description: "the plan's" }),
    version: z.number().int().openapi({ description: 'send it back with a change: 409 when the steps changed meanwhile' }),
  })
  .openapi('DistrictApprovalSteps');
const districtStepsRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/approval-steps',
  summary: "The approval steps of drafts in the region's district: its own, else the plan's",
  request: { params: IdParam },
  responses: { 200: { description: 'Steps', ...json(DistrictSteps) }, ...errorResponses(400, 404, 422) },
});
const putDistrictStepsRoute = createRoute({
  method: 'put',
  path: '/regions/{id}/approval-steps',
  summary: "Set the district's own approval steps (admin), or null to follow the plan's again",
  description:
    "Refused (409) while one of the district's drafts is under review, or when the steps changed since `version`. Logged; undone from the settings history.",
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            steps: z.array(StepInputSchema).min(1).max(5).nullable().openapi({ description: "null: the plan's steps again" }),
            version: z.number().int().min(0).openapi({ description: 'the version read (409 when the steps changed since)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Steps', ...json(DistrictSteps) }, ...errorResponses(400, 403, 404, 409, 422) },
});

/** The district a region lies in (itself when it is one); a city has none: 422, its districts each have their own. */
async function districtFor(db: Queryable, id: number): Promise<{ id: number; name: string }> {
  const { rows } = await db.query<{ level: string; district: number | null; name: string | null }>(
    'SELECT r.level, d.id AS district, d.name FROM region r LEFT JOIN region d ON d.id = gp_district_of(r.id) WHERE r.id = $1',
    [id],
  );
  if (!rows[0]) throw notFound('region', id);
  if (rows[0].district === null) throw new InputError('city_rules', 'a city has no approval steps of its own: each of its districts has them', 'id');
  return { id: rows[0].district, name: rows[0].name ?? '' };
}

/** Open drafts one region may have, and in all (each is a copy of its subtree). */
const MAX_OPEN_PER_REGION = 10;
const MAX_OPEN_PER_ACCOUNT = 10;
const MAX_OPEN = 200;

export function draftRoutes() {
  return router()
    .openapi(createDraftRoute, async (c) => {
      const { regionId, name } = c.req.valid('json');
      const p = principalOf(c);
      const db = c.get('db');
      const level = await regionLevel(db, regionId);
      if (!level) throw notFound('region', regionId, 'regionId');
      if (level.level === 'grid')
        throw new InputError('invalid_level', 'a draft is made of a village, township or district: the grids below it are what it changes', 'regionId');
      await assertPlanScope(c, [regionId], false, 'regionId');
      const id = await db.transaction(async (tx) => {
        await limitOpen(tx, regionId, p.username);
        return newDraft(tx, p.username, regionId, name);
      });
      return c.json(await draftDetail(db, p, id), 201);
    })
    .openapi(listRoute, async (c) => {
      const q = c.req.valid('query');
      const rows = await listDrafts(c.get('db'), principalOf(c), { regionId: q.region, open: q.open === 'true', awaiting: q.awaiting === 'me' });
      return c.json(rows, 200);
    })
    .openapi(getRoute, async (c) => c.json(await draftDetail(c.get('db'), principalOf(c), c.req.valid('param').id), 200))
    .openapi(withdrawRoute, async (c) => {
      const { id } = c.req.valid('param');
      await c.get('db').transaction((tx) => withdrawDraft(tx, principalOf(c), id));
      return c.json(await draftDetail(c.get('db'), principalOf(c), id), 200);
    })
    .openapi(submitRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { note, version } = c.req.valid('json');
      await assertDraftScope(c, id);
      await c.get('db').transaction((tx) => submitDraft(tx, principalOf(c), id, note, version, nowOf(c)));
      return c.json(await draftDetail(c.get('db'), principalOf(c), id), 200);
    })
    .openapi(reviewRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      // a day already past is refused: taken for "at once", it published today without a word
      const today = new Date(nowOf(c).getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
      if (body.effectiveFrom && body.effectiveFrom < today) {
        throw new InputError('past_date', `${body.effectiveFrom} has passed: the plan takes effect today (leave the day out) or later`, 'effectiveFrom');
      }
      const effectiveFrom = body.effectiveFrom ? new Date(asOfInstant(body.effectiveFrom, 'effectiveFrom')!.getTime() - 86_400_000) : null;
      const result = await reviewDraft(c.get('db'), principalOf(c), id, { ...body, effectiveFrom }, nowOf(c));
      // a publication changes the live plan: the read cache forgets what it kept of it
      if (result.versionId !== null) c.get('cache')?.bump(['plan', 'layout', 'plan*', 'incidents']);
      return c.json({ ...result, draft: await draftDetail(c.get('db'), principalOf(c), id) }, 200);
    })
    .openapi(commentRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { comment, gridId } = c.req.valid('json');
      await c.get('db').transaction((tx) => commentDraft(tx, principalOf(c), id, comment, gridId));
      return c.json(await draftDetail(c.get('db'), principalOf(c), id), 200);
    })
    .openapi(rebaseRoute, async (c) => {
      const { id } = c.req.valid('param');
      const p = principalOf(c);
      await assertDraftScope(c, id);
      const result = await c.get('db').transaction(async (tx) => {
        const d = await draftById(tx, id, true);
        if (!d) throw notFound('draft', id, 'id');
        assertAuthor(d, p, 'rebase');
        if (d.status !== 'editing' && d.status !== 'conflict') {
          throw new InputError('draft_state', `the draft “${d.name}” is ${d.status}: only a draft being edited or in conflict is rebased`, 'id', {
            status: d.status,
          });
        }
        return rebaseDraft(tx, d, p.username);
      });
      return c.json({ ...result, draft: await draftDetail(c.get('db'), p, id) }, 200);
    })
    .openapi(versionsRoute, async (c) => {
      const { region, limit } = c.req.valid('query');
      return c.json(await listVersions(c.get('db'), region, limit, areaOf(principalOf(c))), 200);
    })
    .openapi(rollbackRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { name, before } = c.req.valid('json');
      const db = c.get('db');
      const v = await versionById(db, id);
      if (!v) throw notFound('version', id, 'id');
      if (!(await regionLevel(db, v.regionId)))
        throw new InputError('draft_region_gone', `${v.regionName || `region ${v.regionId}`} is no longer in the live plan`, 'id');
      await assertPlanScope(c, [v.regionId], false, 'id');
      const p = principalOf(c);
      const draftId = await db.transaction(async (tx) => {
        await limitOpen(tx, v.regionId, p.username);
        const at = before ? new Date(Date.parse(v.publishedAt)) : versionInstant(v);
        return newDraft(tx, p.username, v.regionId, name ?? (before ? `撤回版本 ${v.id}` : `回滚到版本 ${v.id}`), { version: v.id, at });
      });
      return c.json(await draftDetail(db, p, draftId), 201);
    })
    .openapi(districtStepsRoute, async (c) => {
      const db = c.get('db');
      const district = await districtFor(db, c.req.valid('param').id);
      const [m, version] = await Promise.all([districtApprovalSteps(db, district.id), districtStepsVersion(db, district.id)]);
      return c.json({ districtId: district.id, district: district.name, ...m, version }, 200);
    })
    .openapi(putDistrictStepsRoute, async (c) => {
      const { steps, version } = c.req.valid('json');
      const db = c.get('db');
      const district = await districtFor(db, c.req.valid('param').id);
      const done = await db.transaction(async (tx) => {
        const m = await setDistrictApprovalSteps(tx, actorOf(c), district.id, steps, version);
        return { ...m, version: await districtStepsVersion(tx, district.id) };
      });
      return c.json({ districtId: district.id, district: district.name, ...done }, 200);
    })
    .openapi(stepsRoute, async (c) => {
      const db = c.get('db');
      const [steps, version] = await Promise.all([approvalSteps(db), changeVersion(db, 'approval_step')]);
      c.header('ETag', etagOf(version));
      return c.json(steps, 200);
    })
    .openapi(putStepsRoute, async (c) => {
      const { steps } = c.req.valid('json');
      const wanted = ifMatchVersion(c.req.valid('header'));
      const { after, version } = await c.get('db').transaction(async (tx) => {
        const after = await setApprovalSteps(tx, actorOf(c), steps, wanted);
        return { after, version: await changeVersion(tx, 'approval_step') };
      });
      c.header('ETag', etagOf(version));
      return c.json(after, 200);
    });
}

/**
 * The caller may change the draft's region (submitting and rebasing are a planner's acts on it); a draft they may not see
 * is not found, as its reads answer.
 */
async function assertDraftScope(c: Parameters<typeof assertPlanScope>[0], id: number): Promise<void> {
  const d = await draftById(c.get('db'), id);
  if (!d || !(await maySee(c.get('db'), principalOf(c), d.regionId))) throw notFound('draft', id, 'id');
  await assertPlanScope(c, [d.regionId], false, 'id');
}

async function limitOpen(tx: Queryable, regionId: number, actor: string): Promise<void> {
  const { rows } = await tx.query<{ here: number; mine: number; all: number }>(
    `SELECT count(*) FILTER (WHERE region_id = $1)::int AS here, count(*) FILTER (WHERE created_by = $2)::int AS mine, count(*)::int AS all
     FROM draft WHERE status IN ('editing', 'submitted', 'scheduled', 'conflict')`,
    [regionId, actor],
  );
  const { here, mine, all } = rows[0]!;
  if (mine >= MAX_OPEN_PER_ACCOUNT) throw new InputError('too_many_drafts', `you have ${mine} open drafts: publish or withdraw one first`, 'regionId');
  if (here >= MAX_OPEN_PER_REGION) throw new InputError('too_many_drafts', `this region has ${here} open drafts: publish or withdraw one first`, 'regionId');
  if (all >= MAX_OPEN) throw new InputError('too_many_drafts', `${all} drafts are open: publish or withdraw some first`, 'regionId');
}

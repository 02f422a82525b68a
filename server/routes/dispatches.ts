import { turns } from '../http/heavy.ts';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  answerDispatch,
  casePlace,
  departmentIds,
  departmentStats,
  dispatchIncident,
  escalateOverdue,
  listDepartments,
  listDispatches,
  followUpDispatch,
  stepDispatch,
  type DispatchStep,
} from '../db/dispatches.ts';
import { isWithin } from '../db/accounts.ts';
import { caseTimeline } from '../db/case-timeline.ts';
import { dispatchedTo } from '../db/field.ts';
import type { Queryable } from '../db/db.ts';
import { areaOf, can } from '../domain/roles.ts';
import { hotlineStatus, takeHotlineOrder, type KnownCategory } from '../db/hotline.ts';
import { assignIncident, deadlinesOf, duplicatesOf, incidentGrid, reopenIncident, restoreIncident, reviewIncident, voidIncident } from '../db/incidents.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { parseInstant, parseRange } from '../domain/incidents.ts';
import { actorOf, assertInArea, assertOwnGrid, areaRegion, principalOf } from '../http/auth.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { errorResponses, IdParam } from './schemas.ts';
import { IncidentSchema } from '../schemas/incident.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const Department = z.object({ id: z.number().int(), code: z.string(), zh: z.string(), en: z.string() });
const Dispatch = z
  .object({
    id: z.number().int(),
    incidentId: z.number().int(),
    department: Department,
    dispatchedAt: z.string(),
    ackDueAt: z.string(),
    dueAt: z.string(),
    acknowledgedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    answer: z.string().nullable(),
    overdue: z.enum(['ack', 'resolve']).nullable(),
    escalation: z.number().int(),
    escalatedAt: z.string().nullable(),
    role: z.enum(['lead', 'assist']).openapi({ description: '主办 (lead) or 协办 (assisting)' }),
    returnedAt: z.string().nullable(),
    returnReason: z.string().nullable(),
    extension: z.object({ until: z.string(), reason: z.string(), state: z.enum(['asked', 'approved', 'refused']) }).nullable(),
    version: z.number().int(),
    answerPhotos: z.array(z.string()).openapi({ description: 'the department’s photos of its answer (处置后照片): POST /api/dispatches/{id}/photos' }),
    urged: z
      .object({ count: z.number().int(), at: z.string().nullable() })
      .openapi({ description: '催办: how often the centre urged the department on, and when last' }),
    reassignedTo: Department.nullable().openapi({
      description: '改派: the department the centre gave the case to instead, taking it from this one or after this one sent it back',
    }),
    recalled: z.boolean().openapi({ description: 'taken back by the centre (改派), its reason the centre’s; else a 退回 by the department' }),
    reassignedFrom: z
      .object({ code: z.string(), zh: z.string(), en: z.string(), reason: z.string().nullable() })
      .nullable()
      .openapi({ description: '改派 here from another department, with the centre’s reason when it took the case from that one' }),
    leadBy: z
      .object({ code: z.string(), zh: z.string(), en: z.string() })
      .nullable()
      .openapi({ description: '协办: the department leading the case, while one does (null for the lead)' }),
  })
  .openapi('Dispatch');
const IncidentRef = IncidentSchema;

const departmentsRoute = createRoute({
  method: 'get',
  path: '/departments',
  summary: 'Departments that incidents are dispatched to, with the categories each gets by default',
  description:
    'Given `incident`, the departments that serve its place (the ones it can be sent to). Otherwise those with a part in ' +
    "the caller's area (serving all of it or part of it); for an account of the whole plan, all.",
  request: {
    query: z.object({
      incident: z.coerce.number().int().positive().max(2_147_483_647).optional().openapi({ description: 'a case: the departments that serve its place' }),
    }),
  },
  responses: {
    200: {
      description: 'Departments',
      ...json(
        z.array(
          Department.extend({
            categories: z.array(z.string()),
            regionId: z.number().int().nullable().openapi({ description: 'the region it serves; null: the whole plan' }),
            regionName: z.string().nullable(),
          }),
        ),
      ),
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const dispatchRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/dispatch',
  summary: '吹哨: send an incident to one or more departments (deadlines by category and severity)',
  description: 'A reported incident becomes dispatched; one already dispatched gains the new departments. 409 on a stale `version`.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          departments: z
            .array(z.union([z.string().min(1).max(32), z.object({ code: z.string().min(1).max(32), role: z.enum(['lead', 'assist']) }).strict()]))
            .min(1)
            .max(10)
            .openapi({ description: 'codes (the first leads, the rest assist), or { code, role } each; one lead per case' }),
          dueAt: z
            .string()
            .max(40)
            .optional()
            .openapi({ description: "the centre's deadline to resolve by (ISO 8601), instead of the category's; acknowledged by it too when it comes first" }),
          version: z.number().int().positive().optional(),
        }),
      ),
    },
  },
  responses: {
    200: { description: 'Dispatched', ...json(z.object({ incident: IncidentRef, dispatches: z.array(Dispatch) })) },
    ...errorResponses(400, 401, 403, 404, 409, 422),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/dispatches',
  summary: "A department's queue (a department user sees only their own): open first, by due time",
  request: {
    query: z.object({
      department: z.string().max(32).optional(),
      state: z
        .enum(['open', 'new', 'overdue', 'extension', 'all'])
        .default('open')
        .openapi({ description: 'new: sent, not yet acknowledged; extension: more time asked, awaiting the centre' }),
      q: z.string().trim().min(1).max(100).optional().openapi({ description: 'words in the description, address or place, or an incident number' }),
      region: z.coerce.number().int().positive().max(2_147_483_647).optional().openapi({ description: 'only incidents in this township, village or grid' }),
      category: z.string().max(500).optional().openapi({ description: 'comma-separated category codes' }),
      limit: z.coerce.number().int().min(1).max(500).default(50),
      offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
    }),
  },
  responses: {
    200: {
      description: 'Dispatches',
      ...json(
        z.object({
          total: z.number().int().openapi({ description: 'what the filters match in the chosen state' }),
          counts: z
            .object({ open: z.number().int(), new: z.number().int(), overdue: z.number().int(), extension: z.number().int(), all: z.number().int() })
            .openapi({ description: 'the same filters in each state' }),
          byDepartment: z
            .array(z.object({ code: z.string(), zh: z.string(), en: z.string(), n: z.number().int() }))
            .openapi({ description: 'per department, how many the filters match in the chosen state, most first' }),
          next: z.number().int().nullable().openapi({ description: 'the offset of the next page, or null' }),
          items: z.array(
            Dispatch.extend({
              incident: IncidentRef,
              place: z.string().nullable().openapi({ description: 'township, village and grid' }),
              photos: z.array(z.string()).openapi({ description: 'photo URLs' }),
            }),
          ),
        }),
      ),
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const assignRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/assign',
  summary: '交办: send a reported case down to the village or grid where it happened, to handle locally (it leaves the intake)',
  request: {
    params: IdParam,
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
            version: z.number().int().positive().optional(),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Assigned', ...json(IncidentRef) }, ...errorResponses(400, 403, 404, 409, 422) },
});

const Version = z.number().int().positive().optional();
const Reason = z.string().max(500);
const invalidRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/invalid',
  summary: '无效: mark a report in the intake as no case, with the reason (it leaves every list, count and map)',
  request: { params: IdParam, body: { required: true, ...json(z.object({ reason: Reason, version: Version }).strict()) } },
  responses: { 200: { description: 'Marked', ...json(IncidentRef) }, ...errorResponses(400, 403, 404, 409, 422) },
});
const mergeRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/merge',
  summary: '合并重复: merge a report in the intake into another report of the same case',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            into: z
              .number()
              .int()
              .positive()
              .max(2 ** 31 - 1),
            reason: Reason.optional(),
            version: Version,
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Merged', ...json(IncidentRef) }, ...errorResponses(400, 403, 404, 409, 422) },
});
const restoreRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/restore',
  summary: '撤销: a report marked invalid or merged by mistake goes back to the intake as it was',
  request: { params: IdParam, body: { required: false, ...json(z.object({ version: Version }).strict()) } },
  responses: { 200: { description: 'Restored', ...json(IncidentRef) }, ...errorResponses(400, 403, 404, 409, 422) },
});
const duplicatesRoute = createRoute({
  method: 'get',
  path: '/incidents/{id}/duplicates',
  summary: 'Reports that may be the same case: the same category within 300 m and a day, the most alike in words first, then the nearest',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'Candidates',
      ...json(
        z.array(
          IncidentRef.extend({
            distanceM: z.number(),
            similarity: z.number().openapi({ description: 'how alike the two descriptions read, 0…1 (character pairs): the most alike first' }),
          }),
        ),
      ),
    },
    ...errorResponses(400, 403, 404),
  },
});
const DepartmentName = z.object({ code: z.string(), zh: z.string(), en: z.string() });
const TimelineStep = z
  .object({
    at: z.string(),
    kind: z.enum([
      'report',
      'assign',
      'dispatch',
      'acknowledge',
      'extend',
      'approve_extension',
      'refuse_extension',
      'urge',
      'set_due',
      'escalate',
      'return',
      'recall',
      'reassign',
      'resolve',
      'answered',
      'resolve_on_spot',
      'close',
      'reopen',
      'review',
      'invalid',
      'merge',
      'merged_from',
      'restore',
    ]),
    department: DepartmentName.nullable(),
    role: z.enum(['lead', 'assist']).nullable(),
    text: z.string().nullable().openapi({ description: "words given with it: the report's description, an answer, a reason, the feedback" }),
    until: z.string().nullable().openapi({ description: 'a deadline: the one a dispatch got, set (改期限) or asked for (延期)' }),
    to: DepartmentName.nullable().openapi({ description: '改派: the department it went to instead' }),
    region: z.string().nullable().openapi({ description: '交办: the grid or village it was sent down to' }),
    mergedInto: z.number().int().nullable(),
    level: z.number().int().nullable().openapi({ description: "an escalation's level (1 township, 2 district); an urge's count" }),
    satisfaction: z.enum(['satisfied', 'basically', 'unsatisfied']).nullable(),
    by: z.string().nullable().openapi({ description: "who reported it (a grid worker's name, hotline, import); who solved it on the spot (grid … district)" }),
    actor: z.string().nullable().openapi({ description: 'whose account took the step (its name, else its user name), where the change log says' }),
    photos: z.array(z.string()).openapi({ description: "the report's photos; a department's photos of what it did, with its answer" }),
  })
  .openapi('TimelineStep');
const timelineRoute = createRoute({
  method: 'get',
  path: '/incidents/{id}/timeline',
  summary: '办理过程: one case from report to close, every department’s rounds and the centre’s follow-up, oldest first',
  description: 'Whoever may see the case: in the caller’s area; a grid worker, of their grids or their own report; a department, a case sent to it.',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The case and its steps',
      ...json(
        z.object({
          incident: IncidentRef,
          steps: z.array(TimelineStep),
          omitted: z.number().int().openapi({ description: 'older rounds and logged steps left out (a case shows its newest 200 rounds and 300 of each)' }),
        }),
      ),
    },
    ...errorResponses(400, 403, 404),
  },
});
const reviewRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/review',
  summary: '复核后维持结案: the centre keeps the closure of a case closed with an unsatisfied resident, saying why; it leaves the review list',
  description: 'Once per closure (a reopen clears it). 422 `illegal_transition` for another case or a second review, `reason_required` without a note.',
  request: { params: IdParam, body: { required: true, ...json(z.object({ note: Reason, version: Version }).strict()) } },
  responses: { 200: { description: 'Reviewed', ...json(IncidentRef) }, ...errorResponses(400, 403, 404, 409, 422) },
});
const reopenRoute = createRoute({
  method: 'post',
  path: '/incidents/{id}/reopen',
  summary: '重新办理: a case closed with an unsatisfied resident goes back to the intake',
  request: { params: IdParam, body: { required: true, ...json(z.object({ reason: Reason, version: Version }).strict()) } },
  responses: { 200: { description: 'Reopened', ...json(IncidentRef) }, ...errorResponses(400, 403, 404, 409, 422) },
});

const deadlinesRoute = createRoute({
  method: 'get',
  path: '/incidents/{id}/deadlines',
  summary: 'The hours a department gets to acknowledge and to resolve this case (by its category and severity): shown before sending',
  request: { params: IdParam },
  responses: { 200: { description: 'Deadlines', ...json(z.object({ ackHours: z.number(), resolveHours: z.number() })) }, ...errorResponses(400, 404) },
});

const answerRoute = createRoute({
  method: 'patch',
  path: '/dispatches/{id}',
  summary:
    '报到: a department acknowledges its dispatch, then resolves it with its answer; or sends it back to the centre (退回) or asks for more time (延期), ' +
    'which the centre approves or refuses. 督办: the centre urges the department on (催办), gives the case to another (改派) or sets its deadline (改期限)',
  description: 'When the last department on an incident resolves, the incident is resolved. 422 `illegal_transition` out of order; 409 on a stale `version`.',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          action: z.enum(['acknowledge', 'resolve', 'return', 'extend', 'approve_extension', 'refuse_extension', 'urge', 'reassign', 'set_due']),
          answer: z.string().max(2_000).optional(),
          reason: z
            .string()
            .max(2_000)
            .optional()
            .openapi({ description: 'why it goes back (return), needs more time (extend) or goes to another department (reassign); words with an urge' }),
          until: z.string().max(40).optional().openapi({
            description: "extend: the new deadline asked for; set_due: the new deadline; reassign: the new department's (else the category's) — ISO 8601",
          }),
          department: z.string().min(1).max(32).optional().openapi({ description: 'reassign: the code of the department the case goes to' }),
          version: z.number().int().positive().optional(),
        }),
      ),
    },
  },
  responses: {
    200: { description: 'Updated', ...json(z.object({ dispatch: Dispatch, incident: IncidentRef })) },
    ...errorResponses(400, 401, 403, 404, 409, 422),
  },
});

const urgeManyRoute = createRoute({
  method: 'post',
  path: '/dispatches/urge',
  summary: '批量催办: urge several dispatches at once (the centre), each as PATCH `{ action: urge }` would',
  description:
    'One transaction. A dispatch outside the caller’s area refuses the whole request (403, nothing written); one answered, returned ' +
    'or urged within half an hour is skipped and listed with why.',
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            ids: z
              .array(z.number().int().positive().max(2_147_483_647))
              .min(1)
              .max(100)
              .refine((a) => new Set(a).size === a.length, 'a dispatch is listed twice'),
            reason: z.string().max(2_000).optional().openapi({ description: 'words with each urge' }),
          })
          .strict(),
      ),
    },
  },
  responses: {
    200: {
      description: 'Urged',
      ...json(z.object({ urged: z.array(z.number().int()), skipped: z.array(z.object({ id: z.number().int(), code: z.string() })) })),
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const escalateRoute = createRoute({
  method: 'post',
  path: '/dispatches/escalate',
  summary: 'Escalate overdue dispatches now (the server also does it every minute)',
  responses: {
    200: {
      description: 'Escalated',
      ...json(
        z.object({
          escalated: z.array(
            z.object({
              dispatchId: z.number().int(),
              incidentId: z.number().int(),
              level: z.number().int(),
              regionId: z.number().int().nullable(),
            }),
          ),
        }),
      ),
    },
    ...errorResponses(401, 403),
  },
});

const statsRoute = createRoute({
  method: 'get',
  path: '/stats/departments',
  summary: 'Per department: dispatches, answers, open, overdue, escalated, median hours to acknowledge and to resolve, satisfaction',
  request: {
    query: z.object({
      region: z.coerce.number().int().positive().max(2_147_483_647).optional(),
      from: z.string().max(40).optional(),
      to: z.string().max(40).optional(),
    }),
  },
  responses: {
    200: {
      description: 'Departments',
      ...json(
        z.array(
          z.object({
            id: z.number().int(),
            code: z.string(),
            zh: z.string(),
            en: z.string(),
            regionId: z.number().int().nullable().openapi({ description: 'the region it serves (null: the whole plan)' }),
            regionName: z.string().nullable(),
            dispatched: z.number().int(),
            acknowledged: z.number().int(),
            resolved: z.number().int(),
            open: z.number().int(),
            overdue: z.number().int().openapi({ description: 'open dispatches late now (to acknowledge or resolve), whenever sent: as 跟踪督办 counts them' }),
            escalated: z.number().int(),
            hoursToAcknowledge: z.number().nullable(),
            hoursToResolve: z.number().nullable(),
            rated: z.number().int().openapi({ description: "residents' verdicts on closed cases it answered" }),
            satisfaction: z.number().nullable().openapi({ description: 'share of those verdicts satisfied or basically satisfied' }),
          }),
        ),
      ),
    },
    ...errorResponses(400, 401, 403),
  },
});

const OrderNo = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - (1–64)');
const intakeRoute = createRoute({
  method: 'post',
  path: '/intake/hotline',
  summary: '12345 hotline work order (API key in `x-api-key`): located, filed under its grid and dispatched to its departments at once',
  description:
    'Idempotent on `orderNo`: sending an order again answers 200 with what it became. 422 `unlocated` when neither the coordinates nor the address place it.',
  request: {
    body: {
      required: true,
      ...json(
        z.object({
          orderNo: OrderNo,
          receivedAt: z.string().max(40),
          address: z.string().max(500).default(''),
          lon: z.number().min(-180).max(180).optional(),
          lat: z.number().min(-90).max(90).optional(),
          category: z.string().max(100).default(''),
          content: z.string().min(1).max(4_000),
          callerPhone: z.string().max(40).optional(),
          severity: z.number().int().min(1).max(4).optional(),
        }),
      ),
    },
  },
  responses: {
    201: {
      description: 'Taken',
      ...json(
        z.object({
          created: z.boolean(),
          incident: IncidentRef,
          dispatches: z.array(Dispatch),
          location: z.object({ by: z.string(), matched: z.string().optional() }).nullable(),
        }),
      ),
    },
    200: {
      description: 'Taken before: what it became',
      ...json(
        z.object({
          created: z.boolean(),
          incident: IncidentRef,
          dispatches: z.array(Dispatch),
          location: z.object({ by: z.string(), matched: z.string().optional() }).nullable(),
        }),
      ),
    },
    ...errorResponses(400, 401, 422),
  },
});

const intakeStatusRoute = createRoute({
  method: 'get',
  path: '/intake/hotline/{orderNo}',
  summary: 'What became of a hotline order: its status, the departments’ answers, the feedback when closed',
  request: { params: z.object({ orderNo: OrderNo }) },
  responses: {
    200: { description: 'Status', ...json(z.object({ orderNo: z.string(), status: z.string(), incident: IncidentRef, dispatches: z.array(Dispatch) })) },
    ...errorResponses(400, 401, 404),
  },
});

/** The department a caller acts for: a department user's own; others (admin) any. */
const departmentScope = (c: Context<Env>): number | null => {
  const p = principalOf(c);
  return p.role === 'department' ? p.departmentId : null;
};

/** Runs a centre's step on an incident in one transaction, once the incident is found in its area. */
function inCentreArea<T>(c: Context<Env>, id: number, step: (tx: Queryable) => Promise<T>): Promise<T> {
  return c.get('db').transaction(async (tx) => {
    const grid = await incidentGrid(tx, id);
    if (grid === undefined) throw notFound('incident', id);
    await assertInArea(c, tx, grid, id);
    return step(tx);
  });
}

/** Whoever is scoped to an area (a centre) acts on the dispatches of cases within it; a dispatch that does not exist is a 404. */
async function assertDispatchInArea(c: Context<Env>, tx: Queryable, id: number, path: string): Promise<void> {
  const { rows } = await tx.query<{ grid: number | null }>('SELECT i.grid_id AS grid FROM dispatch d JOIN incident i ON i.id = d.incident_id WHERE d.id = $1', [
    id,
  ]);
  if (!rows[0]) throw notFound('dispatch', id, path);
  const area = areaOf(principalOf(c));
  if (area !== null && (rows[0].grid === null || !(await isWithin(tx, rows[0].grid, area, false))))
    throw new InputError('outside_scope', `dispatch ${id} lies outside your area`, path);
}

export function dispatchRoutes() {
  return router()
    .openapi(departmentsRoute, async (c) => {
      const { incident } = c.req.valid('query');
      const db = c.get('db');
      const within = areaOf(principalOf(c));
      if (incident === undefined) return c.json(await listDepartments(db, { within }), 200);
      // (a case the caller may see: its place says which departments serve it)
      const grid = await incidentGrid(db, incident);
      if (grid === undefined) throw notFound('incident', incident, 'query.incident');
      // (as 吹哨 itself: a grid worker their own grids' cases, a department its own cases, anyone else their area's)
      assertOwnGrid(c, grid, 'query.incident');
      const own = departmentScope(c);
      if (own !== null && (await db.query('SELECT 1 FROM dispatch WHERE incident_id = $1 AND department_id = $2', [incident, own])).rows.length === 0)
        throw new InputError('outside_scope', `incident ${incident} is not one of your department's cases`, 'query.incident');
      await assertInArea(c, db, grid, incident, 'query.incident');
      return c.json(await listDepartments(db, { place: await casePlace(db, incident), within }), 200);
    })
    .openapi(dispatchRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const result = await c.get('db').transaction(async (tx) => {
        const grid = await incidentGrid(tx, id);
        if (grid === undefined) throw notFound('incident', id);
        assertOwnGrid(c, grid);
        await assertInArea(c, tx, grid, id);
        // (the centre's own deadline is the centre's: a grid worker sends with the category's)
        if (body.dueAt !== undefined && !can(principalOf(c).role, 'dispatch:manage'))
          throw new InputError('forbidden', 'the centre sets its own deadline; a case sent from a grid takes its category’s', 'dueAt');
        const dueAt = body.dueAt === undefined ? undefined : parseInstant(body.dueAt, 'dueAt');
        return dispatchIncident(tx, actorOf(c), id, body.departments, nowOf(c), body.version, dueAt);
      });
      c.get('events').publish({ type: 'incident', action: 'dispatch', incident: result.incident });
      return c.json(result, 200);
    })
    .openapi(listRoute, async (c) => {
      const q = c.req.valid('query');
      const db = c.get('db');
      let departmentId = departmentScope(c) ?? undefined;
      if (q.department !== undefined) {
        const [asked] = await departmentIds(db, [q.department], 'query.department').catch(() => {
          throw new InputError('unknown_department', `no department ${JSON.stringify(q.department)}`, 'query.department');
        });
        if (departmentId !== undefined && asked !== departmentId)
          throw new InputError('outside_scope', 'a department user sees their own department’s dispatches', 'query.department');
        departmentId = asked;
      }
      const categories = q.category
        ? q.category
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : undefined;
      return c.json(
        await listDispatches(
          db,
          { departmentId, state: q.state, q: q.q, regionId: await areaRegion(c, q.region, 'query.region'), categories, limit: q.limit, offset: q.offset },
          nowOf(c),
        ),
        200,
      );
    })
    .openapi(assignRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { regionId, version } = c.req.valid('json');
      const incident = await c.get('db').transaction(async (tx) => {
        const grid = await incidentGrid(tx, id);
        if (grid === undefined) throw notFound('incident', id);
        assertOwnGrid(c, grid);
        await assertInArea(c, tx, grid, id);
        return assignIncident(tx, actorOf(c), id, regionId, nowOf(c), version);
      });
      c.get('events').publish({ type: 'incident', action: 'dispatch', incident });
      return c.json(incident, 200);
    })
    .openapi(restoreRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json') as { version?: number } | undefined;
      const incident = await inCentreArea(c, id, (tx) => restoreIncident(tx, actorOf(c), id, nowOf(c), body?.version));
      c.get('events').publish({ type: 'incident', action: 'report', incident });
      return c.json(incident, 200);
    })
    .openapi(invalidRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { reason, version } = c.req.valid('json');
      const incident = await inCentreArea(c, id, (tx) => voidIncident(tx, actorOf(c), id, { kind: 'invalid', reason }, nowOf(c), version));
      c.get('events').publish({ type: 'incident', action: 'void', incident });
      return c.json(incident, 200);
    })
    .openapi(mergeRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { into, reason, version } = c.req.valid('json');
      const incident = await inCentreArea(c, id, async (tx) => {
        const target = await incidentGrid(tx, into);
        if (target === undefined) throw notFound('incident', into, 'into');
        await assertInArea(c, tx, target, into, 'into');
        return voidIncident(tx, actorOf(c), id, { kind: 'duplicate', into, reason }, nowOf(c), version);
      });
      c.get('events').publish({ type: 'incident', action: 'void', incident });
      return c.json(incident, 200);
    })
    .openapi(duplicatesRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const grid = await incidentGrid(db, id);
      if (grid === undefined) throw notFound('incident', id);
      assertOwnGrid(c, grid);
      await assertInArea(c, db, grid, id);
      const p = principalOf(c);
      return c.json(await duplicatesOf(db, id, nowOf(c), areaOf(p)), 200);
    })
    .openapi(timelineRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const grid = await incidentGrid(db, id);
      if (grid === undefined) throw notFound('incident', id);
      const p = principalOf(c);
      // a grid worker: their grids' cases, and what they reported wherever it lies now (我的上报)
      const own = p.role === 'worker' && (await db.query('SELECT 1 FROM incident WHERE id = $1 AND reporter_id = $2', [id, p.workerId])).rows.length > 0;
      if (!own) assertOwnGrid(c, grid);
      await assertInArea(c, db, grid, id);
      if (p.role === 'department' && !(await dispatchedTo(db, id, p.departmentId)))
        throw new InputError('outside_scope', `incident ${id} was not sent to your department`, 'id');
      return c.json(await caseTimeline(db, id, nowOf(c)), 200);
    })
    .openapi(reviewRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { note, version } = c.req.valid('json');
      const incident = await inCentreArea(c, id, (tx) => reviewIncident(tx, actorOf(c), id, note, nowOf(c), version));
      c.get('events').publish({ type: 'incident', action: 'dispatch', incident });
      return c.json(incident, 200);
    })
    .openapi(reopenRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { reason, version } = c.req.valid('json');
      const incident = await inCentreArea(c, id, (tx) => reopenIncident(tx, actorOf(c), id, reason, nowOf(c), version));
      c.get('events').publish({ type: 'incident', action: 'dispatch', incident });
      return c.json(incident, 200);
    })
    .openapi(deadlinesRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const grid = await incidentGrid(db, id);
      if (grid === undefined) throw notFound('incident', id);
      assertOwnGrid(c, grid);
      await assertInArea(c, db, grid, id);
      const d = await deadlinesOf(db, id);
      if (!d) throw notFound('incident', id);
      return c.json(d, 200);
    })
    .openapi(answerRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const p = principalOf(c);
      const followUp = body.action === 'urge' || body.action === 'reassign' || body.action === 'set_due';
      const manage = body.action === 'approve_extension' || body.action === 'refuse_extension' || followUp;
      if (!can(p.role, manage ? 'dispatch:manage' : 'dispatch:answer')) {
        throw new InputError(
          'forbidden',
          followUp ? 'the centre follows up its dispatches' : manage ? 'the centre decides on more time' : 'a department answers its own dispatches',
          'action',
        );
      }
      const until =
        body.action === 'extend' || body.action === 'set_due' || (body.action === 'reassign' && body.until !== undefined)
          ? parseInstant(body.until ?? '', 'until')
          : null;
      if (body.action === 'reassign' && !body.department) throw new InputError('department_required', 'name the department the case goes to', 'department');
      const result = await c.get('db').transaction(async (tx) => {
        await assertDispatchInArea(c, tx, id, 'id');
        if (body.action === 'urge') return followUpDispatch(tx, actorOf(c), id, { action: 'urge', reason: body.reason, version: body.version }, nowOf(c));
        if (body.action === 'set_due')
          return followUpDispatch(tx, actorOf(c), id, { action: 'set_due', until: until!, reason: body.reason, version: body.version }, nowOf(c));
        if (body.action === 'reassign') {
          const step = {
            action: 'reassign' as const,
            department: body.department!,
            reason: body.reason ?? '',
            until: until ?? undefined,
            version: body.version,
          };
          return followUpDispatch(tx, actorOf(c), id, step, nowOf(c));
        }
        if (body.action === 'acknowledge' || body.action === 'resolve') {
          return answerDispatch(tx, actorOf(c), id, { action: body.action, answer: body.answer, version: body.version }, nowOf(c), departmentScope(c));
        }
        const step: DispatchStep =
          body.action === 'extend'
            ? { action: 'extend', reason: body.reason ?? '', until: until!, version: body.version }
            : body.action === 'return'
              ? { action: 'return', reason: body.reason ?? '', version: body.version }
              : { action: body.action, reason: body.reason, version: body.version };
        return stepDispatch(tx, actorOf(c), id, step, nowOf(c), manage ? null : departmentScope(c));
      });
      c.get('events').publish({ type: 'incident', action: result.incident.status === 'resolved' ? 'resolve' : 'dispatch', incident: result.incident });
      return c.json(result, 200);
    })
    .openapi(urgeManyRoute, async (c) => {
      const { ids, reason } = c.req.valid('json');
      const result = await c.get('db').transaction(async (tx) => {
        for (const [n, id] of ids.entries()) await assertDispatchInArea(c, tx, id, `ids[${n}]`);
        const urged: number[] = [];
        const skipped: { id: number; code: string }[] = [];
        for (const id of ids) {
          try {
            await followUpDispatch(tx, actorOf(c), id, { action: 'urge', reason }, nowOf(c));
            urged.push(id);
          } catch (e) {
            // (refused before anything is written: answered or returned, or urged a moment ago)
            if (e instanceof InputError && (e.code === 'illegal_transition' || e.code === 'urged_recently')) skipped.push({ id, code: e.code });
            else throw e;
          }
        }
        return { urged, skipped };
      });
      if (result.urged.length) c.get('events').publish({ type: 'incident', action: 'dispatch', count: result.urged.length });
      return c.json(result, 200);
    })
    .openapi(escalateRoute, async (c) => {
      const escalated = await c.get('db').transaction((tx) => escalateOverdue(tx, actorOf(c), nowOf(c)));
      if (escalated.length) c.get('events').publish({ type: 'incident', action: 'escalate', count: escalated.length });
      return c.json({ escalated }, 200);
    })
    .openapi(statsRoute, (c) =>
      turns(c, async () => {
        const q = c.req.valid('query');
        const now = nowOf(c);
        const { from, to } = parseRange(q.from, q.to, now);
        return c.json(await departmentStats(c.get('db'), { regionId: await areaRegion(c, q.region, 'query.region'), from, to }, now), 200);
      }),
    )
    .openapi(intakeRoute, async (c) => {
      const body = c.req.valid('json');
      if ((body.lon === undefined) !== (body.lat === undefined))
        throw new InputError('invalid_request', 'give both lon and lat, or neither', body.lon === undefined ? 'lon' : 'lat');
      const order = { ...body, receivedAt: parseInstant(body.receivedAt, 'receivedAt') };
      const db = c.get('db');
      const actor = c.get('apiClient')!;
      const take = async () =>
        db.transaction(async (tx) =>
          takeHotlineOrder(
            tx,
            actor,
            order,
            (await tx.query<KnownCategory>('SELECT code, zh, en FROM incident_category ORDER BY sort, code')).rows,
            nowOf(c),
            c.get('apiRegion'),
          ),
        );
      let result;
      try {
        result = await take();
      } catch (err) {
        // The same order sent twice at once: the second finds the first's.
        if ((err as { code?: string }).code !== '23505') throw err;
        result = await take();
      }
      if (result.created) c.get('events').publish({ type: 'incident', action: result.dispatches.length ? 'dispatch' : 'report', incident: result.incident });
      return c.json(result, result.created ? 201 : 200);
    })
    .openapi(intakeStatusRoute, async (c) => {
      const { orderNo } = c.req.valid('param');
      const found = await hotlineStatus(c.get('db'), orderNo, c.get('apiClient')!, nowOf(c));
      if (!found) throw new InputError('not_found', `no hotline order ${orderNo}`, 'orderNo');
      return c.json({ orderNo, status: found.incident.status, ...found }, 200);
    });
}

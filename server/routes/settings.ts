import { createRoute, z } from '@hono/zod-openapi';
import { CONTACT_PHONE, CONTACT_PHONE_MAX } from '../domain/phone.ts';
import {
  createCategory,
  createDepartment,
  deleteDepartment,
  freeCode,
  listCategories,
  listDepartmentsShown,
  settingsChanges,
  undoSettingsChange,
  updateCategory,
  updateDepartment,
} from '../db/settings.ts';
import { actorOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses, IdParam, json } from './schemas.ts';
import { NameText, OptionalNameText } from '../schemas/text.ts';

const Code = z
  .string()
  .regex(/^[a-z][a-z0-9_]{1,31}$/, 'a code is 2–32 lower-case letters, digits or _, starting with a letter')
  .openapi({ example: 'water' });
const Phone = z
  .string()
  .max(CONTACT_PHONE_MAX)
  .regex(CONTACT_PHONE, 'a phone number has digits, spaces, + - ( ), an extension (转 8001) and a second number after / or 、 only');

const Department = z
  .object({
    id: z.number().int(),
    code: z.string(),
    zh: z.string(),
    en: z.string(),
    contact: z.string(),
    phone: z.string(),
    sort: z.number().int(),
    version: z.number().int(),
    categories: z.array(z.string()),
    inUse: z.boolean().optional().openapi({ description: 'in the list: a case or an account refers to it (it can be renamed, not removed)' }),
    regionId: z.number().int().nullable().openapi({ description: 'the region it serves (a city, county or township); null: the whole plan' }),
    region: z
      .object({
        id: z.number().int(),
        name: z.string(),
        level: z.string(),
        code: z.string(),
        label: z.string().openapi({ description: 'its name, a township with its county before it (麒麟区·北关街道)' }),
      })
      .nullable(),
  })
  .openapi('DepartmentSetting');

const DepartmentRegion = z
  .number()
  .int()
  .min(1)
  .max(2_147_483_647)
  .nullable()
  .openapi({ description: 'the region it serves: a city, a county or a township; null: the whole plan (cases anywhere)' });

const DepartmentInput = z
  .object({
    code: Code.optional().openapi({ description: 'left out: one is made (dept_8)' }),
    zh: NameText(40),
    en: NameText(80).optional().openapi({ description: 'left out: the Chinese name' }),
    contact: OptionalNameText(40).default(''),
    phone: Phone.default(''),
    sort: z.number().int().min(0).max(10_000).optional(),
    categories: z
      .array(Code)
      .max(100)
      .refine((a) => new Set(a).size === a.length, 'a category is listed twice')
      .optional()
      .openapi({ description: 'the categories routed to it by default (all of them: replaces the list)' }),
    regionId: DepartmentRegion.optional(),
  })
  .strict();

/** A department's change: only the fields sent change (PATCH); the rest stay as they are. */
const DepartmentPatch = z
  .object({
    code: Code.optional(),
    zh: NameText(40).optional(),
    en: NameText(80).optional(),
    contact: OptionalNameText(40).optional(),
    phone: Phone.optional(),
    sort: z.number().int().min(0).max(10_000).optional(),
    categories: DepartmentInput.shape.categories,
    regionId: DepartmentRegion.optional(),
    version: z.number().int().min(1),
  })
  .strict();

const Deadline = z
  .object({
    severity: z.number().int().min(1).max(4),
    ackHours: z.number().min(0.1).max(8760),
    resolveHours: z.number().min(0.1).max(8760),
  })
  .strict();

const Category = z
  .object({
    code: z.string(),
    zh: z.string(),
    en: z.string(),
    deadlineHours: z.number(),
    deadlines: z.array(z.object({ severity: z.number().int(), ackHours: z.number(), resolveHours: z.number() })),
    departments: z.array(z.string()),
    sort: z.number().int(),
    version: z.number().int(),
  })
  .openapi('CategorySetting');

const CategoryInput = z
  .object({
    zh: NameText(40),
    en: NameText(80),
    deadlineHours: z.number().int().min(1).max(8760).openapi({ description: 'hours to close before an incident counts as overdue' }),
    deadlines: z.array(Deadline).length(4).openapi({ description: 'per severity 1–4: hours to acknowledge and to resolve a dispatch' }),
    departments: z
      .array(Code)
      .max(50)
      .refine((a) => new Set(a).size === a.length, 'a department is listed twice'),
    sort: z.number().int().min(0).max(10_000).optional(),
  })
  .strict();

const Change = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string(),
  actorName: z.string().openapi({ description: "the account's display name (its username when it has none)" }),
  action: z.string(),
  entity: z.string(),
  subject: z.string(),
  undone: z.boolean(),
  changed: z.array(
    z.object({
      field: z.string(),
      item: z.string().nullable(),
      itemZh: z.string().nullable(),
      itemEn: z.string().nullable(),
      before: z.string(),
      after: z.string(),
      beforeEn: z.string(),
      afterEn: z.string(),
    }),
  ),
});

const CodeParam = z.object({ code: Code });
const Version = z.object({ version: z.number().int().min(1) });

const routes = {
  departments: createRoute({
    method: 'get',
    path: '/settings/departments',
    summary: 'Departments with their contact and the categories routed to them (admin)',
    responses: { 200: { description: 'Departments', ...json(z.array(Department)) } },
  }),
  createDepartment: createRoute({
    method: 'post',
    path: '/settings/departments',
    summary: 'Add a department (admin); logged and undoable',
    request: { body: { required: true, ...json(DepartmentInput) } },
    responses: { 201: { description: 'Created', ...json(Department) }, ...errorResponses(400, 403, 422) },
  }),
  updateDepartment: createRoute({
    method: 'patch',
    path: '/settings/departments/{id}',
    summary: 'Change a department at the version read (409 when stale): the fields sent, the others kept',
    request: { params: IdParam, body: { required: true, ...json(DepartmentPatch) } },
    responses: { 200: { description: 'Changed', ...json(Department) }, ...errorResponses(400, 403, 404, 409, 422) },
  }),
  deleteDepartment: createRoute({
    method: 'delete',
    path: '/settings/departments/{id}',
    summary: 'Remove a department no case or account refers to (422 `in_use` otherwise)',
    request: { params: IdParam, query: z.object({ version: z.coerce.number().int().min(1).max(2_147_483_647) }) },
    responses: { 204: { description: 'Removed' }, ...errorResponses(400, 403, 404, 409, 422) },
  }),
  categories: createRoute({
    method: 'get',
    path: '/settings/categories',
    summary: 'Incident categories with their deadlines per severity and departments (admin)',
    responses: { 200: { description: 'Categories', ...json(z.array(Category)) } },
  }),
  createCategory: createRoute({
    method: 'post',
    path: '/settings/categories',
    summary: 'Add an incident category (admin); logged and undoable',
    request: {
      body: {
        required: true,
        ...json(
          CategoryInput.extend({
            code: Code.optional().openapi({ description: 'left out: one is made (cat_12)' }),
            en: CategoryInput.shape.en.optional().openapi({ description: 'left out: the Chinese name' }),
          }),
        ),
      },
    },
    responses: { 201: { description: 'Created', ...json(Category) }, ...errorResponses(400, 403, 422) },
  }),
  updateCategory: createRoute({
    method: 'put',
    path: '/settings/categories/{code}',
    summary: 'Change a category at the version read (409 when stale)',
    request: { params: CodeParam, body: { required: true, ...json(CategoryInput.extend(Version.shape)) } },
    responses: { 200: { description: 'Changed', ...json(Category) }, ...errorResponses(400, 403, 404, 409, 422) },
  }),
  changes: createRoute({
    method: 'get',
    path: '/settings/changes',
    summary: 'Settings changes, newest first: departments, categories, district rules',
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
    responses: { 200: { description: 'Changes', ...json(z.array(Change)) } },
  }),
  undo: createRoute({
    method: 'post',
    path: '/settings/changes/{id}/undo',
    summary: 'Undo one settings change while nothing changed the same thing since (409 otherwise)',
    request: { params: IdParam },
    responses: { 200: { description: 'Undone', ...json(z.object({ entity: z.string(), subject: z.string() })) }, ...errorResponses(400, 403, 404, 409, 422) },
  }),
};

export function settingsRoutes() {
  return router()
    .openapi(routes.departments, async (c) => c.json(await listDepartmentsShown(c.get('db')), 200))
    .openapi(routes.createDepartment, async (c) => {
      const body = c.req.valid('json');
      return c.json(
        await c
          .get('db')
          .transaction(async (tx) =>
            createDepartment(tx, actorOf(c), { ...body, code: body.code ?? (await freeCode(tx, 'department', 'dept')), en: body.en ?? body.zh }),
          ),
        201,
      );
    })
    .openapi(routes.updateDepartment, async (c) => {
      const { id } = c.req.valid('param');
      const { version, ...body } = c.req.valid('json');
      return c.json(await c.get('db').transaction((tx) => updateDepartment(tx, actorOf(c), id, version, body)), 200);
    })
    .openapi(routes.deleteDepartment, async (c) => {
      const { id } = c.req.valid('param');
      const { version } = c.req.valid('query');
      await c.get('db').transaction((tx) => deleteDepartment(tx, actorOf(c), id, version));
      return c.body(null, 204);
    })
    .openapi(routes.categories, async (c) => c.json(await listCategories(c.get('db')), 200))
    .openapi(routes.createCategory, async (c) => {
      const { code, ...body } = c.req.valid('json');
      return c.json(
        await c
          .get('db')
          .transaction(async (tx) =>
            createCategory(tx, actorOf(c), code ?? (await freeCode(tx, 'incident_category', 'cat')), { ...body, en: body.en ?? body.zh }),
          ),
        201,
      );
    })
    .openapi(routes.updateCategory, async (c) => {
      const { code } = c.req.valid('param');
      const { version, ...body } = c.req.valid('json');
      return c.json(await c.get('db').transaction((tx) => updateCategory(tx, actorOf(c), code, version, body)), 200);
    })
    .openapi(routes.changes, async (c) => c.json(await settingsChanges(c.get('db'), c.req.valid('query').limit), 200))
    .openapi(routes.undo, async (c) => {
      const { id } = c.req.valid('param');
      return c.json(await c.get('db').transaction((tx) => undoSettingsChange(tx, actorOf(c), id)), 200);
    });
}

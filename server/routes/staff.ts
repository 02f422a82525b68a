import { createRoute, z } from '@hono/zod-openapi';
import { addWorker, setStaffRoles, staffRoles } from '../db/staff.ts';
import { NewWorkerSchema, StaffRoleSchema, WorkerSchema } from '../schemas/staff.ts';
import { actorOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses, etagOf, IfMatchHeader, ifMatchVersion } from './schemas.ts';
import { changeVersion } from '../db/versions.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const StaffRole = StaffRoleSchema;

const rolesRoute = createRoute({
  method: 'get',
  path: '/staff-roles',
  summary: 'Staffing roles of a grid and how many of each a grid needs (the staffing model, default 1+3+M+X)',
  responses: {
    200: { description: "Roles (the model's version as `ETag`, to send back as `If-Match`)", ...json(z.array(StaffRole)) },
    ...errorResponses(401, 403),
  },
});

const putRolesRoute = createRoute({
  method: 'put',
  path: '/staff-roles',
  summary: 'Set the staffing model: every role with its required count (roles left out are kept, with 0 required)',
  description:
    '`full_time` (the grid worker) stays; a county on 1+N+X sets `police` and `instructor` to 0. The coverage check flags grids with fewer members of ' +
    'a role than required.',
  request: { headers: IfMatchHeader, body: { required: true, ...json(z.object({ roles: z.array(StaffRole).min(1).max(30) })) } },
  responses: {
    200: { description: 'The model now in force (its new version as `ETag`)', ...json(z.array(StaffRole)) },
    ...errorResponses(400, 401, 403, 409, 422),
  },
});

const createWorkerRoute = createRoute({
  method: 'post',
  path: '/workers',
  summary: 'Add a person who can staff grids (grid worker, police officer, instructor, part-time member…)',
  request: {
    body: {
      required: true,
      ...json(NewWorkerSchema),
    },
  },
  responses: {
    201: { description: 'Added', ...json(WorkerSchema) },
    ...errorResponses(400, 401, 403, 422),
  },
});

export function staffRoutes() {
  return router()
    .openapi(rolesRoute, async (c) => {
      const db = c.get('db');
      const [roles, version] = await Promise.all([staffRoles(db), changeVersion(db, 'staff_role')]);
      c.header('ETag', etagOf(version));
      return c.json(roles, 200);
    })
    .openapi(putRolesRoute, async (c) => {
      const { roles } = c.req.valid('json');
      const wanted = ifMatchVersion(c.req.valid('header'));
      const { after, version } = await c.get('db').transaction(async (tx) => {
        const after = await setStaffRoles(tx, actorOf(c), roles, wanted);
        return { after, version: await changeVersion(tx, 'staff_role') };
      });
      c.header('ETag', etagOf(version));
      return c.json(after, 200);
    })
    .openapi(createWorkerRoute, async (c) => {
      const body = c.req.valid('json');
      return c.json(await c.get('db').transaction((tx) => addWorker(tx, actorOf(c), body)), 201);
    });
}

import { createRoute, z } from '@hono/zod-openapi';
import { addWorker, setStaffRoles, staffRoles } from '../db/staff.ts';
import { NewWorkerSchema, StaffRoleSchema, WorkerSchema } from '../schemas/staff.ts';
import { actorOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const StaffRole = StaffRoleSchema;

const rolesRoute = createRoute({
  method: 'get',
  path: '/staff-roles',
  summary: 'Staffing roles of a grid and how many of each a grid needs (the staffing model, default 1+3+M+X)',
  responses: { 200: { description: 'Roles', ...json(z.array(StaffRole)) }, ...errorResponses(401, 403) },
});

const putRolesRoute = createRoute({
  method: 'put',
  path: '/staff-roles',
  summary: 'Set the staffing model: every role with its required count (roles left out are kept, with 0 required)',
  description:
    '`full_time` (the grid worker) stays; a county on 1+N+X sets `police` and `instructor` to 0. The coverage check flags grids with fewer members of ' +
    'a role than required.',
  request: { body: { required: true, ...json(z.object({ roles: z.array(StaffRole).min(1).max(30) })) } },
  responses: { 200: { description: 'The model now in force', ...json(z.array(StaffRole)) }, ...errorResponses(400, 401, 403, 422) },
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
    .openapi(rolesRoute, async (c) => c.json(await staffRoles(c.get('db')), 200))
    .openapi(putRolesRoute, async (c) => {
      const { roles } = c.req.valid('json');
      return c.json(await c.get('db').transaction((tx) => setStaffRoles(tx, actorOf(c), roles)), 200);
    })
    .openapi(createWorkerRoute, async (c) => {
      const body = c.req.valid('json');
      return c.json(await c.get('db').transaction((tx) => addWorker(tx, actorOf(c), body)), 201);
    });
}

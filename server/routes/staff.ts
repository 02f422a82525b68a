import { createRoute, z } from '@hono/zod-openapi';
import type { Queryable } from '../db/db.ts';
import { recordChange } from '../db/regions.ts';
import { InputError } from '../domain/errors.ts';
import { actorOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const StaffRole = z
  .object({
    code: z.string().regex(/^[a-z][a-z0-9_]{1,31}$/, 'lower-case letters, digits and _ (2–32), starting with a letter'),
    zh: z.string().min(1).max(20),
    en: z.string().min(1).max(40),
    minPerGrid: z.number().int().min(0).max(20).openapi({ description: 'members of this role each grid needs; 0: optional' }),
  })
  .openapi('StaffRole');
type StaffRoleT = z.infer<typeof StaffRole>;

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
    '`full_time` (the grid worker) stays; a county on 1+N+X sets `police` and `instructor` to 0. The coverage check flags grids with fewer members of a role than required.',
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
      ...json(
        z.object({
          name: z.string().trim().min(1).max(50),
          phone: z
            .string()
            .trim()
            .regex(/^[0-9+\-* ]{0,20}$/, 'digits, +, -, * and spaces (up to 20)')
            .default(''),
          role: z.string().min(1).max(32).default('full_time'),
        }),
      ),
    },
  },
  responses: {
    201: { description: 'Added', ...json(z.object({ id: z.number().int(), name: z.string(), phone: z.string(), role: z.string() })) },
    ...errorResponses(400, 401, 403, 422),
  },
});

async function staffRoles(db: Queryable): Promise<StaffRoleT[]> {
  const { rows } = await db.query<StaffRoleT>('SELECT code, zh, en, min_per_grid AS "minPerGrid" FROM staff_role ORDER BY sort, code');
  return rows;
}

export function staffRoutes() {
  return router()
    .openapi(rolesRoute, async (c) => c.json(await staffRoles(c.get('db')), 200))
    .openapi(putRolesRoute, async (c) => {
      const { roles } = c.req.valid('json');
      const seen = new Set<string>();
      roles.forEach((r, i) => {
        if (seen.has(r.code)) throw new InputError('duplicate_role', `role ${r.code} is listed twice`, `roles[${i}].code`, 422);
        seen.add(r.code);
      });
      const i = roles.findIndex((r) => r.code === 'full_time' && r.minPerGrid !== 1);
      if (i >= 0) throw new InputError('full_time_required', 'every grid has exactly one full-time worker (专职网格员)', `roles[${i}].minPerGrid`, 422);
      const after = await c.get('db').transaction(async (tx) => {
        const before = await staffRoles(tx);
        await tx.query('UPDATE staff_role SET min_per_grid = 0 WHERE code <> ALL($1::text[])', [roles.map((r) => r.code)]);
        await tx.query(
          `INSERT INTO staff_role (code, zh, en, min_per_grid, sort)
           SELECT code, zh, en, n, ord FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t(code, zh, en, n, ord)
           ON CONFLICT (code) DO UPDATE SET zh = excluded.zh, en = excluded.en, min_per_grid = excluded.min_per_grid, sort = excluded.sort`,
          [roles.map((r) => r.code), roles.map((r) => r.zh), roles.map((r) => r.en), roles.map((r) => r.minPerGrid)],
        );
        const now = await staffRoles(tx);
        await recordChange(tx, { actor: actorOf(c), action: 'update', entity: 'staff_role', entityId: null, before, after: now });
        return now;
      });
      return c.json(after, 200);
    })
    .openapi(createWorkerRoute, async (c) => {
      const body = c.req.valid('json');
      const worker = await c.get('db').transaction(async (tx) => {
        if ((await tx.query('SELECT 1 FROM staff_role WHERE code = $1', [body.role])).rows.length === 0) {
          throw new InputError('unknown_role', `no staffing role ${JSON.stringify(body.role)}`, 'json.role', 422);
        }
        const { rows } = await tx.query<{ id: number; name: string; phone: string; role: string }>(
          'INSERT INTO worker (name, phone, role) VALUES ($1, $2, $3) RETURNING id, name, phone, role',
          [body.name, body.phone, body.role],
        );
        await recordChange(tx, { actor: actorOf(c), action: 'create', entity: 'worker', entityId: rows[0]!.id, before: null, after: rows[0] });
        return rows[0]!;
      });
      return c.json(worker, 201);
    });
}

import { createRoute, z } from '@hono/zod-openapi';
import { NameText, OptionalNameText } from '../schemas/text.ts';
import {
  createApiKeyRecord,
  createScreenToken,
  createUser,
  listApiKeys,
  listScreenTokens,
  listUsers,
  revokeApiKey,
  revokeScreenToken,
  updateUser,
} from '../db/accounts.ts';
import { recordChange } from '../db/regions.ts';
import { notFound } from '../domain/errors.ts';
import { ROLES } from '../domain/roles.ts';
import { actorOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { errorResponses, IdParam } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

const User = z
  .object({
    id: z.number().int(),
    username: z.string(),
    displayName: z.string(),
    role: z.enum(ROLES),
    regionId: z.number().int().nullable(),
    workerId: z.number().int().nullable(),
    departmentId: z.number().int().nullable(),
    disabled: z.boolean(),
    createdAt: z.string(),
  })
  .openapi('User');
const ScreenToken = z
  .object({ id: z.number().int(), label: z.string(), regionId: z.number().int().nullable(), createdAt: z.string(), revoked: z.boolean() })
  .openapi('ScreenToken');
const Username = z.string().regex(/^[A-Za-z0-9_.-]{2,64}$/, 'letters, digits, _ . - (2–64)');
const Password = z.string().min(8).max(200);
const RegionRef = z.number().int().positive().nullable().optional();

const listRoute = createRoute({
  method: 'get',
  path: '/users',
  summary: 'Accounts (admin)',
  responses: { 200: { description: 'Accounts', ...json(z.array(User)) }, ...errorResponses(401, 403) },
});
const createUserRoute = createRoute({
  method: 'post',
  path: '/users',
  summary: 'Create an account (admin). A planner’s regionId limits what they may change; a worker names their workerId, a department user their departmentId',
  request: {
    body: {
      required: true,
      ...json(
        z.object({
          username: Username,
          password: Password,
          role: z.enum(ROLES),
          displayName: OptionalNameText(100).optional(),
          regionId: RegionRef,
          workerId: RegionRef,
          departmentId: RegionRef,
        }),
      ),
    },
  },
  responses: { 201: { description: 'Created', ...json(User) }, ...errorResponses(400, 401, 403, 404, 409, 422) },
});
const patchUserRoute = createRoute({
  method: 'patch',
  path: '/users/{id}',
  summary: 'Change an account (admin): password, role, scope, disable. Changing access ends its sessions',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z.object({
          password: Password.optional(),
          role: z.enum(ROLES).optional(),
          displayName: OptionalNameText(100).optional(),
          regionId: RegionRef,
          workerId: RegionRef,
          departmentId: RegionRef,
          disabled: z.boolean().optional(),
        }),
      ),
    },
  },
  responses: { 200: { description: 'Changed', ...json(User) }, ...errorResponses(400, 401, 403, 404, 422) },
});
const listTokensRoute = createRoute({
  method: 'get',
  path: '/screen-tokens',
  summary: 'Screen tokens for wall displays (admin)',
  responses: { 200: { description: 'Tokens (without their secret)', ...json(z.array(ScreenToken)) }, ...errorResponses(401, 403) },
});
const createTokenRoute = createRoute({
  method: 'post',
  path: '/screen-tokens',
  summary: 'A new read-only token for a wall display: open /screen?token=… (admin). The token is shown only now',
  request: {
    body: { required: true, ...json(z.object({ label: NameText(100), regionId: z.number().int().positive().nullable().default(null) })) },
  },
  responses: { 201: { description: 'Created', ...json(ScreenToken.extend({ token: z.string() })) }, ...errorResponses(400, 401, 403, 404) },
});
const revokeTokenRoute = createRoute({
  method: 'delete',
  path: '/screen-tokens/{id}',
  summary: 'Revoke a screen token; displays using it are signed out (admin)',
  request: { params: IdParam },
  responses: { 200: { description: 'Revoked', ...json(ScreenToken) }, ...errorResponses(401, 403, 404) },
});

const HotlineKey = z
  .object({
    id: z.number().int(),
    label: z.string(),
    scope: z.literal('hotline'),
    createdAt: z.string(),
    revoked: z.boolean(),
    regionId: z.number().int().nullable().openapi({ description: 'the region its orders are placed in; null: the whole plan' }),
    regionName: z.string().nullable(),
  })
  .openapi('HotlineKey');
const listKeysRoute = createRoute({
  method: 'get',
  path: '/hotline-keys',
  summary: 'Keys of systems that feed incidents in: the 12345 hotline (admin)',
  responses: { 200: { description: 'Keys (without their secret)', ...json(z.array(HotlineKey)) }, ...errorResponses(401, 403) },
});
const createKeyRoute = createRoute({
  method: 'post',
  path: '/hotline-keys',
  summary: 'A new key for POST /api/intake/hotline (header x-api-key) (admin). The key is shown only now',
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            label: NameText(100),
            regionId: z
              .number()
              .int()
              .min(1)
              .max(2_147_483_647)
              .nullable()
              .optional()
              .openapi({ description: "a county's own 12345: its orders are placed only in this region (left out: the whole plan)" }),
          })
          .strict(),
      ),
    },
  },
  responses: { 201: { description: 'Created', ...json(HotlineKey.extend({ key: z.string() })) }, ...errorResponses(400, 401, 403, 404) },
});
const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/hotline-keys/{id}',
  summary: 'Revoke a hotline key: the system using it is refused from its next request (admin)',
  request: { params: IdParam },
  responses: { 200: { description: 'Revoked', ...json(HotlineKey) }, ...errorResponses(401, 403, 404) },
});

export function userRoutes() {
  return router()
    .openapi(listRoute, async (c) => c.json(await listUsers(c.get('db')), 200))
    .openapi(createUserRoute, async (c) => {
      const body = c.req.valid('json');
      const user = await c.get('db').transaction(async (tx) => {
        const created = await createUser(tx, body);
        await recordChange(tx, { actor: actorOf(c), action: 'create', entity: 'user', entityId: created.id, before: null, after: created });
        return created;
      });
      return c.json(user, 201);
    })
    .openapi(patchUserRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const { after } = await c.get('db').transaction(async (tx) => {
        const change = await updateUser(tx, id, body);
        // The log keeps that a password changed, never the password.
        await recordChange(tx, {
          actor: actorOf(c),
          action: 'update',
          entity: 'user',
          entityId: id,
          before: change.before,
          after: { ...change.after, passwordChanged: body.password !== undefined },
        });
        return change;
      });
      return c.json(after, 200);
    })
    .openapi(listTokensRoute, async (c) => c.json(await listScreenTokens(c.get('db')), 200))
    .openapi(createTokenRoute, async (c) => {
      const { label, regionId } = c.req.valid('json');
      const token = await c.get('db').transaction(async (tx) => {
        const created = await createScreenToken(tx, label, regionId);
        await recordChange(tx, {
          actor: actorOf(c),
          action: 'create',
          entity: 'screen_token',
          entityId: created.id,
          before: null,
          after: { ...created, token: undefined },
        });
        return created;
      });
      return c.json(token, 201);
    })
    .openapi(revokeTokenRoute, async (c) => {
      const { id } = c.req.valid('param');
      const token = await c.get('db').transaction(async (tx) => {
        const revoked = await revokeScreenToken(tx, id);
        await recordChange(tx, { actor: actorOf(c), action: 'revoke', entity: 'screen_token', entityId: id, before: null, after: revoked });
        return revoked;
      });
      return c.json(token, 200);
    })
    .openapi(listKeysRoute, async (c) => c.json(await listApiKeys(c.get('db')), 200))
    .openapi(createKeyRoute, async (c) => {
      const { label, regionId } = c.req.valid('json');
      const key = await c.get('db').transaction(async (tx) => {
        if (regionId != null && !(await tx.query('SELECT 1 FROM region WHERE id = $1', [regionId])).rows[0]) throw notFound('region', regionId, 'regionId');
        const created = await createApiKeyRecord(tx, label, regionId ?? null);
        const after = { ...created, key: undefined };
        await recordChange(tx, { actor: actorOf(c), action: 'create', entity: 'api_key', entityId: created.id, before: null, after });
        return created;
      });
      return c.json(key, 201);
    })
    .openapi(revokeKeyRoute, async (c) => {
      const { id } = c.req.valid('param');
      const key = await c.get('db').transaction(async (tx) => {
        const revoked = await revokeApiKey(tx, id);
        await recordChange(tx, { actor: actorOf(c), action: 'revoke', entity: 'api_key', entityId: id, before: null, after: revoked });
        return revoked;
      });
      return c.json(key, 200);
    });
}

import { createRoute, z } from '@hono/zod-openapi';
import { OptionalNameText } from '../schemas/text.ts';
import type { Queryable } from '../db/db.ts';
import { inbox, markRead, NOTIFICATION_EVENTS } from '../db/notifications.ts';
import { recordChange } from '../db/regions.ts';
import { lockVersion } from '../db/versions.ts';
import { checkHookTarget, checkHookUrl, createWebhook, deleteWebhook, deliverDue, listDeliveries, listWebhooks, resendDelivery } from '../db/webhooks.ts';
import { InputError } from '../domain/errors.ts';
import { actorOf, principalOf } from '../http/auth.ts';
import { nowOf, router } from '../http/router.ts';
import { errorResponses, IdParam, json } from './schemas.ts';

const Notification = z
  .object({
    id: z.number().int(),
    event: z.enum(NOTIFICATION_EVENTS),
    incidentId: z.number().int().nullable(),
    dispatchId: z.number().int().nullable(),
    draftId: z.number().int().nullable(),
    draftRegionId: z.number().int().nullable(),
    text: z.object({ zh: z.string(), en: z.string() }),
    createdAt: z.string(),
    readAt: z.string().nullable(),
  })
  .openapi('Notification');
const Inbox = z.object({ unread: z.number().int(), items: z.array(Notification), next: z.number().int().nullable() }).openapi('Inbox');

const inboxRoute = createRoute({
  method: 'get',
  path: '/notifications',
  summary: 'Your inbox: dispatches received, deadlines near, overdue, escalated, returned, unsatisfied residents, drafts to review or decided; newest first',
  request: {
    query: z.object({
      unread: z.enum(['true', 'false']).optional(),
      before: z.coerce.number().int().positive().max(2_147_483_647).optional().openapi({ description: 'Older than this notification (the `next` of a page)' }),
      limit: z.coerce.number().int().min(1).max(200).default(30),
    }),
  },
  responses: { 200: { description: 'Inbox', ...json(Inbox) }, ...errorResponses(400, 401, 403) },
});
const readRoute = createRoute({
  method: 'post',
  path: '/notifications/{id}/read',
  summary: 'Mark one of your notifications read',
  request: { params: IdParam },
  responses: { 200: { description: 'Unread left', ...json(z.object({ unread: z.number().int() })) }, ...errorResponses(400, 401, 403, 404) },
});
const readAllRoute = createRoute({
  method: 'post',
  path: '/notifications/read',
  summary: 'Mark all your notifications read',
  responses: { 200: { description: 'Unread left', ...json(z.object({ unread: z.number().int() })) }, ...errorResponses(401, 403) },
});

const Webhook = z
  .object({
    id: z.number().int(),
    url: z.string(),
    events: z.array(z.string()),
    label: z.string(),
    createdBy: z.string(),
    createdAt: z.string(),
    secretHint: z.string(),
    deliveries: z.object({ pending: z.coerce.number(), delivered: z.coerce.number(), dead: z.coerce.number() }),
  })
  .openapi('Webhook');
const Delivery = z
  .object({
    id: z.number().int(),
    webhookId: z.number().int(),
    url: z.string(),
    event: z.string(),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number().int(),
    nextAt: z.string().nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    payload: z.unknown(),
  })
  .openapi('WebhookDelivery');

const listHooksRoute = createRoute({
  method: 'get',
  path: '/webhooks',
  summary: 'Outgoing webhooks to the county’s SMS, WeCom or DingTalk gateway (admin)',
  responses: { 200: { description: 'Webhooks', ...json(z.array(Webhook)) }, ...errorResponses(401, 403) },
});
const createHookRoute = createRoute({
  method: 'post',
  path: '/webhooks',
  summary: 'Connect a gateway: its address, the events it hears, and a secret that signs each call (made for you when omitted, shown once)',
  request: {
    body: {
      required: true,
      ...json(
        z
          .object({
            url: z.string().min(1).max(2000),
            events: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).max(NOTIFICATION_EVENTS.length),
            secret: z.string().min(16).max(200).optional(),
            label: OptionalNameText(100).optional(),
          })
          .strict(),
      ),
    },
  },
  responses: { 201: { description: 'Connected', ...json(Webhook.extend({ secret: z.string() })) }, ...errorResponses(400, 401, 403, 422) },
});
const deleteHookRoute = createRoute({
  method: 'delete',
  path: '/webhooks/{id}',
  summary: 'Disconnect a gateway (its deliveries go with it)',
  request: { params: IdParam },
  responses: { 204: { description: 'Disconnected' }, ...errorResponses(400, 401, 403, 404) },
});
const deliveriesRoute = createRoute({
  method: 'get',
  path: '/webhooks/deliveries',
  summary: 'Deliveries, newest first; `status=dead` is the dead-letter list',
  request: {
    query: z.object({
      status: z.enum(['pending', 'delivered', 'dead']).optional(),
      webhook: z.coerce.number().int().positive().max(2_147_483_647).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100),
    }),
  },
  responses: { 200: { description: 'Deliveries', ...json(z.array(Delivery)) }, ...errorResponses(400, 401, 403) },
});
const resendRoute = createRoute({
  method: 'post',
  path: '/webhooks/deliveries/{id}/resend',
  summary: 'Send a dead delivery again, from its first attempt',
  request: { params: IdParam },
  responses: { 200: { description: 'Queued', ...json(Delivery) }, ...errorResponses(400, 401, 403, 404, 422) },
});
const deliverRoute = createRoute({
  method: 'post',
  path: '/webhooks/deliver',
  summary: 'Send the deliveries that are due now (the server does this every few seconds by itself)',
  responses: {
    200: { description: 'Sent', ...json(z.object({ delivered: z.number().int(), retried: z.number().int(), dead: z.number().int() })) },
    ...errorResponses(401, 403),
  },
});

const Contact = z.object({ id: z.number().int(), username: z.string(), displayName: z.string(), role: z.string() });
const ContactsOf = z
  .object({
    regionId: z.number().int(),
    name: z.string(),
    level: z.string(),
    named: z.array(Contact),
    /** Who hears of it when nobody is named: the leaders of exactly that region. */
    fallback: z.array(Contact),
    /** The change log's newest entry for this region's contacts (0: never set); sent back with a change. */
    version: z.number().int(),
  })
  .openapi('EscalationContacts');
const contactsRoute = createRoute({
  method: 'get',
  path: '/settings/escalation-contacts',
  summary: 'Who hears of an escalation in each township and the district (admin)',
  responses: { 200: { description: 'Contacts', ...json(z.array(ContactsOf)) }, ...errorResponses(401, 403) },
});
const putContactsRoute = createRoute({
  method: 'put',
  path: '/settings/escalation-contacts/{id}',
  summary: 'Name the accounts that hear of an escalation in a township or the district (an empty list: its leaders)',
  request: {
    params: IdParam,
    body: {
      required: true,
      ...json(
        z
          .object({
            usernames: z.array(z.string().min(1).max(64)).max(50),
            version: z.number().int().min(0).openapi({ description: 'the version read; a change made since is refused (409)' }),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: 'Contacts', ...json(ContactsOf) }, ...errorResponses(400, 401, 403, 404, 409, 422) },
});

async function contactsOf(db: Queryable, regionId?: number): Promise<z.infer<typeof ContactsOf>[]> {
  const { rows } = await db.query<z.infer<typeof ContactsOf>>(
    `SELECT r.id AS "regionId", r.name, r.level,
       coalesce((SELECT json_agg(json_build_object('id', u.id, 'username', u.username, 'displayName', u.display_name, 'role', u.role) ORDER BY u.username)
                 FROM escalation_contact ec JOIN app_user u ON u.id = ec.user_id WHERE ec.region_id = r.id), '[]') AS named,
       coalesce((SELECT json_agg(json_build_object('id', u.id, 'username', u.username, 'displayName', u.display_name, 'role', u.role) ORDER BY u.username)
                 FROM app_user u WHERE u.role = 'leader' AND NOT u.disabled
                   AND (u.region_id = r.id OR (u.region_id IS NULL AND r.level = 'district'))), '[]') AS fallback,
       (SELECT coalesce(max(c.id), 0)::int FROM change c WHERE c.entity = 'escalation_contact' AND c.entity_id = r.id) AS version
     FROM region r WHERE r.level IN ('district', 'township') ${regionId !== undefined ? 'AND r.id = $1' : ''}
     ORDER BY r.level = 'township', r.code`,
    regionId !== undefined ? [regionId] : [],
  );
  return rows;
}

export function notificationRoutes() {
  return router()
    .openapi(inboxRoute, async (c) => {
      const p = principalOf(c);
      const q = c.req.valid('query');
      if (p.kind !== 'user') return c.json({ unread: 0, items: [], next: null }, 200);
      return c.json(await inbox(c.get('db'), p.id, { unread: q.unread === 'true', before: q.before, limit: q.limit }), 200);
    })
    .openapi(readRoute, async (c) => {
      const p = principalOf(c);
      const { id } = c.req.valid('param');
      if (p.kind !== 'user') throw new InputError('not_found', `notification ${id} does not exist`, 'id');
      return c.json({ unread: await c.get('db').transaction((tx) => markRead(tx, p.id, id, nowOf(c))) }, 200);
    })
    .openapi(readAllRoute, async (c) => {
      const p = principalOf(c);
      if (p.kind !== 'user') return c.json({ unread: 0 }, 200);
      return c.json({ unread: await c.get('db').transaction((tx) => markRead(tx, p.id, 'all', nowOf(c))) }, 200);
    })
    .openapi(listHooksRoute, async (c) => c.json(await listWebhooks(c.get('db')), 200))
    .openapi(createHookRoute, async (c) => {
      const body = c.req.valid('json');
      await checkHookTarget(checkHookUrl(body.url), c.get('options').webhookLoopback ?? false);
      return c.json(await c.get('db').transaction((tx) => createWebhook(tx, actorOf(c), body)), 201);
    })
    .openapi(deleteHookRoute, async (c) => {
      const { id } = c.req.valid('param');
      await c.get('db').transaction((tx) => deleteWebhook(tx, actorOf(c), id));
      return c.body(null, 204);
    })
    .openapi(deliveriesRoute, async (c) => {
      const q = c.req.valid('query');
      return c.json(await listDeliveries(c.get('db'), { status: q.status, webhookId: q.webhook, limit: q.limit }), 200);
    })
    .openapi(resendRoute, async (c) => {
      const { id } = c.req.valid('param');
      return c.json(await c.get('db').transaction((tx) => resendDelivery(tx, actorOf(c), id, nowOf(c))), 200);
    })
    .openapi(deliverRoute, async (c) => c.json(await deliverDue(c.get('db'), nowOf(c), c.get('options').webhookLoopback ?? false), 200))
    .openapi(contactsRoute, async (c) => c.json(await contactsOf(c.get('db')), 200))
    .openapi(putContactsRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { usernames, version } = c.req.valid('json');
      const db = c.get('db');
      const after = await db.transaction(async (tx) => {
        const [before] = await contactsOf(tx, id);
        if (!before) throw new InputError('not_found', `region ${id} is not a township or district`, 'id');
        await lockVersion(tx, 'escalation_contact', id, version, `the contacts of ${before.name}`);
        // leaders, centres and admins whose area holds the region, enabled, each once
        const { rows } = await tx.query<{ id: number; username: string; role: string; disabled: boolean; inside: boolean }>(
          `SELECT u.id, u.username, u.role, u.disabled,
             u.region_id IS NULL OR EXISTS (SELECT 1 FROM gp_ancestors(ARRAY[$2::int]) a WHERE a.id = u.region_id) AS inside
           FROM app_user u WHERE u.username = ANY($1::text[])`,
          [usernames, id],
        );
        const seen = new Set<string>();
        usernames.forEach((u, i) => {
          const r = rows.find((x) => x.username === u);
          const path = `usernames[${i}]`;
          if (!r) throw new InputError('unknown_user', `no account ${JSON.stringify(u)}`, path);
          if (seen.has(u)) throw new InputError('duplicate_user', `${u} is named twice`, path);
          seen.add(u);
          if (!['leader', 'center', 'admin'].includes(r.role))
            throw new InputError('not_allowed', `${u} is not a leader or a centre: escalations go to those who oversee the area`, path);
          if (r.disabled) throw new InputError('not_allowed', `${u} is disabled`, path);
          if (!r.inside) throw new InputError('outside_scope', `${u}'s area does not hold ${before.name}`, path);
        });
        await tx.query('DELETE FROM escalation_contact WHERE region_id = $1', [id]);
        await tx.query('INSERT INTO escalation_contact (region_id, user_id) SELECT $1, unnest($2::int[])', [id, rows.map((r) => r.id)]);
        const [after] = await contactsOf(tx, id);
        // (logged without the version, which the entry itself moves: the states compare as states on undo)
        const state = ({ version: _, ...x }: z.infer<typeof ContactsOf>) => x;
        await recordChange(tx, {
          actor: actorOf(c),
          action: 'update',
          entity: 'escalation_contact',
          entityId: id,
          before: state(before),
          after: state(after!),
        });
        return (await contactsOf(tx, id))[0]!;
      });
      return c.json(after, 200);
    });
}
